// Step 1 of "Decision (normative)": one proposal per signal, pinned with
// numbers computed by hand. Each case runs Decide() on a one-signal policy
// whose current count comes from a replicas source, and reads the signal's
// proposal from the explanation.
#include <optional>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using testing::In;
using testing::MustDecide;
using testing::PolicyFrom;
using testing::T;

struct Case {
  std::string name;
  std::string signal;  // Signal fields, text proto
  int min_replicas;
  int current;
  double value;
  int64_t want;
  std::optional<int> ready = std::nullopt;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

constexpr const char* kTotal10 = "type: Total target_per_replica: 10";
constexpr const char* kCpu =  // band [0.30, 0.50], target 0.40
    "type: Average scale_up_above: 0.5 scale_down_below: 0.3";
constexpr const char* kSpare =  // band [1, 3], target 2, capacity 1
    "type: Headroom scale_up_below: 1 scale_down_above: 3";

class ProposalTest : public ::testing::TestWithParam<Case> {};

TEST_P(ProposalTest, ProposesByHand) {
  const Case& c = GetParam();
  const v1::ScalingPolicy p =
      PolicyFrom(absl::StrCat("spec { min_replicas: ", c.min_replicas,
                              " max_replicas: 100 replicas { push {} } ",
                              c.ready ? "ready_replicas { push {} } " : "",
                              "signals { name: 's' source { push {} } ",
                              c.signal, " } ", testing::kNoDamping, "}"));
  In in(T(100));
  in.Signal("s", c.value).Replicas(c.current);
  if (c.ready) in.Ready(*c.ready);
  EngineState state;
  const Decision d = MustDecide(p, in, state, T(100));
  ASSERT_EQ(d.signals.size(), 1u);
  EXPECT_EQ(d.current, c.current);
  EXPECT_EQ(d.signals[0].state, SignalState::kOk);
  EXPECT_EQ(d.signals[0].proposal, c.want) << d.Summary();
}

INSTANTIATE_TEST_SUITE_P(
    Total, ProposalTest,
    ::testing::Values(
        // ratio 45/(10*3) = 1.5 outside [0.9, 1.1]: ceil(45/10) = 5
        Case{"Up", kTotal10, 1, 3, 45, 5},
        // ratio 1.0: ceil(30/10) = 3 exactly (no floating noise)
        Case{"Exact", kTotal10, 1, 3, 30, 3},
        // up tolerance 0 by default: ratio 31/30 = 1.033 is above the target,
        // so ceil(3.1) = 4 (the HPA's 0.1 would keep 3)
        Case{"AboveTargetDefaultUpTolerance0", kTotal10, 1, 3, 31, 4},
        // the signal's own tolerance 0.1 sets both directions:
        // ratio 32/30 = 1.067 inside the band: current 3 (ceil would be 4)
        Case{"InBandAbove", "type: Total target_per_replica: 10 tolerance: 0.1",
             1, 3, 32, 3},
        // ratio 33/30 = 1.1, the band's edge, inclusive: 3
        Case{"BandEdgeHigh",
             "type: Total target_per_replica: 10 tolerance: 0.1", 1, 3, 33, 3},
        // ratio 34/30 = 1.133: ceil(3.4) = 4
        Case{"JustAboveBand", kTotal10, 1, 3, 34, 4},
        // ratio 27/30 = 0.9, edge, inclusive: 3
        Case{"BandEdgeLow", kTotal10, 1, 3, 27, 3},
        // ratio 15/30 = 0.5: ceil(1.5) = 2
        Case{"Down", kTotal10, 1, 3, 15, 2},
        // tolerance 0: ratio 32/30 leaves the band: ceil(3.2) = 4
        Case{"ToleranceZero", "type: Total target_per_replica: 10 tolerance: 0",
             1, 3, 32, 4},
        // t = 0.1, v = 0.3: 0.3/0.1 is 2.9999999999999996 in doubles: 3
        Case{"CeilNoise", "type: Total target_per_replica: 0.1 tolerance: 0", 1,
             1, 0.3, 3},
        // current 0, v 0 <= activation 0: 0
        Case{"ZeroStaysZero", kTotal10, 0, 0, 0, 0},
        // current 0, v 0.5 > activation 0: max(1, ceil(0.05)) = 1
        Case{"WakesOnFirstItem", kTotal10, 0, 0, 0.5, 1},
        // current 0, v 25 > 0: ceil(2.5) = 3
        Case{"WakesProportionally", kTotal10, 0, 0, 25, 3},
        // current 0, activation 5, v 5: not above: 0
        Case{"AtActivation",
             "type: Total target_per_replica: 10 activation_above: 5", 0, 0, 5,
             0},
        // current 0, activation 5, v 6: ceil(0.6) = 1
        Case{"AboveActivation",
             "type: Total target_per_replica: 10 activation_above: 5", 0, 0, 6,
             1}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Average, ProposalTest,
    ::testing::Values(
        // v 0.6 >= 0.5: max(4+1, ceil(4*0.6/0.4 = 6)) = 6
        Case{"Up", kCpu, 1, 4, 0.6, 6},
        // v 0.5 = scaleUpAbove: max(5, ceil(5.0)) = 5
        Case{"UpAtThreshold", kCpu, 1, 4, 0.5, 5},
        // v 0.51 at current 1: max(2, ceil(1.275) = 2) = 2
        Case{"UpAtLeastOne", kCpu, 1, 1, 0.51, 2},
        // v 0.45 inside (0.30, 0.50): current 2
        Case{"Band", kCpu, 1, 2, 0.45, 2},
        // v 0.3 <= 0.3: ceil(4*0.3/0.4 = 3) = 3 (2.9999999999999996 raw)
        Case{"DownAtThreshold", kCpu, 1, 4, 0.3, 3},
        // v 0.1: ceil(4*0.1/0.4 = 1) = 1
        Case{"Down", kCpu, 1, 4, 0.1, 1},
        // explicit target 0.45: v 0.6: max(5, ceil(4*0.6/0.45 = 5.33)) = 6
        Case{"ExplicitTarget",
             "type: Average scale_up_above: 0.5 scale_down_below: 0.3 "
             "target: 0.45",
             1, 4, 0.6, 6},
        // ready 2 of 4: max(2+1, ceil(2*0.6/0.4 = 3)) = 3, never below
        // current on the way up: 4 (the pods starting are capacity)
        Case{"ReadyUpHolds", kCpu, 1, 4, 0.6, 4, 2},
        // ready 3 of 4, v 0.8: max(4, ceil(3*0.8/0.4 = 6)) = 6
        Case{"ReadyUp", kCpu, 1, 4, 0.8, 6, 3},
        // ready 2 of 4, v 0.2: ceil(2*0.2/0.4 = 1) = 1
        Case{"ReadyDown", kCpu, 1, 4, 0.2, 1, 2},
        // current 0 (an Average cannot wake the service): 0
        Case{"NoPods", kCpu, 0, 0, 0.9, 0}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Headroom, ProposalTest,
    ::testing::Values(
        // s 0 <= 1: 4 + ceil((2-0)/1) = 6; 0 spare is saturated (issue 15):
        // the formula asks for more than current: max(6, 2 * 4) = 8
        Case{"UpEmpty", kSpare, 1, 4, 0, 8},
        // s 1 <= 1: 4 + ceil(1) = 5
        Case{"UpAtThreshold", kSpare, 1, 4, 1, 5},
        // s 2 in (1, 3): 4
        Case{"Band", kSpare, 1, 4, 2, 4},
        // s 3 >= 3: 4 - floor(1) = 3
        Case{"DownAtThreshold", kSpare, 1, 4, 3, 3},
        // s 5: 4 - floor(3) = 1
        Case{"Down", kSpare, 1, 4, 5, 1},
        // s 9: 4 - 7 < 0: 0 (then minReplicas)
        Case{"DownFloorsAtZero", kSpare, 1, 4, 9, 0},
        // capacity 2, band [2, 6], target 4: s 0: 3 + ceil(4/2) = 5;
        // saturated: max(5, 2 * 3) = 6
        Case{"CapacityUp",
             "type: Headroom scale_up_below: 2 scale_down_above: 6 "
             "capacity_per_replica: 2",
             1, 3, 0, 6},
        // capacity 2: s 9: 3 - floor(5/2) = 1
        Case{"CapacityDown",
             "type: Headroom scale_up_below: 2 scale_down_above: 6 "
             "capacity_per_replica: 2",
             1, 3, 9, 1},
        // ready 3 of 5: spare 0 + (5-3)*1 = 2, inside the band: 5 (0 spare
        // is saturated, but the pods on the way cover the formula: 5)
        Case{"ReadyCountsStarting", kSpare, 1, 5, 0, 5, 3},
        // ready 4 of 5: spare 0 + 1 = 1 <= 1: 5 + ceil(1) = 6; saturated:
        // max(6, 2 * 4) = 8
        Case{"ReadyStillShort", kSpare, 1, 5, 0, 8, 4},
        // current 0: a Headroom cannot wake the service: 0
        Case{"NoPods", kSpare, 0, 0, 0, 0}),
    [](const auto& info) { return info.param.name; });

// Per-direction tolerance (behavior.scaleUp/scaleDown.tolerance, KEP-4951):
// 1 - down <= v / (t * current) <= 1 + up, both ends included.
int64_t TotalProposal(const std::string& behavior, const std::string& signal,
                      int current, double value) {
  const v1::ScalingPolicy p = PolicyFrom(absl::StrCat(
      "spec { max_replicas: 1000 replicas { push {} } signals { name: 's' "
      "source { push {} } type: Total target_per_replica: 10 ",
      signal, " } behavior { ", behavior, " } }"));
  In in(T(100));
  in.Signal("s", value).Replicas(current);
  EngineState state;
  const Decision d = MustDecide(p, in, state, T(100));
  EXPECT_EQ(d.signals.size(), 1u);
  return d.signals.empty() ? -1 : d.signals[0].proposal;
}

TEST(TotalTolerance, PerDirectionEdgesIncluded) {
  const std::string b =
      "scale_up { tolerance: 0.2 } scale_down { tolerance: 0.3 }";
  EXPECT_EQ(TotalProposal(b, "", 10, 120), 10);  // 1.2: the up edge
  EXPECT_EQ(TotalProposal(b, "", 10, 121), 13);  // above: ceil(12.1)
  EXPECT_EQ(TotalProposal(b, "", 10, 70), 10);   // 0.7: the down edge
  EXPECT_EQ(TotalProposal(b, "", 10, 69), 7);    // below: ceil(6.9)
  // The signal's own tolerance sets both directions, over the behavior's.
  EXPECT_EQ(TotalProposal(b, "tolerance: 0.05", 10, 106), 11);
  EXPECT_EQ(TotalProposal(b, "tolerance: 0.05", 10, 105), 10);
  EXPECT_EQ(TotalProposal(b, "tolerance: 0.05", 10, 95), 10);
  EXPECT_EQ(TotalProposal(b, "tolerance: 0.05", 10, 94), 10);  // ceil(9.4)
  EXPECT_EQ(TotalProposal(b, "tolerance: 0.05", 10, 89), 9);
}

TEST(TotalTolerance, DefaultsAreUp0Down01) {
  // Up 0: any value above the stated capacity asks for the next pod.
  EXPECT_EQ(TotalProposal("", "", 10, 100), 10);
  EXPECT_EQ(TotalProposal("", "", 10, 100.5), 11);
  // Down 0.1, the HPA's: 0.9 is kept (edge included), below it scales.
  EXPECT_EQ(TotalProposal("", "", 10, 90), 10);
  EXPECT_EQ(TotalProposal("", "", 10, 89), 9);
}

// Seed 000: "20 requests per pod". 500 requests in flight at 24 pods must
// give 25: with the HPA's 0.1 up tolerance 24 was kept and 20 users sat above
// the per-pod limit the operator stated.
TEST(TotalTolerance, FiveHundredAtTwentyPerPodIs25) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      max_replicas: 100
      replicas { push {} }
      signals {
        name: "active"
        type: Total
        source { push {} }
        target_per_replica: 20
      }
    })pb");
  In in(T(100));
  in.Signal("active", 500).Replicas(24);
  EngineState state;
  const Decision d = MustDecide(p, in, state, T(100));
  EXPECT_EQ(d.replicas, 25) << d.Summary();
  EXPECT_FALSE(testing::HasReason(d, ReasonCode::kWithinBand)) << d.Summary();
}

TEST(TotalTolerance, DownToleranceOfOneNeverProposesAScaleDown) {
  const std::string b = "scale_down { tolerance: 1 }";
  EXPECT_EQ(TotalProposal(b, "", 10, 0), 10);  // ratio 0 >= 1 - 1
  EXPECT_EQ(TotalProposal(b, "", 10, 1), 10);
  EXPECT_EQ(TotalProposal(b, "", 10, 101), 11);  // up is still 0
}

}  // namespace
}  // namespace signalscaler
