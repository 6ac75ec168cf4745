// signalscaler's Prometheus metrics, behind a small facade so that
// prometheus-cpp's headers are compiled once (metrics.cc). Labels are bounded:
// namespace, policy, signal, source kind and query id, reason and status
// codes; never a raw query text.
//
//   Metrics& m = Metrics::Get();
//   m.RecordSourceRead("prometheus", query_id, absl::OkStatus(), latency, now);
//   m.SetHealthChecks(nullptr, [&server] { return server.Readiness(); });
//   absl::Status s = m.Serve("0.0.0.0:9091");  // /metrics, /livez, /readyz
#ifndef SIGNALSCALER_SCALER_COMMON_METRICS_H_
#define SIGNALSCALER_SCALER_COMMON_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace signalscaler {

// Thread-safe. One per process (Get()); tests may create their own.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  static Metrics& Get();

  // Serves on `listen` (HOST:PORT, HOST an IPv4 literal, a name or empty;
  // not IPv6: Debian's CivetWeb is built without it; port 0 picks one), on
  // CivetWeb's worker threads:
  //   GET /metrics  Text(), as text/plain; version=0.0.4
  //   GET /livez    200 "ok", or 503 "not live: <why>" (the liveness check)
  //   GET /readyz   200 "ok", or 503 "not ready: <why>" (the readiness check)
  // HEAD as well; 404 for any other path, 405 for any other method.
  // UNAVAILABLE "cannot serve metrics on <listen>: <why>" when it cannot
  // bind, INVALID_ARGUMENT when `listen` is not HOST:PORT.
  absl::Status Serve(const std::string& listen);
  int port() const;  // 0 when not serving

  // The checks behind /livez and /readyz, called on each request (quick,
  // thread-safe; OK or a status whose message says why not). Null liveness:
  // always live (the process answers). Null readiness: not ready, "not
  // started". What they capture must outlive serving (Get() serves until
  // the process exits) or be replaced first. May be called at any time.
  using HealthCheck = std::function<absl::Status()>;
  void SetHealthChecks(HealthCheck liveness, HealthCheck readiness);
  // What /readyz adds to a 200 "ok" (e.g. "degraded: ..."): the pod stays
  // ready, and a person reading the probe learns why it is not quite well.
  // Empty or null: just "ok".
  void SetReadyDetail(std::function<std::string()> detail);

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
    std::string name;
    bool has_value = false;
    double value = 0;
    int64_t proposal = 0;
    bool held = false;
  };
  void RecordDecision(const std::string& ns, const std::string& policy,
                      int64_t replicas, int64_t current, int64_t max_replicas,
                      const std::vector<SignalSample>& signals,
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_METRICS_H_
