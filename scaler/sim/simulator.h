// `signalscaler simulate`'s core: replays a load trace through the real
// engine (and any baselines) with a simulated clock and a pod model, and
// reports how each would have kept up. Pure: the caller opens the files and
// passes the streams in; deterministic; constant memory in the length of the
// trace (rows are read one at a time, the timeline is written as it goes;
// with the oracle, the rows of one pod start-up time ahead are held).
//
//   std::ifstream in("trace.csv");
//   TraceReader trace(in, "trace.csv", SignalNames(policy));
//   absl::StatusOr<SimResult> r = Simulate(policy, options, trace, &timeline);
//
// Time: the trace covers [0, t of its last row]. Every controller ticks at
// multiples of its period (ours: --tick-seconds, default the policy's
// evaluationIntervalSeconds; the HPA baselines: 15 s; the oracle whenever a
// row takes effect). At one instant the row takes effect first, then pods
// whose startup finished become ready, then the controllers decide. The
// service starts with `initial_replicas` pods, all ready (a steady state
// before the trace; with an `actual` column, default its first value).
// A trace with an `actual` column (what the cluster really ran) adds a run
// "actual" after the baselines, figured from that column.
#ifndef SIGNALSCALER_SCALER_SIM_SIMULATOR_H_
#define SIGNALSCALER_SCALER_SIM_SIMULATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/policy.pb.h"
#include "scaler/sim/report.h"
#include "scaler/sim/summary.h"
#include "scaler/sim/trace.h"

namespace signalscaler::sim {

struct SimOptions {
  int64_t pod_startup_us = 30 * kMicrosPerSecond;  // >= 0
  // Our engine's tick; default the policy's evaluationIntervalSeconds.
  std::optional<int64_t> tick_us;
  // Default the trace's first `actual`, else minReplicas (within the hard
  // limits).
  std::optional<int64_t> initial_replicas;
  // Baselines by their --compare spelling: "hpa-cpu[:TARGET]", "keda-default",
  // "oracle" (at most once; see oracle.h).
  std::vector<std::string> compare;
  bool record_report = false;
};

struct SimResult {
  // Ours first, then the baselines in order, then "actual" when the trace
  // has the column.
  std::vector<Summary> runs;
  std::vector<std::string> notes;
  int64_t duration_us = 0;
  int64_t rows = 0;
  int64_t tick_us = 0;
  int64_t initial_replicas = 0;
  std::unique_ptr<ReportRecorder> report;  // when record_report
};

std::vector<std::string> SignalNames(const v1::ScalingPolicy& policy);

// The timeline's header: t,decision,ready,demand,<signal>_value,
// <signal>_proposal...,reason
std::string TimelineHeader(const v1::ScalingPolicy& policy);

// Runs `trace` (whose header is not read yet). `policy` must be valid (from
// the loader). INVALID_ARGUMENT for a bad option or baseline, or for the
// first error in the trace (with its line and column). `timeline` may be
// null; it receives the header and one line per tick of ours.
absl::StatusOr<SimResult> Simulate(const v1::ScalingPolicy& policy,
                                   const SimOptions& options,
                                   TraceReader& trace, std::ostream* timeline);

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_SIMULATOR_H_
