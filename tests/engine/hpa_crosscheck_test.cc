// Cross-check: a separate, plain re-implementation of the HPA's algorithm,
// written from Kubernetes' source (pkg/controller/podautoscaler:
// GetExternalPerPodMetricReplicas for an AverageValue target with KEP-4951's
// Tolerances.isWithin, stabilizeRecommendationWithBehaviors,
// convertDesiredReplicasWithBehaviorRate, and
// calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors,
// whose period starts at current - added + removed, both event lists
// counted), run side by side with the engine on a Total-only policy over a
// recorded sequence of 100 readings. Decisions must be equal at every step.
//
// Both sides use the HPA's tolerance, 0.1 each way: the engine's policy sets
// behavior.scaleUp/scaleDown.tolerance (its own default up tolerance is 0).
// Both bands include their ends; the readings carry two decimals all the
// same, so that no ratio falls on an edge where float rounding could decide.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using testing::In;
using testing::MustDecide;
using testing::PolicyFrom;
using testing::T;

// Requests in flight, one reading every 15 s: calm, a climb, a plateau above
// maxReplicas' worth, a fall, a second burst, a tail to near zero.
constexpr double kRecorded[100] = {
    39.24,  38.14,  41.34,  37.63,  40.6,   39.51,  37.54,  40.42,  37.41,
    39.95,  59.97,  82.61,  111.02, 143.48, 150.74, 176.22, 212.61, 248.99,
    259.53, 275.74, 327.54, 304.57, 372.56, 363.71, 377.6,  375.91, 388.11,
    420.6,  379.94, 405.59, 409.26, 392.2,  403.43, 372.39, 372.18, 381.55,
    411.92, 395.74, 388.48, 405.85, 397.37, 387.56, 419.21, 413.11, 383.99,
    382.87, 357.81, 354.42, 323.82, 280.53, 288.96, 231.34, 221.44, 210.68,
    170.35, 158.09, 126.34, 117.44, 96.26,  71.19,  74.58,  68.28,  72.56,
    71.43,  71.26,  69.88,  74.18,  75.35,  70.08,  72.21,  232.8,  258.43,
    256.26, 270.09, 263.25, 230.17, 222.24, 220.14, 186.94, 189.21, 168.92,
    156.2,  143.5,  148.46, 122.66, 113.6,  104.52, 99.96,  76.87,  69.8,
    58.83,  49.19,  36.11,  23.65,  10.02,  5.3,    5.26,   5.68,   5.74,
    5.09};

// ---- The reference: the HPA, straight from its semantics. ----
struct HpaPolicy {
  bool pods;  // else percent
  int32_t value;
  int32_t period;
};
struct HpaRules {
  int32_t window;
  std::string select;  // "Max", "Min", "Disabled"
  std::vector<HpaPolicy> policies;
  double tolerance = 0.1;  // behavior.scaleUp/scaleDown.tolerance
};

class ReferenceHpa {
 public:
  ReferenceHpa(int32_t min, int32_t max, double target, HpaRules up,
               HpaRules down)
      : min_(min), max_(max), target_(target), up_(up), down_(down) {}

  void Seed(int64_t now, int32_t replicas) { recs_.push_back({now, replicas}); }

  int32_t Step(int64_t now, double usage, int32_t current) {
    // GetExternalPerPodMetricReplicas: the count changes unless
    // Tolerances.isWithin(ratio), i.e. 1 - down <= ratio <= 1 + up.
    int32_t desired = current;
    const double ratio = usage / (target_ * current);
    const bool within =
        1.0 - down_.tolerance <= ratio && ratio <= 1.0 + up_.tolerance;
    if (!within) {
      desired = static_cast<int32_t>(std::ceil(usage / target_));
    }
    // stabilizeRecommendationWithBehaviors.
    int32_t up_rec = desired, down_rec = desired;
    for (const auto& [t, r] : recs_) {
      if (t > now - up_.window) up_rec = std::min(r, up_rec);
      if (t > now - down_.window) down_rec = std::max(r, down_rec);
    }
    int32_t rec = current;
    if (rec < up_rec) rec = up_rec;
    if (rec > down_rec) rec = down_rec;
    recs_.push_back({now, desired});
    // convertDesiredReplicasWithBehaviorRate.
    int32_t out = rec;
    if (rec > current) {
      int32_t limit = UpLimit(now, current);
      if (limit < current) limit = current;
      const int32_t allowed = std::min(max_, limit);
      if (rec > allowed) out = allowed;
    } else if (rec < current) {
      int32_t limit = DownLimit(now, current);
      if (limit > current) limit = current;
      const int32_t allowed = std::max(min_, limit);
      if (rec < allowed) out = allowed;
    }
    if (out > current) ups_.push_back({now, out - current});
    if (out < current) downs_.push_back({now, current - out});
    return out;
  }

