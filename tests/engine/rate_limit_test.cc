// Step 5 of "Decision (normative)": Kubernetes' scaling policies, pinned by
// hand. `base` is the count the recorded events lead to.
#include "scaler/engine/internal/rate_limit.h"

#include <deque>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using engine_internal::ApplyRateLimits;
using engine_internal::RateLimit;
using engine_internal::ScaleDownLimit;
using engine_internal::ScaleUpLimit;
using testing::HasReason;
using testing::In;
using testing::MustDecide;
using testing::PolicyFrom;
using testing::T;

v1::ScalingRules Rules(const std::string& text) {
  v1::ScalingRules r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
  if (r.select_policy() == v1::ScalingRules::SELECT_POLICY_UNSPECIFIED) {
    r.set_select_policy(v1::ScalingRules::Max);
  }
  return r;
}

struct LimitCase {
  std::string name;
  std::string rules;
  int64_t base;
  std::vector<ScaleEvent> events;  // at T(...) relative to now = T(1000)
  int64_t want;
  int32_t want_period;
};
void PrintTo(const LimitCase& c, std::ostream* os) { *os << c.name; }

class ScaleUpLimitTest : public ::testing::TestWithParam<LimitCase> {};
class ScaleDownLimitTest : public ::testing::TestWithParam<LimitCase> {};

TEST_P(ScaleUpLimitTest, ByHand) {
  const LimitCase& c = GetParam();
  const std::deque<ScaleEvent> events(c.events.begin(), c.events.end());
  const RateLimit r = ScaleUpLimit(c.base, events, Rules(c.rules), T(1000));
  EXPECT_FALSE(r.disabled);
  EXPECT_EQ(r.limit, c.want);
  EXPECT_EQ(r.period_seconds, c.want_period);
}

TEST_P(ScaleDownLimitTest, ByHand) {
  const LimitCase& c = GetParam();
  const std::deque<ScaleEvent> events(c.events.begin(), c.events.end());
  const RateLimit r = ScaleDownLimit(c.base, events, Rules(c.rules), T(1000));
  EXPECT_FALSE(r.disabled);
  EXPECT_EQ(r.limit, c.want);
  EXPECT_EQ(r.period_seconds, c.want_period);
}

constexpr const char* kPods4 =
    "policies { type: Pods value: 4 period_seconds: 60 }";
constexpr const char* kPct50 =
    "policies { type: Percent value: 50 period_seconds: 60 }";
const std::string kBoth = absl::StrCat(
    "policies { type: Pods value: 4 period_seconds: 60 } "
    "policies { type: Percent value: 100 period_seconds: 30 }");

