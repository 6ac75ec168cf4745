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
// A saturated signal (Headroom at 0 spare, Average at its saturatesAt)
// proposes this multiple of its ready pods, round after round (up window +
// pod start-up), until the reading leaves saturation. Doubling, as the
// HPA's default Percent 100 per 15 s and Knative's panic threshold (200 %):
// it finds a deficit of any size in log2(demand / ready) rounds and
// overshoots by at most 2x (the last round may double a count that was
// only just short; the scale-down window then holds it). Measured on 36
// traces of spare workers (ramps of 1 per 5-20 s and steps, to 10-40, from
// minReplicas 1-3; tests/sim/saturation_test.cc has the one): x2
// leaves 1.7x the reactive oracle's under-provisioned replica-seconds
// (today's linear step: 4.1x) and peaks 1.3x over the demand on average;
// x1.5 leaves 2.3x for 1.06x, and peaks at 27 on the ramp to 20
// recordings, where x2 has 21 ready as it settles and peaks at 24.
inline constexpr double kDefaultSaturationFactor = 2;
// saturationFactor's range; 1 turns saturation off.
inline constexpr double kMinSaturationFactor = 1;
inline constexpr double kMaxSaturationFactor = 10;
// A reading older than this many intervals of its source is stale.
inline constexpr int kStaleAfterIntervals = 3;

int64_t MinReplicas(const v1::PolicySpec& spec);
// spec.mode: shadow (unset is active).
bool IsShadow(const v1::PolicySpec& spec);
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
// The multiple a saturated signal proposes (saturationFactor, else 2). A
// Total signal, and an Average without saturatesAt, are never saturated.
double SaturationFactor(const v1::Signal& signal);
// A signal's forecast: how far ahead (forecast.leadSeconds, else
// spec.podStartupSeconds; 0 when neither is set, which validation refuses)
// and over which history (forecast.historySeconds, else
// max(2 x lead, 12 evaluation intervals)).
absl::Duration ForecastLead(const v1::PolicySpec& spec,
                            const v1::Signal& signal);
absl::Duration ForecastHistory(const v1::PolicySpec& spec,
                               const v1::Signal& signal);
// The most a lead or pod start-up time may be, in seconds.
inline constexpr double kMaxLeadSeconds = 3600;
inline constexpr double kMaxForecastHistorySeconds = 86400;
inline constexpr int kMinForecastHistoryIntervals = 4;
inline constexpr int kDefaultForecastHistoryIntervals = 12;

// Average and Headroom: the explicit target, else the middle of the band.
// Total: targetPerReplica.
double Target(const v1::Signal& signal);

// The HPA's defaults filled in per unset field (Kubernetes does the same).
// Tolerance is left as given: TotalTolerances() is the one place that
// resolves it.
v1::ScalingRules EffectiveScaleUp(const v1::PolicySpec& spec);
v1::ScalingRules EffectiveScaleDown(const v1::PolicySpec& spec);
// The same rules, copied only where a default is to be filled in: the
// spec's own when they set their window and rate policies (an unset
// selectPolicy reads as Max), shared defaults when they set nothing, else
// a copy filled in `storage` (the engine asks twice per decision: the
// copies were 6 % of the evaluation's CPU at 10,000 policies).
const v1::ScalingRules& EffectiveScaleRules(const v1::PolicySpec& spec, bool up,
                                            v1::ScalingRules& storage);

// A stable, KEDA-safe metric name for a policy: "signalscaler-<ns>-<name>".
std::string MetricName(const v1::ScalingPolicy& policy);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_DEFAULTS_H_
