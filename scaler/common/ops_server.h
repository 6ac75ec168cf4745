// The HTTP operations port: what Prometheus scrapes and what the kubelet
// probes, on an HttpServer (CivetWeb's worker threads).
//
//   GET /metrics  metrics.Text(), as text/plain; version=0.0.4
//   GET /livez    200 "ok", or 503 "not live: <why>" (the liveness check)
//   GET /readyz   200 "ok" (or "ok (<detail>)"), or 503 "not ready: <why>"
//                 (the readiness check)
//
// HEAD as well; 404 for any other path, 405 for any other method (the rest
// of HttpServer's answers, http_server.h).
//
//   OpsServer ops(Metrics::Get());
//   ops.SetHealthChecks(nullptr, [&server] { return server.Readiness(); });
//   absl::Status s = ops.Start("0.0.0.0:9091");
//   ...
//   ops.Stop();  // or the destructor
#ifndef SIGNALSCALER_SCALER_COMMON_OPS_SERVER_H_
#define SIGNALSCALER_SCALER_COMMON_OPS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "scaler/common/http_server.h"
#include "scaler/common/metrics.h"

namespace signalscaler {

// Thread-safe. `metrics` must outlive it.
class OpsServer {
 public:
  // A check behind /livez or /readyz, called on each request (quick,
  // thread-safe): OK, or a status whose message says why not.
  using HealthCheck = std::function<absl::Status()>;

  explicit OpsServer(const Metrics& metrics);
  ~OpsServer();  // Stop()
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  // Null liveness: always live (the process answers). Null readiness: not
  // ready, "not started". What they capture must outlive Stop() (or be
  // replaced first). May be called at any time.
  void SetHealthChecks(HealthCheck liveness, HealthCheck readiness);
  // What /readyz adds to a 200 "ok" (e.g. "degraded: ..."): the pod stays
  // ready, and a person reading the probe learns why it is not quite well.
  // Empty or null: just "ok".
  void SetReadyDetail(std::function<std::string()> detail);

  // Serves on `listen` (HOST:PORT, HOST an IPv4 literal, a name or empty;
  // not IPv6: Debian's CivetWeb is built without it; port 0 picks one).
  // Once. UNAVAILABLE "cannot serve metrics on <listen>: <why>" when it
  // cannot bind, INVALID_ARGUMENT when `listen` is not HOST:PORT.
  absl::Status Start(const std::string& listen);
  int port() const;  // 0 when not serving
  // Closes the port and waits for the handlers that run. Idempotent.
  void Stop();

 private:
  // /livez (ready false) or /readyz.
  HttpResponse Probe(bool ready) const;

  const Metrics& metrics_;
  mutable absl::Mutex mu_;
  HealthCheck liveness_ ABSL_GUARDED_BY(mu_);
  HealthCheck readiness_ ABSL_GUARDED_BY(mu_);
  std::function<std::string()> ready_detail_ ABSL_GUARDED_BY(mu_);
  // Last, so that it stops (and no handler runs) before the rest goes.
  HttpServer http_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_OPS_SERVER_H_
