// `simulate --compare oracle` (scaler/sim/oracle.h): the reactive oracle
// decides the moment a row takes effect. Up: exactly ceil(demand) at once
// (clamped to the policy's hard range), its new pods ready after the pod
// start-up time. Down: it removes at once every pod that demand will not
// need again within one start-up time, and keeps the others. Every figure
// below is worked out by hand in the comments and asserted
// through the binary's JSON summary: the oracle's under-provisioned and
// total replica-seconds, and our policy's ratios to them.
//
// The policy is sim_testing::kPolicy (q: Total, 10 per replica; cpu:
// Average, up at 0.8; min 1, max 10; up window 0 with the HPA's default
// rates, Pods 4 / Percent 100 per 15 s; down window 60 s). cpu is 0.1 or 0.2
// in every trace here, which never asks for more than 1 replica, so the
// demand is q's: 5 -> 1, 15 -> 2, 25 -> 3, 35 -> 4, 150 -> 15.
#include <string>
#include <vector>

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

constexpr char kUnderRatio[] = "under_provisioned_replica_seconds_vs_oracle";
constexpr char kCostRatio[] = "total_replica_seconds_vs_oracle";

// Runs `trace` with `extra` flags and returns the JSON summary.
nlohmann::json RunTrace(const std::string& trace,
                        const std::vector<std::string>& extra,
                        const std::string& policy = kPolicy,
                        std::string* output = nullptr) {
  const std::string dir = MakeTempDir();
  std::vector<std::string> args = {
      "--policy",       Write(dir, "p.yaml", policy),
      "--trace",        Write(dir, "t.csv", trace),
      "--summary-json", dir + "/s.json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = Simulate(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (output != nullptr) *output = r.output;
  return nlohmann::json::parse(Read(dir + "/s.json"));
}

void ExpectUnderAndCost(const nlohmann::json& run, double under, double total) {
  EXPECT_DOUBLE_EQ(run.at("under_provisioned_replica_seconds"), under) << run;
  EXPECT_DOUBLE_EQ(run.at("total_replica_seconds"), total) << run;
}

// A step: q 5 -> 35 at t=20, demand 1 -> 4, to t=120.
// Oracle: at t=20 asks 4 at once; 3 pods start, ready at t=50.
//   under: (4 - 1) x (50 - 20) = 90; total: 1 x 20 + 4 x (120 - 20) = 420.
// Ours at --tick-seconds 15 (ticks 0, 15, 30, ...): first sees q=35 at t=30,
// asks ceil(35 / 10) = 4 (the rate allows 1 + 4); ready at t=60.
//   under: 3 x (60 - 20) = 120; total: 1 x 30 + 4 x 90 = 390.
//   ratios: 120 / 90 = 4/3 short, 390 / 420 = 13/14 the cost.
TEST(SimulateOracleTest, Step) {
  const nlohmann::json s =
      RunTrace("t,q,cpu\n0,5,0.1\n20,35,0.2\n120,35,0.2\n",
               {"--tick-seconds", "15", "--compare", "oracle"});
  ASSERT_EQ(s.at("runs").size(), 2u) << s;
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 90, 420);
  EXPECT_DOUBLE_EQ(oracle.at("seconds_under_provisioned"), 30);
  EXPECT_EQ(oracle.at("scale_events"), 1);
  EXPECT_EQ(oracle.at("peak_replicas"), 4);
  EXPECT_DOUBLE_EQ(oracle.at(kUnderRatio), 1);
  EXPECT_DOUBLE_EQ(oracle.at(kCostRatio), 1);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 120, 390);
  EXPECT_DOUBLE_EQ(ours.at(kUnderRatio), 120.0 / 90.0);
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 390.0 / 420.0);
}

