// A load trace from a policy's metrics history (`signalscaler trace`): the
// values of each signal, the ready and current replica counts and the
// demand on a regular grid of times, turned into simulate's trace format
// (trace.h) with each column in the unit simulate reads it in (signals.h).
// Pure: the caller fetches the series (scaler/cli/trace_history.h).
//
//   std::vector<std::optional<double>> points = ...;  // one per grid time
//   absl::StatusOr<HeldSeries> s = HoldGaps(points);  // gaps hold
//   HistoryTrace h;
//   h.signals.push_back(s->values);
//   WriteHistoryTrace(policy.spec(), h, out);
#ifndef SIGNALSCALER_SCALER_SIM_HISTORY_TRACE_H_
#define SIGNALSCALER_SCALER_SIM_HISTORY_TRACE_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/policy.pb.h"

namespace signalscaler::sim {

// A series on the grid, every point filled.
struct HeldSeries {
  std::vector<double> values;
  // Points that had no sample: each holds the value before it (the first
  // sample's for points before it).
  int64_t gaps = 0;
};

// Fills the gaps of `points` (one per grid time; nullopt where the series
// had no sample). NOT_FOUND when no point has a value: a series missing
// altogether is no history.
absl::StatusOr<HeldSeries> HoldGaps(
    const std::vector<std::optional<double>>& points);

// The trace column that simulate reads as `value` of `signal` with `ready`
// ready pods (the inverse of SignalValue): Total the value; Average the
// value x ready; Headroom the capacity in use, max(0, ready x capacity -
// value).
double TraceColumn(const v1::Signal& signal, double value, double ready);

// What a trace from history holds, every series on the same grid.
struct HistoryTrace {
  int64_t step_ms = 0;  // > 0: t of row k is k x step
  // Lines of the header comment (each written after "# ").
  std::vector<std::string> comments;
  // One per signal of the policy, in its order, in the signal's own unit.
  std::vector<std::vector<double>> signals;
  // The ready pods (for Average and Headroom columns, and `actual_ready`)
  // and the replicas the cluster ran (`actual`); either may be missing.
  std::optional<std::vector<double>> ready;
  std::optional<std::vector<double>> replicas;
  std::optional<std::vector<double>> demand;  // the `demand` column
};

// The signals whose column needs the ready pods (Average, Headroom).
bool NeedsReady(const v1::Signal& signal);

// Writes `trace` in simulate's format: the comments, then the header
// `t,<signal>...[,demand][,actual[,actual_ready]]`, then one row per grid
// time. `actual` is the replicas, `actual_ready` the ready count (written
// when both are known). A signal's column that needs ready pods reads them
// from `ready`, else `replicas` (the caller checks that one is there).
void WriteHistoryTrace(const v1::PolicySpec& spec, const HistoryTrace& trace,
                       std::ostream& out);

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_HISTORY_TRACE_H_
