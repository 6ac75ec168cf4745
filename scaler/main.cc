// signalscaler: a KEDA external scaler that decides replica counts from the
// signals that measure load. See README.md.
#include <cstdio>
#include <cstring>

#include "absl/synchronization/mutex.h"
#include "scaler/cli/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: signalscaler COMMAND [flags]\n"
    "\n"
    "commands:\n"
    "  serve     run the scaler: KEDA's ExternalScaler, the admin API, health\n"
    "  push      push a value for a `push` signal through the admin API\n"
    "  explain   show the current decision of policies, with its reasons\n"
    "  check     validate policy files or directories (for CI, pre-commit)\n"
    "  render    print the KEDA ScaledObject(s) that use a policy file\n"
    "  simulate  replay a load trace through a policy, beside HPA baselines\n"
    "  trace     write a load trace for simulate from Prometheus history\n"
    "  version   print the version\n"
    "\n"
    "`signalscaler COMMAND --help` lists a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built with its Mutex deadlock detector on: it
  // updates a lock graph under a global lock at every Mutex::Lock (1.4 % of
  // serve's CPU evaluating 10,000 policies, and every gRPC call's locks).
  // Optimized builds drop it, as Abseil's own NDEBUG default does; the
  // debug, ASan and TSan builds the tests run keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char* command = argv[1];
  if (std::strcmp(command, "serve") == 0)
    return signalscaler::ServeCommand(argc, argv);
  if (std::strcmp(command, "push") == 0)
    return signalscaler::PushCommand(argc, argv);
  if (std::strcmp(command, "explain") == 0)
    return signalscaler::ExplainCommand(argc, argv);
  if (std::strcmp(command, "check") == 0)
    return signalscaler::CheckCommand(argc, argv);
  if (std::strcmp(command, "render") == 0)
    return signalscaler::RenderCommand(argc, argv);
  if (std::strcmp(command, "simulate") == 0)
    return signalscaler::SimulateCommand(argc, argv);
  if (std::strcmp(command, "trace") == 0)
    return signalscaler::TraceCommand(argc, argv);
  if (std::strcmp(command, "version") == 0) {
    std::printf("signalscaler %s\n", SIGNALSCALER_VERSION);
    return 0;
  }
  std::fprintf(stderr, "signalscaler: unknown command \"%s\"\n\n%s", command,
               kUsage);
  return 2;
}
