// Saturation (issue 15 item 3): a Headroom signal at 0 spare, or an Average
// at or above its saturatesAt, cannot show how far demand is past capacity.
// While its formula asks for more than current, it proposes
// max(formula, ceil(factor * max(ready, 1))), factor saturationFactor
// (default 2); once the pods on the way cover the formula's step, it holds
// at current. Elsewhere the formula is unchanged. Every number below is
// computed by hand.
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scaler/policy/defaults.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using testing::HasReason;
using testing::In;
using testing::MustDecide;
using testing::PolicyFrom;
using testing::T;

// Spare egress workers: band [1, 3], target 2, one per pod.
constexpr const char* kSpare =
    "type: Headroom scale_up_below: 1 scale_down_above: 3 "
    "capacity_per_replica: 1";
// A utilization of the containers' limits: band [0.85, 0.95], target 0.9,
// pinned at 1.0 when every pod is busy.
constexpr const char* kUtil =
    "type: Average scale_up_above: 0.95 scale_down_below: 0.85 "
    "saturates_at: 1.0";

// One signal `s` (fields `signal`), a replicas source, a ready source when
// `ready` is wanted, min 1 / max `max`, `extra` spec fields, no damping
// unless `extra` sets a behavior.
v1::ScalingPolicy OneSignal(const std::string& signal, int max = 100,
                            const std::string& extra = "",
                            bool damping = false) {
  return PolicyFrom(absl::StrCat(
      "spec { max_replicas: ", max,
      " replicas { push {} } ready_replicas { push {} } "
      "signals { name: 's' source { push {} } ",
      signal, " } ", extra, damping ? "" : testing::kNoDamping, "}"));
}

struct Result {
  int64_t proposal = 0;
  int64_t replicas = 0;
  Decision decision;
};

Result DecideOnce(const v1::ScalingPolicy& p, double value, int current,
                  std::optional<int> ready) {
  In in(T(100));
  in.Signal("s", value).Replicas(current);
  if (ready) in.Ready(*ready);
  EngineState state;
  Result r;
  r.decision = MustDecide(p, in, state, T(100));
  EXPECT_EQ(r.decision.current, current);
  r.proposal = r.decision.signals.at(0).proposal;
  r.replicas = r.decision.replicas;
  return r;
}

TEST(SaturationDefaults, FactorIsTwo) {
  EXPECT_EQ(kDefaultSaturationFactor, 2);
  v1::Signal s;
  EXPECT_EQ(SaturationFactor(s), 2);
  s.set_saturation_factor(3);
  EXPECT_EQ(SaturationFactor(s), 3);
}

TEST(HeadroomSaturation, ZeroSpareDoublesTheReadyCount) {
  // 10 ready, 0 spare: the formula says 10 + ceil((2 - 0) / 1) = 12; the
  // deficit is unknown: 2 * 10 = 20.
  const Result r = DecideOnce(OneSignal(kSpare), 0, 10, 10);
  EXPECT_EQ(r.proposal, 20) << r.decision.Summary();
  EXPECT_EQ(r.replicas, 20);
  EXPECT_TRUE(HasReason(r.decision, ReasonCode::kSaturatedNoSpare));
  // Without a ready count, n is current: 2 * 7 = 14 (the formula: 9).
  EXPECT_EQ(DecideOnce(OneSignal(kSpare), 0, 7, std::nullopt).proposal, 14);
}

TEST(HeadroomSaturation, TheFactorIsPerSignal) {
  // saturationFactor 1.5: ceil(1.5 * 10) = 15; 3: 30.
  EXPECT_EQ(DecideOnce(OneSignal(absl::StrCat(kSpare,
                                              " saturation_factor: "
                                              "1.5")),
                       0, 10, 10)
                .proposal,
            15);
  EXPECT_EQ(DecideOnce(OneSignal(absl::StrCat(kSpare, " saturation_factor: 3")),
                       0, 10, 10)
                .proposal,
            30);
}

TEST(HeadroomSaturation, WhereTheFormulaAsksForMoreItWins) {
  // Half a worker per pod: 2 ready, 0 spare: the formula 2 + ceil(2 / 0.5)
  // = 6, above 2 * 2 = 4.
  const Result r = DecideOnce(
      OneSignal("type: Headroom scale_up_below: 1 scale_down_above: 3 "
                "capacity_per_replica: 0.5"),
      0, 2, 2);
  EXPECT_EQ(r.proposal, 6) << r.decision.Summary();
}

