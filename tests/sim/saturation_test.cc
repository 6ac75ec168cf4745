// Issue 15 item 3 through `signalscaler simulate`: LiveKit egress recordings
// in use climb by 1 every 10 s up to 20 (deploy/examples/traces/
// egress-recording-ramp.csv: 1 at t=60, 20 from t=250 to t=1445), policy
// egress-recording.yaml (the seed's cpu/memory/egress_available triggers,
// scaleUpBelow 1, scaleDownAbove 3, capacityPerReplica 1, windows 15 s up and
// 300 s down, the HPA's default rates), pods start in 30 s. The fleet must
// have at least 21 ready replicas within 60 s of the load settling (t=310)
// and never more than 24 after it.
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/sim_test_util.h"

namespace signalscaler {
namespace {

using sim_testing::Read;
using sim_testing::RunNamed;
using sim_testing::Simulate;
using sim_testing::Write;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using ::testing::Not;
using testing::RunResult;
using testing::SourceDir;

constexpr int64_t kSettled = 250;  // the first row at 20 recordings
constexpr int64_t kLoadEnds = 1450;

std::string Traces() { return SourceDir() + "/deploy/examples/traces/"; }

struct Tick {
  int64_t t = 0;
  int64_t decision = 0;
  int64_t ready = 0;
};

std::vector<Tick> Timeline(const std::string& csv) {
  std::vector<Tick> out;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::vector<std::string> f = absl::StrSplit(line, ',');
    out.push_back(Tick{std::stoll(f[0]), std::stoll(f[1]), std::stoll(f[2])});
  }
  return out;
}

// The timeline's line of tick `t`, without its newline.
std::string Line(const std::string& csv, int64_t t) {
  const std::string key = "\n" + std::to_string(t) + ",";
  const size_t at = csv.find(key);
  if (at == std::string::npos) return "";
  const size_t end = csv.find('\n', at + 1);
  return csv.substr(at + 1, end - at - 1);
}

struct Outcome {
  int64_t first_21_ready = -1;  // the first tick >= kSettled with >= 21
  int64_t peak_after = 0;       // the most pods asked for while settled
  int64_t peak_ready_after = 0;
  std::string timeline;
  nlohmann::json summary;
};

// Runs the SUITE policy, with `extra` appended to the egress_available
// signal (e.g. its saturationFactor), on the trace.
Outcome RunEgress(const std::string& extra = "") {
  const std::string dir = MakeTempDir();
  std::string policy = Read(Traces() + "egress-recording.yaml");
  if (!extra.empty()) {
    policy = absl::StrReplaceAll(
        policy, {{"    capacityPerReplica: 1\n",
                  "    capacityPerReplica: 1\n    " + extra + "\n"}});
    EXPECT_THAT(policy, HasSubstr(extra));
  }
  const RunResult r =
      Simulate({"--policy", Write(dir, "p.yaml", policy), "--trace",
                Traces() + "egress-recording-ramp.csv", "--out",
                dir + "/tl.csv", "--summary-json", dir + "/s.json", "--compare",
                "hpa-cpu", "keda-default"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  Outcome o;
  o.timeline = Read(dir + "/tl.csv");
  o.summary = nlohmann::json::parse(Read(dir + "/s.json"));
  for (const Tick& k : Timeline(o.timeline)) {
    if (k.t < kSettled || k.t >= kLoadEnds) continue;
    if (o.first_21_ready < 0 && k.ready >= 21) o.first_21_ready = k.t;
    o.peak_after = std::max(o.peak_after, k.decision);
    o.peak_ready_after = std::max(o.peak_ready_after, k.ready);
  }
  return o;
}

TEST(SaturationSimTest, TheTraceIsTheIssuesRamp) {
  const std::string csv = Read(Traces() + "egress-recording-ramp.csv");
  EXPECT_THAT(csv, HasSubstr("\n55,0,0,0\n60,0.2,0.25,1\n"));
  EXPECT_THAT(csv, HasSubstr("\n240,3.8,4.75,19\n245,3.8,4.75,19\n"
                             "250,4,5,20\n"));
  EXPECT_THAT(csv, HasSubstr("\n1445,4,5,20\n1450,0,0,0\n"));
}

// With saturation (the default factor 2). The reading is 0 spare from
// t=70 on. While the formula asks for more than current (at most 1 spare
// with the pods starting), a tick proposes max(formula, 2 x ready); once
// the pods on the way cover it, current. The up window (15 s) takes the
// least of its ticks, pods start 30 s later. Rounds, from the timeline: 2
// ready -> 4 (t=80); 3, then 4 ready -> 6 (t=110: the 8 asked at 4 ready
// lasts one tick, then the 2 starting cover the formula); 6 ready (t=140)
// -> 12 (t=150); 12 ready (t=180) -> 24 (t=190), ready at t=220 with 7
// spare for 17 recordings. The load settles at 20 with 24 ready, which the
// 300 s down window keeps (the last 24 was asked at t=215): 22 (2 spare)
// from t=515.
TEST(SaturationSimTest, ReachesTwentyOneReadyWithinAMinuteAndNoOvershoot) {
  const Outcome o = RunEgress();
  EXPECT_EQ(o.first_21_ready, kSettled);  // 24 ready since t=220
  EXPECT_LE(o.first_21_ready, kSettled + 60);
  EXPECT_EQ(o.peak_after, 24);  // <= 24
  EXPECT_EQ(o.peak_ready_after, 24);
  // t,decision,ready,demand,cpu value and proposal,memory value and
  // proposal,egress_available value and proposal,reason.
  EXPECT_THAT(Line(o.timeline, 180), ::testing::StartsWith("180,12,12,15,"));
  EXPECT_THAT(Line(o.timeline, 180),
              HasSubstr(",0,24,\"egress_available saturated (0 spare): x2; "
                        "egress_available won (p=24); scale-up window (15s) "
                        "holds at 12 instead of 24\""));
  EXPECT_THAT(Line(o.timeline, 190), ::testing::StartsWith("190,24,12,16,"));
  // Waiting for the 12 on the way: current, and no saturation reason.
  EXPECT_THAT(Line(o.timeline, 195),
              HasSubstr(",0,24,\"egress_available won (p=24)\""));
  EXPECT_THAT(Line(o.timeline, 220), ::testing::StartsWith("220,24,24,19,"));
  EXPECT_THAT(Line(o.timeline, 220), HasSubstr(",7,19,"));
  EXPECT_THAT(Line(o.timeline, 510), ::testing::StartsWith("510,24,24,22,"));
  EXPECT_THAT(Line(o.timeline, 515), ::testing::StartsWith("515,22,22,22,"));
  const nlohmann::json ours = RunNamed(o.summary, "signalscaler");
  EXPECT_DOUBLE_EQ(ours.at("under_provisioned_replica_seconds"), 730);
  EXPECT_DOUBLE_EQ(ours.at("total_replica_seconds"), 37180);
  EXPECT_EQ(ours.at("peak_replicas"), 24);
  EXPECT_EQ(ours.at("scale_events"), 7);
  EXPECT_EQ(ours.at("direction_reversals"), 0);
  // Both baselines scale on CPU and memory alone (0.2 and 0.25 per
  // recording, never at 50 % / 65 % of a ready pod): 15965.
  EXPECT_DOUBLE_EQ(
      RunNamed(o.summary, "hpa-cpu").at("under_provisioned_replica_seconds"),
      15965);
}

// Without saturation (saturationFactor 1, the linear step of before): the
// reading stays 0 spare however many recordings are refused, the formula
// counts the pods starting as spare, and the fleet climbs one or two pods a
// window: 21 ready only 210 s after the load settled (10 short at t=250).
TEST(SaturationSimTest, TheLinearStepIsMinutesLate) {
  const Outcome o = RunEgress("saturationFactor: 1");
  EXPECT_EQ(o.first_21_ready, 460);
  EXPECT_GT(o.first_21_ready, kSettled + 60);
  EXPECT_EQ(o.peak_after, 22);
  EXPECT_THAT(Line(o.timeline, 250), ::testing::StartsWith("250,12,10,22,"));
  EXPECT_THAT(o.timeline, Not(HasSubstr("saturated")));
  EXPECT_DOUBLE_EQ(RunNamed(o.summary, "signalscaler")
                       .at("under_provisioned_replica_seconds"),
                   2600);
}

// A smaller factor is no safer: x1.5 rounds (2 -> 3 ... 12 -> 18 -> 27)
// land at 18 ready for 20 recordings, one round short, and the next asks
// 27: 21 ready only at t=300, and 27 after the load settled.
TEST(SaturationSimTest, OneAndAHalfIsLateAndOvershoots) {
  const Outcome o = RunEgress("saturationFactor: 1.5");
  EXPECT_EQ(o.first_21_ready, 300);
  EXPECT_EQ(o.peak_after, 27);
  EXPECT_THAT(Line(o.timeline, 260), ::testing::StartsWith("260,18,18,22,"));
  EXPECT_THAT(Line(o.timeline, 260),
              HasSubstr(",0,27,\"egress_available saturated (0 spare): "
                        "x1.5;"));
  EXPECT_DOUBLE_EQ(RunNamed(o.summary, "signalscaler")
                       .at("under_provisioned_replica_seconds"),
                   1400);
}

}  // namespace
}  // namespace signalscaler
