// Warnings: what a valid policy says that its author most likely does not
// mean. A warning never rejects a policy: `check` prints it (exit code
// unchanged) and `serve` logs it at warn when it loads the policy.
//
//   std::vector<PolicyError> warnings;
//   AppendPolicyWarnings(loaded, warnings);
//   for (const PolicyError& w : warnings) puts(PolicyWarningToString(w));
#ifndef SIGNALSCALER_SCALER_POLICY_WARNINGS_H_
#define SIGNALSCALER_SCALER_POLICY_WARNINGS_H_

#include <string>
#include <vector>

#include "scaler/policy/loader.h"

namespace signalscaler {

// Appends the warnings of `loaded` (a policy that passed ValidatePolicy),
// with its file, document line and policy id, and `field` set to the path of
// the field concerned (the loader then points `line` at it):
//   - minReplicas 0 and a Total signal whose prometheus source holds when
//     its query returns no series (no presenceQuery, no noSeriesIsZero): if
//     the exporter drops the series when idle, the service never reaches 0.
void AppendPolicyWarnings(const LoadedPolicy& loaded,
                          std::vector<PolicyError>& warnings);

// "FILE:LINE: warning: policy NS/NAME: FIELD: MESSAGE" (absent parts left
// out), as a compiler prints a warning.
std::string PolicyWarningToString(const PolicyError& warning);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_WARNINGS_H_