// A ramp: q 5, 15, 25, 35 at t=0, 10, 20, 30 (demand 1, 2, 3, 4), to t=120.
// Oracle: +1 pod at each of t=10, 20, 30, ready at 40, 50, 60.
//   under: [10,20) 1 x 10 + [20,30) 2 x 10 + [30,40) 3 x 10 + [40,50) 2 x 10
//   + [50,60) 1 x 10 = 90 (each of the 3 new replicas is 30 s late);
//   total: 1 x 10 + 2 x 10 + 3 x 10 + 4 x 90 = 420; 3 scale events.
// Ours at --tick-seconds 20: at t=20 q=25 asks 3 (2 pods, ready at 50), at
// t=40 q=35 asks 4 (ready at 70).
//   under: [10,20) 1 x 10 + [20,30) 2 x 10 + [30,50) 3 x 20 + [50,70) 1 x 20
//   = 110; total: 1 x 20 + 3 x 20 + 4 x 80 = 400.
//   ratios: 110 / 90 = 11/9, 400 / 420 = 20/21.
TEST(SimulateOracleTest, Ramp) {
  const nlohmann::json s = RunTrace(
      "t,q,cpu\n0,5,0.1\n10,15,0.1\n20,25,0.1\n30,35,0.1\n120,35,0.1\n",
      {"--tick-seconds", "20", "--compare", "oracle"});
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 90, 420);
  EXPECT_DOUBLE_EQ(oracle.at("seconds_under_provisioned"), 50);
  EXPECT_EQ(oracle.at("scale_events"), 3);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 110, 400);
  EXPECT_DOUBLE_EQ(ours.at(kUnderRatio), 110.0 / 90.0);
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 400.0 / 420.0);
}

// A drop: 4 replicas at the start (demand 4, q=35), q falls to 5 at t=30
// (demand 1), to t=100.
// Oracle: removes 3 pods at t=30 at once.
//   under: 0; total: 4 x 30 + 1 x 70 = 190; over: 0.
// Ours: the 60 s down window (seeded with 4 at t=0, 4 again at t=10, 20)
// holds 4 until the last 4 (t=20) has left it: down to 1 at t=80.
//   under: 0; total: 4 x 80 + 1 x 20 = 340; ratio 340 / 190 = 34/19.
// The oracle's under-provisioning is 0: every run's ratio to it is null
// (the table shows "-"), never a division by zero.
TEST(SimulateOracleTest, DropAndAZeroOracleFigure) {
  std::string output;
  const nlohmann::json s = RunTrace(
      "t,q,cpu\n0,35,0.1\n30,5,0.1\n100,5,0.1\n",
      {"--initial-replicas", "4", "--compare", "oracle"}, kPolicy, &output);
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 0, 190);
  EXPECT_DOUBLE_EQ(oracle.at("over_provisioned_replica_seconds"), 0);
  EXPECT_TRUE(oracle.at(kUnderRatio).is_null()) << oracle;
  EXPECT_DOUBLE_EQ(oracle.at(kCostRatio), 1);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 0, 340);
  EXPECT_TRUE(ours.at(kUnderRatio).is_null()) << ours;
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 340.0 / 190.0);
  EXPECT_THAT(output, HasSubstr("under-provisioned / oracle's                "
                                "  -       -\n"));
  EXPECT_THAT(output, HasSubstr("total replica-seconds / oracle's           "
                                "1.79    1.00\n"));
}

// A `demand` column of 2.5 is what the oracle follows: it asks ceil(2.5) = 3
// at t=0 (2 pods, ready at 30).
//   under: (2.5 - 1) x 30 = 45; over: (3 - 2.5) x 70 = 35; total 3 x 100 =
//   300. Ours never moves (q and cpu ask 1): under 1.5 x 100 = 150, total
//   100; ratios 150 / 45 = 10/3 and 100 / 300 = 1/3.
TEST(SimulateOracleTest, FollowsTheDemandColumn) {
  std::string output;
  const nlohmann::json s =
      RunTrace("t,q,cpu,demand\n0,5,0.1,2.5\n100,5,0.1,2.5\n",
               {"--compare", "oracle"}, kPolicy, &output);
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 45, 300);
  EXPECT_DOUBLE_EQ(oracle.at("over_provisioned_replica_seconds"), 35);
  EXPECT_EQ(oracle.at("peak_replicas"), 3);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 150, 100);
  EXPECT_DOUBLE_EQ(ours.at(kUnderRatio), 150.0 / 45.0);
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 100.0 / 300.0);
  EXPECT_THAT(output, HasSubstr("note: oracle: follows the trace's demand "
                                "column at once"));
}

