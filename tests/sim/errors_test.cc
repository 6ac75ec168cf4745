// `signalscaler simulate`'s input errors: each names the line and column of
// the trace, or the flag; exit 1 for a bad input, 2 for a usage error.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/sim_test_util.h"

namespace signalscaler {
namespace {

using sim_testing::kPolicy;
using sim_testing::Simulate;
using sim_testing::Write;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using testing::RunResult;

RunResult WithTrace(const std::string& text,
                    std::vector<std::string> extra = {}) {
  const std::string dir = MakeTempDir();
  std::vector<std::string> args = {"--policy", Write(dir, "p.yaml", kPolicy),
                                   "--trace", Write(dir, "t.csv", text)};
  args.insert(args.end(), extra.begin(), extra.end());
  return Simulate(args);
}

TEST(SimulateErrorsTest, MissingColumnForASignal) {
  const RunResult r = WithTrace("t,q\n0,1\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("t.csv:1:4: no column for signal \"cpu\" "
                                  "of the policy (header: t,q)"));
}

TEST(SimulateErrorsTest, FirstColumnMustBeTime) {
  const RunResult r = WithTrace("q,t,cpu\n1,0,1\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("t.csv:1:1: the first column must be `t`"));
}

TEST(SimulateErrorsTest, TimeNotAscending) {
  const RunResult r = WithTrace("t,q,cpu\n0,1,1\n30,1,1\n20,1,1\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output,
              HasSubstr("t.csv:4:1: time not ascending: t=20 after t=30"));
}

TEST(SimulateErrorsTest, RepeatedTimeIsNotAscending) {
  const RunResult r = WithTrace("t,q,cpu\n0,1,1\n0,2,1\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("t.csv:3:1: time not ascending"));
}

TEST(SimulateErrorsTest, NotANumberNamesLineAndColumn) {
  const RunResult r = WithTrace("t,q,cpu\n0,1,1\n10, 7,abc\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("t.csv:3:7: column \"cpu\": \"abc\" is not "
                                  "a number"));
}

TEST(SimulateErrorsTest, EmptyCellAndNegativeAndNonFinite) {
  EXPECT_THAT(WithTrace("t,q,cpu\n0,,1\n").output,
              HasSubstr("t.csv:2:3: column \"q\": \"\" is not a number"));
  EXPECT_THAT(WithTrace("t,q,cpu\n0,-1,1\n").output,
              HasSubstr("t.csv:2:3: column \"q\": -1 is negative"));
  EXPECT_THAT(WithTrace("t,q,cpu\n0,1,inf\n").output,
              HasSubstr("t.csv:2:5: column \"cpu\": \"inf\" is not a number"));
}

TEST(SimulateErrorsTest, WrongNumberOfFields) {
  const RunResult r = WithTrace("t,q,cpu\n0,1,1,9\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output,
              HasSubstr("t.csv:2:7: expected 3 fields (t,q,cpu), got 4"));
}

TEST(SimulateErrorsTest, FirstRowAtZeroAndNoRows) {
  EXPECT_THAT(WithTrace("t,q,cpu\n5,1,1\n").output,
              HasSubstr("t.csv:2:1: the first row must be at t=0, got 5"));
  EXPECT_THAT(WithTrace("t,q,cpu\n").output,
              HasSubstr("the trace has no rows"));
}

TEST(SimulateErrorsTest, UnknownColumnsAreIgnoredWithANote) {
  const RunResult r = WithTrace("t,q,cpu,extra\n0,1,0.5,7\n10,1,0.5,7\n");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("note: trace: column extra is no signal of "
                                  "the policy: ignored"));
}

TEST(SimulateErrorsTest, BadFlags) {
  const std::string trace = "t,q,cpu\n0,1,1\n";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--tick-seconds", "0"}, "flag --tick-seconds must be a number > 0"},
      {{"--tick-seconds", "x"}, "flag --tick-seconds must be a number"},
      {{"--pod-startup-seconds", "-3"},
       "flag --pod-startup-seconds must be a number >= 0"},
      {{"--initial-replicas", "11"},
       "--initial-replicas must lie within the policy's bounds [1, 10]"},
      {{"--compare", "hpa-memory"}, "--compare hpa-memory: unknown baseline"},
      {{"--compare", "hpa-cpu:zero"},
       "--compare hpa-cpu:zero: TARGET must be a number > 0"},
      {{"--report", "r.png"}, "--report must name a .svg or .html file"},
      {{"--frobnicate", "1"}, "unknown flag --frobnicate for 'simulate'"},
  };
  for (const Case& c : cases) {
    const RunResult r = WithTrace(trace, c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(c.message)) << c.args[0];
  }
  EXPECT_THAT(Simulate({"--trace", "x.csv"}).output,
              HasSubstr("--policy is required"));
}

// A signal named after a trace column (here `demand`, the replicas needed)
// would be read as that column: refused, naming the signal, whatever the
// trace holds.
TEST(SimulateErrorsTest, ASignalNamedAfterATraceColumnIsRefused) {
  const std::string dir = MakeTempDir();
  const std::string policy =
      Write(dir, "d.yaml", R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: d}
spec:
  maxReplicas: 5
  signals:
  - {name: demand, type: Total, source: {push: {}}, targetPerReplica: 10}
)");
  const std::string trace = Write(dir, "t.csv", "t,demand\n0,30\n60,30\n");
  const RunResult r = Simulate({"--policy", policy, "--trace", trace});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("t.csv: signal \"demand\" has the name of the "
                        "trace's own column \"demand\""));
  EXPECT_THAT(r.output, HasSubstr("rename the signal in the policy"));
}

TEST(SimulateErrorsTest, BaselinesThePolicyCannotExpress) {
  const std::string dir = MakeTempDir();
  const std::string policy =
      Write(dir, "h.yaml", R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: h}
spec:
  maxReplicas: 5
  signals:
  - {name: spare, type: Headroom, source: {push: {}}, scaleUpBelow: 1, scaleDownAbove: 3}
)");
  const std::string trace = Write(dir, "t.csv", "t,spare\n0,1\n");
  RunResult r =
      Simulate({"--policy", policy, "--trace", trace, "--compare", "hpa-cpu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("the policy has no CPU signal"));
  r = Simulate(
      {"--policy", policy, "--trace", trace, "--compare", "keda-default"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("Headroom signals have no HPA equivalent"));
}

}  // namespace
}  // namespace signalscaler
