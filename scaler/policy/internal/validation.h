// Internals of ValidatePolicy: where its checks write their errors, the
// checks of one signal (validate_signal.cc), and the checks of a Source
// (validate_source.cc), shared by signals and the replica-count sources.
//
//   Reporter report(loaded, errors);
//   ValidateSignal(spec, spec.signals(0), "spec.signals[0]", report);
//   ValidateSource(spec.replicas(), "spec.replicas", report);
#ifndef SIGNALSCALER_SCALER_POLICY_INTERNAL_VALIDATION_H_
#define SIGNALSCALER_SCALER_POLICY_INTERNAL_VALIDATION_H_

#include <string>
#include <vector>

#include "proto/policy.pb.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace policy_internal {

// The longest evaluation or sampling interval a policy may ask for.
inline constexpr int kMaxIntervalSeconds = 3600;
// Bounds of a positive setting (a target, a capacity, a budget, a timeout):
// past them a division gives a count no fleet has, or 0.
inline constexpr double kMinPositive = 1e-9;
inline constexpr double kMaxMagnitude = 1e15;

// Appends PolicyErrors naming `loaded`'s file, document line and policy.
// Not thread-safe; `loaded` and `errors` must outlive it.
class Reporter {
 public:
  Reporter(const LoadedPolicy& loaded, std::vector<PolicyError>& errors);

  void Error(std::string field, std::string message);
  // A duration in seconds within [lo, hi].
  void InRange(const std::string& field, int value, int lo, int hi);
  // kMinPositive <= `value` <= kMaxMagnitude; `what` says what it means.
  void Positive(const std::string& field, double value,
                const std::string& what);
  // The policy's namespace ("default" when it has none).
  std::string Namespace() const;

 private:
  const LoadedPolicy& loaded_;
  std::vector<PolicyError>& errors_;
  std::string policy_;
};

// One signal of `spec` at `path`: its source (ValidateSource), its type and
// the fields that type owns (a field of another type is an error), a Total's
// targetPerReplica and tolerance, an Average's or a Headroom's band with the
// target strictly inside, saturation, and the forecast (a lead, its own or
// spec.podStartupSeconds, and a history of enough evaluation intervals).
// Not the checks across signals (unique names), which are ValidatePolicy's.
void ValidateSignal(const v1::PolicySpec& spec, const v1::Signal& signal,
                    const std::string& path, Reporter& report);

// As Kubernetes validates behavior.scaleUp/scaleDown.tolerance: a
// non-negative ratio (finite here). 1 and above are accepted as there: a
// down tolerance >= 1 keeps a Total signal from ever proposing a scale-down
// (scale to zero still applies), an up tolerance of 1 lets the fleet run at
// twice its stated per-replica target before it scales up.
void ValidateTolerance(const std::string& field, double value,
                       Reporter& report);

// Interval range, exactly one kind, and the kind's required fields; the
// credentials files (bearerTokenFile, caFile, passwordFile) relative to the
// namespace's credentials directory, without `..` (where they resolve is
// checked where the root is known: ConfineSources in sources/factory.h).
void ValidateSource(const v1::Source& source, const std::string& path,
                    Reporter& report);

}  // namespace policy_internal
}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_INTERNAL_VALIDATION_H_
