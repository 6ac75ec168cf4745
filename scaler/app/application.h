// The running scaler: every component `serve` needs, built from a
// ServeConfig, owned here, started in order and stopped in reverse order.
// `signalscaler serve`, the conformance tests and the benchmarks all build
// this same object.
//
//   absl::StatusOr<std::unique_ptr<Application>> app =
//       Application::Create(config);
//   absl::Status s = (*app)->Start();   // ports open, threads run
//   ...                                 // SIGHUP: (*app)->Reload()
//   (*app)->StartDrain();               // SIGTERM: readiness off
//   (*app)->Stop();                     // after the drain (or destructor)
//
// The parts, in construction (and start) order; Stop() and the destructor
// go the other way:
//   1. the clock (ApplicationOptions::clock, else the system clock)
//   2. access control: who may call (thread: the authz file's re-reads)
//   3. the state store (memory, or Redis: config.redis)
//   4. the policy registry, the decision board, the push store
//   5. the sampler (reads every pull source; threads)
//   6. the source observer and the evaluator (thread: the evaluation tick)
//   7. the policies: the reloader of config.policies_path (thread: the
//      watch), or config.builtin_policies installed once
//   8. the gRPC server (ExternalScaler, admin, health, reflection)
//   9. the ops server (/metrics, /livez, /readyz; CivetWeb's threads)
// Each part uses only parts above it. So the ops port closes first, and the
// gRPC server ends its streams (and stops calling the evaluator) before
// the policy watch, the evaluator and the sampler stop.
#ifndef SIGNALSCALER_SCALER_APP_APPLICATION_H_
#define SIGNALSCALER_SCALER_APP_APPLICATION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scaler/app/serve_config.h"
#include "scaler/common/clock.h"
#include "scaler/common/ops_server.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/policy_registry.h"
#include "scaler/server/scaler_server.h"
#include "scaler/state/state_store.h"
#include "sources/observer.h"
#include "sources/push/push_source.h"
#include "sources/sampler.h"

namespace signalscaler {

// How the application runs, apart from what serve's flags say.
struct ApplicationOptions {
  // Null: the system clock. Tests pass a ManualClock; it must outlive the
  // application.
  const Clock* clock = nullptr;
  // False: Start() opens the ports but starts no background loop (sampler,
  // evaluator tick, policy watch, authz re-reads): a test with a
  // ManualClock drives them (evaluator().EvaluateDue(), ...).
  bool background_loops = true;
};

class Application {
 public:
  // Builds every part (nothing listens, no thread runs yet) and installs
  // the policies. INVALID_ARGUMENT when a file the config names is unusable
  // (the authz file; `serve` exits 2, as for a bad flag), NOT_FOUND or
  // UNAVAILABLE when the policies path cannot be read (exit 1).
  static absl::StatusOr<std::unique_ptr<Application>> Create(
      ServeConfig config, ApplicationOptions options = ApplicationOptions());
  ~Application();  // Stop()
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Starts every part in order and logs "serving" with the ports. Once.
  // UNAVAILABLE (naming the flag) when a port cannot be bound; what had
  // started is stopped again.
  absl::Status Start();
  // SIGHUP: re-reads the policies (config.policies_path) and the authz file.
  void Reload();
  // Readiness off (gRPC health and /readyz), every call still answered.
  void StartDrain();
  // Stops every part in reverse order: the ops port, then the gRPC server
  // (open streams end with OK; calls in flight get config.shutdown_grace),
  // the policy watch, the evaluator, the sampler, access control.
  // Idempotent.
  void Stop();

  int port() const;          // the gRPC port; 0 before Start()
  int admin_port() const;    // the admin API's own port, else port()
  int metrics_port() const;  // the ops port; 0 without one
  const ServeConfig& config() const { return config_; }

  // The parts, for tests (the application keeps owning them).
  PolicyRegistry& registry() { return registry_; }
  Evaluator& evaluator() { return *evaluator_; }
  ScalerServer& server() { return *server_; }

 private:
  Application(ServeConfig config, ApplicationOptions options);
  // Parts 2 to 7 (see the list above), then BuildEdge(): 8 and 9.
  absl::Status Build();
  void Wire();
  absl::Status LoadPolicies();
  void BuildEdge();
  void LogServing() const;

  // Members in construction order (see the list above).
  ServeConfig config_;
  const bool background_loops_;
  SystemClock system_clock_;
  const Clock& clock_;
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<StateStore> state_store_;
  PolicyRegistry registry_;
  DecisionBoard board_;
  PushStore push_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<SourceObserver> observer_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<PolicyReloader> reloader_;  // null: builtin policies
  std::unique_ptr<ScalerServer> server_;
  std::unique_ptr<OpsServer> ops_;  // null without config.metrics_listen
  // The registry listeners Wire() added (removed by Stop()).
  std::vector<uint64_t> listeners_;
  // Which parts Start() started, so that Stop() stops exactly those.
  bool threads_started_ = false;
  bool server_started_ = false;
  bool stopped_ = false;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_APP_APPLICATION_H_
