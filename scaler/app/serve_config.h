// What `signalscaler serve` runs: every setting of the Application, as its
// flags give them (scaler/cli/serve_flags.cc parses them into this and
// decides every usage error there). Plain data: tests and benchmarks fill
// one in directly.
//
//   ServeConfig config;                 // serve's defaults
//   config.listen = "127.0.0.1:0";
//   config.builtin_policies = yaml;     // no --policies
//   auto app = Application::Create(config);
#ifndef SIGNALSCALER_SCALER_APP_SERVE_CONFIG_H_
#define SIGNALSCALER_SCALER_APP_SERVE_CONFIG_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "scaler/common/log.h"
#include "scaler/server/authz.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/limits.h"
#include "scaler/server/policy_reloader.h"
#include "scaler/server/scaler_server.h"
#include "scaler/state/redis_state_store.h"
#include "sources/factory.h"

namespace signalscaler {

struct ServeConfig {
  // The ports. --listen: ExternalScaler, health, reflection (and the admin
  // API unless admin_listen). --admin-listen: empty, the admin API on
  // `listen`. --metrics-listen: the ops port (/metrics, /livez, /readyz);
  // empty: none.
  std::string listen = "0.0.0.0:9090";
  std::string admin_listen;
  std::string metrics_listen = "0.0.0.0:9091";
  ServerTls tls;               // --tls-*
  ServerLimits server_limits;  // --max-request-bytes ... --max-pushes-...
  AccessOptions access;        // --authz-file, --admin-allow-any, ...

  // The policies. --policies: a directory or file, watched and reloaded
  // every policy_reload_period (and on Reload()). Empty: builtin_policies,
  // YAML parsed once under the name builtin_policies_name (serve: the
  // embedded quickstart policies), neither filtered by `namespaces` nor
  // bounded by policy_limits.
  std::string policies_path;
  std::string builtin_policies;
  std::string builtin_policies_name = "<builtin policies>";
  absl::Duration policy_reload_period = absl::Seconds(5);
  NamespaceSet namespaces;     // --namespaces; empty: every namespace
  PolicyLimits policy_limits;  // --max-policies-per-namespace, --max-policies
  SourceAccess source_access;  // --credentials-root, --allowed-source-hosts

  // Evaluation and the state store. evaluator.store is the application's
  // (left null here). `redis` unset: the in-memory store (--state-store
  // memory).
  EvaluatorOptions evaluator;
  std::optional<RedisStateStoreOptions> redis;

  // Shutdown: readiness off for `drain` (every call still answered), then
  // calls in flight get `shutdown_grace` to finish.
  absl::Duration drain = absl::Seconds(10);
  absl::Duration shutdown_grace = absl::Seconds(2);

  // --log-level, --log-format (serve configures logging with them).
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_APP_SERVE_CONFIG_H_
