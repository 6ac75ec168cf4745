#include "scaler/cli/source_access_flags.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace signalscaler {

absl::StatusOr<AllowedSourceHosts> ParseAllowedSourceHosts(
    const FlagSet& flags) {
  absl::StatusOr<AllowedSourceHosts> hosts =
      AllowedSourceHosts::Parse(flags.Get("allowed-source-hosts"));
  if (!hosts.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--allowed-source-hosts: ", hosts.status().message()));
  }
  return hosts;
}

// --credentials-root and --allowed-source-hosts; the scaler's own secrets
// never under the root, where a policy could name them (and have them sent
// to a server of its choice).
absl::Status ParseSourceAccess(const FlagSet& flags, SourceAccess& access) {
  access.credentials_root = flags.Get("credentials-root");
  const std::string& root = access.credentials_root;
  if (root.empty() || root[0] != '/' ||
      root.find_first_not_of('/') == std::string::npos) {
    // `/` itself would make /etc/<file> the files of a namespace `etc`.
    return absl::InvalidArgumentError(absl::StrCat(
        "--credentials-root must be an absolute path of a dedicated "
        "directory (not /), got \"",
        absl::CHexEscape(root), "\""));
  }
  absl::StatusOr<AllowedSourceHosts> hosts = ParseAllowedSourceHosts(flags);
  if (!hosts.ok()) return hosts.status();
  access.allowed_hosts = *std::move(hosts);
  std::string dir = root;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  for (const char* own : {"tls-key", "state-redis-password-file"}) {
    const std::string& file = flags.Get(own);
    if (!file.empty() && absl::StartsWith(file, dir + "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", own, " must not be under --credentials-root (",
                       dir, "), where a policy could name it"));
    }
  }
  return absl::OkStatus();
}

}  // namespace signalscaler
