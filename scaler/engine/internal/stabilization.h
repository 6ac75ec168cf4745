// Step 4 of "Decision (normative)": Kubernetes' stabilization envelope
// (pkg/controller/podautoscaler/horizontal.go,
// stabilizeRecommendationWithBehaviors). A recommendation counts in a window
// when it is strictly newer than now - window; the one made now always
// counts.
#ifndef SIGNALSCALER_SCALER_ENGINE_INTERNAL_STABILIZATION_H_
#define SIGNALSCALER_SCALER_ENGINE_INTERNAL_STABILIZATION_H_

#include <cstdint>
#include <deque>

#include "absl/time/time.h"
#include "scaler/engine/decision.h"

namespace signalscaler::engine_internal {

struct Envelope {
  int64_t up = 0;      // min of the recommendations in the scale-up window
  int64_t down = 0;    // max of those in the scale-down window
  int64_t result = 0;  // current, raised to `up`, lowered to `down`
};

// Computes the envelope for `desired` at `now`, then records (now, desired)
// in `recommendations` and drops those older than the longest window. A run
// of equal recommendations is kept as its first and last entries (the last
// one's time moves forward): the same envelopes, in constant memory for a
// steady count.
Envelope Stabilize(std::deque<Recommendation>& recommendations, int64_t current,
                   int64_t desired, absl::Duration up_window,
                   absl::Duration down_window, absl::Time now);

}  // namespace signalscaler::engine_internal

#endif  // SIGNALSCALER_SCALER_ENGINE_INTERNAL_STABILIZATION_H_
