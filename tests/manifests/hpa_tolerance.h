// The HPA tolerance that every ScaledObject the project renders or ships must
// set (DESIGN.md "The HPA must execute the decision exactly"): both
// `advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance` and
// `scaleDown.tolerance` present and 0, so that the HPA carries out every step
// the scaler decides instead of swallowing one of at most 10 %.
//
//   for (const std::string& e : ZeroToleranceErrors(doc)) ADD_FAILURE() << e;
#ifndef SIGNALSCALER_TESTS_MANIFESTS_HPA_TOLERANCE_H_
#define SIGNALSCALER_TESTS_MANIFESTS_HPA_TOLERANCE_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/manifests/schema_validator.h"

namespace signalscaler::manifests {

// Whether `v` is a Kubernetes Quantity (an int-or-string field, as KEDA's CRD
// declares `tolerance`) whose value is exactly zero: the number 0, or a
// string such as "0", "0.0", "0m" or "0e3".
bool IsZeroQuantity(const nlohmann::json& v);

// One message ("FILE:LINE: PATH: ...") per direction of a ScaledObject whose
// HPA behavior does not set that direction's tolerance to 0. Empty if both
// are 0.
std::vector<std::string> ZeroToleranceErrors(const YamlDocument& doc);

}  // namespace signalscaler::manifests

#endif  // SIGNALSCALER_TESTS_MANIFESTS_HPA_TOLERANCE_H_
