// Kubernetes' own HPA test tables, replayed through the engine's steps.
//
// Upstream: kubernetes/kubernetes, pkg/controller/podautoscaler.
// - horizontal_test.go and horizontal.go at commit
//   003e86297d18a8538c9da3619871393f9703bf70, where
//   calculateScaleUpLimitWithScalingRules(currentReplicas, scaleUpEvents,
//   scaleDownEvents, ...) takes both event lists: TestScalingWithRules,
//   TestNormalizeDesiredReplicasWithBehavior,
//   TestConvertDesiredReplicasWithRules,
//   TestCalculateScaleUpLimitWithScalingRules,
//   TestCalculateScaleDownLimitWithBehaviors, TestStoreScaleEvents.
// - replica_calculator_test.go and replica_calculator.go with KEP-4951's
//   per-direction Tolerances{scaleDown, scaleUp} and isWithin(ratio) =
//   1 - scaleDown <= ratio <= 1 + scaleUp (the version whose tables are
//   built on calcScenario; the search index that served it named no commit):
//   TestReplicaCalcExternalPerPodMetric, TestReplicaCalcObjectPerPodMetric,
//   TestReplicaCalcExternalMetric, TestReplicaCalcPodMetric,
//   TestReplicaCalcResourceTolerance.
//
// Every case names its Kubernetes test function and its case name (or
// annotation) verbatim. The code is ours, written from the cases' inputs and
// expected values; Kubernetes' functions map to ours as follows.
// - convertDesiredReplicasWithBehaviorRate (rate policies, then min/max) is
//   Clamp (step 3) then ApplyRateLimits (step 5) then Clamp, as Decide() runs
//   them; TestScalingWithRules is also replayed through Decide() itself.
//   Its conditions map to our reasons: ScaleUpLimit = rate_limited_up,
//   ScaleDownLimit = rate_limited_down, TooManyReplicas = clamped_to_max,
//   TooFewReplicas = clamped_to_min (the last one recorded: it set the
//   number), DesiredWithinRange = none of these.
// - stabilizeRecommendationWithBehaviors is Stabilize (step 4).
// - A Kubernetes scale event of +N (scaleUpEvents) or N (scaleDownEvents) at
//   time.Now() - d is our ScaleEvent{now - d, x, x + N} or {now - d, x,
//   x - N}, chained in time order so that the last one ends at
//   currentReplicas (our `base`). `now` is fixed.
// - The replica calculator's AverageValue functions (external and object
//   per-pod metrics) are our Total signal exactly: ratio = value / (target *
//   current), proposal ceil(value / target). Its ratio-times-ready-pods
//   functions (resource utilization, pods metrics, external Value targets),
//   with every pod ready and reporting, give ceil(ratio * current): the same
//   as a Total signal whose value is the measured average (utilization, the
//   pods' average, the external value) times current.
//
// Left out, and why:
// - TestNormalizeDesiredReplicas: the pre-behavior stabilizeRecommendation
//   (a scale-down window only, no current count), superseded upstream by
//   stabilizeRecommendationWithBehaviors, which is ported.
// - TestStoreScaleEvents "empty entries with default behavior" and "one
//   outdated entry to be kept untouched without behavior": a nil behavior,
//   which stores no events; ours always has rules (the HPA's defaults).
// - TestReplicaCalcExternalPerPodMetric "replica count overflow saturates to
//   MaxInt32" and TestReplicaCalcExternalMetric "usage overflow caps at
//   MaxInt64": Kubernetes' int32/int64 quantity saturation; our counts
//   saturate at 2^40 and maxReplicas bounds every decision.
// - The replica calculator cases on unready, hot-CPU, missing, failed or
//   deleted pods and container metrics: the HPA's per-pod bookkeeping. A
//   Total signal proposes from the total (DESIGN.md step 1); ready pods enter
//   only Average and Headroom signals.
// - horizontal_test.go's controller-level tests (TestScaleUp...,
//   TestTolerance..., TestComputedToleranceAlgImplementation, conditions,
//   events): they run the whole controller against fake API clients; the
//   units they exercise are the ones ported here.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "scaler/engine/internal/bounds.h"
#include "scaler/engine/internal/proposals.h"
#include "scaler/engine/internal/rate_limit.h"
#include "scaler/engine/internal/stabilization.h"
#include "scaler/policy/defaults.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using engine_internal::ApplyRateLimits;
using engine_internal::Bounds;
using engine_internal::Clamp;
using engine_internal::ComputeBounds;
using engine_internal::Envelope;
using engine_internal::ProposalInput;
using engine_internal::Proposals;
using engine_internal::Propose;
using engine_internal::RecordScaleEvent;
using engine_internal::ScaleDownLimit;
using engine_internal::ScaleUpLimit;
using engine_internal::Stabilize;
using testing::In;
using testing::MustDecide;
using testing::PolicyFrom;
using testing::T;

// Kubernetes' time.Now() in these tests.
constexpr int64_t kNow = 1'000'000;

// ---- Scale events. ----

struct K8sEvent {
  int32_t change;  // replicaChange, >= 0
  int64_t ago;     // seconds before now
};

