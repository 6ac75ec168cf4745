// ParsePrometheusResponse: every shape of answer Prometheus' instant query
// API gives, and the ones it must never be confused by.
#include <string>

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sources/http/prometheus_source.h"

namespace signalscaler {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// After every sample time of the tables below (a time ahead of now would be
// clamped to now, see FutureTimestamps).
const absl::Time kNow = absl::FromUnixSeconds(1700000100);

struct OkCase {
  std::string name;
  std::string body;
  bool ignore_null_values;
  double value;
  absl::Time sample_time;
};

TEST(ParsePrometheusResponseTest, Readings) {
  const OkCase cases[] = {
      {"one series",
       R"({"status":"success","data":{"resultType":"vector","result":[
           {"metric":{"pod":"a"},"value":[1435781451.781,"42"]}]}})",
       true, 42, absl::FromUnixMillis(1435781451781)},
      {"one series without labels (an aggregation)",
       R"({"status":"success","data":{"resultType":"vector","result":[
           {"metric":{},"value":[1700000000,"0.5"]}]}})",
       false, 0.5, absl::FromUnixSeconds(1700000000)},
      {"exponent and sign",
       R"({"status":"success","data":{"resultType":"vector","result":[
           {"metric":{},"value":[1700000000.5,"-1.5e+03"]}]}})",
       true, -1500, absl::FromUnixMillis(1700000000500)},
      {"scalar",
       R"({"status":"success","data":{"resultType":"scalar",
           "result":[1700000001.25,"7"]}})",
       true, 7, absl::FromUnixMillis(1700000001250)},
      {"zero series with ignoreNullValues: 0 now",
       R"({"status":"success","data":{"resultType":"vector","result":[]}})",
       true, 0, kNow},
      {"warnings and extra fields are ignored",
       R"({"status":"success","warnings":["w"],"data":{"resultType":"vector",
           "result":[{"metric":{},"value":[1700000000,"3"]}],"stats":{}}})",
       true, 3, absl::FromUnixSeconds(1700000000)},
      {"a large value (Go writes math.MaxFloat64 so)",
       R"({"status":"success","data":{"resultType":"vector","result":[
           {"metric":{},"value":[1700000000,"1.7976931348623157e+308"]}]}})",
       true, 1.7976931348623157e308, absl::FromUnixSeconds(1700000000)},
  };
  for (const OkCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Reading> r =
        ParsePrometheusResponse(c.body, c.ignore_null_values, kNow);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, c.value);
    EXPECT_EQ(r->sample_time, c.sample_time);
  }
}

struct ErrorCase {
  std::string name;
  std::string body;
  bool ignore_null_values;
  absl::StatusCode code;
  std::string message;
};

std::string Vector(const std::string& value) {
  return R"({"status":"success","data":{"resultType":"vector","result":[)"
         R"({"metric":{},"value":[1700000000,)" +
         value + "]}]}}";
}

