// ParseMetricText: the Prometheus text exposition format as pods serve it.
#include "sources/http/metric_text.h"

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;
using Labels = std::map<std::string, std::string>;

constexpr char kExposition[] = R"(# HELP active_sessions Sessions in progress.
# TYPE active_sessions gauge
active_sessions{pool="a",region="eu"} 3
active_sessions{pool="b",region="eu"} 4.5 1700000000000
active_sessions{pool="a",region="us"} 1e1
# a free comment
active_sessions_total 99
queue_depth 7
)";

struct MatchCase {
  std::string name;
  std::string text;
  std::string metric;
  Labels labels;
  std::vector<double> values;  // of the matching samples, in order
};

TEST(ParseMetricTextTest, MatchingSamples) {
  const MatchCase cases[] = {
      {"all series of a metric",
       kExposition,
       "active_sessions",
       {},
       {3, 4.5, 10}},
      {"one label", kExposition, "active_sessions", {{"pool", "a"}}, {3, 10}},
      {"two labels",
       kExposition,
       "active_sessions",
       {{"pool", "a"}, {"region", "us"}},
       {10}},
      {"no label value matches",
       kExposition,
       "active_sessions",
       {{"pool", "z"}},
       {}},
      {"name is matched exactly, not by prefix",
       kExposition,
       "active_session",
       {},
       {}},
      {"a metric without labels", kExposition, "queue_depth", {}, {7}},
      {"empty matcher matches a missing label",
       kExposition,
       "queue_depth",
       {{"pool", ""}},
       {7}},
      {"empty matcher does not match a set label",
       kExposition,
       "active_sessions",
       {{"pool", ""}},
       {}},
      {"empty text", "", "x", {}, {}},
      {"only comments and blank lines",
       "# HELP x y\n\n   \n# TYPE x gauge\n",
       "x",
       {},
       {}},
      {"CRLF line ends", "x 1\r\ny 2\r\n", "x", {}, {1}},
      {"no final newline", "x 5", "x", {}, {5}},
      {"tabs and spaces",
       "\t x{a=\"1\"}\t 2 \t 123 \t",
       "x",
       {{"a", "1"}},
       {2}},
      {"blank before labels", "x {a=\"1\"} 2", "x", {{"a", "1"}}, {2}},
      {"empty braces", "x{} 3", "x", {}, {3}},
      {"trailing comma in labels", "x{a=\"1\",} 4", "x", {{"a", "1"}}, {4}},
      {"blanks inside braces",
       "x{ a = \"1\" , b=\"2\" } 4",
       "x",
       {{"b", "2"}},
       {4}},
      {"colons in metric names", "job:rate:5m 0.25", "job:rate:5m", {}, {0.25}},
      {"escaped quote in a label value",
       R"(x{path="say \"hi\""} 1)",
       "x",
       {{"path", "say \"hi\""}},
       {1}},
      {"escaped backslash and newline",
       R"(x{p="a\\b\nc"} 1)",
       "x",
       {{"p", "a\\b\nc"}},
       {1}},
      {"unknown escape kept as written",
       R"(x{p="a\qb"} 1)",
       "x",
       {{"p", "a\\qb"}},
       {1}},
      {"brace and comma inside a label value",
       R"(x{p="{a,b}"} 1)",
       "x",
       {{"p", "{a,b}"}},
       {1}},
      {"signed and exponent values",
       "x -2\nx +3\nx 1.5E-1",
       "x",
       {},
       {-2, 3, 0.15}},
      {"negative timestamp", "x 1 -5", "x", {}, {1}},
      {"histogram bucket by its own name",
       "# TYPE h histogram\nh_bucket{le=\"0.5\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
       "h_sum 1.5\nh_count 3\n",
       "h_bucket",
       {{"le", "+Inf"}},
       {3}},
  };
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::vector<MetricSample>> samples =
        ParseMetricText(c.text, c.metric, c.labels);
    ASSERT_TRUE(samples.ok()) << samples.status();
    std::vector<double> values;
    for (const MetricSample& s : *samples) values.push_back(s.value);
    EXPECT_EQ(values, c.values);
  }
}

TEST(ParseMetricTextTest, SampleFieldsAreParsed) {
  absl::StatusOr<std::vector<MetricSample>> samples =
      ParseMetricText(kExposition, "active_sessions", {{"pool", "b"}});
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 1u);
  const MetricSample& s = (*samples)[0];
  EXPECT_EQ(s.name, "active_sessions");
  EXPECT_EQ(s.labels, (Labels{{"pool", "b"}, {"region", "eu"}}));
  EXPECT_EQ(s.value, 4.5);
  EXPECT_EQ(s.timestamp_ms, 1700000000000);
}