TEST(HeadroomSaturation, OneSpareKeepsTodaysFormula) {
  // 1 spare <= scaleUpBelow 1: 10 + ceil((2 - 1) / 1) = 11, not saturated.
  const Result r = DecideOnce(OneSignal(kSpare), 1, 10, 10);
  EXPECT_EQ(r.proposal, 11) << r.decision.Summary();
  EXPECT_FALSE(HasReason(r.decision, ReasonCode::kSaturatedNoSpare));
  // In the band and above it, unchanged too: 2 spare: 10; 5 spare:
  // 10 - floor((5 - 2) / 1) = 7.
  EXPECT_EQ(DecideOnce(OneSignal(kSpare), 2, 10, 10).proposal, 10);
  EXPECT_EQ(DecideOnce(OneSignal(kSpare), 5, 10, 10).proposal, 7);
  // A fractional spare above 0 is no saturation: 0.5 spare: 10 +
  // ceil(1.5) = 12.
  EXPECT_EQ(DecideOnce(OneSignal(kSpare), 0.5, 10, 10).proposal, 12);
}

TEST(HeadroomSaturation, PodsStartingAreNotMultipliedAgain) {
  // 9 ready of 10, 0 spare: spare with the 1 starting is 1 <= 1, the
  // formula still asks for more (10 + ceil(1) = 11): 2 * 9 = 18.
  EXPECT_EQ(DecideOnce(OneSignal(kSpare), 0, 10, 9).proposal, 18);
  // 8 ready of 10: spare with the 2 starting is 2, in the band: the pods on
  // the way cover the formula's step; wait for them at current, 10 (not
  // 2 * 8 = 16), with no saturation reason (nothing multiplied).
  Result r = DecideOnce(OneSignal(kSpare), 0, 10, 8);
  EXPECT_EQ(r.proposal, 10) << r.decision.Summary();
  EXPECT_FALSE(HasReason(r.decision, ReasonCode::kSaturatedNoSpare));
  // 6 ready of 10: the formula says 10 - floor((4 - 2) / 1) = 8, but a
  // saturated signal never proposes below current: 10.
  r = DecideOnce(OneSignal(kSpare), 0, 10, 6);
  EXPECT_EQ(r.proposal, 10) << r.decision.Summary();
}

TEST(HeadroomSaturation, NoPodReadyMultipliesOne) {
  // 1 pod, still starting (0 ready), 0 spare; factor 3. The formula: spare
  // 0 + 1 = 1 <= 1: 1 + 1 = 2, more than current. x3 of 0 would be 0, and
  // the formula's 2 would win; max(0, 1) = 1 gives 3.
  const std::string spare3 = absl::StrCat(kSpare, " saturation_factor: 3");
  EXPECT_EQ(DecideOnce(OneSignal(spare3), 0, 1, 0).proposal, 3);
}

TEST(HeadroomSaturation, ZeroReplicasAreNotWokenBySaturation) {
  // current 0 (the deployment scaled to 0 by hand), minReplicas 1: a
  // Headroom signal cannot wake a service that has no pods, saturated or
  // not (a reading of no pods is no demand): proposal 0, raised to 1.
  const Result r = DecideOnce(OneSignal(kSpare), 0, 0, 0);
  EXPECT_EQ(r.proposal, 0) << r.decision.Summary();
  EXPECT_EQ(r.replicas, 1);
  EXPECT_FALSE(HasReason(r.decision, ReasonCode::kSaturatedNoSpare));
}

TEST(HeadroomSaturation, FactorOneTurnsItOff) {
  const std::string off = absl::StrCat(kSpare, " saturation_factor: 1");
  const Result r = DecideOnce(OneSignal(off), 0, 10, 10);
  EXPECT_EQ(r.proposal, 12) << r.decision.Summary();  // the formula
  EXPECT_FALSE(HasReason(r.decision, ReasonCode::kSaturatedNoSpare));
}

TEST(HeadroomSaturation, NeverAboveMaxReplicas) {
  // 2 * 10 = 20 > maxReplicas 12: 12.
  const Result r = DecideOnce(OneSignal(kSpare, 12), 0, 10, 10);
  EXPECT_EQ(r.proposal, 20);
  EXPECT_EQ(r.replicas, 12) << r.decision.Summary();
  EXPECT_EQ(r.decision.desired, 12);
  EXPECT_TRUE(HasReason(r.decision, ReasonCode::kClampedToMax));
}

