#include "scaler/app/application.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/policy/loader.h"
#include "scaler/server/authz.h"
#include "scaler/server/policy_reloader.h"
#include "scaler/state/redis_state_store.h"
#include "sources/factory.h"

namespace signalscaler {
namespace {

// Says who may call the admin API when that is looser than it could be.
void WarnAboutAccess(AccessMode mode, bool tls) {
  switch (mode) {
    case AccessMode::kLoopbackOnly:
      LogWarn(
          "no --authz-file: admin calls (push, explain, policies) are "
          "accepted from loopback peers only; give an authz file to admit "
          "other clients, or --admin-allow-any to admit every peer");
      break;
    case AccessMode::kAllowAny:
      LogWarn(
          "--admin-allow-any: every peer that reaches the admin port may "
          "push to, and read, every namespace's policies");
      break;
    case AccessMode::kFile:
      if (!tls) {
        LogWarn(
            "--authz-file without --tls-cert: bearer tokens travel in "
            "plaintext");
      }
      break;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Application>> Application::Create(
    ServeConfig config, ApplicationOptions options) {
  std::unique_ptr<Application> app(new Application(std::move(config), options));
  if (absl::Status s = app->Build(); !s.ok()) return s;
  return app;
}

Application::Application(ServeConfig config, ApplicationOptions options)
    : config_(std::move(config)),
      background_loops_(options.background_loops),
      clock_(options.clock != nullptr ? *options.clock : system_clock_) {}

Application::~Application() { Stop(); }

absl::Status Application::Build() {
  absl::StatusOr<std::unique_ptr<AccessControl>> access =
      AccessControl::Create(config_.access);
  if (!access.ok()) return access.status();
  access_ = *std::move(access);
  WarnAboutAccess(access_->mode(), config_.tls.enabled());

  if (!config_.policies_path.empty()) {
    // Before anything is built: a missing directory is the operator's
    // mistake, said at once.
    if (absl::Status s = ListPolicyFiles(config_.policies_path).status();
        !s.ok()) {
      return s;
    }
  }
  if (config_.redis.has_value()) {
    absl::StatusOr<std::unique_ptr<StateStore>> made =
        MakeRedisStateStore(*config_.redis, clock_);
    if (!made.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--state-store: ", made.status().message()));
    }
    state_store_ = *std::move(made);
  } else {
    state_store_ = MakeMemoryStateStore(clock_);
  }
  const SourceAccess& source_access = config_.source_access;
  const Clock& clock = clock_;
  sampler_ = std::make_unique<Sampler>(
      [&clock, &source_access](const v1::Source& source) {
        return MakeSource(source, clock, source_access);
      },
      clock_, SamplerOptions());
  observer_ = std::make_unique<SourceObserver>(push_, sampler_.get());
  EvaluatorOptions evaluator_options = config_.evaluator;
  evaluator_options.store = state_store_.get();
  evaluator_ = std::make_unique<Evaluator>(registry_, *observer_, board_,
                                           clock_, evaluator_options);
  Wire();
  if (absl::Status s = LoadPolicies(); !s.ok()) return s;
  BuildEdge();
  return absl::OkStatus();
}

void Application::BuildEdge() {
  ServerDeps deps;
  deps.registry = &registry_;
  deps.board = &board_;
  deps.push = &push_;
  deps.evaluator = evaluator_.get();
  deps.clock = &clock_;
  deps.reloader = reloader_.get();
  deps.policies_source = config_.policies_path.empty()
                             ? config_.builtin_policies_name
                             : config_.policies_path;
  deps.namespaces = &config_.namespaces;
  deps.limits = config_.server_limits;
  deps.tls = config_.tls;
  deps.access = access_.get();
  server_ = std::make_unique<ScalerServer>(deps);
  // Health follows the policies: SERVING once at least one is in force.
  ScalerServer* server = server_.get();
  // A changed authz file reaches the KEDA streams already open.
  access_->SetOnChange([server] { server->EndOpenStreams(); });
  listeners_.push_back(registry_.AddListener(
      [server](const PolicySnapshot&) { server->RefreshHealth(); }));

  if (!config_.metrics_listen.empty()) {
    ops_ = std::make_unique<OpsServer>(Metrics::Get());
    // /livez and /readyz say what gRPC health says.
    ops_->SetHealthChecks([server] { return server->Liveness(); },
                          [server] { return server->Readiness(); });
    // Degraded (the state store out of reach) is still ready: every call
    // is answered. /readyz says so.
    Evaluator* evaluator = evaluator_.get();
    ops_->SetReadyDetail([evaluator]() -> std::string {
      const StateStatus st = evaluator->Status();
      if (!st.degraded) return "";
      return absl::StrCat("degraded: state store ", st.kind,
                          " unreachable, evaluating locally: ", st.why);
    });
  }
}

void Application::Wire() {
  // The sampled queries follow the policies in force.
  Sampler* sampler = sampler_.get();
  listeners_.push_back(
      registry_.AddListener([sampler](const PolicySnapshot& snap) {
        sampler->Update(snap.policies());
      }));
  // A source notification (a first item on an empty queue) re-evaluates the
  // policies using it at once, so an open StreamIsActive learns without
  // waiting for a tick.
  Evaluator* evaluator = evaluator_.get();
  sampler_->SetOnNotified([evaluator](const std::vector<PolicyKey>& keys) {
    for (const PolicyKey& key : keys) evaluator->EvaluateNow(key).IgnoreError();
  });
}

absl::Status Application::LoadPolicies() {
  if (config_.policies_path.empty()) {
    LoadResult builtin =
        ParsePolicies(config_.builtin_policies, config_.builtin_policies_name);
    for (const PolicyError& e : builtin.errors) {
      LogError("embedded policy rejected", {{"error", e.ToString()}});
    }
    registry_.Set(
        std::make_shared<PolicySnapshot>(std::move(builtin.policies)));
  } else {
    reloader_ = std::make_unique<PolicyReloader>(
        config_.policies_path, registry_, config_.namespaces,
        config_.policy_limits, config_.source_access);
    reloader_->Reload();
  }
  LogInfo(
      "policies loaded",
      {{"source", config_.policies_path.empty() ? config_.builtin_policies_name
                                                : config_.policies_path},
       {"policies", absl::StrCat(registry_.Get()->policies().size())}});
  return absl::OkStatus();
}

// The ports first: a process that cannot serve (a bad TLS file, a port in
// use) exits before its evaluator ever takes a lease or saves a decision,
// and no loop calls into a server still being started.
absl::Status Application::Start() {
  server_started_ = true;
  absl::Status s = server_->Start(config_.listen, config_.admin_listen);
  if (s.ok() && ops_ != nullptr) s = ops_->Start(config_.metrics_listen);
  if (!s.ok()) {
    Stop();
    return s;
  }
  if (background_loops_) {
    threads_started_ = true;
    access_->Start();
    sampler_->Start();
    evaluator_->Start();
    if (reloader_ != nullptr) reloader_->Start(config_.policy_reload_period);
  }
  LogServing();
  return absl::OkStatus();
}

void Application::LogServing() const {
  LogInfo("serving", {{"listen", config_.listen},
                      {"metrics_port", absl::StrCat(metrics_port())},
                      {"port", absl::StrCat(port())},
                      {"admin_listen", config_.admin_listen.empty()
                                           ? config_.listen
                                           : config_.admin_listen},
                      {"admin_port", absl::StrCat(admin_port())},
                      {"state_store", std::string(state_store_->kind())},
                      {"replica", config_.evaluator.replica_id}});
}

void Application::Reload() {
  if (reloader_ != nullptr) {
    LogInfo("SIGHUP: reloading policies");
    reloader_->Reload();
  }
  access_->Reload().IgnoreError();  // logged there
}

void Application::StartDrain() { server_->StartDrain(); }

void Application::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (ops_ != nullptr) ops_->Stop();
  if (server_started_) server_->Shutdown(config_.shutdown_grace);
  if (threads_started_) {
    if (reloader_ != nullptr) reloader_->Stop();
    evaluator_->Stop();
    sampler_->Stop();
    access_->Stop();
  }
  for (uint64_t id : listeners_) registry_.RemoveListener(id);
  listeners_.clear();
}

int Application::port() const { return server_->port(); }
int Application::admin_port() const { return server_->admin_port(); }
int Application::metrics_port() const {
  return ops_ == nullptr ? 0 : ops_->port();
}

}  // namespace signalscaler