// Dips shorter than a start-up time (30 s) keep the pods demand needs again
// within it. From 4 replicas (q=35, demand 4): q=5 at t=30 (demand 1), q=25
// at t=40 (demand 3), q=5 at t=100 (demand 1), to t=130.
// Oracle: at t=30 the rows of [30, 60) need at most 3 (t=40): 4 -> 3, one
// pod removed, the other two kept. At t=40 it has the 3 it needs. At t=100
// no row within [100, 130) needs more than 1: 3 -> 1 at once.
//   under: 0 (ready never falls below demand); over: (3 - 1) x 10 = 20 in
//   [30, 40); total: 4 x 30 + 3 x 70 + 1 x 30 = 360; 2 scale events.
//   (Following demand alone, 4 -> 1 at t=30 and 1 -> 3 at t=40, ready at 70,
//   would have been short (3 - 1) x 30 = 60 replica-seconds to save 20.)
// Ours: the 60 s down window (t - 60, t] keeps 4 until the last 4 (t=20)
// leaves it: 3 at t=80; the 3s of t=40..90 then hold 3 to the end (t=130).
//   under 0; total 4 x 80 + 3 x 50 = 470; ratio 470 / 360 = 47/36 (the
//   under-provisioning ratio is null: the oracle's is 0).
TEST(SimulateOracleTest, KeepsWhatAShortDipNeedsAgain) {
  const nlohmann::json s =
      RunTrace("t,q,cpu\n0,35,0.1\n30,5,0.1\n40,25,0.1\n100,5,0.1\n130,5,0.1\n",
               {"--initial-replicas", "4", "--compare", "oracle"});
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 0, 360);
  EXPECT_DOUBLE_EQ(oracle.at("over_provisioned_replica_seconds"), 20);
  EXPECT_EQ(oracle.at("scale_events"), 2);
  EXPECT_EQ(oracle.at("direction_reversals"), 0);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 0, 470);
  EXPECT_TRUE(ours.at(kUnderRatio).is_null()) << ours;
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 470.0 / 360.0);
}

// Pods still starting are kept through a dip too. q=35 at t=20 (demand 4),
// q=5 at t=30 (demand 1), q=35 again at t=40, to t=120.
// Oracle: 1 -> 4 at t=20 (ready at 50); at t=30 the row of t=40 (within
// [30, 60)) needs 4: nothing is removed.
//   under: [20, 30) 3 x 10 + [40, 50) 3 x 10 = 60 ([30, 40) needs 1, has 1
//   ready); total: 1 x 20 + 4 x 100 = 420; 1 scale event.
//   (Removing the 3 starting pods at t=30 and starting 3 more at t=40, ready
//   at 70, would have been short 30 + 3 x 30 = 120.)
// Ours at its 10 s tick does the same: 4 at t=20, the down window keeps them.
//   ratios 60 / 60 = 1 and 420 / 420 = 1.
TEST(SimulateOracleTest, KeepsStartingPodsThroughADip) {
  const nlohmann::json s =
      RunTrace("t,q,cpu\n0,5,0.1\n20,35,0.2\n30,5,0.1\n40,35,0.2\n120,35,0.2\n",
               {"--compare", "oracle"});
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 60, 420);
  EXPECT_EQ(oracle.at("scale_events"), 1);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 60, 420);
  EXPECT_DOUBLE_EQ(ours.at(kUnderRatio), 1);
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 1);
}

// A dip of a start-up time or longer: the pods go at once. From 4 replicas
// (q=35): q=5 at t=30 (demand 1), q=35 again at t=80 (50 s later), to t=150.
// Oracle: at t=30 no row within [30, 60) needs more than 1: 4 -> 1; at t=80
// 1 -> 4, ready at 110.
//   under: 3 x 30 = 90; total: 4 x 30 + 1 x 50 + 4 x 70 = 450; 2 scale
//   events, one reversal (up 50 s after down, within the 60 s window).
// Ours: the 60 s down window keeps 4 through t=70 and q asks 4 again at t=80:
// 4 all along. under 0, total 4 x 150 = 600: ratios 0 / 90 = 0 short (it
// held more than demand needed) at 600 / 450 = 4/3 the cost.
TEST(SimulateOracleTest, DropsAtOnceForALongerDip) {
  const nlohmann::json s =
      RunTrace("t,q,cpu\n0,35,0.1\n30,5,0.1\n80,35,0.1\n150,35,0.1\n",
               {"--initial-replicas", "4", "--compare", "oracle"});
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 90, 450);
  EXPECT_EQ(oracle.at("scale_events"), 2);
  EXPECT_EQ(oracle.at("direction_reversals"), 1);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 0, 600);
  EXPECT_DOUBLE_EQ(ours.at(kUnderRatio), 0);
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 600.0 / 450.0);
}