INSTANTIATE_TEST_SUITE_P(
    Up, ScaleUpLimitTest,
    ::testing::Values(
        // no events: 10 + 4 = 14
        LimitCase{"Pods", kPods4, 10, {}, 14, 60},
        // ceil(10 * 1.5) = 15
        LimitCase{"Percent", kPct50, 10, {}, 15, 60},
        // ceil(3 * 1.5 = 4.5) = 5
        LimitCase{"PercentRoundsUp", kPct50, 3, {}, 5, 60},
        // 10 * 1.1 is 11.000000000000002 in doubles; exact: 11
        LimitCase{"PercentExact",
                  "policies { type: Percent value: 10 period_seconds: 60 }",
                  10,
                  {},
                  11,
                  60},
        // +4 at 970 is in (940, 1000]: start 14 - 4 = 10, limit 14
        LimitCase{"PodsSpentInPeriod", kPods4, 14, {{T(970), 10, 14}}, 14, 60},
        // an event exactly at 940 is out of the period: start 14, limit 18
        LimitCase{
            "EventAtCutoffExcluded", kPods4, 14, {{T(940), 10, 14}}, 18, 60},
        // Kubernetes counts scale-downs too (start = current - added +
        // removed): -2 at 990 gives start 8 + 2 = 10, limit 14 (it was 12
        // when only same-direction events counted)
        LimitCase{"DownEventsCount", kPods4, 8, {{T(990), 10, 8}}, 14, 60},
        // a down and an up in the period: start 9 - 2 + 3 = 10, limit 14
        LimitCase{"BothDirectionsNet",
                  kPods4,
                  9,
                  {{T(970), 10, 7}, {T(990), 7, 9}},
                  14,
                  60},
        // Percent measures from at least 1: from 0, ceil(1 * 1.5) = 2
        LimitCase{"PercentFromZeroMeasuresFromOne", kPct50, 0, {}, 2, 60},
        // Max of 10 + 4 = 14 and 10 * 2 = 20: 20 (period 30)
        LimitCase{"MaxTakesLargest", kBoth, 10, {}, 20, 30},
        // Min of 14 and 20: 14 (period 60)
        LimitCase{
            "MinTakesSmallest", kBoth + " select_policy: Min", 10, {}, 14, 60},
        // base 2: Pods 6, Percent 4; Max 6
        LimitCase{"MaxSmallBase", kBoth, 2, {}, 6, 60},
        // base 2: Min 4
        LimitCase{"MinSmallBase", kBoth + " select_policy: Min", 2, {}, 4, 30},
        // +5 at 960: in the 60 s period (start 5, Pods 9) but not the 30 s
        // one (start 10, Percent 20): Max 20
        LimitCase{"PerPolicyPeriods", kBoth, 10, {{T(960), 5, 10}}, 20, 30}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Down, ScaleDownLimitTest,
    ::testing::Values(
        // 10 - 4 = 6
        LimitCase{"Pods", kPods4, 10, {}, 6, 60},
        // floor(7 * 0.5 = 3.5) = 3
        LimitCase{"PercentRoundsDown", kPct50, 7, {}, 3, 60},
        // -4 at 990: start 6 + 4 = 10, limit 6: nothing more this period
        LimitCase{"PodsSpentInPeriod", kPods4, 6, {{T(990), 10, 6}}, 6, 60},
        // scale-ups count for scale-down too: +2 at 990 gives start
        // 12 - 2 = 10, limit 6 (it was 8 when only scale-downs counted)
        LimitCase{"UpEventsCount", kPods4, 12, {{T(990), 10, 12}}, 6, 60},
        // Percent down from 0 stays 0 (no max(start, 1) on the way down)
        LimitCase{"PercentDownFromZero", kPct50, 0, {}, 0, 60},
        // Max (the biggest change): min(10 - 4, 10 * 0) = 0 (period 30)
        LimitCase{"MaxTakesBiggestChange", kBoth, 10, {}, 0, 30},
        // Min (the smallest change): max(6, 0) = 6
        LimitCase{"MinTakesSmallestChange",
                  kBoth + " select_policy: Min",
                  10,
                  {},
                  6,
                  60}),
    [](const auto& info) { return info.param.name; });

TEST(RateLimit, DisabledAllowsNoChange) {
  const v1::ScalingRules off =
      Rules(absl::StrCat(kPods4, " select_policy: Disabled"));
  EXPECT_TRUE(ScaleUpLimit(5, {}, off, T(0)).disabled);
  EXPECT_TRUE(ScaleDownLimit(5, {}, off, T(0)).disabled);
  std::vector<Reason> reasons;
  EXPECT_EQ(ApplyRateLimits(5, 5, 9, {}, off, off, T(0), reasons), 5);
  EXPECT_EQ(ApplyRateLimits(5, 5, 1, {}, off, off, T(0), reasons), 5);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0].code, ReasonCode::kScalingDisabled);
  EXPECT_EQ(reasons[0].subject, "up");
  EXPECT_EQ(reasons[1].subject, "down");
}

