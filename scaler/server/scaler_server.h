// The gRPC server: KEDA's ExternalScaler, signalscaler's Admin API, gRPC
// health checking and server reflection, on one port, or with the Admin API
// on a port of its own (--admin-listen), in plaintext, TLS or mTLS (the same
// on both ports). gRPC's headers stay out of this header.
//
//   deps.tls.cert_file = "/tls/tls.crt";  // optional
//   deps.tls.key_file = "/tls/tls.key";
//   ScalerServer server(deps);
//   absl::Status s = server.Start("0.0.0.0:9090", "0.0.0.0:9092");
//   ...
//   server.Shutdown(absl::Seconds(10));  // streams end with OK first
#ifndef SIGNALSCALER_SCALER_SERVER_SCALER_SERVER_H_
#define SIGNALSCALER_SCALER_SERVER_SCALER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/limits.h"
#include "scaler/server/policy_registry.h"
#include "scaler/server/policy_reloader.h"
#include "sources/push/push_source.h"

namespace signalscaler {

class AccessControl;

// TLS on the gRPC port, from PEM files that are re-read every
// `refresh_seconds` (cert-manager rotates them in place): new connections
// get the new certificate, open ones keep theirs. TLS 1.2 at least.
struct ServerTls {
  std::string cert_file;  // --tls-cert; empty: plaintext
  std::string key_file;   // --tls-key; required with cert_file
  // --tls-client-ca: when set, every client must present a certificate that
  // this CA bundle verifies (mTLS); otherwise none is asked for.
  std::string client_ca_file;
  int refresh_seconds = 60;  // --tls-refresh-seconds; at least 1

  bool enabled() const { return !cert_file.empty(); }
};

struct ServerDeps {
  PolicyRegistry* registry = nullptr;
  DecisionBoard* board = nullptr;
  PushStore* push = nullptr;
  Evaluator* evaluator = nullptr;
  const Clock* clock = nullptr;
  // Optional: the reloader whose file status the admin API reports.
  const PolicyReloader* reloader = nullptr;
  std::string policies_source;  // for the admin API: the --policies path
  // Optional: the only namespaces served (KEDA calls from any other are
  // PERMISSION_DENIED). Null or empty: every namespace.
  const NamespaceSet* namespaces = nullptr;
  ServerLimits limits;  // request sizes, trigger metadata, open streams
  ServerTls tls;        // plaintext unless tls.enabled()
  // Who may call the admin API, and KEDA's (authz.h). Null: every caller
  // may do everything (--admin-allow-any), as in-process tests want. With
  // an authz file, mTLS (tls.client_ca_file) and the admin API on a port
  // of its own, that port asks for a client certificate but does not
  // require one, so that token clients need none.
  const AccessControl* access = nullptr;
};

// Start() once, Shutdown() once; thread-safe otherwise.
class ScalerServer {
 public:
  explicit ScalerServer(ServerDeps deps);
  ~ScalerServer();

  // Binds `listen` (HOST:PORT; port 0 picks a free one) and starts serving.
  // Health reports SERVING once the registry holds policies.
  // INVALID_ARGUMENT naming the file (never its content) when a TLS file is
  // unreadable, not PEM, or the key does not match the certificate;
  // UNAVAILABLE when the address cannot be bound.
  absl::Status Start(const std::string& listen);
  // The same, with the Admin API (Push, Explain, Policies) on `admin_listen`
  // only, and not on `listen` (which keeps ExternalScaler, health and
  // reflection). Empty `admin_listen`: the Admin API on `listen`, as
  // Start(listen). Each port has the TLS of deps.tls. UNAVAILABLE when
  // either address cannot be bound (the admin port never shares a port,
  // not even `listen`'s).
  absl::Status Start(const std::string& listen,
                     const std::string& admin_listen);
  int port() const;
  // The port the Admin API answers on: port() unless it has its own.
  int admin_port() const;
  // Updates health: liveness ("", "liveness") SERVING while running;
  // readiness ("readiness", "externalscaler.ExternalScaler",
  // "signalscaler.admin.v1.Admin") SERVING iff policies are in force and the
  // server is not draining.
  void RefreshHealth();
  // Readiness goes NOT_SERVING; every call is still answered (streams stay
  // open) until Shutdown().
  void StartDrain();

  // What health reports, for other probes (HTTP /livez and /readyz).
  // Liveness: OK until Shutdown() starts, then UNAVAILABLE "shutting down".
  // Readiness: OK iff serving, policies are in force and not draining; else
  // UNAVAILABLE "not started", "no policy loaded", "draining" or "shutting
  // down".
  absl::Status Liveness() const;
  absl::Status Readiness() const;

  // Reports NOT_SERVING, ends every open stream with status OK (so KEDA
  // reconnects after 2 s, not 60 s), then stops both ports, cancelling
  // unary calls still running after `grace`. Idempotent.
  void Shutdown(absl::Duration grace);
  // Ends every open stream with OK (KEDA reconnects after 2 s), e.g. so that
  // each is authorized again after the authz file changed.
  void EndOpenStreams();
  size_t open_streams() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_SCALER_SERVER_H_
