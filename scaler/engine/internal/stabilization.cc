#include "scaler/engine/internal/stabilization.h"

#include <algorithm>

namespace signalscaler::engine_internal {

Envelope Stabilize(std::deque<Recommendation>& recommendations, int64_t current,
                   int64_t desired, absl::Duration up_window,
                   absl::Duration down_window, absl::Time now) {
  Envelope e;
  e.up = desired;
  e.down = desired;
  const absl::Time up_cutoff = now - up_window;
  const absl::Time down_cutoff = now - down_window;
  for (const Recommendation& r : recommendations) {
    if (r.time > up_cutoff) e.up = std::min(e.up, r.replicas);
    if (r.time > down_cutoff) e.down = std::max(e.down, r.replicas);
  }
  e.result = current;
  if (e.result < e.up) e.result = e.up;
  if (e.result > e.down) e.result = e.down;

  // Keep what a later window can still see, in place (no copy per
  // evaluation): drop the recommendations at or before the longest window's
  // start, and any after `now` (a clock that went back).
  const absl::Time oldest = now - std::max(up_window, down_window);
  while (!recommendations.empty() && recommendations.front().time <= oldest) {
    recommendations.pop_front();
  }
  const auto outside = [oldest, now](const Recommendation& r) {
    return r.time <= oldest || r.time > now;
  };
  if (!recommendations.empty() && recommendations.back().time > now) {
    recommendations.erase(
        std::remove_if(recommendations.begin(), recommendations.end(), outside),
        recommendations.end());
  }
  // A run of equal recommendations is kept as its first and its last: a
  // window holds a run's value exactly when it holds the run's last entry
  // (every dropped one is older than the last, with the same value), so
  // every envelope is the one all of them give. A policy whose count holds
  // keeps 2 entries instead of one per evaluation.
  const size_t n = recommendations.size();
  if (n >= 2 && recommendations[n - 1].replicas == desired &&
      recommendations[n - 2].replicas == desired) {
    recommendations[n - 1].time = now;
  } else {
    recommendations.push_back(Recommendation{now, desired});
  }
  return e;
}

}  // namespace signalscaler::engine_internal
