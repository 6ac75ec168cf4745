// Resolution of a ScalingPolicy's unset fields to their documented defaults.
// The one place that knows them: the loader validates against these values,
// the engine decides with them, `render` and `explain` print them.
//
//   const auto up = signalscaler::EffectiveScaleUp(policy.spec());
//   absl::Duration window = absl::Seconds(up.stabilization_window_seconds());
#ifndef SIGNALSCALER_SCALER_POLICY_DEFAULTS_H_
#define SIGNALSCALER_SCALER_POLICY_DEFAULTS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "proto/policy.pb.h"

namespace signalscaler {

inline constexpr int32_t kDefaultMinReplicas = 1;
inline constexpr int32_t kDefaultEvaluationIntervalSeconds = 5;
// Total signals' band, per direction (Kubernetes' KEP-4951 fields). Up 0: a
// per-replica target is a capacity the operator stated, never exceeded to
// save a pod; the HPA's own 0.1 is kept for the way down (DESIGN.md).
inline constexpr double kDefaultScaleUpTolerance = 0;
inline constexpr double kDefaultScaleDownTolerance = 0.1;
inline constexpr double kDefaultActivationAbove = 0;
inline constexpr double kDefaultCapacityPerReplica = 1;
// A reading older than this many intervals of its source is stale.
inline constexpr int kStaleAfterIntervals = 3;

int64_t MinReplicas(const v1::PolicySpec& spec);
absl::Duration EvaluationInterval(const v1::PolicySpec& spec);
// The sampling (or expected push) interval of a source; the policy's
// evaluation interval when the source sets none.
absl::Duration SourceInterval(const v1::PolicySpec& spec,
                              const v1::Source& source);
// Age beyond which a reading of `source` is stale.
absl::Duration StaleAfter(const v1::PolicySpec& spec, const v1::Source& source);

// A Total signal's band: nothing changes while
// 1 - down <= value / (target * current) <= 1 + up. The signal's own
// `tolerance` sets both; else behavior.scaleUp/scaleDown.tolerance; else the
// defaults above.
struct Tolerances {
  double up = kDefaultScaleUpTolerance;
  double down = kDefaultScaleDownTolerance;
};
Tolerances TotalTolerances(const v1::PolicySpec& spec,
                           const v1::Signal& signal);
double ActivationAbove(const v1::Signal& signal);
double CapacityPerReplica(const v1::Signal& signal);
// Average and Headroom: the explicit target, else the middle of the band.
// Total: targetPerReplica.
double Target(const v1::Signal& signal);

// The HPA's defaults filled in per unset field (Kubernetes does the same).
// Tolerance is left as given: TotalTolerances() is the one place that
// resolves it.
v1::ScalingRules EffectiveScaleUp(const v1::PolicySpec& spec);
v1::ScalingRules EffectiveScaleDown(const v1::PolicySpec& spec);

// A stable, KEDA-safe metric name for a policy: "signalscaler-<ns>-<name>".
std::string MetricName(const v1::ScalingPolicy& policy);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_DEFAULTS_H_
