// Forecasts through `signalscaler simulate` against the oracle (issue 15
// item 2): on smooth ramps (a linear rise over minutes, a morning ramp of a
// daily curve) a forecasting policy is under-provisioned for at most half
// the oracle's replica-seconds at no more than 1.1x its cost; on a step and
// a flash crowd the forecast changes nothing. And simulate takes its pod
// start-up time from spec.podStartupSeconds unless --pod-startup-seconds.
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/sim_test_util.h"

namespace signalscaler {
namespace {

using sim_testing::Read;
using sim_testing::RunNamed;
using sim_testing::Simulate;
using sim_testing::Write;
using testing::MakeTempDir;
using testing::RunResult;

// requests: a Total, 10 per replica; pods take 30 s; windows 0 up, 300 s
// down. FORECAST is replaced by the signal's forecast, or nothing.
constexpr char kPolicy[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: agent, namespace: demo}
spec:
  minReplicas: 1
  maxReplicas: 100
  evaluationIntervalSeconds: 5
  podStartupSeconds: 30
  signals:
  - name: requests
    type: Total
    source: {push: {}}
    targetPerReplica: 10
FORECAST
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0}
    scaleDown: {stabilizationWindowSeconds: 300}
)";

std::string Policy(bool forecast) {
  return absl::StrReplaceAll(
      kPolicy, {{"FORECAST\n", forecast ? "    forecast: {}\n" : ""}});
}

// A trace of requests(t) every 5 s from 0 to `end`.
template <typename F>
std::string Trace(int end, F requests) {
  std::string out = "t,requests\n";
  for (int t = 0; t <= end; t += 5) {
    absl::StrAppend(&out, t, ",", requests(t), "\n");
  }
  return out;
}

struct Figures {
  nlohmann::json ours;
  nlohmann::json oracle;
};

Figures Simulated(const std::string& policy, const std::string& trace) {
  const std::string dir = MakeTempDir();
  const RunResult r =
      Simulate({"--policy", Write(dir, "p.yaml", policy), "--trace",
                Write(dir, "t.csv", trace), "--compare", "oracle",
                "--summary-json", dir + "/s.json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json summary = nlohmann::json::parse(Read(dir + "/s.json"));
  return {RunNamed(summary, "signalscaler"), RunNamed(summary, "oracle")};
}

double Under(const nlohmann::json& run) {
  return run.at("under_provisioned_replica_seconds").get<double>();
}
double Cost(const nlohmann::json& run) {
  return run.at("total_replica_seconds").get<double>();
}

// A linear rise 50 -> 500 requests over 10 minutes, then a plateau.
double LinearRamp(int t) {
  if (t < 120) return 50;
  if (t < 720) return 50 + (t - 120) * 450.0 / 600;
  return 500;
}

// A morning ramp of a daily curve: 40 at night, a half cosine up to 400
// over an hour, the day's plateau.
double MorningRamp(int t) {
  constexpr double kPi = 3.14159265358979323846;
  if (t < 600) return 40;
  if (t < 4200) return 40 + 360 * (1 - std::cos(kPi * (t - 600) / 3600)) / 2;
  return 400;
}

TEST(ForecastSimTest, SmoothRampsBeatHalfTheOracleAtItsCost) {
  for (const auto& [name, trace] :
       {std::pair<std::string, std::string>{"linear ramp",
                                            Trace(1200, LinearRamp)},
        {"morning ramp", Trace(5400, MorningRamp)}}) {
    const Figures without = Simulated(Policy(false), trace);
    const Figures with = Simulated(Policy(true), trace);
    const double oracle_under = Under(with.oracle);
    ASSERT_GT(oracle_under, 0) << name;
    // Reactive, our policy is as late as the oracle at best.
    EXPECT_GE(Under(without.ours), oracle_under) << name;
    EXPECT_LE(Under(with.ours), 0.5 * oracle_under) << name << with.ours;
    EXPECT_LE(Cost(with.ours), 1.1 * Cost(with.oracle)) << name << with.ours;
    EXPECT_EQ(with.ours.at("direction_reversals"), 0) << name;
  }
}

TEST(ForecastSimTest, AStepAndAFlashCrowdChangeNothing) {
  for (const auto& [name, trace] :
       {std::pair<std::string, std::string>{
            "step", Trace(900, [](int t) { return t < 200 ? 60.0 : 400.0; })},
        {"flash crowd", Trace(900, [](int t) {
           return t >= 200 && t < 260 ? 600.0 : 60.0;
         })}}) {
    const Figures without = Simulated(Policy(false), trace);
    const Figures with = Simulated(Policy(true), trace);
    for (const char* figure :
         {"under_provisioned_replica_seconds", "total_replica_seconds",
          "direction_reversals", "scale_events", "peak_replicas"}) {
      EXPECT_EQ(with.ours.at(figure), without.ours.at(figure))
          << name << " " << figure;
    }
  }
}

TEST(ForecastSimTest, PodStartupFromThePolicyUnlessTheFlagSaysOtherwise) {
  const std::string dir = MakeTempDir();
  const std::string policy = Write(
      dir, "p.yaml",
      absl::StrReplaceAll(
          Policy(false), {{"podStartupSeconds: 30", "podStartupSeconds: 45"}}));
  const std::string trace = Write(dir, "t.csv", Trace(60, LinearRamp));
  RunResult r = Simulate({"--policy", policy, "--trace", trace});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("pod startup 45 s"));
  r = Simulate(
      {"--policy", policy, "--trace", trace, "--pod-startup-seconds", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("pod startup 10 s"));
}

}  // namespace
}  // namespace signalscaler