TEST(ParseMetricTextTest, SpecialValues) {
  absl::StatusOr<std::vector<MetricSample>> samples =
      ParseMetricText("x NaN\nx +Inf\nx -Inf\nx Inf\nx nan", "x", {});
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 5u);
  EXPECT_TRUE(std::isnan((*samples)[0].value));
  EXPECT_EQ((*samples)[1].value, INFINITY);
  EXPECT_EQ((*samples)[2].value, -INFINITY);
  EXPECT_EQ((*samples)[3].value, INFINITY);
  EXPECT_TRUE(std::isnan((*samples)[4].value));
  EXPECT_FALSE((*samples)[0].timestamp_ms.has_value());
}

struct ErrorCase {
  std::string name;
  std::string text;
  std::string message;
};

TEST(ParseMetricTextTest, MalformedLinesAreInvalidArgumentNamingTheLine) {
  const ErrorCase cases[] = {
      {"no value", "ok 1\nx\n", "line 2: expected a blank before the value"},
      {"value not a number", "x abc", "line 1: the value is not a number"},
      {"value with a comma", "x 1,5", "line 1: the value is not a number"},
      {"timestamp not an integer", "x 1 1.5",
       "line 1: the timestamp is not an integer"},
      {"extra token", "x 1 2 3", "line 1: unexpected text after the sample"},
      {"name starting with a digit", "1x 2", "line 1: expected a metric name"},
      {"a line starting with a brace", "{a=\"b\"} 2",
       "line 1: expected a metric name"},
      {"unterminated label value", "x{a=\"b} 2",
       "line 1: unterminated label value"},
      {"unquoted label value", "x{a=b} 2",
       "line 1: expected '\"' to open a label value"},
      {"label without '='", "x{a\"b\"} 2",
       "line 1: expected '=' after a label name"},
      {"unclosed braces", "x{a=\"b\" 2",
       "line 1: expected ',' or '}' after a label value"},
      {"label name with a colon", "x{a:b=\"c\"} 1",
       "line 1: expected '=' after a label name"},
      {"duplicate label", "x{a=\"1\",a=\"2\"} 1", "line 1: duplicate label a"},
      {"empty label name", "x{=\"1\"} 1",
       "line 1: expected a label name or '}'"},
      {"other metrics' lines count too", "x 1\n\n# c\ny{ 2\n",
       "line 4: expected a label name or '}'"},
      {"the line is quoted, on one line", "x{p=\"a\\\"} 1\tz",
       "unterminated label value at column 14: x{p=\"a\\\"} 1\\x09z"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::vector<MetricSample>> samples =
        ParseMetricText(c.text, "x", {});
    ASSERT_FALSE(samples.ok());
    EXPECT_EQ(samples.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(samples.status().message()), HasSubstr(c.message));
  }
}

// Regression (issue 13): "0x1F" was read as 31. The text format's values are
// what Prometheus' own parser takes: Go's strconv.ParseFloat, decimal only
// (it refuses 'p', 'P' and '_', so no hex float ever parses).
TEST(ParseMetricTextTest, ValuesAsPrometheusReadsThem) {
  const std::pair<const char*, double> accepted[] = {
      {"31", 31},         {"+3", 3},
      {"-3", -3},         {".5", 0.5},
      {"5.", 5},          {"1.5e3", 1500},
      {"1E-2", 0.01},     {"1e+2", 100},
      {"007", 7},         {"-Infinity", -INFINITY},
      {"+inf", INFINITY}, {"INF", INFINITY},
  };
  for (const auto& [text, value] : accepted) {
    SCOPED_TRACE(text);
    absl::StatusOr<std::vector<MetricSample>> samples =
        ParseMetricText(std::string("x ") + text + "\n", "x", {});
    ASSERT_TRUE(samples.ok()) << samples.status();
    ASSERT_EQ(samples->size(), 1u);
    EXPECT_EQ((*samples)[0].value, value);
  }
  for (const char* text :
       {"0x1F", "0x1p4", "0X10", "1_000", "+nan", "-NaN", "1e", "e5", ".",
        "1.5.2", "infinit", "1e+", "0x", "nan(1)", "1d"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<std::vector<MetricSample>> samples =
        ParseMetricText(std::string("x ") + text + "\n", "x", {});
    ASSERT_FALSE(samples.ok()) << "read as " << (*samples)[0].value;
    EXPECT_THAT(std::string(samples.status().message()),
                HasSubstr("line 1: the value is not a number"));
  }
}

}  // namespace
}  // namespace signalscaler