TEST(ParsePrometheusResponseTest, Errors) {
  using C = absl::StatusCode;
  const ErrorCase cases[] = {
      {"zero series without ignoreNullValues",
       R"({"status":"success","data":{"resultType":"vector","result":[]}})",
       false, C::kNotFound, "no series: held"},
      {"several series",
       R"({"status":"success","data":{"resultType":"vector","result":[
           {"metric":{"pod":"a"},"value":[1,"1"]},
           {"metric":{"pod":"b"},"value":[1,"2"]},
           {"metric":{"pod":"c"},"value":[1,"3"]}]}})",
       true, C::kInvalidArgument,
       "the query returned 3 series; it must return exactly one"},
      {"NaN", Vector(R"("NaN")"), true, C::kInvalidArgument,
       "sample value is NaN, not a finite number"},
      {"+Inf", Vector(R"("+Inf")"), true, C::kInvalidArgument,
       "sample value is +Inf, not a finite number"},
      {"-Inf", Vector(R"("-Inf")"), true, C::kInvalidArgument,
       "sample value is -Inf, not a finite number"},
      {"non-numeric string", Vector(R"("twelve")"), true, C::kInvalidArgument,
       "sample value \"twelve\" is not a number"},
      {"empty string", Vector(R"("")"), true, C::kInvalidArgument,
       "sample value \"\" is not a number"},
      {"number instead of string", Vector("12"), true, C::kInvalidArgument,
       "not a Prometheus API response (a sample is not [<timestamp>, "
       "\"<value>\"])"},
      {"timestamp out of range",
       R"({"status":"success","data":{"resultType":"scalar",
           "result":[1e300,"1"]}})",
       true, C::kInvalidArgument, "sample timestamp 1e+300 is out of range"},
      {"matrix (a range query)",
       R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
       true, C::kInvalidArgument,
       "the query returned a matrix; it must return an instant vector or a "
       "scalar"},
      {"string", R"({"status":"success","data":{"resultType":"string",
           "result":[1,"x"]}})",
       true, C::kInvalidArgument, "the query returned a string"},
      {"native histogram",
       R"({"status":"success","data":{"resultType":"vector","result":[
           {"metric":{},"histogram":[1,{"count":"1"}]}]}})",
       true, C::kInvalidArgument,
       "the query returned a native histogram, not a number"},
      {"server error bad_data",
       R"({"status":"error","errorType":"bad_data",
           "error":"1:5: parse error: unexpected \")\""})",
       true, C::kInvalidArgument,
       "Prometheus answered status \"error\" (bad_data): 1:5: parse error: "
       "unexpected \")\""},
      {"server error timeout",
       R"({"status":"error","errorType":"timeout","error":"query timed out"})",
       true, C::kDeadlineExceeded,
       "Prometheus answered status \"error\" (timeout): query timed out"},
      {"server error unavailable",
       R"({"status":"error","errorType":"unavailable","error":"x"})", true,
       C::kUnavailable, "(unavailable): x"},
      {"server error without details", R"({"status":"error"})", true,
       C::kInvalidArgument, "Prometheus answered status \"error\""},
      {"garbage", "<html>502 Bad Gateway</html>", true, C::kInvalidArgument,
       "not a Prometheus API response (not JSON)"},
      {"empty body", "", true, C::kInvalidArgument,
       "not a Prometheus API response (not JSON)"},
      {"truncated JSON", R"({"status":"success","data":{"resultType":)", true,
       C::kInvalidArgument, "not a Prometheus API response (not JSON)"},
      {"JSON array", "[1,2]", true, C::kInvalidArgument,
       "not a Prometheus API response (not a JSON object)"},
      {"no status", R"({"data":{}})", true, C::kInvalidArgument,
       "not a Prometheus API response (no \"status\")"},
      {"status not a string", R"({"status":1})", true, C::kInvalidArgument,
       "not a Prometheus API response (no \"status\")"},
      {"no data", R"({"status":"success"})", true, C::kInvalidArgument,
       "not a Prometheus API response (no \"data\" object)"},
      {"no resultType", R"({"status":"success","data":{"result":[]}})", true,
       C::kInvalidArgument,
       "not a Prometheus API response (no data.resultType or data.result)"},
      {"result not a list",
       R"({"status":"success","data":{"resultType":"vector","result":{}}})",
       true, C::kInvalidArgument,
       "not a Prometheus API response (data.result is not a list)"},
      {"series not an object",
       R"({"status":"success","data":{"resultType":"vector","result":[1]}})",
       true, C::kInvalidArgument,
       "not a Prometheus API response (a series is not an object)"},
      {"series without value",
       R"({"status":"success","data":{"resultType":"vector",
           "result":[{"metric":{}}]}})",
       true, C::kInvalidArgument,
       "not a Prometheus API response (a series has no value)"},
      {"short sample pair",
       R"({"status":"success","data":{"resultType":"scalar","result":[1]}})",
       true, C::kInvalidArgument, "a sample is not [<timestamp>"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Reading> r =
        ParsePrometheusResponse(c.body, c.ignore_null_values, kNow);
    ASSERT_FALSE(r.ok()) << "value " << r->value;
    EXPECT_EQ(r.status().code(), c.code) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message));
  }
}

TEST(ParsePrometheusResponseTest, LongGarbageValueIsCutInTheMessage) {
  absl::StatusOr<Reading> r = ParsePrometheusResponse(
      Vector("\"" + std::string(500, 'z') + "\""), true, kNow);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(r.status().message().size(), 120u);
}

std::string Scalar(double timestamp, const std::string& value) {
  return absl::StrCat(R"({"status":"success","data":{"resultType":"scalar",)",
                      R"("result":[)", absl::StrFormat("%.3f", timestamp),
                      ",\"", value, "\"]}}");
}