// generateEventsUniformDistribution(rawEvents, periodSeconds): the period is
// cut into len(rawEvents) segments and event i sits in the middle of segment
// i counted from the oldest: now - (period - segment * (i + 1) + segment / 2)
// seconds, truncated to whole seconds as Go's time.Duration(float64) does.
std::vector<K8sEvent> Uniform(const std::vector<int32_t>& changes,
                              int32_t period) {
  std::vector<K8sEvent> out;
  const double segment =
      static_cast<double>(period) / static_cast<double>(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    const double ago = static_cast<double>(period) -
                       segment * static_cast<double>(i + 1) + segment / 2;
    out.push_back(K8sEvent{changes[i], static_cast<int64_t>(ago)});
  }
  return out;
}

// Our history for Kubernetes' two event lists: one ScaleEvent per event,
// oldest first, chained so that the last one ends at `base`. Events at the
// same time keep their order, scale-ups first.
std::deque<ScaleEvent> History(int64_t base, const std::vector<K8sEvent>& ups,
                               const std::vector<K8sEvent>& downs) {
  struct Step {
    int64_t ago;
    int64_t delta;
  };
  std::vector<Step> steps;
  for (const K8sEvent& e : ups) steps.push_back(Step{e.ago, e.change});
  for (const K8sEvent& e : downs) steps.push_back(Step{e.ago, -e.change});
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return a.ago > b.ago; });
  std::deque<ScaleEvent> out(steps.size());
  int64_t to = base;
  for (size_t i = steps.size(); i-- > 0;) {
    const int64_t from = to - steps[i].delta;
    out[i] = ScaleEvent{T(kNow - steps[i].ago), from, to};
    to = from;
  }
  return out;
}

// ---- Rules. ----

// generateScalingRules(pods, podsPeriod, percent, percentPeriod,
// stabilizationWindow): selectPolicy Max, a Pods policy if pods != 0, a
// Percent policy if percent != 0.
struct Gen {
  int32_t pods = 0;
  int32_t pods_period = 0;
  int32_t percent = 0;
  int32_t percent_period = 0;
  int32_t window = 0;
};

void FillRules(const Gen& g, v1::ScalingRules& r) {
  r.set_stabilization_window_seconds(g.window);
  r.set_select_policy(v1::ScalingRules::Max);
  if (g.pods != 0) {
    v1::RatePolicy* p = r.add_policies();
    p->set_type(v1::RatePolicy::Pods);
    p->set_value(g.pods);
    p->set_period_seconds(g.pods_period);
  }
  if (g.percent != 0) {
    v1::RatePolicy* p = r.add_policies();
    p->set_type(v1::RatePolicy::Percent);
    p->set_value(g.percent);
    p->set_period_seconds(g.percent_period);
  }
}

v1::ScalingRules Rules(const Gen& g) {
  v1::ScalingRules r;
  FillRules(g, r);
  return r;
}

// Kubernetes' condition, named from our reasons (see the header). The HPA
// reports the one limit that set the number. We record every step that
// changed it, in order (bounds, rate, bounds), each starting from the number
// the one before left: the last of them set the result. (Desired 0 at
// minReplicas 1 under a tighter scale-down rate records clamped_to_min, then
// rate_limited_down: Kubernetes says ScaleDownLimit.)
std::string Condition(const std::vector<Reason>& reasons) {
  std::string condition = "DesiredWithinRange";
  for (const Reason& r : reasons) {
    switch (r.code) {
      case ReasonCode::kRateLimitedUp:
        condition = "ScaleUpLimit";
        break;
      case ReasonCode::kRateLimitedDown:
        condition = "ScaleDownLimit";
        break;
      case ReasonCode::kClampedToMax:
        condition = "TooManyReplicas";
        break;
      case ReasonCode::kClampedToMin:
        condition = "TooFewReplicas";
        break;
      default:
        break;
    }
  }
  return condition;
}

struct Outcome {
  int64_t replicas = 0;
  std::vector<Reason> reasons;
};

// convertDesiredReplicasWithBehaviorRate's unit in our steps: bounds, rate
// policies over the history, bounds again (as Decide() runs them).
Outcome ConvertWithRules(const v1::PolicySpec& spec, int64_t current,
                         int64_t desired,
                         const std::deque<ScaleEvent>& events) {
  Outcome out;
  const Bounds b = ComputeBounds(spec);
  const int64_t wanted = Clamp(desired, b, out.reasons);
  const int64_t limited =
      ApplyRateLimits(current, current, wanted, events, EffectiveScaleUp(spec),
                      EffectiveScaleDown(spec), T(kNow), out.reasons);
  out.replicas = Clamp(limited, b, out.reasons);
  return out;
}

// ---- TestScalingWithRules. ----

struct RulesCase {
  std::string test;
  std::string name;
  std::vector<K8sEvent> scale_up_events;
  std::vector<K8sEvent> scale_down_events;
  int32_t spec_min_replicas;
  int32_t spec_max_replicas;
  std::optional<Gen> scale_up_rules;  // nil: the HPA's defaults
  std::optional<Gen> scale_down_rules;
  int64_t current_replicas;
  int64_t prenormalized_desired_replicas;
  int64_t expected_replicas;
  std::string expected_condition;
};
void PrintTo(const RulesCase& c, std::ostream* os) {
  *os << c.test << " \"" << c.name << "\"";
}

v1::PolicySpec SpecFor(const RulesCase& c) {
  v1::PolicySpec spec;
  spec.set_min_replicas(c.spec_min_replicas);
  spec.set_max_replicas(c.spec_max_replicas);
  if (c.scale_up_rules) {
    FillRules(*c.scale_up_rules, *spec.mutable_behavior()->mutable_scale_up());
  }
  if (c.scale_down_rules) {
    FillRules(*c.scale_down_rules,
              *spec.mutable_behavior()->mutable_scale_down());
  }
  return spec;
}