 private:
  int32_t Change(const std::vector<std::pair<int64_t, int32_t>>& events,
                 int64_t now, int32_t period) const {
    int32_t sum = 0;
    for (const auto& [t, c] : events) {
      if (t > now - period) sum += c;
    }
    return sum;
  }
  // periodStartReplicas in both limit functions: replicas added in the
  // period are taken off, replicas removed in it are put back.
  int32_t PeriodStart(int64_t now, int32_t current, int32_t period) const {
    return current - Change(ups_, now, period) + Change(downs_, now, period);
  }
  int32_t UpLimit(int64_t now, int32_t current) const {
    if (up_.select == "Disabled") return current;
    int32_t result = up_.select == "Min" ? INT32_MAX : INT32_MIN;
    for (const HpaPolicy& p : up_.policies) {
      const int32_t start = PeriodStart(now, current, p.period);
      const int32_t proposed =
          p.pods ? start + p.value
                 : static_cast<int32_t>(
                       std::ceil(start * (1 + p.value / 100.0) - 1e-9));
      result = up_.select == "Min" ? std::min(result, proposed)
                                   : std::max(result, proposed);
    }
    return result;
  }
  int32_t DownLimit(int64_t now, int32_t current) const {
    if (down_.select == "Disabled") return current;
    int32_t result = down_.select == "Min" ? INT32_MIN : INT32_MAX;
    for (const HpaPolicy& p : down_.policies) {
      const int32_t start = PeriodStart(now, current, p.period);
      const int32_t proposed =
          p.pods ? start - p.value
                 : static_cast<int32_t>(start * (1 - p.value / 100.0) + 1e-9);
      result = down_.select == "Min" ? std::max(result, proposed)
                                     : std::min(result, proposed);
    }
    return result;
  }

  int32_t min_, max_;
  double target_;
  HpaRules up_, down_;
  std::vector<std::pair<int64_t, int32_t>> recs_;
  std::vector<std::pair<int64_t, int32_t>> ups_, downs_;
};

std::string RulesText(const HpaRules& r) {
  std::string s =
      absl::StrCat("stabilization_window_seconds: ", r.window,
                   " select_policy: ", r.select, " tolerance: ", r.tolerance);
  for (const HpaPolicy& p : r.policies) {
    absl::StrAppend(&s, " policies { type: ", p.pods ? "Pods" : "Percent",
                    " value: ", p.value, " period_seconds: ", p.period, " }");
  }
  return s;
}

struct CrossCase {
  std::string name;
  HpaRules up, down;
};
void PrintTo(const CrossCase& c, std::ostream* os) { *os << c.name; }

class HpaCrossCheck : public ::testing::TestWithParam<CrossCase> {};

TEST_P(HpaCrossCheck, SameDecisionEveryStep) {
  const CrossCase& c = GetParam();
  const v1::ScalingPolicy p = PolicyFrom(absl::StrCat(
      "spec { min_replicas: 1 max_replicas: 30 evaluation_interval_seconds: 15 "
      "signals { name: 'requests' type: Total source { push {} } "
      "target_per_replica: 10 } behavior { scale_up { ",
      RulesText(c.up), " } scale_down { ", RulesText(c.down), " } } }"));
  ReferenceHpa hpa(1, 30, 10, c.up, c.down);
  EngineState state;
  // Both start from a running deployment of 4 replicas.
  state.last_decision = 4;
  int32_t current = 4;
  int changes = 0;
  for (int i = 0; i < 100; ++i) {
    const int64_t now = 1000 + 15 * i;
    // The engine seeds its window with current on a fresh state (restart
    // safety), as the HPA's maybeInitScaleDownStabilizationWindow does.
    if (i == 0) hpa.Seed(now, current);
    In in(T(now));
    in.Signal("requests", kRecorded[i]);
    const Decision d = MustDecide(p, in, state, T(now));
    const int32_t want = hpa.Step(now, kRecorded[i], current);
    ASSERT_EQ(d.replicas, want) << "step " << i << " t=" << now
                                << " v=" << kRecorded[i] << ": " << d.Summary();
    if (want != current) ++changes;
    current = want;
  }
  EXPECT_GT(changes, 5);  // the sequence really exercised both directions
}

INSTANTIATE_TEST_SUITE_P(
    Settings, HpaCrossCheck,
    ::testing::Values(
        // The HPA's defaults.
        CrossCase{"HpaDefaults",
                  {0, "Max", {{true, 4, 15}, {false, 100, 15}}},
                  {300, "Max", {{false, 100, 15}}}},
        // DESIGN.md's sketch: fast up, slow and gentle down.
        CrossCase{"AsymmetricSketch",
                  {15, "Max", {{true, 2, 30}, {false, 100, 30}}},
                  {60, "Max", {{true, 1, 60}}}},
        // Min selection both ways, percent down.
        CrossCase{"MinSelect",
                  {30, "Min", {{true, 3, 45}, {false, 50, 30}}},
                  {45, "Min", {{true, 3, 30}, {false, 20, 60}}}}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace signalscaler