TEST(RateLimit, ApplyCutsAndSaysSo) {
  const v1::ScalingRules up = Rules(kPods4);
  const v1::ScalingRules down = Rules(kPct50);
  std::vector<Reason> reasons;
  // 10 -> 20 allowed 14
  EXPECT_EQ(ApplyRateLimits(10, 10, 20, {}, up, down, T(0), reasons), 14);
  // 10 -> 12 within 14: untouched
  EXPECT_EQ(ApplyRateLimits(10, 10, 12, {}, up, down, T(0), reasons), 12);
  // 10 -> 2 allowed floor(5) = 5
  EXPECT_EQ(ApplyRateLimits(10, 10, 2, {}, up, down, T(0), reasons), 5);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0].code, ReasonCode::kRateLimitedUp);
  EXPECT_EQ(reasons[0].b, 14);
  EXPECT_EQ(reasons[1].code, ReasonCode::kRateLimitedDown);
  EXPECT_EQ(reasons[1].b, 5);
  // Spent: +8 in the period leaves a limit (10 - 8 + 4 = 6) below current:
  // no further scale-up, never a scale-down.
  reasons.clear();
  EXPECT_EQ(
      ApplyRateLimits(10, 10, 20, {{T(-5), 2, 10}}, up, down, T(0), reasons),
      10);
}

v1::ScalingPolicy QueuePolicy(const std::string& behavior) {
  return PolicyFrom(absl::StrCat(R"pb(
                                   spec { max_replicas: 50
                                          signals {
                                            name: "queue"
                                            type: Total
                                            source { push {} }
                                            target_per_replica: 1
                                          }
                                          behavior {)pb",
                                 behavior, "} }"));
}

TEST(RateLimitDecide, DisabledScaleDownNeverShrinks) {
  const v1::ScalingPolicy p = QueuePolicy(
      "scale_down { stabilization_window_seconds: 0 select_policy: Disabled }");
  EngineState state;
  In a(T(0));
  a.Signal("queue", 10);
  EXPECT_EQ(MustDecide(p, a, state, T(0)).replicas, 10);
  for (int t = 15; t <= 600; t += 15) {
    In in(T(t));
    in.Signal("queue", 1);
    const Decision d = MustDecide(p, in, state, T(t));
    EXPECT_EQ(d.replicas, 10) << d.Summary();
    EXPECT_TRUE(HasReason(d, ReasonCode::kScalingDisabled));
  }
}

TEST(RateLimitDecide, DisabledScaleUpNeverGrows) {
  const v1::ScalingPolicy p =
      QueuePolicy("scale_up { select_policy: Disabled }");
  EngineState state;
  In a(T(0));
  a.Signal("queue", 3);
  EXPECT_EQ(MustDecide(p, a, state, T(0)).replicas, 3);
  In b(T(15));
  b.Signal("queue", 30);
  EXPECT_EQ(MustDecide(p, b, state, T(15)).replicas, 3);
}

TEST(RateLimitDecide, PodsPerPeriodUp) {
  // +2 pods per 30 s, window 0: 1 -> 3 (t=0 first is 1) -> ... by hand:
  // 0: first, ceil(1/1) = 1. 5: want 10, start 1, limit 3. 10..30: the +2 at
  // 5 is in (t-30, t]: limit 3. 35: out of (5, 35]: start 3, limit 5.
  const v1::ScalingPolicy p = QueuePolicy(
      "scale_up { policies { type: Pods value: 2 period_seconds: 30 } }");
  EngineState state;
  const std::map<int, int64_t> want = {{0, 1},  {5, 3},  {10, 3},
                                       {30, 3}, {35, 5}, {65, 7}};
  for (const auto& [t, replicas] : want) {
    In in(T(t));
    in.Signal("queue", t == 0 ? 1 : 10);
    EXPECT_EQ(MustDecide(p, in, state, T(t)).replicas, replicas) << t;
  }
}

TEST(RateLimitDecide, PercentPerPeriodDown) {
  // -50 % per 60 s, window 0: 16 -> 8 -> (spent) 8 -> 4 at 61.
  const v1::ScalingPolicy p = QueuePolicy(
      "scale_down { stabilization_window_seconds: 0 policies { type: Percent "
      "value: 50 period_seconds: 60 } }");
  EngineState state;
  const std::map<int, int64_t> want = {{0, 16}, {1, 8}, {60, 8}, {61, 4}};
  for (const auto& [t, replicas] : want) {
    In in(T(t));
    in.Signal("queue", t == 0 ? 16 : 1);
    EXPECT_EQ(MustDecide(p, in, state, T(t)).replicas, replicas) << t;
  }
}

// Issue 12 item 1: minReplicas 0, one Total signal, a Percent-only scale-up
// policy. 95 -> 10, 0 -> 0, then 50 must wake it to 5: a percentage of 0 is
// 0, so the policy measures from max(start, 1) (it stayed at 0 for good).
TEST(RateLimitDecide, PercentOnlyScaleUpWakesFromZero) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      min_replicas: 0
      max_replicas: 50
      signals {
        name: "jobs"
        type: Total
        source { push {} }
        target_per_replica: 10
        activation_above: 0
      }
      behavior {
        scale_up { policies { type: Percent value: 1000 period_seconds: 1 } }
        scale_down { stabilization_window_seconds: 0 }
      }
    })pb");
  EngineState state;
  const std::vector<std::pair<double, int64_t>> steps = {
      {95, 10}, {0, 0}, {50, 5}};
  int t = 0;
  for (const auto& [value, want] : steps) {
    t += 20;  // past every period and window
    In in(T(t));
    in.Signal("jobs", value);
    const Decision d = MustDecide(p, in, state, T(t));
    EXPECT_EQ(d.replicas, want) << "v=" << value << ": " << d.Summary();
    EXPECT_EQ(d.active(), want > 0);
    EXPECT_FALSE(HasReason(d, ReasonCode::kRateLimitedUp)) << d.Summary();
  }
}