// Regression (issue 13): "0x1F" read as 31 and " 30" as 30. Prometheus writes
// values with Go's strconv.FormatFloat ('f' or 'e', shortest), and nothing
// else is a value.
TEST(ParsePrometheusResponseTest, ValuesOnlyAsPrometheusWritesThem) {
  const std::pair<const char*, double> accepted[] = {
      {"0", 0},        {"-0", 0},           {"31", 31},
      {"0.5", 0.5},    {"0.000001", 1e-6},  {"1.5e-07", 1.5e-7},
      {"1e+21", 1e21}, {"-1.5e+03", -1500}, {"123456789", 123456789},
  };
  for (const auto& [text, value] : accepted) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(IsPrometheusApiFloat(text));
    absl::StatusOr<Reading> r = ParsePrometheusResponse(
        Vector(absl::StrCat("\"", text, "\"")), false, kNow);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, value);
  }
  const char* refused[] = {
      "0x1F", " 30", "30 ",  "\t30",     "+30",  "1_000", "030",   "00",
      "1.",   ".5",  "1e5",  "1E+05",    "1e+",  "-",     "",      "inf",
      "Inf",  "nan", "+NaN", "infinity", "30\n", "3,5",   "0x1p4", "1e+5x",
  };
  for (const char* text : refused) {
    SCOPED_TRACE(absl::StrCat("\"", text, "\""));
    EXPECT_FALSE(IsPrometheusApiFloat(text));
    absl::StatusOr<Reading> r = ParsePrometheusResponse(
        Vector(absl::StrCat("\"", absl::CEscape(text), "\"")), false, kNow);
    ASSERT_FALSE(r.ok()) << "read as " << r->value;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()),
                HasSubstr("is not a number as Prometheus writes one"));
  }
  // The special values Prometheus writes are numbers, but not finite ones.
  for (const char* text : {"NaN", "+Inf", "-Inf"}) {
    EXPECT_TRUE(IsPrometheusApiFloat(text)) << text;
  }
}

