// Rounding of replica counts, guarded against floating-point noise: a value
// within a relative 1e-9 of an integer counts as that integer, so that
// ceil(30 / 10) is 3 and floor(0.3 / 0.1) is 3. Results saturate at
// +/-kMaxCount so that absurd readings cannot overflow.
#ifndef SIGNALSCALER_SCALER_ENGINE_INTERNAL_NUMERIC_H_
#define SIGNALSCALER_SCALER_ENGINE_INTERNAL_NUMERIC_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace signalscaler::engine_internal {

inline constexpr int64_t kMaxCount = int64_t{1} << 40;
inline constexpr double kRelativeEpsilon = 1e-9;

inline int64_t Saturate(double x) {
  if (std::isnan(x)) return 0;
  const double m = static_cast<double>(kMaxCount);
  return static_cast<int64_t>(std::clamp(x, -m, m));
}

inline double Slack(double x) {
  return kRelativeEpsilon * std::max(1.0, std::abs(x));
}

// An infinite x (a huge value over a tiny target) saturates; without the
// guard, inf - Slack(inf) is NaN and read as 0.
inline int64_t CeilCount(double x) {
  if (!std::isfinite(x)) return Saturate(x);
  return Saturate(std::ceil(x - Slack(x)));
}
inline int64_t FloorCount(double x) {
  if (!std::isfinite(x)) return Saturate(x);
  return Saturate(std::floor(x + Slack(x)));
}
// A replica count read from a source (a gauge): nearest integer, >= 0.
inline int64_t RoundCount(double x) {
  return std::max<int64_t>(0, Saturate(std::round(x)));
}

}  // namespace signalscaler::engine_internal

#endif  // SIGNALSCALER_SCALER_ENGINE_INTERNAL_NUMERIC_H_
