// The real SourceFactory: a Source for every sampled kind; and the rules of
// what a policy's sources may touch (serve's --credentials-root and
// --allowed-source-hosts), applied where policies are loaded.
//
//   absl::StatusOr<AllowedSourceHosts> hosts =
//       AllowedSourceHosts::Parse("prometheus.monitoring,.svc,10.0.0.0/8");
//   SourceAccess access{"/etc/signalscaler/credentials", *hosts};
//   ConfineSources(loaded, access, errors);  // errors naming the fields
//   MakeSource(loaded.policy.spec().signals(0).source(), clock, access);
#ifndef SIGNALSCALER_SOURCES_FACTORY_H_
#define SIGNALSCALER_SOURCES_FACTORY_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/policy.pb.h"
#include "scaler/common/clock.h"
#include "scaler/policy/loader.h"
#include "sources/source.h"

namespace signalscaler {

// The hosts sources may connect to (--allowed-source-hosts): a
// comma-separated list of host names ("prometheus.monitoring", matched
// whole, case-insensitively), domain suffixes (".svc.cluster.local": any
// name ending so, not the bare domain), and IPv4/IPv6 addresses or CIDRs
// ("127.0.0.1/32", "10.0.0.0/8", "::1"). Checked on the host as the policy
// writes it, at load time: an address literal against the CIDRs, a name
// against the names and suffixes. A name is never resolved to be matched
// against a CIDR, so a name that resolves (or later rebinds) to an allowed
// address is not let in by it: the names an operator lists are the names it
// trusts, whatever they resolve to. Empty: every host.
class AllowedSourceHosts {
 public:
  // INVALID_ARGUMENT naming the first unusable entry.
  static absl::StatusOr<AllowedSourceHosts> Parse(absl::string_view list);

  bool empty() const { return rules_.empty(); }
  // `host` without port or brackets: a name, or an IPv4/IPv6 literal.
  bool Allows(absl::string_view host) const;

 private:
  struct Rule {
    enum Kind { kName, kSuffix, kCidr } kind;
    std::string name;  // lowercase, for kName and kSuffix (with its '.')
    bool v6 = false;
    std::array<uint8_t, 16> addr{};
    int bits = 0;
  };
  std::vector<Rule> rules_;
};

// What the sources of a policy may touch.
struct SourceAccess {
  // --credentials-root: bearerTokenFile, caFile and passwordFile are
  // relative to ROOT/<the policy's namespace>/. Empty: not checked here (the
  // static checks, absolute and `..`, are ValidatePolicy's).
  std::string credentials_root;
  AllowedSourceHosts allowed_hosts;
};

// Checks every source of `loaded` (signals, replicas, readyReplicas) against
// `access`, appending an error naming the field for each failure:
// - a credentials file that resolves (symlinks followed) outside
//   ROOT/<namespace>/, or is absolute or has a `..` (the static checks,
//   again, for callers that did not validate); a file that does not exist
//   yet passes (the source then reports it, and checks again at every open);
// - a host that `access.allowed_hosts` does not allow, named.
// With no error, rewrites each credentials path to ROOT/<namespace>/<path>,
// as the sources read it (so two namespaces' `token` are two files, and two
// sources).
void ConfineSources(LoadedPolicy& loaded, const SourceAccess& access,
                    std::vector<PolicyError>& errors);
// Whether ConfineSources' outcome for `loaded` may change while neither the
// policy nor `access` does: it names a credentials file under a credentials
// root (a symlink may be swapped under it). Otherwise a reload may keep the
// outcome of the same bytes.
bool ConfinementReadsFiles(const LoadedPolicy& loaded,
                           const SourceAccess& access);

// prometheus and scrape (HTTP), redis. INVALID_ARGUMENT for push or no kind.
// With `access.credentials_root` set, the credentials files (rewritten by
// ConfineSources) are confined again at every open
// (sources/credential_file.h).
absl::StatusOr<std::unique_ptr<Source>> MakeSource(
    const v1::Source& source, const Clock& clock,
    const SourceAccess& access = SourceAccess());

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_FACTORY_H_
