// `signalscaler serve`: parse the flags into a ServeConfig, build the
// Application from it, run it until SIGTERM or SIGINT, drain, stop, return.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "scaler/app/application.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
#include "scaler/cli/serve_flags.h"
#include "scaler/common/log.h"

namespace signalscaler {
namespace {

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "signalscaler serve: %s\n",
               std::string(message).c_str());
  return 2;
}

int StartFailed(absl::string_view what, const absl::Status& s) {
  LogError(what, {{"error", std::string(s.message())}});
  FlushLogs();
  return 1;
}

// SIGTERM, SIGINT and SIGHUP, taken by sigtimedwait() on the main thread
// only: blocked before any other thread starts, so every thread inherits
// the mask.
sigset_t BlockServeSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// The next of `signals` within `timeout` (infinite: no bound); 0 if none.
int NextSignal(const sigset_t& signals, absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) {
    const int sig = sigwaitinfo(&signals, nullptr);
    return sig < 0 ? 0 : sig;
  }
  if (timeout < absl::ZeroDuration()) timeout = absl::ZeroDuration();
  const timespec ts = absl::ToTimespec(timeout);
  const int sig = sigtimedwait(&signals, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

[[noreturn]] void ExitAtOnce() {
  LogWarn("second termination signal: exiting at once");
  FlushLogs();
  std::_Exit(0);
}

// Serves until a termination signal, reloads on SIGHUP; then drains for
// `drain` (readiness off, every call answered) and stops the application
// (on another thread, so that a second termination signal still exits at
// once). Returns once everything has stopped.
void RunUntilTerminated(Application& app, const sigset_t& signals,
                        absl::Duration drain) {
  // Not a sentinel end time: a drain may itself be infinite
  // (--drain-seconds=inf), and a second signal must still exit at once.
  bool draining = false;
  absl::Time drain_end = absl::InfiniteFuture();
  while (!draining || absl::Now() < drain_end) {
    const int sig = NextSignal(
        signals, draining ? drain_end - absl::Now() : absl::InfiniteDuration());
    if (sig == 0) continue;  // interrupted, or the drain is over
    if (sig == SIGHUP) {
      app.Reload();
      continue;
    }
    if (draining) ExitAtOnce();
    draining = true;
    LogInfo("termination signal: draining",
            {{"signal", absl::StrCat(sig)},
             {"drain", absl::FormatDuration(drain)}});
    // Readiness first, so Kubernetes takes the pod out of the Service
    // while every call is still answered; then streams end with OK.
    app.StartDrain();
    drain_end = absl::Now() + drain;
  }
  std::atomic<bool> stopped{false};
  std::thread stopper([&app, &stopped] {
    app.Stop();
    stopped = true;
  });
  while (!stopped) {
    const int sig = NextSignal(signals, absl::Milliseconds(20));
    if (sig == SIGTERM || sig == SIGINT) ExitAtOnce();
  }
  stopper.join();
}

}  // namespace

int ServeCommand(int argc, char** argv) {
  FlagSet flags = ServeFlags();
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    return UsageError(s.message());
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  absl::StatusOr<ServeConfig> config = ParseServeConfig(flags);
  if (!config.ok()) return UsageError(config.status().message());
  ConfigureLogging(config->log_level, config->log_format);
  config->builtin_policies = std::string(EmbeddedPolicies());
  config->builtin_policies_name = kEmbeddedPoliciesName;
  const absl::Duration drain = config->drain;
  const sigset_t signals = BlockServeSignals();

  absl::StatusOr<std::unique_ptr<Application>> app =
      Application::Create(*std::move(config));
  if (!app.ok()) {
    if (absl::IsInvalidArgument(app.status())) {
      return UsageError(app.status().message());
    }
    return StartFailed("cannot serve", app.status());
  }
  if (absl::Status s = (*app)->Start(); !s.ok()) {
    return StartFailed("cannot start", s);
  }
  RunUntilTerminated(**app, signals, drain);
  app->reset();
  LogInfo("stopped");
  FlushLogs();
  return 0;
}

}  // namespace signalscaler
