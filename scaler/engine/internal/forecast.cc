#include "scaler/engine/internal/forecast.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace signalscaler::engine_internal {
namespace {

double Median(std::vector<double>& v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + mid);
  return (lower + upper) / 2;
}

}  // namespace

void RememberLoad(std::deque<LoadPoint>& points, absl::Time time, double load,
                  absl::Time now, absl::Duration history) {
  const absl::Time oldest = now - history;
  while (!points.empty() && points.front().time < oldest) points.pop_front();
  // A point from the future (a clock ahead, a stored record of another
  // replica) would keep every later reading out: it goes.
  while (!points.empty() && points.back().time > now) points.pop_back();
  while (points.size() > kMaxForecastPoints) points.pop_front();
  // A reading stamped ahead of `now` by its source's clock counts as now.
  time = std::min(time, now);
  if (time < oldest || !std::isfinite(load)) return;
  const absl::Duration spacing =
      history / static_cast<int64_t>(kMaxForecastPoints);
  if (!points.empty() && time < points.back().time + spacing) return;
  points.push_back(LoadPoint{time, load});
  while (points.size() > kMaxForecastPoints) points.pop_front();
}

std::optional<Trend> ProjectLoad(const std::deque<LoadPoint>& points,
                                 absl::Time now, absl::Duration lead,
                                 absl::Duration history) {
  // The newest kMaxForecastPoints at most (a history merged from two
  // replicas, or read from a store, may hold more until it is thinned).
  const size_t skip = points.size() > kMaxForecastPoints
                          ? points.size() - kMaxForecastPoints
                          : 0;
  const std::deque<LoadPoint> recent(points.begin() + skip, points.end());
  const size_t n = recent.size();
  if (n < kMinForecastPoints) return std::nullopt;
  if (recent.back().time - recent.front().time < history / 2) {
    return std::nullopt;
  }
  // Seconds relative to `now`, so that the numbers stay small.
  std::vector<double> t(n);
  for (size_t i = 0; i < n; ++i) {
    t[i] = absl::ToDoubleSeconds(recent[i].time - now);
  }
  std::vector<double> slopes;
  slopes.reserve(n * (n - 1) / 2);
  long concordant = 0;
  long discordant = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double dt = t[j] - t[i];
      if (dt <= 0) continue;
      const double dy = recent[j].load - recent[i].load;
      const double slope = dy / dt;
      if (!std::isfinite(slope)) continue;
      slopes.push_back(slope);
      if (dy > 0) ++concordant;
      if (dy < 0) ++discordant;
    }
  }
  if (slopes.empty()) return std::nullopt;
  Trend trend;
  trend.points = n;
  trend.tau = static_cast<double>(concordant - discordant) /
              static_cast<double>(slopes.size());
  trend.slope_per_second = Median(slopes);
  if (trend.tau < kMinTrendTau || !(trend.slope_per_second > 0)) {
    return std::nullopt;
  }
  std::vector<double> intercepts(n);
  for (size_t i = 0; i < n; ++i) {
    intercepts[i] = recent[i].load - trend.slope_per_second * t[i];
  }
  trend.projected =
      Median(intercepts) + trend.slope_per_second * absl::ToDoubleSeconds(lead);
  if (!std::isfinite(trend.projected)) return std::nullopt;
  return trend;
}

}  // namespace signalscaler::engine_internal