std::vector<RulesCase> ScalingWithRulesCases() {
  const std::string t = "TestScalingWithRules";
  const auto u = Uniform;
  return {
      {t,
       "prenormalized desired replicas within range",
       {},
       {},
       3,
       8,
       std::nullopt,
       std::nullopt,
       5,
       7,
       7,
       "DesiredWithinRange"},
      {t,
       "prenormalized desired replicas < minReplicas",
       {},
       {},
       2,
       8,
       std::nullopt,
       std::nullopt,
       3,
       1,
       2,
       "TooFewReplicas"},
      {t,
       "prenormalized desired replicas within range when minReplicas is 0",
       {},
       {},
       0,
       10,
       std::nullopt,
       std::nullopt,
       1,
       0,
       0,
       "DesiredWithinRange"},
      {t,
       "maxReplicas is the limit because maxReplicas < scaleUpLimit",
       {},
       {},
       1,
       10,
       std::nullopt,
       std::nullopt,
       20,
       1000,
       10,
       "TooManyReplicas"},
      {t,
       "desired replica count is more than the maximum replica count",
       {},
       {},
       100,
       150,
       std::nullopt,
       std::nullopt,
       100,
       1000,
       150,
       "TooManyReplicas"},
      {t,
       "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with "
       "user policies",
       {},
       {},
       1,
       2000,
       Gen{0, 0, 1, 60, 0},
       std::nullopt,
       3,
       1000,
       4,
       "ScaleUpLimit"},
      // Upstream marks this case testThis and its loop returns before
      // checking it; the values are those of Kubernetes' functions all the
      // same (1000 - 20).
      {t,
       "scaleDownLimit is the limit because scaleDownLimit > minReplicas "
       "with user defined policies",
       {},
       {},
       3,
       2000,
       std::nullopt,
       Gen{20, 60, 0, 0, 0},
       1000,
       3,
       980,
       "ScaleDownLimit"},
      {t,
       "scaleUp with default behavior",
       {},
       {},
       1,
       1000,
       std::nullopt,
       std::nullopt,
       10,
       50,
       20,
       "ScaleUpLimit"},
      {t,
       "scaleUp with pods policy larger than percent policy",
       {},
       {},
       1,
       1000,
       Gen{100, 60, 100, 60, 0},
       std::nullopt,
       10,
       500,
       110,
       "ScaleUpLimit"},
      {t,
       "scaleUp with percent policy larger than pods policy",
       {},
       {},
       1,
       1000,
       Gen{2, 60, 100, 60, 0},
       std::nullopt,
       10,
       500,
       20,
       "ScaleUpLimit"},
      {t,
       "scaleUp with spec MaxReplicas limitation with large pod policy",
       {},
       {},
       1,
       1000,
       Gen{100, 60, 0, 0, 0},
       std::nullopt,
       10,
       50,
       50,
       "DesiredWithinRange"},
      {t,
       "scaleUp with spec MaxReplicas limitation with large percent policy",
       {},
       {},
       1,
       1000,
       Gen{10000, 60, 0, 0, 0},
       std::nullopt,
       10,
       50,
       50,
       "DesiredWithinRange"},
      {t,
       "scaleUp with pod policy limitation",
       {},
       {},
       1,
       1000,
       Gen{30, 60, 0, 0, 0},
       std::nullopt,
       10,
       50,
       40,
       "ScaleUpLimit"},
      {t,
       "scaleUp with percent policy limitation",
       {},
       {},
       1,
       1000,
       Gen{0, 0, 200, 60, 0},
       std::nullopt,
       10,
       50,
       30,
       "ScaleUpLimit"},
      {t,
       "scaleDown with percent policy larger than pod policy",
       {},
       {},
       1,
       1000,
       std::nullopt,
       Gen{20, 60, 1, 60, 300},
       100,
       2,
       80,
       "ScaleDownLimit"},
      {t,
       "scaleDown with pod policy larger than percent policy",
       {},
       {},
       1,
       1000,
       std::nullopt,
       Gen{2, 60, 1, 60, 300},
       100,
       2,
       98,
       "ScaleDownLimit"},
      {t,
       "scaleDown with spec MinReplicas=nil limitation with large pod policy",
       {},
       {},
       1,
       1000,
       std::nullopt,
       Gen{100, 60, 0, 0, 300},
       10,
       0,
       1,
       "TooFewReplicas"},
      {t,
       "scaleDown with spec MinReplicas limitation with large pod policy",
       {},
       {},
       1,
       1000,
       std::nullopt,
       Gen{100, 60, 0, 0, 300},
       10,
       0,
       1,
       "TooFewReplicas"},
      {t,
       "scaleDown with spec MinReplicas limitation with large percent policy",
       {},
       {},
       5,
       1000,
       std::nullopt,
       Gen{0, 0, 100, 60, 300},
       10,
       2,
       5,
       "TooFewReplicas"},
      {t,
       "scaleDown with pod policy limitation",
       {},
       {},
       1,
       1000,
       std::nullopt,
       Gen{5, 60, 0, 0, 300},
       10,
       2,
       5,
       "ScaleDownLimit"},
      {t,
       "scaleDown with percent policy limitation",
       {},
       {},
       1,
       1000,
       std::nullopt,
       Gen{0, 0, 50, 60, 300},
       10,
       5,
       5,
       "DesiredWithinRange"},
      {t,
       "scaleUp with spec MaxReplicas limitation with large pod policy and "
       "events",
       u({1, 5, 9}, 120),
       {},
       1,
       200,
       Gen{300, 60, 0, 0, 0},
       std::nullopt,
       100,
       500,
       200,
       "TooManyReplicas"},
      {t,
       "scaleUp with spec MaxReplicas limitation with large percent policy "
       "and events",
       u({1, 5, 9}, 120),
       {},
       1,
       200,
       Gen{0, 0, 10000, 60, 0},
       std::nullopt,
       100,
       500,
       200,
       "TooManyReplicas"},
      {t,
       "scaleUp with currentReplicas limitation with rate.PeriodSeconds "
       "with a lot of recent scale up events",
       u({1, 5, 9}, 120),
       {},
       1,
       1000,
       Gen{5, 120, 0, 0, 0},
       std::nullopt,
       100,
       500,
       100,
       "ScaleUpLimit"},
      {t,
       "scaleUp with pod policy and previous scale up events",
       u({1, 5, 9}, 120),
       {},
       1,
       1000,
       Gen{150, 120, 0, 0, 0},
       std::nullopt,
       100,
       500,
       235,
       "ScaleUpLimit"},
      {t,
       "scaleUp with percent policy and previous scale up events",
       u({1, 5, 9}, 120),
       {},
       1,
       1000,
       Gen{0, 0, 200, 120, 0},
       std::nullopt,
       100,
       500,
       255,
       "ScaleUpLimit"},
      // The period began at 6 - 4 + 2 = 4 replicas: 4 + 300 % = 16.
      {t, "scaleUp with percent policy and previous scale up and down events",
       u({4}, 120), u({2}, 120), 1, 1000, Gen{0, 0, 300, 300, 0}, std::nullopt,
       6, 24, 16, "ScaleUpLimit"},
      {t,
       "scaleDown with default policy and previous events",
       {},
       u({1, 5, 9}, 120),
       1,
       1000,
       std::nullopt,
       std::nullopt,
       10,
       5,
       5,
       "DesiredWithinRange"},
      {t,
       "scaleDown with spec MinReplicas=nil limitation with large pod "
       "policy and previous events",
       {},
       u({1, 5, 9}, 120),
       1,
       1000,
       std::nullopt,
       Gen{115, 120, 0, 0, 300},
       100,
       0,
       1,
       "TooFewReplicas"},
      {t,
       "scaleDown with spec MinReplicas limitation with large pod policy "
       "and previous events",
       {},
       u({1, 5, 9}, 120),
       5,
       1000,
       std::nullopt,
       Gen{130, 120, 0, 0, 300},
       100,
       0,
       5,
       "TooFewReplicas"},
      {t,
       "scaleDown with spec MinReplicas limitation with large percent "
       "policy and previous events",
       {},
       u({1, 5, 9}, 120),
       5,
       1000,
       std::nullopt,
       Gen{0, 0, 100, 120, 300},
       100,
       2,
       5,
       "TooFewReplicas"},
      {t,
       "scaleDown with pod policy limitation and previous events",
       {},
       u({1, 5, 9}, 120),
       1,
       1000,
       std::nullopt,
       Gen{5, 120, 0, 0, 300},
       100,
       2,
       100,
       "ScaleDownLimit"},
      {t,
       "scaleDown with percent policy limitation and previous events",
       {},
       u({2, 4, 6}, 120),
       1,
       1000,
       std::nullopt,
       Gen{0, 0, 50, 120, 300},
       100,
       0,
       56,
       "ScaleDownLimit"},
      // The period began at 10 - 2 + 4 = 12 replicas: 12 - 50 % = 6.
      {t, "scaleDown with percent policy and previous scale up and down events",
       u({2}, 120), u({4}, 120), 1, 1000, std::nullopt, Gen{0, 0, 50, 180, 0},
       10, 1, 6, "ScaleDownLimit"},
      {t,
       "scaleDown with previous events preventing further scale down",
       {},
       u({10, 10, 10}, 120),
       1,
       1000,
       std::nullopt,
       Gen{0, 0, 10, 120, 300},
       100,
       0,
       100,
       "ScaleDownLimit"},
      {t,
       "scaleDown with with previous events still allowing more scale down",
       {},
       u({10, 10, 10}, 120),
       1,
       1000,
       std::nullopt,
       Gen{0, 0, 1000, 120, 300},
       10,
       5,
       5,
       "DesiredWithinRange"},
      {t,
       "check 'outdated' flag for events for one behavior for up",
       u({8, 12, 9, 11}, 120),
       {},
       1,
       1000,
       Gen{1000, 60, 0, 0, 0},
       std::nullopt,
       100,
       200,
       200,
       "DesiredWithinRange"},
      {t,
       "check that events were not marked 'outdated' for two different "
       "policies in the behavior for up",
       u({8, 12, 9, 11}, 120),
       {},
       1,
       1000,
       Gen{1000, 120, 100, 60, 0},
       std::nullopt,
       100,
       200,
       200,
       "DesiredWithinRange"},
      {t,
       "check that events were marked 'outdated' for two different "
       "policies in the behavior for up",
       u({8, 12, 9, 11}, 120),
       {},
       1,
       1000,
       Gen{1000, 30, 100, 60, 0},
       std::nullopt,
       100,
       200,
       200,
       "DesiredWithinRange"},
      {t,
       "check 'outdated' flag for events for one behavior for down",
       {},
       u({8, 12, 9, 11}, 120),
       1,
       1000,
       std::nullopt,
       Gen{1000, 60, 0, 0, 300},
       100,
       5,
       5,
       "DesiredWithinRange"},
      {t,
       "check that events were not marked 'outdated' for two different "
       "policies in the behavior for down",
       {},
       u({8, 12, 9, 11}, 120),
       1,
       1000,
       std::nullopt,
       Gen{1000, 120, 100, 60, 300},
       100,
       5,
       5,
       "DesiredWithinRange"},
      {t,
       "check that events were marked 'outdated' for two different "
       "policies in the behavior for down",
       {},
       u({8, 12, 9, 11}, 120),
       1,
       1000,
       std::nullopt,
       Gen{1000, 30, 100, 60, 300},
       100,
       5,
       5,
       "DesiredWithinRange"},
  };
}

