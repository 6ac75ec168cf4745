// The signalscaler subcommands. Each returns the process exit code:
// 0 success, 1 failure, 2 usage error.
#ifndef SIGNALSCALER_SCALER_CLI_COMMANDS_H_
#define SIGNALSCALER_SCALER_CLI_COMMANDS_H_

#include "absl/strings/string_view.h"

namespace signalscaler {

int ServeCommand(int argc, char** argv);
int PushCommand(int argc, char** argv);
int ExplainCommand(int argc, char** argv);
int CheckCommand(int argc, char** argv);
int RenderCommand(int argc, char** argv);
int SimulateCommand(int argc, char** argv);
int TraceCommand(int argc, char** argv);

// The example policies compiled into the binary (deploy/examples/quickstart),
// served when `serve` is given no --policies.
absl::string_view EmbeddedPolicies();
inline constexpr char kEmbeddedPoliciesName[] =
    "<embedded quickstart policies>";

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_CLI_COMMANDS_H_