// The oracle is clamped to the policy's hard range: a limit db of budget 60
// at 10 per replica makes the upper bound 6 (below maxReplicas 10). q=150
// (demand 15) from t=0 to 60.
// Oracle: asks 6 at t=0 (5 pods, ready at 30).
//   under: (15 - 1) x 30 + (15 - 6) x 30 = 690; total 6 x 60 = 360.
// Ours: 15, capped at 6, then the rate (1 + 4) allows 5 at t=0 and t=10; 6
// at t=20. Ready: 5 at 30, 6 at 50.
//   under: 14 x 30 + 10 x 20 + 9 x 10 = 710; total 5 x 20 + 6 x 40 = 340.
//   ratios: 710 / 690 = 71/69, 340 / 360 = 17/18.
TEST(SimulateOracleTest, ClampedToThePolicysLimits) {
  std::string policy = kPolicy;
  const std::string behavior = "  behavior:\n";
  policy.insert(policy.find(behavior),
                "  limits:\n  - {name: db, budget: 60, perReplica: 10}\n");
  std::string output;
  const nlohmann::json s = RunTrace("t,q,cpu\n0,150,0.1\n60,150,0.1\n",
                                    {"--compare", "oracle"}, policy, &output);
  const nlohmann::json oracle = RunNamed(s, "oracle");
  ExpectUnderAndCost(oracle, 690, 360);
  EXPECT_EQ(oracle.at("peak_replicas"), 6);
  const nlohmann::json ours = RunNamed(s, "signalscaler");
  ExpectUnderAndCost(ours, 710, 340);
  EXPECT_DOUBLE_EQ(ours.at(kUnderRatio), 710.0 / 690.0);
  EXPECT_DOUBLE_EQ(ours.at(kCostRatio), 340.0 / 360.0);
  EXPECT_THAT(output, HasSubstr("within [1, 6]"));
}

// With both baselines, in the order given (oracle between them, once as
// "--compare A,B"): the spike of simulate_test.cc (q 5 -> 35 at t=20, back to
// 5 at t=120, to t=240), whose other figures that test computes: ours 90 /
// 690, hpa-cpu 300 / 240, keda-default 120 / 870 (under / total).
// Oracle: 4 at t=20 (ready at 50), 1 at t=120.
//   under: 3 x 30 = 90; total: 1 x 20 + 4 x 100 + 1 x 120 = 540.
//   under ratios: 90/90 = 1, 300/90 = 10/3, 120/90 = 4/3;
//   cost ratios: 690/540 = 23/18, 240/540 = 4/9, 870/540 = 29/18.
TEST(SimulateOracleTest, BesideTheOtherBaselines) {
  std::string output;
  const nlohmann::json s =
      RunTrace("t,q,cpu\n0,5,0.1\n20,35,0.2\n120,5,0.1\n240,5,0.1\n",
               {"--compare", "hpa-cpu,oracle", "--compare", "keda-default"},
               kPolicy, &output);
  const nlohmann::json& runs = s.at("runs");
  ASSERT_EQ(runs.size(), 4u) << s;
  EXPECT_EQ(runs[0].at("name"), "signalscaler");
  EXPECT_EQ(runs[1].at("name"), "hpa-cpu");
  EXPECT_EQ(runs[2].at("name"), "oracle");
  EXPECT_EQ(runs[3].at("name"), "keda-default");
  ExpectUnderAndCost(runs[2], 90, 540);
  ExpectUnderAndCost(runs[0], 90, 690);
  ExpectUnderAndCost(runs[1], 300, 240);
  ExpectUnderAndCost(runs[3], 120, 870);
  EXPECT_DOUBLE_EQ(runs[0].at(kUnderRatio), 1);
  EXPECT_DOUBLE_EQ(runs[1].at(kUnderRatio), 300.0 / 90.0);
  EXPECT_DOUBLE_EQ(runs[3].at(kUnderRatio), 120.0 / 90.0);
  EXPECT_DOUBLE_EQ(runs[0].at(kCostRatio), 690.0 / 540.0);
  EXPECT_DOUBLE_EQ(runs[1].at(kCostRatio), 240.0 / 540.0);
  EXPECT_DOUBLE_EQ(runs[3].at(kCostRatio), 870.0 / 540.0);
  EXPECT_THAT(output,
              HasSubstr("                                   signalscaler  "
                        "hpa-cpu  oracle  keda-default\n"));
  EXPECT_THAT(output, HasSubstr("under-provisioned / oracle's               "
                                "1.00     3.33    1.00          1.33\n"));
  EXPECT_THAT(output, HasSubstr("total replica-seconds / oracle's           "
                                "1.28     0.44    1.00          1.61\n"));
}