class KubernetesScalingWithRules : public ::testing::TestWithParam<RulesCase> {
};

TEST_P(KubernetesScalingWithRules, RateAndBoundsSteps) {
  const RulesCase& c = GetParam();
  const std::deque<ScaleEvent> events =
      History(c.current_replicas, c.scale_up_events, c.scale_down_events);
  const Outcome o = ConvertWithRules(SpecFor(c), c.current_replicas,
                                     c.prenormalized_desired_replicas, events);
  EXPECT_EQ(o.replicas, c.expected_replicas);
  EXPECT_EQ(Condition(o.reasons), c.expected_condition);
}

// The same case through Decide(): a Total signal (target 1, tolerance 0)
// proposes prenormalizedDesiredReplicas, the last decision is
// currentReplicas and the history holds the case's events. The windows are
// set to 0, as convertDesiredReplicasWithBehaviorRate does not look at them,
// and one recommendation older than any window stands in for a history (so
// that no restart seed holds the scale-down).
TEST_P(KubernetesScalingWithRules, ThroughDecide) {
  const RulesCase& c = GetParam();
  v1::ScalingPolicy p = PolicyFrom(
      "spec { signals { name: 'load' type: Total source { push {} } "
      "target_per_replica: 1 tolerance: 0 } }");
  const v1::PolicySpec k8s = SpecFor(c);
  p.mutable_spec()->set_min_replicas(k8s.min_replicas());
  p.mutable_spec()->set_max_replicas(k8s.max_replicas());
  *p.mutable_spec()->mutable_behavior() = k8s.behavior();
  v1::Behavior& b = *p.mutable_spec()->mutable_behavior();
  b.mutable_scale_up()->set_stabilization_window_seconds(0);
  b.mutable_scale_down()->set_stabilization_window_seconds(0);

  EngineState state;
  state.ever_had_reading = true;
  state.last_decision = c.current_replicas;
  state.scale_events =
      History(c.current_replicas, c.scale_up_events, c.scale_down_events);
  state.recommendations.push_back(
      Recommendation{T(kNow - 3600), c.current_replicas});
  In in(T(kNow));
  in.Signal("load", static_cast<double>(c.prenormalized_desired_replicas));
  const Decision d = MustDecide(p, in, state, T(kNow));
  EXPECT_EQ(d.replicas, c.expected_replicas) << d.Summary();
  EXPECT_EQ(Condition(d.reasons), c.expected_condition) << d.Summary();
}

