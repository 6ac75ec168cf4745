// signalscaler's Prometheus metrics, behind a small facade so that
// prometheus-cpp's headers are compiled once (metrics.cc). Labels are bounded:
// namespace, policy, signal, source kind and query id, reason and status
// codes; never a raw query text.
//
//   Metrics& m = Metrics::Get();
//   m.RecordSourceRead("prometheus", query_id, absl::OkStatus(), latency, now);
//   std::string text = m.Text();  // what OpsServer's /metrics answers
#ifndef SIGNALSCALER_SCALER_COMMON_METRICS_H_
#define SIGNALSCALER_SCALER_COMMON_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace signalscaler {
namespace metrics_internal {
struct PolicyRow;
}  // namespace metrics_internal

// Thread-safe. One per process (Get()); tests may create their own.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  static Metrics& Get();

  // The text exposition of every metric (what /metrics answers).
  std::string Text() const;

  // signalscaler_policy_reloads_total{result}: "ok" per reload, and
  // signalscaler_policy_file_rejections_total per rejected file version.
  void RecordReload(int rejected_files);
  void RecordFileRejected();
  // signalscaler_policies_loaded.
  void SetPoliciesLoaded(size_t n);

  // Per source query: signalscaler_source_query_duration_seconds{kind},
  // signalscaler_source_query_errors_total{kind,query,code},
  // signalscaler_source_last_success_timestamp_seconds{kind,query}.
  void RecordSourceRead(absl::string_view kind, absl::string_view query_id,
                        const absl::Status& status, absl::Duration latency,
                        absl::Time now);
  void ForgetSourceQuery(absl::string_view kind, absl::string_view query_id);

  // Per policy: signalscaler_decision_replicas{namespace,policy},
  // signalscaler_current_replicas, signalscaler_signal_value and
  // signalscaler_signal_proposal{namespace,policy,signal},
  // signalscaler_decision_changes_total{namespace,policy,reason}.
  // signalscaler_policy_max_replicas{namespace,policy}: the effective max
  // (maxReplicas and every limit), and signalscaler_signal_held{...,signal}:
  // 1 while a signal holds (missing, stale or failed reading), else 0.
  struct SignalSample {
    absl::string_view name;  // alive for the call
    bool has_value = false;
    double value = 0;
    int64_t proposal = 0;
    bool held = false;
  };
  // Shadow mode (spec.mode: shadow), per policy, with its decision:
  // signalscaler_policy_shadow{namespace,policy} is 1 while the policy is in
  // shadow (its KEDA answers are the fleet's count), else 0; and two running
  // counters, signalscaler_shadow_fleet_short_replica_seconds_total and
  // signalscaler_shadow_fleet_excess_replica_seconds_total, grow by the
  // replica-seconds since the last decision in which the fleet ran fewer
  // (short) or more (excess) pods than the shadow decision. Deltas are >= 0.
  struct ShadowSample {
    bool shadow = false;
    double short_replica_seconds_delta = 0;
    double excess_replica_seconds_delta = 0;
  };
  // One call (one lock, one lookup) per decision.
  void RecordDecision(const std::string& ns, const std::string& policy,
                      int64_t replicas, int64_t current, int64_t max_replicas,
                      absl::Span<const SignalSample> signals,
                      const std::vector<std::string>& change_reasons,
                      const ShadowSample& shadow);
  // A handle to one policy's series: RecordDecision through it is the
  // same without the lookup by name (the evaluator keeps one per policy).
  // Still valid after ForgetPolicy (a decision then brings the series back,
  // as one recorded by name would).
  using PolicyRowRef = std::shared_ptr<metrics_internal::PolicyRow>;
  PolicyRowRef PolicyRowOf(const std::string& ns, const std::string& policy);
  void RecordDecision(const PolicyRowRef& row, int64_t replicas,
                      int64_t current, int64_t max_replicas,
                      absl::Span<const SignalSample> signals,
                      const std::vector<std::string>& change_reasons,
                      const ShadowSample& shadow);
  // Without the shadow series (tests of the others).
  void RecordDecision(const std::string& ns, const std::string& policy,
                      int64_t replicas, int64_t current, int64_t max_replicas,
                      absl::Span<const SignalSample> signals,
                      const std::vector<std::string>& change_reasons);
  // signalscaler_grpc_calls_total{method,code} and
  // signalscaler_grpc_call_duration_seconds{method}; streams count when they
  // end. signalscaler_open_streams{method}: StreamIsActive / StreamMetricSpec.
  void RecordRpc(absl::string_view method, int code, absl::Duration latency);
  void SetOpenStreams(absl::string_view method, size_t n);
  // signalscaler_admin_requests_total{client,verb,code}: verb push, explain
  // or policies; code the gRPC code name ("OK", "NOT_FOUND", ...). The caller
  // bounds the client values.
  void RecordAdminRequest(absl::string_view client, absl::string_view verb,
                          absl::string_view code);
  // signalscaler_authz_reloads_total{result="ok"|"rejected"}: reads of
  // --authz-file that changed what is in force, or that were refused (the
  // last good file then stays in force).
  void RecordAuthzReload(bool ok);

  // Drops every series of a policy no longer served.
  void ForgetPolicy(const std::string& ns, const std::string& policy);

  // The state store: signalscaler_state_store_degraded{store} (1 while it is
  // unreachable and this replica evaluates locally), signalscaler_leases_held
  // (policies this replica evaluates) and signalscaler_replicas_alive (as the
  // store's membership says; 0 while degraded).
  void SetStateStatus(absl::string_view store, bool degraded,
                      size_t leases_held, size_t replicas_alive);
  // signalscaler_lease_upkeep_seconds: one lease upkeep of this replica
  // (its heartbeat, then every policy's lease in one batch), wall time.
  void RecordLeaseUpkeep(absl::Duration took);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_METRICS_H_
