// ParsePrometheusResponse: every shape of answer Prometheus' instant query
// API gives, and the ones it must never be confused by.
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sources/http/prometheus_source.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

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
      {"a large value",
       R"({"status":"success","data":{"resultType":"vector","result":[
           {"metric":{},"value":[1700000000,"1.7976931348623157e308"]}]}})",
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
       false, C::kNotFound,
       "the query returned no series (ignoreNullValues is false)"},
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

}  // namespace
}  // namespace signalscaler