TEST(HeadroomSaturation, NeverAboveAHardCap) {
  // A database budget of 110 connections, 10 per pod: at most 11.
  const Result r = DecideOnce(
      OneSignal(kSpare, 100,
                "limits { name: 'db' budget: 110 per_replica: 10 } "),
      0, 10, 10);
  EXPECT_EQ(r.proposal, 20);
  EXPECT_EQ(r.replicas, 11) << r.decision.Summary();
  EXPECT_TRUE(HasReason(r.decision, ReasonCode::kCappedByLimit));
}

TEST(HeadroomSaturation, RatePoliciesStillApply) {
  // Up: at most 2 pods per 60 s. 20 wanted from 10: 12.
  const Result r = DecideOnce(
      OneSignal(kSpare, 100,
                "behavior { scale_up { stabilization_window_seconds: 0 "
                "policies { type: Pods value: 2 period_seconds: 60 } } } ",
                /*damping=*/true),
      0, 10, 10);
  EXPECT_EQ(r.proposal, 20);
  EXPECT_EQ(r.replicas, 12) << r.decision.Summary();
  EXPECT_TRUE(HasReason(r.decision, ReasonCode::kRateLimitedUp));
}

TEST(HeadroomSaturation, TheUpWindowHoldsItAsAnyProposal) {
  // Up window 15 s, the HPA's default rates (+4 pods or +100 % per 15 s,
  // the larger: 20 from 10). 10 pods, all ready.
  const v1::ScalingPolicy p =
      OneSignal(kSpare, 100,
                "behavior { scale_up { stabilization_window_seconds: 15 } } ",
                /*damping=*/true);
  EngineState state;
  // t=0: 2 spare, in band: 10 (recorded). t=5, 10: 0 spare: 20 wanted, the
  // window's min still holds the 10 of t=0. t=15: (0, 15] holds only 20s.
  const struct {
    int t;
    double spare;
    int64_t want;
  } steps[] = {{0, 2, 10}, {5, 0, 10}, {10, 0, 10}, {15, 0, 20}};
  for (const auto& s : steps) {
    In in(T(s.t));
    in.Signal("s", s.spare).Replicas(10).Ready(10);
    const Decision d = MustDecide(p, in, state, T(s.t));
    EXPECT_EQ(d.replicas, s.want) << "t=" << s.t << ": " << d.Summary();
    if (s.t == 5) {
      EXPECT_EQ(d.desired, 20);
      EXPECT_TRUE(HasReason(d, ReasonCode::kUpWindow)) << d.Summary();
    }
  }
}

TEST(HeadroomSaturation, AHeldReadingIsNotSaturated) {
  // The last good reading was 0 spare; the latest attempt failed: held at
  // current 10, never multiplied.
  const v1::ScalingPolicy p = OneSignal(kSpare);
  In in(T(100));
  in.SignalAt("s", 0, T(99))
      .Failed("s", absl::UnavailableError("down"))
      .Replicas(10)
      .Ready(10);
  EngineState state;
  Decision d = MustDecide(p, in, state, T(100));
  EXPECT_EQ(d.signals[0].proposal, 10) << d.Summary();
  EXPECT_FALSE(HasReason(d, ReasonCode::kSaturatedNoSpare));
  // Stale (older than 3 intervals of 5 s): held too.
  In stale(T(200));
  stale.SignalAt("s", 0, T(100)).Replicas(10).Ready(10);
  EngineState fresh;
  d = MustDecide(p, stale, fresh, T(200));
  EXPECT_EQ(d.signals[0].state, SignalState::kStale);
  EXPECT_EQ(d.signals[0].proposal, 10) << d.Summary();
  EXPECT_FALSE(HasReason(d, ReasonCode::kSaturatedNoSpare));
}

TEST(HeadroomSaturation, ExplainSaysSaturatedAndTheFactor) {
  const v1::ScalingPolicy p = PolicyFrom(absl::StrCat(
      "spec { max_replicas: 100 replicas { push {} } ready_replicas { push {} "
      "} signals { name: 'egress_available' source { push {} } ",
      kSpare, " } ", testing::kNoDamping, "}"));
  In in(T(100));
  in.Signal("egress_available", 0).Replicas(10).Ready(10);
  EngineState state;
  const Decision d = MustDecide(p, in, state, T(100));
  EXPECT_TRUE(absl::StrContains(d.Summary(),
                                "egress_available saturated (0 spare): x2; "
                                "egress_available won (p=20)"))
      << d.Summary();
}

