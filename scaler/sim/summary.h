// The figures that judge one run of a trace: how long and how badly the
// service was short of the replicas it needed, what it cost, how often it
// changed its mind.
//
//   SummaryAccumulator acc(/*reversal_window_us=*/300 * kMicrosPerSecond);
//   acc.Integrate(dt_us, demand, ready, pods);   // a constant stretch
//   acc.OnScale(t_us, from, to);                 // a changed decision
//   Summary s = acc.summary();
#ifndef SIGNALSCALER_SCALER_SIM_SUMMARY_H_
#define SIGNALSCALER_SCALER_SIM_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace signalscaler::sim {

struct Summary {
  std::string name;     // "signalscaler", "hpa-cpu", "keda-default", "oracle"
  bool oracle = false;  // the reactive oracle's run (oracle.h)
  // Sum of max(0, demand - ready) dt.
  double under_provisioned_replica_seconds = 0;
  // Time during which demand > ready.
  double seconds_under_provisioned = 0;
  // Sum of max(0, ready - demand) dt.
  double over_provisioned_replica_seconds = 0;
  // Sum of all pods (ready and starting: what is paid for) dt.
  double total_replica_seconds = 0;
  int64_t scale_events = 0;  // decisions that changed the desired count
  // A scale event in the other direction than the previous one, within the
  // reversal window of it (up then down, or down then up).
  int64_t direction_reversals = 0;
  int64_t peak_replicas = 0;  // most pods at once (ready and starting)
};

// Not thread-safe.
class SummaryAccumulator {
 public:
  SummaryAccumulator(std::string name, int64_t reversal_window_us,
                     int64_t initial_pods);

  // Adds a stretch of `dt_us` during which the figures were constant.
  void Integrate(int64_t dt_us, double demand, int64_t ready, int64_t pods);
  void OnScale(int64_t t_us, int64_t from, int64_t to);

  const Summary& summary() const { return s_; }

 private:
  Summary s_;
  int64_t reversal_window_us_ = 0;
  int last_direction_ = 0;  // +1 up, -1 down, 0 none yet
  int64_t last_event_us_ = 0;
};

// A run's figure as a ratio to the oracle's: nullopt when the oracle's is 0
// (a ratio to nothing says nothing; the figure itself is in the table).
std::optional<double> OracleRatio(double figure, double oracle_figure);

// A fixed-width text table: one column per run, one row per figure. With an
// oracle run, two more rows: each run's under-provisioned and total
// replica-seconds as ratios to the oracle's ("-" where the oracle's is 0).
std::string SummaryTable(const std::vector<Summary>& runs);
// What was simulated, for the JSON summary.
struct RunInfo {
  std::string policy;  // namespace/name
  std::string trace;
  double duration_seconds = 0;
  int64_t rows = 0;
  double tick_seconds = 0;
  double pod_startup_seconds = 0;
  int64_t initial_replicas = 0;
};
// {"policy": ..., "runs": [{"name": ..., "under_provisioned_replica_seconds":
// ..., ...}, ...], "notes": [...]}, one line. With an oracle run, every run
// also has "under_provisioned_replica_seconds_vs_oracle" and
// "total_replica_seconds_vs_oracle": the ratio, or null where the oracle's
// figure is 0.
std::string SummaryJson(const RunInfo& info, const std::vector<Summary>& runs,
                        const std::vector<std::string>& notes);

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_SUMMARY_H_
