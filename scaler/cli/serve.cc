// `signalscaler serve`: load the policies, evaluate them, serve KEDA.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
#include "scaler/common/log.h"
#include "scaler/engine/clock.h"
#include "scaler/policy/loader.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/policy_registry.h"
#include "scaler/server/scaler_server.h"
#include "sources/observer.h"
#include "sources/push/push_source.h"

namespace signalscaler {
namespace {

// How long unary calls in flight may finish once shutdown has begun.
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

LoadResult LoadConfigured(const std::string& dir) {
  if (dir.empty())
    return ParsePolicies(EmbeddedPolicies(), kEmbeddedPoliciesName);
  return LoadPolicies(dir);
}

void LogLoadErrors(const LoadResult& r) {
  for (const PolicyError& e : r.errors) {
    LogError("policy rejected", {{"error", e.ToString()}});
  }
}

// Reloads on SIGHUP: all or nothing for now (per-file reload is issue 4's).
void Reload(const std::string& dir, PolicyRegistry& registry) {
  LoadResult r = LoadConfigured(dir);
  if (!r.errors.empty()) {
    LogLoadErrors(r);
    LogError("reload rejected; the previous policies keep serving",
             {{"errors", absl::StrCat(r.errors.size())}});
    return;
  }
  const size_t n = r.policies.size();
  registry.Set(std::make_shared<PolicySnapshot>(std::move(r.policies)));
  LogInfo("policies reloaded", {{"policies", absl::StrCat(n)}});
}

}  // namespace

int ServeCommand(int argc, char** argv) {
  FlagSet flags(
      "serve",
      "Serve KEDA's ExternalScaler API (and the admin API, health "
      "checking and reflection) on one gRPC port, deciding replica "
      "counts from the ScalingPolicy files in --policies.\n"
      "SIGHUP reloads the policies; SIGTERM or SIGINT ends every open "
      "stream with status OK and exits 0; a second one exits at once.");
  flags.Add("listen", "0.0.0.0:9090",
            "HOST:PORT of the gRPC server (ExternalScaler, admin, health); "
            "port 0 picks a free port, printed at startup");
  flags.Add("policies", "",
            "directory (or file) of ScalingPolicy YAML documents; empty serves "
            "the embedded quickstart policies (push sources only)");
  flags.Add("log-level", "info", "debug, info, warn, error or off");
  flags.Add("log-format", "text", "text, or json for one JSON object a line");
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    std::fprintf(stderr, "signalscaler serve: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!flags.positional().empty()) {
    std::fprintf(stderr, "signalscaler serve: unexpected argument \"%s\"\n",
                 flags.positional()[0].c_str());
    return 2;
  }
  LogLevel level;
  LogFormat format;
  if (absl::Status s = ParseLogLevel(flags.Get("log-level"), level); !s.ok()) {
    std::fprintf(stderr, "signalscaler serve: --log-level: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = ParseLogFormat(flags.Get("log-format"), format);
      !s.ok()) {
    std::fprintf(stderr, "signalscaler serve: --log-format: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  ConfigureLogging(level, format);

  // Signals are taken by sigwait() on this thread only: block them before any
  // other thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string dir = flags.Get("policies");
  LoadResult loaded = LoadConfigured(dir);
  if (!loaded.errors.empty()) {
    LogLoadErrors(loaded);
    LogError("no policies served: fix the errors above",
             {{"policies", dir.empty() ? kEmbeddedPoliciesName : dir}});
    FlushLogs();
    return 1;
  }
  LogInfo("policies loaded",
          {{"source", dir.empty() ? kEmbeddedPoliciesName : dir},
           {"policies", absl::StrCat(loaded.policies.size())}});

  SystemClock clock;
  PolicyRegistry registry;
  DecisionBoard board;
  PushStore push;
  SourceObserver observer(push);
  Evaluator evaluator(registry, observer, board, clock);
  registry.Set(std::make_shared<PolicySnapshot>(std::move(loaded.policies)));
  ScalerServer server(ServerDeps{&registry, &board, &push, &evaluator, &clock});
  if (absl::Status s = server.Start(flags.Get("listen")); !s.ok()) {
    LogError("cannot start", {{"error", std::string(s.message())}});
    FlushLogs();
    return 1;
  }
  evaluator.Start();
  LogInfo("serving", {{"listen", flags.Get("listen")},
                      {"port", absl::StrCat(server.port())}});

  std::unique_ptr<std::thread> stopper;
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Reload(dir, registry);
      server.RefreshHealth();
      continue;
    }
    if (stopper != nullptr) {
      LogWarn("second termination signal: exiting at once");
      FlushLogs();
      std::_Exit(0);
    }
    LogInfo("termination signal: shutting down",
            {{"signal", absl::StrCat(sig)}});
    stopper = std::make_unique<std::thread>([&] {
      server.Shutdown(kShutdownGrace);
      evaluator.Stop();
      LogInfo("stopped");
      FlushLogs();
      std::fflush(nullptr);
      std::_Exit(0);
    });
  }
}

}  // namespace signalscaler
