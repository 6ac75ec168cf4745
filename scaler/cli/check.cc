// `signalscaler check PATH...`: validates policy files or directories exactly
// as `serve` loads them, for CI pipelines and pre-commit hooks.
//
//   $ signalscaler check deploy/examples/policies
//   9 policies OK in 9 files
//
// Every error is printed (one a line, "FILE:LINE: policy NS/NAME: FIELD:
// MESSAGE", on stdout), then every warning ("FILE:LINE: warning: policy
// ...", scaler/policy/warnings.h), then a summary. Exit 0 when every path is
// valid (warnings or not), 1 on any error, 2 on a usage error.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
#include "scaler/cli/source_access_flags.h"
#include "scaler/policy/loader.h"
#include "scaler/policy/policy_key.h"
#include "scaler/policy/warnings.h"
#include "scaler/server/authz.h"
#include "sources/factory.h"

namespace signalscaler {
namespace {

namespace fs = std::filesystem;

// The file's canonical path when it has one, to recognise a file reached
// through two of the given paths (a directory and a file in it).
std::string Canonical(const std::string& file) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(file, ec);
  return ec ? file : p.string();
}

// Everything `check` found over all the paths.
struct CheckResult {
  std::vector<PolicyError> errors;
  std::vector<PolicyError> warnings;
  size_t policies = 0;
  size_t files = 0;
};

// LoadPolicies on each path. A file reached twice is counted (and reported)
// once; a policy name defined again in another path's files is a duplicate,
// as it would be if they were mounted together.
CheckResult CheckPaths(const std::vector<std::string>& paths,
                       const SourceAccess& access) {
  CheckResult out;
  std::set<std::string> files_seen;
  std::set<std::string> errors_seen;
  // policy id -> where it was first defined (canonical file, the policy).
  struct Seen {
    std::string canonical;
    LoadedPolicy first;
  };
  std::map<std::string, Seen> by_id;
  // As `serve` checks each file before composing them: a file with a source
  // it refuses is rejected, and so is not a duplicate of another.
  const PolicyFileCheck confine = [&access](std::vector<LoadedPolicy>& policies,
                                            std::vector<PolicyError>& errors) {
    for (LoadedPolicy& p : policies) ConfineSources(p, access, errors);
  };
  for (const std::string& path : paths) {
    LoadResult r = LoadPolicies(path, confine);
    for (const std::string& f : r.files) files_seen.insert(Canonical(f));
    for (PolicyError& e : r.errors) {
      const std::string key =
          absl::StrCat(Canonical(e.file), ":", e.line, ":", e.policy, ":",
                       e.field, ":", e.message);
      if (errors_seen.insert(key).second) out.errors.push_back(std::move(e));
    }
    for (PolicyError& w : r.warnings) {
      const std::string key =
          absl::StrCat("warning:", Canonical(w.file), ":", w.line, ":",
                       w.policy, ":", w.field, ":", w.message);
      if (errors_seen.insert(key).second) out.warnings.push_back(std::move(w));
    }
    for (const LoadedPolicy& p : r.policies) {
      const std::string canonical = Canonical(p.file);
      auto [it, inserted] =
          by_id.emplace(KeyOf(p.policy).ToString(), Seen{canonical, p});
      if (inserted) {
        ++out.policies;
        continue;
      }
      if (it->second.canonical == canonical &&
          it->second.first.line == p.line) {
        continue;  // The same document, reached through two paths.
      }
      out.errors.push_back(DuplicatePolicyError(p, it->second.first));
    }
  }
  out.files = files_seen.size();
  return out;
}

std::string Plural(size_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "signalscaler check: %s\n",
               std::string(message).c_str());
  return 2;
}

FlagSet CheckFlags() {
  FlagSet flags("check",
                "Validate ScalingPolicy files or directories (PATH...) exactly "
                "as `serve --policies` loads them, plus duplicate policy names "
                "across all the paths. Prints every error, one a line as "
                "FILE:LINE: policy NS/NAME: FIELD: MESSAGE, then every warning "
                "(FILE:LINE: warning: ...), then a summary. Exit 0 when valid "
                "(warnings do not count), 1 on any error, 2 on a usage "
                "error.\n\n"
                "usage: signalscaler check [--quiet] [--credentials-root=DIR] "
                "[--allowed-source-hosts=LIST] [--authz-file=FILE] PATH...");
  flags.Add("credentials-root", "",
            "as serve's: also check that every credentials file resolves "
            "(symlinks followed) inside DIR/<the policy's namespace>/; "
            "empty: only that the paths are relative, without `..`");
  flags.Add("allowed-source-hosts", "",
            "as serve's: also check every source's host against this list");
  flags.Add("authz-file", "",
            "also validate this AdminAccess file as `serve --authz-file` "
            "reads it (certificate clients accepted, as with "
            "--tls-client-ca); PATH may then be left out");
  flags.Add("quiet", "false",
            "print the errors and warnings only, no summary (a bare --quiet "
            "means true)");
  return flags;
}