TEST(AverageSaturation, AtItsCeilingDoublesTheReadyCount) {
  // v 1.0 >= saturatesAt 1.0, 10 ready: the formula says max(10, 11,
  // ceil(10 * 1.0 / 0.9) = 12) = 12; saturated: 2 * 10 = 20.
  const Result r = DecideOnce(OneSignal(kUtil), 1.0, 10, 10);
  EXPECT_EQ(r.proposal, 20) << r.decision.Summary();
  EXPECT_TRUE(HasReason(r.decision, ReasonCode::kSaturatedAtCeiling));
  // saturationFactor 1.5: 15.
  EXPECT_EQ(
      DecideOnce(OneSignal(absl::StrCat(kUtil, " saturation_factor: 1.5")), 1.0,
                 10, 10)
          .proposal,
      15);
  // 9 of 10 ready at 1.2: the formula max(10, 10, ceil(9 * 1.2 / 0.9) =
  // 12) = 12 asks for more: 2 * 9 = 18.
  EXPECT_EQ(DecideOnce(OneSignal(kUtil), 1.2, 10, 9).proposal, 18);
  // 8 of 10 ready at 1.0: max(10, 9, ceil(8.89) = 9) = 10, covered by the
  // pods on the way: 10 (not 16).
  EXPECT_EQ(DecideOnce(OneSignal(kUtil), 1.0, 10, 8).proposal, 10);
}

TEST(AverageSaturation, BelowItKeepsTodaysFormula) {
  // v 0.99 < 1.0: max(10, 11, ceil(10 * 0.99 / 0.9 = 11)) = 11.
  const Result r = DecideOnce(OneSignal(kUtil), 0.99, 10, 10);
  EXPECT_EQ(r.proposal, 11) << r.decision.Summary();
  EXPECT_FALSE(HasReason(r.decision, ReasonCode::kSaturatedAtCeiling));
  // Without saturatesAt, never saturated: at 1.0, 12.
  const Result plain =
      DecideOnce(OneSignal("type: Average scale_up_above: 0.95 "
                           "scale_down_below: 0.85"),
                 1.0, 10, 10);
  EXPECT_EQ(plain.proposal, 12) << plain.decision.Summary();
  EXPECT_FALSE(HasReason(plain.decision, ReasonCode::kSaturatedAtCeiling));
}

TEST(AverageSaturation, NeverAboveMaxReplicasAndZeroStaysZero) {
  // 1.2: max(10, 11, ceil(13.3) = 14) asks for more: 20 > maxReplicas 13.
  const Result r = DecideOnce(OneSignal(kUtil, 13), 1.2, 10, 10);
  EXPECT_EQ(r.proposal, 20);
  EXPECT_EQ(r.replicas, 13) << r.decision.Summary();
  // No pods: an Average cannot wake the service, even at its ceiling.
  EXPECT_EQ(DecideOnce(OneSignal(kUtil), 1.0, 0, 0).proposal, 0);
}

TEST(AverageSaturation, ExplainSaysTheCeiling) {
  const Result r = DecideOnce(OneSignal(kUtil), 1.0, 10, 10);
  EXPECT_TRUE(absl::StrContains(r.decision.Summary(),
                                "s saturated (1 >= saturatesAt 1): x2"))
      << r.decision.Summary();
}

TEST(SaturationReasons, NamesAndTexts) {
  EXPECT_STREQ(ReasonCodeName(ReasonCode::kSaturatedNoSpare),
               "saturated_no_spare");
  EXPECT_STREQ(ReasonCodeName(ReasonCode::kSaturatedAtCeiling),
               "saturated_at_ceiling");
  EXPECT_EQ(RenderReason(
                {ReasonCode::kSaturatedNoSpare, "egress_available", 0, 0, 2}),
            "egress_available saturated (0 spare): x2");
  EXPECT_EQ(
      RenderReason({ReasonCode::kSaturatedAtCeiling, "cpu", 1.02, 1.0, 1.5}),
      "cpu saturated (1.02 >= saturatesAt 1): x1.5");
  // Appended after every code that was there before (stable values).
  EXPECT_EQ(static_cast<int>(ReasonCode::kSaturatedNoSpare),
            static_cast<int>(ReasonCode::kSmallStep) + 1);
  EXPECT_EQ(static_cast<int>(ReasonCode::kSaturatedAtCeiling),
            static_cast<int>(ReasonCode::kSmallStep) + 2);
}

}  // namespace
}  // namespace signalscaler