INSTANTIATE_TEST_SUITE_P(Upstream, KubernetesScalingWithRules,
                         ::testing::ValuesIn(ScalingWithRulesCases()));

// ---- TestConvertDesiredReplicasWithRules. ----

// convertDesiredReplicasWithRules is the HPA without behavior: min/max and
// scaleUpLimit = max(scaleUpLimitFactor * current, 4), no scale-down limit.
// horizontal_test.go's init() sets scaleUpLimitFactor to 8, so the expected
// calculateScaleUpLimit(3) is 24; for current >= 1 that limit is our Percent
// 700 policy, and "no scale-down limit" is a Percent 100 policy.
struct ConvertCase {
  std::string annotation;
  int64_t current_replicas;
  int64_t expected_desired_replicas;  // the prenormalized input
  int32_t hpa_min_replicas;
  int32_t hpa_max_replicas;
  int64_t expected_converted_desired_replicas;
  std::string expected_condition;
};
void PrintTo(const ConvertCase& c, std::ostream* os) {
  *os << "TestConvertDesiredReplicasWithRules \"" << c.annotation << "\"";
}

class KubernetesConvertDesiredReplicasWithRules
    : public ::testing::TestWithParam<ConvertCase> {};

TEST_P(KubernetesConvertDesiredReplicasWithRules, BoundsAndLegacyLimit) {
  const ConvertCase& c = GetParam();
  v1::PolicySpec spec;
  spec.set_min_replicas(c.hpa_min_replicas);
  spec.set_max_replicas(c.hpa_max_replicas);
  FillRules(Gen{0, 0, 700, 15, 0},
            *spec.mutable_behavior()->mutable_scale_up());
  FillRules(Gen{0, 0, 100, 15, 0},
            *spec.mutable_behavior()->mutable_scale_down());
  const Outcome o = ConvertWithRules(spec, c.current_replicas,
                                     c.expected_desired_replicas, {});
  EXPECT_EQ(o.replicas, c.expected_converted_desired_replicas);
  EXPECT_EQ(Condition(o.reasons), c.expected_condition);
}

