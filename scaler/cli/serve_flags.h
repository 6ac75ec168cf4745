// serve's flags, and their parse into the ServeConfig that the Application
// runs. Every usage error of serve (exit 2) is decided by ParseServeConfig,
// but for the authz file's content: Application::Create reads it (and
// returns INVALID_ARGUMENT, which serve also exits 2 on).
//
//   FlagSet flags = ServeFlags();
//   absl::Status s = flags.Parse(argc, argv, 2);
//   absl::StatusOr<ServeConfig> config = ParseServeConfig(flags);
#ifndef SIGNALSCALER_SCALER_CLI_SERVE_FLAGS_H_
#define SIGNALSCALER_SCALER_CLI_SERVE_FLAGS_H_

#include "absl/status/statusor.h"
#include "scaler/app/serve_config.h"
#include "scaler/cli/flags.h"

namespace signalscaler {

// Every flag of `signalscaler serve`, with its default and help.
FlagSet ServeFlags();

// The config the parsed `flags` (of ServeFlags()) say; INVALID_ARGUMENT
// whose message names the flag ("--drain-seconds must be a number of
// seconds >= 0"; serve prints it after "signalscaler serve: "). A positional
// argument is an error too. Reads no file; the replica id defaults to
// $POD_NAME, else the host name and pid.
absl::StatusOr<ServeConfig> ParseServeConfig(const FlagSet& flags);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_CLI_SERVE_FLAGS_H_