// Regression (issue 13): a sample dated a day ahead counted as fresh (a
// negative age never goes stale).
TEST(ParsePrometheusResponseTest, FutureTimestamps) {
  const double now = absl::ToDoubleSeconds(kNow - absl::UnixEpoch());
  // Within the skew: Prometheus' clock runs ahead; the sample is taken as
  // read now, never younger.
  absl::StatusOr<Reading> r =
      ParsePrometheusResponse(Scalar(now + 30, "4"), false, kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 4);
  EXPECT_EQ(r->sample_time, kNow);
  r = ParsePrometheusResponse(
      Scalar(now + absl::ToDoubleSeconds(kMaxSampleFutureSkew), "4"), false,
      kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sample_time, kNow);
  // A past sample keeps its own time.
  r = ParsePrometheusResponse(Scalar(now - 7, "4"), false, kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sample_time, kNow - absl::Seconds(7));

  // Beyond the skew: an error, and the signal holds.
  for (const double ahead : {61.0, 86400.0}) {
    SCOPED_TRACE(ahead);
    r = ParsePrometheusResponse(Scalar(now + ahead, "4"), false, kNow);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()),
                AllOf(HasSubstr("ahead of this scaler's clock (more than 1m "
                                "of skew)"),
                      HasSubstr("Prometheus' clock, or the query, is wrong")));
    absl::StatusOr<std::optional<absl::Time>> live = ParsePresenceAnswer(
        absl::StrCat(R"({"status":"success","data":{"resultType":"vector",)",
                     R"("result":[{"metric":{},"value":[)",
                     absl::StrFormat("%.3f", now + ahead), R"(,"1"]}]}})"),
        kNow);
    EXPECT_EQ(live.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParsePrometheusAnswerTest, NoSeriesIsNulloptAndNeverZero) {
  absl::StatusOr<std::optional<Reading>> r = ParsePrometheusAnswer(
      R"({"status":"success","data":{"resultType":"vector","result":[]}})",
      kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());
  r = ParsePrometheusAnswer(Vector(R"("0")"), kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->value, 0);
  EXPECT_EQ((*r)->sample_time, absl::FromUnixSeconds(1700000000));

  // The NOT_FOUND of the default says what holds and what to do.
  absl::StatusOr<Reading> held = ParsePrometheusResponse(
      R"({"status":"success","data":{"resultType":"vector","result":[]}})",
      false, kNow);
  EXPECT_EQ(held.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(held.status().message(), kNoSeriesHeld);
  EXPECT_THAT(kNoSeriesHeld,
              AllOf(HasSubstr("presenceQuery"), HasSubstr("noSeriesIsZero")));
}

TEST(ParsePresenceAnswerTest, LiveWhenASeriesIsAboveZero) {
  const auto series = [](const std::string& items) {
    return R"({"status":"success","data":{"resultType":"vector","result":[)" +
           items + "]}}";
  };
  // up of three targets: one down, two up; the newest live sample counts.
  absl::StatusOr<std::optional<absl::Time>> live = ParsePresenceAnswer(
      series(R"({"metric":{"instance":"a"},"value":[1700000001,"0"]},)"
             R"({"metric":{"instance":"b"},"value":[1700000002,"1"]},)"
             R"({"metric":{"instance":"c"},"value":[1700000003,"1"]})"),
      kNow);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->value_or(absl::InfinitePast()),
            absl::FromUnixSeconds(1700000003));

  // Every target down, or none at all, or NaN: no live target.
  for (const std::string& body :
       {series(R"({"metric":{"instance":"a"},"value":[1700000001,"0"]})"),
        series(""), series(R"({"metric":{},"value":[1700000001,"NaN"]})")}) {
    SCOPED_TRACE(body);
    live = ParsePresenceAnswer(body, kNow);
    ASSERT_TRUE(live.ok()) << live.status();
    EXPECT_FALSE(live->has_value());
  }

  live = ParsePresenceAnswer(Scalar(1700000004, "1"), kNow);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->value_or(absl::InfinitePast()),
            absl::FromUnixSeconds(1700000004));

  // Malformed answers are errors (the signal holds), not "no live target".
  for (
      const std::string& body :
      {std::string("<html>"),
       std::string(
           R"({"status":"success","data":{"resultType":"matrix","result":[]}})"),
       series(R"({"metric":{},"value":[1700000001,"0x1"]})"),
       std::string(R"({"status":"error","errorType":"bad_data"})")}) {
    SCOPED_TRACE(body);
    live = ParsePresenceAnswer(body, kNow);
    EXPECT_EQ(live.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// ParsePrometheusMatrix: a range query's answer (signalscaler trace).
TEST(ParsePrometheusMatrixTest, OneSeriesInOrderGapsForNaN) {
  const absl::StatusOr<std::vector<RangeSample>> r = ParsePrometheusMatrix(
      R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"job":"a"},"values":[[1700000000,"1"],
           [1700000015.5,"NaN"],[1700000030,"2.5"],[1700000045,"+Inf"]]}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].unix_ms, 1700000000000);
  EXPECT_EQ((*r)[0].value, 1);
  EXPECT_EQ((*r)[1].unix_ms, 1700000030000);
  EXPECT_EQ((*r)[1].value, 2.5);
}

TEST(ParsePrometheusMatrixTest, NoSeriesIsEmpty) {
  const absl::StatusOr<std::vector<RangeSample>> r = ParsePrometheusMatrix(
      R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->empty());
}

TEST(ParsePrometheusMatrixTest, Errors) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"status":"success","data":{"resultType":"matrix","result":[
           {"metric":{"a":"1"},"values":[]},{"metric":{"a":"2"},"values":[]}]}})",
       "the query returned 2 series; it must return exactly one"},
      {R"({"status":"success","data":{"resultType":"vector","result":[]}})",
       "it must return a range vector (matrix)"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
           {"metric":{},"values":[[1700000030,"1"],[1700000000,"2"]]}]}})",
       "not ascending"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
           {"metric":{},"values":[[1700000030,"01"]]}]}})",
       "is not a number as Prometheus writes one"},
      {R"({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"})",
       "exceeded maximum resolution"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})",
       "not a Prometheus API response (a series has no values)"},
  };
  for (const auto& [body, message] : cases) {
    const absl::StatusOr<std::vector<RangeSample>> r =
        ParsePrometheusMatrix(body);
    EXPECT_FALSE(r.ok()) << body;
    EXPECT_THAT(r.status().message(), HasSubstr(message)) << body;
  }
  // The instant parser still refuses a matrix.
  EXPECT_THAT(
      ParsePrometheusAnswer(
          R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
          kNow)
          .status()
          .message(),
      HasSubstr("it must return an instant vector or a scalar"));
}

}  // namespace
}  // namespace signalscaler