INSTANTIATE_TEST_SUITE_P(
    Upstream, KubernetesConvertDesiredReplicasWithRules,
    ::testing::Values(
        ConvertCase{"prenormalized desired replicas within range", 5, 7, 3, 8,
                    7, "DesiredWithinRange"},
        ConvertCase{"prenormalized desired replicas < minReplicas", 3, 1, 2, 8,
                    2, "TooFewReplicas"},
        ConvertCase{"prenormalized desired zeroed replicas within range", 1, 0,
                    0, 10, 0, "DesiredWithinRange"},
        ConvertCase{
            "maxReplicas is the limit because maxReplicas < scaleUpLimit", 20,
            1000, 1, 10, 10, "TooManyReplicas"},
        ConvertCase{
            "scaleUpLimit is the limit because scaleUpLimit < maxReplicas", 3,
            1000, 1, 2000, 24, "ScaleUpLimit"}));

// ---- TestCalculateScaleUpLimitWithScalingRules and
// TestCalculateScaleDownLimitWithBehaviors (one case each, no name). ----

TEST(KubernetesCalculateLimits, TestCalculateScaleUpLimitWithScalingRules) {
  v1::ScalingRules r = Rules(Gen{2, 60, 50, 60, 300});
  r.set_select_policy(v1::ScalingRules::Min);
  // min(1 + 2, ceil(1 * 1.5)) = 2.
  EXPECT_EQ(ScaleUpLimit(1, {}, r, T(kNow)).limit, 2);
}

TEST(KubernetesCalculateLimits, TestCalculateScaleDownLimitWithBehaviors) {
  v1::ScalingRules r = Rules(Gen{2, 60, 50, 60, 300});
  r.set_select_policy(v1::ScalingRules::Min);
  // The smallest change down: max(5 - 2, floor(5 * 0.5)) = 3.
  EXPECT_EQ(ScaleDownLimit(5, {}, r, T(kNow)).limit, 3);
}

// ---- TestStoreScaleEvents. ----

// Kubernetes keeps events older than the longest period, marked outdated,
// for reuse, and overwrites one of them with the next event; we drop them.
// So the events we keep are Kubernetes' newScaleEvents that are not
// outdated, compared as a multiset (slot reuse reorders Kubernetes' list).
// The events are stored from 100 replicas rather than 10 so that the
// chained counts stay positive; only the changes matter.
struct StoreCase {
  std::string name;
  int32_t replica_change;
  std::vector<K8sEvent> prev_scale_events;
  std::vector<int32_t> new_scale_events_not_outdated;
  Gen scaling_rules;
  int32_t expected_replicas_change;  // getReplicasChangePerPeriod(60, prev)
};
void PrintTo(const StoreCase& c, std::ostream* os) {
  *os << "TestStoreScaleEvents \"" << c.name << "\"";
}

