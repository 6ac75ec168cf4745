// Forecasts (issue 15): a signal's load projected over the pods' start-up
// time, so that a ramp is met by pods asked for one start-up time early.
//
// The estimator is Theil-Sen: the slope is the median of the slopes between
// every pair of remembered points, the line passes through the median of
// (load - slope * t). It ignores up to ~29 % of outliers (a spike, a scrape
// that read half a counter) where least squares follows them, and needs no
// tuning. It is gated by Kendall's tau (the share of rising pairs minus
// falling ones): below kMinTrendTau the points are noise, a plateau, a
// step or a spike that came and went, and the forecast is off. A step in
// the middle of the history has tau 0.5 at most (half the pairs straddle
// it, the others are flat), so a step never turns into a projected ramp;
// a linear ramp has tau 1, and stays above 0.6 with noise of about its
// rise over the history.
//
// Points are the signal's load, in the units the proposal is computed from
// (a Total's value; an Average's value times the ready pods; a Headroom's
// capacity in use), at most one per 1/kMaxForecastPoints of the history.
#ifndef SIGNALSCALER_SCALER_ENGINE_INTERNAL_FORECAST_H_
#define SIGNALSCALER_SCALER_ENGINE_INTERNAL_FORECAST_H_

#include <cstddef>
#include <deque>
#include <optional>

#include "absl/time/time.h"
#include "scaler/engine/decision.h"

namespace signalscaler::engine_internal {

inline constexpr size_t kMaxForecastPoints = kMaxLoadPoints;
inline constexpr size_t kMinForecastPoints = 5;
inline constexpr double kMinTrendTau = 0.6;

// Adds `load` measured at `time` to `points` (kept in time order), unless a
// point is already within history / kMaxForecastPoints before it, and drops
// the points older than `now - history`.
void RememberLoad(std::deque<LoadPoint>& points, absl::Time time, double load,
                  absl::Time now, absl::Duration history);

struct Trend {
  double projected = 0;         // the load at now + lead
  double slope_per_second = 0;  // > 0
  double tau = 0;               // Kendall's tau of the points, >= kMinTrendTau
  size_t points = 0;
};

// The load projected to `now + lead`, or nullopt (the forecast is off):
// fewer than kMinForecastPoints points, spanning less than half of
// `history`, or no rise (tau below kMinTrendTau, or a slope <= 0).
std::optional<Trend> ProjectLoad(const std::deque<LoadPoint>& points,
                                 absl::Time now, absl::Duration lead,
                                 absl::Duration history);

}  // namespace signalscaler::engine_internal

#endif  // SIGNALSCALER_SCALER_ENGINE_INTERNAL_FORECAST_H_
