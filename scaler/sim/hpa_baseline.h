// The baselines a policy is compared with: the Kubernetes HPA with its
// default behavior, as it would run on the same trace and pod model.
//
//   hpa-cpu[:TARGET]  the HPA on the policy's CPU Average signal alone
//                     (averageUtilization TARGET, default the signal's
//                     target): seed 000 §1's failure on I/O-bound agents.
//   keda-default      every signal the HPA can express as its own KEDA
//                     trigger: a Total as an External AverageValue metric of
//                     targetPerReplica, an Average as a Resource utilization
//                     of its target; combined by max. Headroom signals have
//                     no HPA equivalent and are left out (a note says so).
//                     With minReplicas 0, KEDA activates 0 -> 1 when a Total
//                     is above its activation at a poll (every 30 s) and goes
//                     back to 0 after its 300 s cooldown.
//
// The HPA's defaults: sync every 15 s, tolerance 0.1, scale-up window 0 with
// Pods 4 / Percent 100 per 15 s (Max), scale-down window 300 s with Percent
// 100 per 15 s. Its replica calculator as in Kubernetes: a Resource metric is
// averaged over ready pods (desired = ceil(ready x v / target)), and on a
// scale-up pods still starting count as using nothing; an External
// AverageValue metric gives ceil(value / target) outside the tolerance of
// value / (target x current). minReplicas is at least 1 (the HPA's own
// floor); maxReplicas is the policy's (the HPA knows no hard limits).
#ifndef SIGNALSCALER_SCALER_SIM_HPA_BASELINE_H_
#define SIGNALSCALER_SCALER_SIM_HPA_BASELINE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/policy.pb.h"
#include "scaler/sim/controller.h"

namespace signalscaler::sim {

inline constexpr int64_t kHpaSyncSeconds = 15;

struct HpaMetric {
  enum class Kind { kResource, kExternal };
  Kind kind = Kind::kResource;
  int signal = 0;         // index into the policy's signals
  double target = 0;      // utilization (Resource) or AverageValue (External)
  double activation = 0;  // External: KEDA's activation threshold
};

struct HpaConfig {
  std::string name;  // "hpa-cpu", "keda-default"
  std::vector<HpaMetric> metrics;
  int64_t min_replicas = 1;
  int64_t max_replicas = 1;
  bool keda_scale_to_zero = false;  // KEDA owns 0 <-> 1
  std::vector<std::string> notes;   // what could not be expressed
};

// A baseline from its --compare spelling ("hpa-cpu", "hpa-cpu:0.5",
// "hpa-cpu:50%", "keda-default"). INVALID_ARGUMENT for an unknown name, a bad
// TARGET, or a policy without the signals it needs.
absl::StatusOr<HpaConfig> ParseBaseline(const v1::ScalingPolicy& policy,
                                        const std::string& spelling);

// Not thread-safe.
class HpaController final : public Controller {
 public:
  HpaController(const v1::ScalingPolicy& policy, HpaConfig config,
                int64_t initial, int64_t startup_us,
                int64_t reversal_window_us);

  const HpaConfig& config() const { return config_; }

 protected:
  int64_t Decide(const TraceRow& row, int64_t now_us) override;

 private:
  struct Timed {
    int64_t t_us = 0;
    int64_t value = 0;  // a recommendation, or a scale event's change
  };
  std::optional<int64_t> MetricReplicas(const HpaMetric& m,
                                        const TraceRow& row) const;
  int64_t Normalize(int64_t current, int64_t desired, int64_t now_us);
  bool KedaActive(const TraceRow& row) const;

  v1::ScalingPolicy policy_;
  HpaConfig config_;
  std::deque<Timed> recommendations_;
  std::deque<Timed> up_events_;
  std::deque<Timed> down_events_;
  int64_t last_active_us_ = 0;
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_HPA_BASELINE_H_