// Validates the AdminAccess file `path` as `serve --authz-file` reads it
// (with --tls-client-ca): prints its error, or unless `quiet` that it is
// OK. 1 on an error, else 0.
int CheckAuthzFile(const std::string& path, bool quiet) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  absl::StatusOr<AccessPolicy> access =
      in ? ParseAccessPolicy(text.str(), path,
                             /*client_certificates=*/true)
         : absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"));
  if (!access.ok()) {
    std::printf("%s\n", std::string(access.status().message()).c_str());
    return 1;
  }
  if (!quiet) {
    std::printf("%s: AdminAccess OK, %s\n", path.c_str(),
                Plural(access->clients.size(), "client", "clients").c_str());
  }
  return 0;
}

// The confinement of sources that --credentials-root and
// --allowed-source-hosts ask for, as serve's; INVALID_ARGUMENT naming the
// flag.
absl::StatusOr<SourceAccess> SourceAccessOf(const FlagSet& flags) {
  SourceAccess access;
  access.credentials_root = flags.Get("credentials-root");
  absl::StatusOr<AllowedSourceHosts> hosts = ParseAllowedSourceHosts(flags);
  if (!hosts.ok()) return hosts.status();
  access.allowed_hosts = *std::move(hosts);
  return access;
}

// Every error, every warning, then unless `quiet` the summary line.
void PrintCheckResult(const CheckResult& r, bool quiet) {
  for (const PolicyError& e : r.errors) {
    std::printf("%s\n", e.ToString().c_str());
  }
  for (const PolicyError& w : r.warnings) {
    std::printf("%s\n", PolicyWarningToString(w).c_str());
  }
  if (quiet) return;
  const std::string warnings =
      r.warnings.empty()
          ? ""
          : ", " + Plural(r.warnings.size(), "warning", "warnings");
  if (r.errors.empty()) {
    std::printf("%s OK in %s%s\n",
                Plural(r.policies, "policy", "policies").c_str(),
                Plural(r.files, "file", "files").c_str(), warnings.c_str());
  } else {
    std::printf("%s%s (%s OK in %s)\n",
                Plural(r.errors.size(), "error", "errors").c_str(),
                warnings.c_str(),
                Plural(r.policies, "policy", "policies").c_str(),
                Plural(r.files, "file", "files").c_str());
  }
}

}  // namespace

int CheckCommand(int argc, char** argv) {
  FlagSet flags = CheckFlags();
  // FlagSet flags all take a value: a bare --quiet (or -q) is rewritten.
  std::vector<char*> args(argv, argv + argc);
  std::string quiet_true = "--quiet=true";
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (std::strcmp(argv[i], "--quiet") == 0 || std::strcmp(argv[i], "-q") == 0)
      args[i] = quiet_true.data();
  }
  if (absl::Status s = flags.Parse(argc, args.data(), 2); !s.ok()) {
    return UsageError(s.message());
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  const std::string quiet_flag = flags.Get("quiet");
  if (quiet_flag != "true" && quiet_flag != "false") {
    return UsageError(absl::StrCat("--quiet must be true or false, got \"",
                                   quiet_flag, "\""));
  }
  const bool quiet = quiet_flag == "true";
  const std::string authz_file = flags.Get("authz-file");
  const int authz_errors =
      authz_file.empty() ? 0 : CheckAuthzFile(authz_file, quiet);
  if (flags.positional().empty()) {
    if (authz_file.empty()) {
      return UsageError(
          "no PATH given\nusage: signalscaler check [--quiet] PATH... (files "
          "or directories of policies)");
    }
    std::fflush(stdout);
    return authz_errors;
  }

  absl::StatusOr<SourceAccess> access = SourceAccessOf(flags);
  if (!access.ok()) return UsageError(access.status().message());
  const CheckResult r = CheckPaths(flags.positional(), *access);
  PrintCheckResult(r, quiet);
  std::fflush(stdout);
  return r.errors.empty() && authz_errors == 0 ? 0 : 1;
}

}  // namespace signalscaler
