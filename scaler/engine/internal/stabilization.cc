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

  const absl::Time oldest = now - std::max(up_window, down_window);
  std::deque<Recommendation> kept;
  for (const Recommendation& r : recommendations) {
    if (r.time > oldest && r.time <= now) kept.push_back(r);
  }
  kept.push_back(Recommendation{now, desired});
  recommendations.swap(kept);
  return e;
}

}  // namespace signalscaler::engine_internal
