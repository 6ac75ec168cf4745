// The per-policy series of scaler/common/metrics.h (decision, current, max,
// each signal's value, proposal and held flag, changes by reason, shadow),
// kept as plain values and written out only when /metrics is scraped.
//
// prometheus-cpp keeps a Gauge object, a label map and a hashed index entry
// per series: about 10 KiB per policy of 5 signals, and a Gauge::Set through
// its atomics per series per decision. A fleet of 10,000 policies has
// 180,000 such series, evaluated every second and scraped every 15-30 s, so
// they are cheaper as one row of numbers per policy, turned into
// prometheus-cpp's MetricFamily (one family at a time) and its
// TextSerializer at scrape time. Names, labels, types and help texts are
// those the registry families had.
//
//   PolicySeries series;
//   series.RecordDecision("team-a", "api", 4, 3, 10, samples, {});
//   series.AppendText(out);  // after the registry's own families
#ifndef SIGNALSCALER_SCALER_COMMON_INTERNAL_POLICY_SERIES_H_
#define SIGNALSCALER_SCALER_COMMON_INTERNAL_POLICY_SERIES_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "scaler/common/metrics.h"

namespace signalscaler::metrics_internal {

// One policy's numbers (guarded by its PolicySeries' lock; a handle to it
// outlives the series' hold, see PolicySeries::Ref).
struct PolicyRow {
  struct Signal {
    std::string name;
    bool value_seen = false;  // the value series exists once one was read
    double value = 0;
    int64_t proposal = 0;
    bool held = false;
  };
  std::string ns;
  std::string policy;
  bool retained = true;  // in the series' map (Forget drops it)
  int64_t decision = 0;
  int64_t current = 0;
  int64_t max_replicas = 0;
  bool decided = false;  // RecordDecision seen
  std::vector<Signal> signals;
  std::vector<std::pair<std::string, double>> changes;  // by reason
  int8_t shadow = -1;            // -1 never recorded, else 0 or 1
  bool shadow_counters = false;  // they exist once the policy was shadow
  double shadow_short = 0;
  double shadow_excess = 0;
};

// Thread-safe.
class PolicySeries {
 public:
  using RowRef = std::shared_ptr<PolicyRow>;

  void RecordDecision(const std::string& ns, const std::string& policy,
                      int64_t replicas, int64_t current, int64_t max_replicas,
                      absl::Span<const Metrics::SignalSample> signals,
                      const std::vector<std::string>& change_reasons,
                      // null: the shadow series are left as they are
                      const Metrics::ShadowSample* shadow)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The row of (ns, policy), made if absent; RecordDecision through it
  // looks nothing up. Still valid after Forget: a decision recorded through
  // it then puts the row back (or goes to the row made since).
  RowRef Ref(const std::string& ns, const std::string& policy)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RecordDecision(const RowRef& row, int64_t replicas, int64_t current,
                      int64_t max_replicas,
                      absl::Span<const Metrics::SignalSample> signals,
                      const std::vector<std::string>& change_reasons,
                      const Metrics::ShadowSample* shadow)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Forget(const std::string& ns, const std::string& policy)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every family in the text exposition format, HELP and TYPE first.
  void AppendText(std::ostream& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Namespace = absl::flat_hash_map<std::string, RowRef>;

  const RowRef& RowLocked(const std::string& ns, const std::string& policy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(PolicyRow& row, int64_t replicas, int64_t current,
                    int64_t max_replicas,
                    absl::Span<const Metrics::SignalSample> signals,
                    const std::vector<std::string>& change_reasons,
                    const Metrics::ShadowSample* shadow)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Namespace> rows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signalscaler::metrics_internal

#endif  // SIGNALSCALER_SCALER_COMMON_INTERNAL_POLICY_SERIES_H_