// Without --compare oracle there is no ratio, in the table or the JSON.
TEST(SimulateOracleTest, NoRatiosWithoutTheOracle) {
  std::string output;
  const nlohmann::json s =
      RunTrace("t,q,cpu\n0,5,0.1\n20,35,0.2\n120,35,0.2\n",
               {"--compare", "keda-default"}, kPolicy, &output);
  for (const nlohmann::json& run : s.at("runs")) {
    EXPECT_FALSE(run.contains(kUnderRatio)) << run;
    EXPECT_FALSE(run.contains(kCostRatio)) << run;
  }
  EXPECT_THAT(output, Not(HasSubstr("oracle")));
}

TEST(SimulateOracleTest, GivenTwiceIsAUsageError) {
  const std::string dir = MakeTempDir();
  const RunResult r =
      Simulate({"--policy", Write(dir, "p.yaml", kPolicy), "--trace",
                Write(dir, "t.csv", "t,q,cpu\n0,5,0.1\n"), "--compare",
                "oracle,oracle"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--compare oracle: given twice"));
}

// --report draws the oracle's ready replicas as a series of its own: a
// polyline titled "oracle ready", finely dotted in near-black, in the legend,
// and different from ours on the step of Step (ours ready at 60, the
// oracle's at 50). The HTML's table has the ratio rows.
TEST(SimulateOracleTest, ReportDrawsTheOracle) {
  const std::string dir = MakeTempDir();
  const std::string policy = Write(dir, "p.yaml", kPolicy);
  const std::string trace =
      Write(dir, "t.csv", "t,q,cpu\n0,5,0.1\n20,35,0.2\n120,35,0.2\n");
  const RunResult r = Simulate(
      {"--policy", policy, "--trace", trace, "--tick-seconds", "15", "--report",
       dir + "/r.svg", "--compare", "keda-default", "--compare", "oracle"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string svg = Read(dir + "/r.svg");
  const auto polyline_of = [&](const std::string& name) {
    const size_t end = svg.find("<title>" + name + " ready</title>");
    if (end == std::string::npos) return std::string();
    const size_t start = svg.rfind("<polyline", end);
    return svg.substr(start, end - start);
  };
  const std::string oracle = polyline_of("oracle");
  const std::string ours = polyline_of("signalscaler");
  ASSERT_FALSE(oracle.empty()) << svg;
  ASSERT_FALSE(ours.empty()) << svg;
  EXPECT_THAT(oracle, HasSubstr("stroke=\"#222222\""));
  EXPECT_THAT(oracle, HasSubstr("stroke-dasharray=\"2 3\""));
  const auto points = [](const std::string& polyline) {
    const size_t a = polyline.find("points=\"") + 8;
    return polyline.substr(a, polyline.find('"', a) - a);
  };
  EXPECT_NE(points(oracle), points(ours));
  EXPECT_THAT(svg, HasSubstr(">oracle ready</text>"));
  EXPECT_THAT(svg, HasSubstr(">keda-default ready</text>"));
  // keda-default keeps the first baseline color, the oracle takes none.
  EXPECT_THAT(polyline_of("keda-default"), HasSubstr("stroke=\"#d62728\""));

  const RunResult h =
      Simulate({"--policy", policy, "--trace", trace, "--report",
                dir + "/r.html", "--compare", "oracle"});
  ASSERT_EQ(h.exit_code, 0) << h.output;
  const std::string html = Read(dir + "/r.html");
  EXPECT_THAT(html, HasSubstr("<title>oracle ready</title>"));
  EXPECT_THAT(html, HasSubstr("under-provisioned / oracle's"));
  EXPECT_THAT(html, HasSubstr("total replica-seconds / oracle's"));
}

}  // namespace
}  // namespace signalscaler
