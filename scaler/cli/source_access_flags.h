// The flags that confine policies' sources, read the same way by `serve`
// and `check` (so that check never passes a policy serve would refuse).
//
//   absl::StatusOr<AllowedSourceHosts> hosts = ParseAllowedSourceHosts(flags);
#ifndef SIGNALSCALER_SCALER_CLI_SOURCE_ACCESS_FLAGS_H_
#define SIGNALSCALER_SCALER_CLI_SOURCE_ACCESS_FLAGS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scaler/cli/flags.h"
#include "sources/factory.h"

namespace signalscaler {

// --allowed-source-hosts; INVALID_ARGUMENT "--allowed-source-hosts: <why>".
absl::StatusOr<AllowedSourceHosts> ParseAllowedSourceHosts(
    const FlagSet& flags);

// serve's --credentials-root (an absolute path other than /) and
// --allowed-source-hosts into `access`; the scaler's own secrets
// (--tls-key, --state-redis-password-file) must not be under the root.
// INVALID_ARGUMENT naming the flag.
absl::Status ParseSourceAccess(const FlagSet& flags, SourceAccess& access);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_CLI_SOURCE_ACCESS_FLAGS_H_