std::vector<int32_t> Changes(const std::deque<ScaleEvent>& events) {
  std::vector<int32_t> out;
  for (const ScaleEvent& e : events) {
    out.push_back(static_cast<int32_t>(std::abs(e.to - e.from)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class KubernetesStoreScaleEvents : public ::testing::TestWithParam<StoreCase> {
};

TEST_P(KubernetesStoreScaleEvents, UpAndDown) {
  const StoreCase& c = GetParam();
  const v1::ScalingRules rules = Rules(c.scaling_rules);
  const v1::ScalingRules none;
  std::vector<int32_t> want = c.new_scale_events_not_outdated;
  std::sort(want.begin(), want.end());
  // A Pods 1 / 60 s policy turns the change in the last 60 s into a limit.
  const v1::ScalingRules probe = Rules(Gen{1, 60, 0, 0, 0});
  {
    SCOPED_TRACE("up");
    std::deque<ScaleEvent> events = History(100, c.prev_scale_events, {});
    EXPECT_EQ(ScaleUpLimit(100, events, probe, T(kNow)).limit,
              100 - c.expected_replicas_change + 1);
    RecordScaleEvent(events, 100, 100 + c.replica_change, rules, none, T(kNow));
    EXPECT_EQ(Changes(events), want);
    ASSERT_FALSE(events.empty());
    EXPECT_GT(events.back().to, events.back().from);
  }
  {
    SCOPED_TRACE("down");
    std::deque<ScaleEvent> events = History(100, {}, c.prev_scale_events);
    EXPECT_EQ(ScaleDownLimit(100, events, probe, T(kNow)).limit,
              100 + c.expected_replicas_change - 1);
    RecordScaleEvent(events, 100, 100 - c.replica_change, none, rules, T(kNow));
    EXPECT_EQ(Changes(events), want);
    ASSERT_FALSE(events.empty());
    EXPECT_LT(events.back().to, events.back().from);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Upstream, KubernetesStoreScaleEvents,
    ::testing::Values(
        StoreCase{"empty entries with two-policy-behavior",
                  5,
                  {},
                  {5},
                  Gen{10, 60, 100, 60, 0},
                  0},
        StoreCase{"one outdated entry to be replaced with behavior",
                  5,
                  {{7, 61}},
                  {5},
                  Gen{10, 60, 100, 60, 0},
                  0},
        StoreCase{"one actual entry to be not touched with behavior",
                  5,
                  {{7, 58}},
                  {7, 5},
                  Gen{10, 60, 100, 60, 0},
                  7},
        StoreCase{"two entries, one of them to be replaced",
                  5,
                  {{7, 61}, {6, 59}},
                  {5, 6},
                  Gen{10, 60, 0, 0, 0},
                  6},
        StoreCase{"replace one entry, use policies with different periods",
                  5,
                  {{8, 29}, {6, 59}, {7, 61}, {9, 61}},
                  {8, 6, 5},
                  Gen{10, 60, 100, 30, 0},
                  14},
        StoreCase{"two entries, both actual",
                  5,
                  {{7, 58}, {6, 59}},
                  {7, 6, 5},
                  Gen{10, 120, 100, 30, 0},
                  13}));

// ---- TestNormalizeDesiredReplicasWithBehavior. ----

// The windows are the case's scale{Up,Down}StabilizationWindowSeconds; unset
// ones are 0 there (the test passes pointers to its zero-valued fields).
// `kept` is what we store afterwards: Kubernetes' expectedRecommendations
// without the entries it keeps, older than both windows, for reuse (we drop
// those), in time order with the new one last. Empty: the case sets no
// expectedRecommendations.
struct StabilizeCase {
  std::string name;
  std::vector<std::pair<int64_t, int64_t>> recommendations;  // value, ago
  int64_t current_replicas;
  int64_t prenormalized_desired_replicas;
  int64_t expected_stabilized_replicas;
  std::vector<int64_t> kept;
  int32_t scale_up_stabilization_window_seconds;
  int32_t scale_down_stabilization_window_seconds;
};
void PrintTo(const StabilizeCase& c, std::ostream* os) {
  *os << "TestNormalizeDesiredReplicasWithBehavior \"" << c.name << "\"";
}

class KubernetesNormalizeDesiredReplicasWithBehavior
    : public ::testing::TestWithParam<StabilizeCase> {};

TEST_P(KubernetesNormalizeDesiredReplicasWithBehavior, Stabilize) {
  const StabilizeCase& c = GetParam();
  std::deque<Recommendation> recs;
  for (const auto& [value, ago] : c.recommendations) {
    recs.push_back(Recommendation{T(kNow - ago), value});
  }
  std::stable_sort(recs.begin(), recs.end(),
                   [](const Recommendation& a, const Recommendation& b) {
                     return a.time < b.time;
                   });
  const Envelope e = Stabilize(
      recs, c.current_replicas, c.prenormalized_desired_replicas,
      absl::Seconds(c.scale_up_stabilization_window_seconds),
      absl::Seconds(c.scale_down_stabilization_window_seconds), T(kNow));
  EXPECT_EQ(e.result, c.expected_stabilized_replicas);
  if (!c.kept.empty()) {
    std::vector<int64_t> got;
    for (const Recommendation& r : recs) got.push_back(r.replicas);
    EXPECT_EQ(got, c.kept);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Upstream, KubernetesNormalizeDesiredReplicasWithBehavior,
    ::testing::Values(
        StabilizeCase{
            "empty recommendations for scaling down", {}, 100, 5, 5, {5}, 0, 0},
        StabilizeCase{"simple scale down stabilization",
                      {{4, 120}, {5, 60}},
                      100,
                      3,
                      5,
                      {4, 5, 3},
                      0,
                      60 * 3},
        StabilizeCase{"simple scale up stabilization",
                      {{4, 120}, {5, 60}},
                      1,
                      7,
                      4,
                      {4, 5, 7},
                      60 * 5,
                      0},
        StabilizeCase{"no scale down stabilization",
                      {{1, 120}, {2, 60}},
                      100,
                      3,
                      3,
                      {1, 2, 3},
                      60 * 5,
                      0},
        StabilizeCase{"no scale up stabilization",
                      {{4, 120}, {5, 60}},
                      1,
                      3,
                      3,
                      {4, 5, 3},
                      0,
                      60 * 5},
        // Kubernetes stores {10, 3}: the 10 is obsolete, kept for reuse.
        StabilizeCase{"no scale down stabilization, reuse recommendation "
                      "element",
                      {{10, 600}, {9, 540}},
                      100,
                      3,
                      3,
                      {3},
                      0,
                      0},
        // Kubernetes stores {10, 100}.
        StabilizeCase{"no scale up stabilization, reuse recommendation "
                      "element",
                      {{10, 600}, {9, 540}},
                      1,
                      100,
                      100,
                      {100},
                      0,
                      0},
        // Kubernetes stores {10, 4, 5, 3}.
        StabilizeCase{"scale down stabilization, reuse one of obsolete "
                      "recommendation element",
                      {{10, 600}, {4, 60}, {5, 120}, {9, 540}},
                      100,
                      3,
                      5,
                      {5, 4, 3},
                      0,
                      3 * 60},
        // Kubernetes stores {100, 6, 5, 9} (the new one in the obsolete
        // 10's slot).
        StabilizeCase{"scale up stabilization, reuse one of obsolete "
                      "recommendation element",
                      {{10, 6000}, {6, 60}, {5, 120}, {9, 180}},
                      1,
                      100,
                      5,
                      {9, 5, 6, 100},
                      300,
                      0},
        StabilizeCase{"scale up and down stabilization, do not scale up when "
                      "prenormalized rec goes down",
                      {{2, 6000}, {3, 180}},
                      2,
                      1,
                      2,
                      {},
                      300,
                      300},
        StabilizeCase{"scale up and down stabilization, do not scale down "
                      "when prenormalized rec goes up",
                      {{2, 6000}, {1, 180}},
                      2,
                      3,
                      2,
                      {},
                      300,
                      300}));

// ---- The replica calculator's tolerance tables (KEP-4951). ----

// One Total signal at `current` replicas with value `value` and target
// `target`, tolerances set explicitly in both directions: the "default"
// cases use Kubernetes' defaultTestingTolerance, 0.1 both ways (our default
// up tolerance is 0, DESIGN.md; these cases measure Kubernetes' band).
struct ToleranceCase {
  std::string test;
  std::string name;
  double scale_down_tolerance;  // Tolerances{scaleDown, scaleUp}
  double scale_up_tolerance;
  int64_t current_replicas;
  double value;
  double target;
  int64_t expected_replicas;
};
void PrintTo(const ToleranceCase& c, std::ostream* os) {
  *os << c.test << " \"" << c.name << "\"";
}

class KubernetesReplicaCalcTolerance
    : public ::testing::TestWithParam<ToleranceCase> {};

TEST_P(KubernetesReplicaCalcTolerance, TotalProposal) {
  const ToleranceCase& c = GetParam();
  // Set through the API, not text: text formatting would round the values.
  v1::ScalingPolicy p = PolicyFrom(
      "spec { max_replicas: 1000 signals { name: 'm' type: Total source { "
      "push {} } } }");
  p.mutable_spec()->mutable_signals(0)->set_target_per_replica(c.target);
  v1::Behavior& b = *p.mutable_spec()->mutable_behavior();
  b.mutable_scale_up()->set_tolerance(c.scale_up_tolerance);
  b.mutable_scale_down()->set_tolerance(c.scale_down_tolerance);
  ProposalInput in;
  in.current = c.current_replicas;
  in.now = T(kNow);
  Inputs inputs = In(T(kNow)).Signal("m", c.value);
  const Proposals out = Propose(p.spec(), inputs, in);
  EXPECT_EQ(out.desired, c.expected_replicas);
}

constexpr double kDefaultTestingTolerance = 0.1;
constexpr double kMaxInt64 =
    static_cast<double>(std::numeric_limits<int64_t>::max());

std::vector<ToleranceCase> ToleranceCases() {
  const double d = kDefaultTestingTolerance;
  const std::string ext_pod = "TestReplicaCalcExternalPerPodMetric";
  const std::string obj_pod = "TestReplicaCalcObjectPerPodMetric";
  const std::string ext = "TestReplicaCalcExternalMetric";
  const std::string pod = "TestReplicaCalcPodMetric";
  const std::string res = "TestReplicaCalcResourceTolerance";
  return {
      // AverageValue targets: value and perPodTargetUsage as given (milli).
      {ext_pod, "usage overflow with huge target leaves replicas unchanged", d,
       d, 1, kMaxInt64, kMaxInt64, 1},
      {ext_pod, "scale up", d, d, 3, 8600, 2150, 4},
      {ext_pod, "scale down", d, d, 5, 8600, 2867, 3},
      {ext_pod, "within default tolerance", d, d, 3, 8600, 2900, 3},
      {ext_pod, "outside configurable 1% tolerance", d, .01, 3, 8600, 2800, 4},
      {obj_pod, "scale up", d, d, 3, 20000, 5000, 4},
      {obj_pod, "scale down", d, d, 5, 6000, 2000, 3},
      {obj_pod, "within default tolerance", d, d, 4, 20166, 5000, 4},
      {obj_pod, "outside configurable 1% tolerance", d, .01, 4, 20208, 5000, 5},
      // Value target: the external value times current.
      {ext, "scale down", d, d, 5, 8600.0 * 5, 14334, 3},
      {ext, "within default tolerance", d, d, 3, 8600.0 * 3, 8888, 3},
      {ext, "outside configurable 1% tolerance", d, .01, 3, 8900.0 * 3, 8800,
       4},
      // Pods metric: the pods' average (expectedUsage) times current.
      {pod, "scale up", d, d, 3, 20000.0 * 3, 15000, 4},
      {pod, "scale down", d, d, 5, 12000.0 * 5, 20000, 3},
      {pod, "within default tolerance", d, d, 3, 20666.0 * 3, 20000, 3},
      {pod, "outside configurable 1% tolerance", d, .01, 3, 20666.0 * 3, 20000,
       4},
      // Resource utilization: expectedUtilization times current, target 100.
      {res, "within default tolerance", d, d, 3, 102.0 * 3, 100, 3},
      {res, "outside 0% tolerance", 0., 0., 3, 101.0 * 3, 100, 4},
      {res, "within 200% scale-up tolerance", d, 2., 3, 190.0 * 3, 100, 3},
      {res, "outside 8% scale-up tolerance (superfluous scale-down tolerance)",
       2., .08, 3, 109.0 * 3, 100, 4},
      {res, "within 36% scale-down tolerance", .36, d, 3, 65.0 * 3, 100, 3},
      {res, "outside 34% scale-down tolerance", .34, d, 3, 65.0 * 3, 100, 2},
  };
}

INSTANTIATE_TEST_SUITE_P(Upstream, KubernetesReplicaCalcTolerance,
                         ::testing::ValuesIn(ToleranceCases()));

}  // namespace
}  // namespace signalscaler