// The same wake under every combination of rate policies and selectPolicy
// (Disabled aside): none may hold a woken service at 0.
TEST(RateLimitDecide, NoRatePolicyHoldsAWokenServiceAtZero) {
  const std::vector<std::string> policies = {
      "policies { type: Percent value: 1 period_seconds: 60 }",
      "policies { type: Percent value: 100 period_seconds: 15 }",
      "policies { type: Pods value: 1 period_seconds: 600 }",
      "policies { type: Percent value: 10 period_seconds: 60 } "
      "policies { type: Pods value: 1 period_seconds: 60 }"};
  for (const std::string& rules : policies) {
    for (const char* select : {"Max", "Min"}) {
      const v1::ScalingPolicy p = PolicyFrom(absl::StrCat(
          "spec { min_replicas: 0 max_replicas: 50 signals { name: 'jobs' "
          "type: Total source { push {} } target_per_replica: 10 } behavior { "
          "scale_up { select_policy: ",
          select, " ", rules, " } } }"));
      EngineState state;
      state.last_decision = 0;  // scaled to zero, its history expired
      In in(T(5000));
      in.Signal("jobs", 50);
      const Decision d = MustDecide(p, in, state, T(5000));
      EXPECT_GE(d.replicas, 1) << select << " " << rules << ": " << d.Summary();
      EXPECT_TRUE(d.active());
    }
  }
}

// Regression: with a replicas source that lags the decisions (KEDA and the
// HPA apply them a sync later), the period must start from the decisions'
// own chain, or a repeated 2 -> 4 would count twice and flip back to 2.
TEST(RateLimitDecide, LaggingReplicasSourceDoesNotDoubleCount) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      max_replicas: 50
      replicas { push {} }
      signals {
        name: "queue"
        type: Total
        source { push {} }
        target_per_replica: 1
      }
      behavior {
        scale_up { policies { type: Percent value: 100 period_seconds: 60 } }
      }
    })pb");
  EngineState state;
  state.last_decision = 2;
  state.recommendations.push_back({T(0), 2});
  // 5, 10, 15: source still says 2, load wants 4: +100 % from 2 = 4.
  for (int t : {5, 10, 15}) {
    In in(T(t));
    in.Signal("queue", 4).Replicas(2);
    EXPECT_EQ(MustDecide(p, in, state, T(t)).replicas, 4) << t;
  }
  EXPECT_EQ(state.scale_events.size(), 1u);  // one change: 2 -> 4
}

}  // namespace
}  // namespace signalscaler
