// "Did you mean" suggestions for misspelled field names and enum values.
//
//   ClosestName("scaleUpAbov", {"scaleUpAbove", "target"})  // "scaleUpAbove"
#ifndef SIGNALSCALER_SCALER_POLICY_INTERNAL_CLOSEST_NAME_H_
#define SIGNALSCALER_SCALER_POLICY_INTERNAL_CLOSEST_NAME_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace signalscaler {
namespace policy_internal {

// The candidate a misspelled `given` most likely meant: one equal to it when
// case, '_' and '-' are ignored, else the nearest within edit distance 2
// (the first such in `candidates` on a tie). Empty when none is close.
std::string ClosestName(absl::string_view given,
                        const std::vector<std::string>& candidates);

}  // namespace policy_internal
}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_INTERNAL_CLOSEST_NAME_H_
