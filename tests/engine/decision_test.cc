// Names and texts of states and reasons: stable identifiers, one rendering.
#include "scaler/engine/decision.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

TEST(SignalStateName, IsStable) {
  EXPECT_STREQ(SignalStateName(SignalState::kOk), "ok");
  EXPECT_STREQ(SignalStateName(SignalState::kStale), "stale");
  EXPECT_STREQ(SignalStateName(SignalState::kMissing), "missing");
  EXPECT_STREQ(SignalStateName(SignalState::kError), "error");
}

TEST(ReasonCodeName, EveryCodeHasADistinctSnakeCaseName) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(ReasonCode::kForecast); ++i) {
    const std::string name = ReasonCodeName(static_cast<ReasonCode>(i));
    EXPECT_NE(name, "unknown") << i;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"),
              std::string::npos)
        << name;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST(RenderReason, EveryCodeRendersText) {
  for (int i = 0; i <= static_cast<int>(ReasonCode::kForecast); ++i) {
    const Reason r{static_cast<ReasonCode>(i), "x", 1, 2, 3};
    EXPECT_FALSE(RenderReason(r).empty());
  }
}

TEST(RenderReason, Examples) {
  EXPECT_EQ(RenderReason({ReasonCode::kSignalWon, "requests", 5, 0, 0}),
            "requests won (p=5)");
  EXPECT_EQ(RenderReason({ReasonCode::kSignalHeld, "cpu", 8,
                          static_cast<double>(SignalState::kError), 0}),
            "cpu held at 8 (error)");
  EXPECT_EQ(
      RenderReason({ReasonCode::kCappedByLimit, "db-connections", 20, 5, 0}),
      "limit db-connections caps 20 at 5");
  EXPECT_EQ(RenderReason({ReasonCode::kDownWindow, "", 4, 8, 300}),
            "scale-down window (300s) holds at 8 instead of 4");
  EXPECT_EQ(RenderReason({ReasonCode::kRateLimitedUp, "", 10, 6, 30}),
            "scale-up rate allows 6 not 10 (period 30s)");
  EXPECT_EQ(RenderReason({ReasonCode::kWokeFromZero, "queue", 1, 0, 0}),
            "queue woke from zero (v=1 > activation 0)");
  EXPECT_EQ(RenderReason({ReasonCode::kLimitBelowMin, "db", 5, 6, 0}),
            "limit db caps at 5, below minReplicas 6: the hard cap wins");
}

TEST(DecisionSummary, JoinsReasons) {
  Decision d;
  d.current = 3;
  d.replicas = 5;
  d.reasons.push_back({ReasonCode::kSignalWon, "requests", 5, 0, 0});
  d.reasons.push_back({ReasonCode::kClampedToMax, "", 7, 5, 0});
  EXPECT_EQ(d.Summary(),
            "3 -> 5: requests won (p=5); lowered 7 to maxReplicas 5");
  EXPECT_TRUE(d.active());
  Decision none;
  EXPECT_EQ(none.Summary(), "0 -> 0");
  EXPECT_FALSE(none.active());
}

// Issue 12 item 4: an HPA at its default tolerance 0.1 swallows a step of
// 10 % or less (ratio decided/current in [0.9, 1.1], ends included). The
// decision says so; a larger step and no step say nothing.
TEST(SmallStep, NotedWhenWithinTenPercent) {
  const v1::ScalingPolicy p = testing::PolicyFrom(absl::StrCat(
      "spec { max_replicas: 100 replicas { push {} } signals { name: 'r' "
      "type: Total source { push {} } target_per_replica: 10 } ",
      testing::kNoDamping, " }"));
  struct Step {
    int current;
    double value;
    int64_t want;
    bool small;
  };
  for (const Step& c : std::vector<Step>{{20, 215, 22, true},
                                         {20, 205, 21, true},
                                         {20, 225, 23, false},
                                         {20, 175, 18, true},
                                         {20, 165, 17, false},
                                         {20, 200, 20, false},
                                         {1, 15, 2, false}}) {
    testing::In in(testing::T(100));
    in.Signal("r", c.value).Replicas(c.current);
    EngineState state;
    const Decision d = testing::MustDecide(p, in, state, testing::T(100));
    EXPECT_EQ(d.replicas, c.want) << d.Summary();
    EXPECT_EQ(testing::HasReason(d, ReasonCode::kSmallStep), c.small)
        << d.Summary();
  }
  EXPECT_EQ(RenderReason({ReasonCode::kSmallStep, "", 20, 22, 0}),
            "step 20 -> 22 is within 10 %: carried out only where the HPA's "
            "tolerance is 0 (behavior.scaleUp/scaleDown.tolerance, Kubernetes "
            ">= 1.33)");
}

}  // namespace
}  // namespace signalscaler
