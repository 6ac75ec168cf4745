// `signalscaler simulate` on small traces whose every figure is computed by
// hand in the comments: decisions, ready replicas, demand, the summary of
// ours and of both baselines.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/sim_test_util.h"

namespace signalscaler {
namespace {

using sim_testing::kPolicy;
using sim_testing::Read;
using sim_testing::RunNamed;
using sim_testing::Simulate;
using sim_testing::Write;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using ::testing::Not;
using testing::RunResult;

void ExpectFigures(const nlohmann::json& run, double under, double under_s,
                   double over, double total, int events, int reversals,
                   int peak) {
  EXPECT_DOUBLE_EQ(run.at("under_provisioned_replica_seconds"), under) << run;
  EXPECT_DOUBLE_EQ(run.at("seconds_under_provisioned"), under_s) << run;
  EXPECT_DOUBLE_EQ(run.at("over_provisioned_replica_seconds"), over) << run;
  EXPECT_DOUBLE_EQ(run.at("total_replica_seconds"), total) << run;
  EXPECT_EQ(run.at("scale_events"), events) << run;
  EXPECT_EQ(run.at("direction_reversals"), reversals) << run;
  EXPECT_EQ(run.at("peak_replicas"), peak) << run;
}

// Demand: q=5 -> 1 (5 / (10 x 1) is inside the band), cpu 0.1 -> 1; from
// t=20 q=35 -> 4 (at 3: 35/30 > 1.1 and ceil(3.5) = 4 > 3); from t=120 1.
TEST(SimulateTest, SpikeOursAndBothBaselines) {
  const std::string dir = MakeTempDir();
  const std::string policy = Write(dir, "p.yaml", kPolicy);
  const std::string trace = Write(dir, "t.csv",
                                  "t,q,cpu\n"
                                  "0,5,0.1\n"
                                  "20,35,0.2\n"
                                  "120,5,0.1\n"
                                  "240,5,0.1\n");
  const RunResult r =
      Simulate({"--policy", policy, "--trace", trace, "--out", dir + "/tl.csv",
                "--summary-json", dir + "/s.json", "--compare", "hpa-cpu",
                "keda-default"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("tick 10 s, pod startup 30 s, 1 initial"));
  EXPECT_THAT(r.output, HasSubstr("under-provisioned replica-seconds     "
                                  "     90.0    300.0         120.0"));

  // Ours, every 10 s: at t=20 q proposes ceil(35/10) = 4 (up window 0, the
  // HPA's default rate allows 1+4); 3 pods start, ready at t=50. At t=120 q
  // and cpu (0.1 / 4 ready) propose 1, but the 60 s down window keeps 4
  // until the last 4 (t=110) has left it: down to 1 at t=170.
  const std::string tl = Read(dir + "/tl.csv");
  EXPECT_THAT(tl, HasSubstr("t,decision,ready,demand,q_value,q_proposal,"
                            "cpu_value,cpu_proposal,reason\n"
                            "0,1,1,1,5,1,0.1,1,\"q won (p=1); no history: "
                            "current 1 seeded into the scale-down window\"\n"
                            "10,1,1,1,5,1,0.1,1,\"q won (p=1)\"\n"
                            "20,4,1,4,35,4,0.2,1,\"q won (p=4)\"\n"
                            "30,4,1,4,35,4,0.2,1,\"q won (p=4)\"\n"
                            "40,4,1,4,35,4,0.2,1,\"q won (p=4)\"\n"
                            "50,4,4,4,35,4,0.05,1,\"q won (p=4)\"\n"));
  EXPECT_THAT(tl, HasSubstr("120,4,4,1,5,1,0.025,1,\"q won (p=1); "
                            "scale-down window (60s) holds at 4 instead of "
                            "1\"\n"));
  EXPECT_THAT(tl, HasSubstr("160,4,4,1,5,1,0.025,1,"));
  EXPECT_THAT(tl, HasSubstr("\n170,1,1,1,5,1,0.025,1,\"q won (p=1)\"\n"));
  EXPECT_THAT(tl, HasSubstr("\n240,1,1,1,5,1,0.1,1,\"q won (p=1)\"\n"));
  EXPECT_EQ(std::count(tl.begin(), tl.end(), '\n'), 1 + 25);  // t=0..240

  const nlohmann::json s = nlohmann::json::parse(Read(dir + "/s.json"));
  EXPECT_EQ(s.at("policy"), "t/q");
  EXPECT_EQ(s.at("rows"), 4);
  EXPECT_DOUBLE_EQ(s.at("duration_seconds"), 240);
  // under: (4 - 1) x (50 - 20) = 90 over 30 s; over: (4 - 1) x (170 - 120)
  // = 150; total: 1 x 20 + 4 x 150 + 1 x 70 = 690; up at 20, down at 170
  // (150 s apart: no reversal within 60 s); peak 4.
  ExpectFigures(RunNamed(s, "signalscaler"), 90, 30, 150, 690, 2, 0, 4);
  // hpa-cpu (cpu alone, target 0.5): 0.1 and 0.2 on 1 ready pod are ratios
  // 0.2 and 0.4: ceil(ratio x 1) = 1 = minReplicas, never scales. under: 3 x
  // (120 - 20) = 300 over 100 s; total 240.
  ExpectFigures(RunNamed(s, "hpa-cpu"), 300, 100, 0, 240, 0, 0, 1);
  // keda-default syncs every 15 s: at t=30 q as AverageValue: 35 / (10 x 1)
  // = 3.5 is outside the tolerance -> ceil(35 / 10) = 4 (cpu asks 1), ready
  // at 60. under: 3 x (60 - 20) = 120 over 40 s. The HPA's 300 s down window
  // keeps 4 to the end: over 3 x (240 - 120) = 360; total 1 x 30 + 4 x 210
  // = 870.
  ExpectFigures(RunNamed(s, "keda-default"), 120, 40, 360, 870, 1, 0, 4);
}

// Pods ready at once (--pod-startup-seconds 0), 4 at start, demand 1: the
// down window seeded with 4 at t=0 holds 4 until t=60 (window (0, 60]), down
// to 1; at t=100 q=35 asks 4: up. Down at 60 then up at 100, 40 s apart,
// within the 60 s down window: one reversal.
TEST(SimulateTest, DownThenUpWithinTheWindowIsAReversal) {
  const std::string dir = MakeTempDir();
  const RunResult r = Simulate(
      {"--policy", Write(dir, "p.yaml", kPolicy), "--trace",
       Write(dir, "t.csv", "t,q,cpu\n0,5,0.4\n100,35,0.4\n200,35,0.4\n"),
       "--initial-replicas", "4", "--pod-startup-seconds", "0", "--out",
       dir + "/tl.csv", "--summary-json", dir + "/s.json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string tl = Read(dir + "/tl.csv");
  EXPECT_THAT(tl, HasSubstr("\n50,4,4,1,5,1,0.1,1,"));
  EXPECT_THAT(tl, HasSubstr("\n60,1,1,1,5,1,0.1,1,\"q won (p=1)\"\n"));
  EXPECT_THAT(tl, HasSubstr("\n90,1,1,1,5,1,0.4,1,"));
  EXPECT_THAT(tl, HasSubstr("\n100,4,4,4,35,4,0.4,1,\"q won (p=4)\"\n"));
  const nlohmann::json s = nlohmann::json::parse(Read(dir + "/s.json"));
  // over: (4 - 1) x 60 = 180; total: 4 x 60 + 1 x 40 + 4 x 100 = 680.
  ExpectFigures(RunNamed(s, "signalscaler"), 0, 0, 180, 680, 2, 1, 4);
}

// Average signals read ready pods only (DESIGN.md): cpu 1.8 on 1 ready pod
// is 1.8 >= 0.8, p = max(1 + 1, ceil(1 x 1.8 / 0.5)) = 4. While the 3 new
// pods start, the proposal still uses the 1 ready pod (4, not ceil(4 x 1.8 /
// 0.5) = 15). At t=30 they are ready: 1.8 / 4 = 0.45 is inside the band.
// Demand: smallest n with 1.8 / n < 0.8 is 3. under: (3 - 1) x 30 = 60 over
// 30 s; over: (4 - 3) x 30 = 30; total 4 x 60 = 240.
TEST(SimulateTest, AverageUsesReadyPodsWhileOthersStart) {
  const std::string dir = MakeTempDir();
  const RunResult r =
      Simulate({"--policy", Write(dir, "p.yaml", kPolicy), "--trace",
                Write(dir, "t.csv", "t,q,cpu\n0,0,1.8\n60,0,1.8\n"), "--out",
                dir + "/tl.csv", "--summary-json", dir + "/s.json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string tl = Read(dir + "/tl.csv");
  EXPECT_THAT(tl, HasSubstr("\n0,4,1,3,0,0,1.8,4,"));
  EXPECT_THAT(tl, HasSubstr("\n20,4,1,3,0,0,1.8,4,"));
  EXPECT_THAT(tl, HasSubstr("\n30,4,4,3,0,0,0.45,4,"));
  const nlohmann::json s = nlohmann::json::parse(Read(dir + "/s.json"));
  ExpectFigures(RunNamed(s, "signalscaler"), 60, 30, 30, 240, 1, 0, 4);
}

// A `demand` column replaces the computed demand; --tick-seconds sets the
// engine's tick (rows at 0, 20, ..., 100).
TEST(SimulateTest, DemandColumnAndTickSeconds) {
  const std::string dir = MakeTempDir();
  const RunResult r = Simulate(
      {"--policy", Write(dir, "p.yaml", kPolicy), "--trace",
       Write(dir, "t.csv", "t,q,cpu,demand\n0,5,0.1,2.5\n100,5,0.1,2.5\n"),
       "--tick-seconds", "20", "--out", dir + "/tl.csv", "--summary-json",
       dir + "/s.json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string tl = Read(dir + "/tl.csv");
  EXPECT_EQ(std::count(tl.begin(), tl.end(), '\n'), 1 + 6);
  EXPECT_THAT(tl, HasSubstr("\n20,1,1,2.5,5,1,"));
  const nlohmann::json s = nlohmann::json::parse(Read(dir + "/s.json"));
  EXPECT_DOUBLE_EQ(s.at("tick_seconds"), 20);
  // under: (2.5 - 1) x 100 = 150 over 100 s; total 100.
  ExpectFigures(RunNamed(s, "signalscaler"), 150, 100, 0, 100, 0, 0, 1);
}

// Issue 12 item 1 in the simulator: minReplicas 0, one Total signal, a
// Percent-only scale-up policy. 95 -> 10, 0 -> 0 (every Total at its
// activation), then 50 wakes it to ceil(50 / 10) = 5: a Percent policy
// measures from max(start, 1), so 0 x 1000 % no longer holds it at 0.
TEST(SimulateTest, PercentOnlyScaleUpWakesFromZero) {
  const std::string dir = MakeTempDir();
  const std::string policy = Write(dir, "p.yaml", R"(
apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: jobs, namespace: t}
spec:
  minReplicas: 0
  maxReplicas: 20
  evaluationIntervalSeconds: 10
  signals:
  - {name: jobs, type: Total, source: {push: {}}, targetPerReplica: 10,
     activationAbove: 0}
  behavior:
    scaleUp:
      policies: [{type: Percent, value: 1000, periodSeconds: 1}]
    scaleDown: {stabilizationWindowSeconds: 0}
)");
  const RunResult r =
      Simulate({"--policy", policy, "--trace",
                Write(dir, "t.csv", "t,jobs\n0,95\n60,0\n120,50\n180,50\n"),
                "--out", dir + "/tl.csv", "--summary-json", dir + "/s.json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string tl = Read(dir + "/tl.csv");
  EXPECT_THAT(tl, HasSubstr("\n50,10,10,10,95,10,"));
  EXPECT_THAT(tl, HasSubstr("\n60,0,0,0,0,0,"));
  EXPECT_THAT(tl, HasSubstr("\n120,5,0,5,50,5,\"jobs woke from zero (v=50 > "
                            "activation 0); jobs won (p=5)\"\n"));
  EXPECT_THAT(tl, HasSubstr("\n150,5,5,5,50,5,"));
  EXPECT_THAT(tl, Not(HasSubstr("scale-up rate allows 0")));
}

}  // namespace
}  // namespace signalscaler
