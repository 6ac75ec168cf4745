#include "sources/factory.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sources/credential_file.h"
#include "sources/http/http_source.h"
#include "sources/http/http_text.h"
#include "sources/redis/redis_source.h"

namespace signalscaler {
namespace {

// An IPv4 or IPv6 literal into 16 bytes (IPv4 in the first 4).
bool ParseIp(const std::string& text, bool& v6, std::array<uint8_t, 16>& out) {
  out.fill(0);
  if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

bool PrefixMatches(const std::array<uint8_t, 16>& a,
                   const std::array<uint8_t, 16>& b, int bits) {
  for (int i = 0; i < bits / 8; ++i) {
    if (a[i] != b[i]) return false;
  }
  if (bits % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
  return (a[bits / 8] & mask) == (b[bits / 8] & mask);
}

std::string Lower(absl::string_view s) {
  std::string out = absl::AsciiStrToLower(s);
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// The host of "host:port", "[v6]:port", or a URL's authority; "" if none.
std::string HostOfHostPort(absl::string_view hostport) {
  if (absl::StartsWith(hostport, "[")) {
    const size_t close = hostport.find(']');
    return close == absl::string_view::npos
               ? ""
               : std::string(hostport.substr(1, close - 1));
  }
  const size_t colon = hostport.rfind(':');
  return std::string(
      colon == absl::string_view::npos ? hostport : hostport.substr(0, colon));
}

std::string HostOfUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    absl::ConsumePrefix(&rest, "https://");
  }
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  return HostOfHostPort(authority);
}

// Why `path` is not relative without `..`; empty when it is.
bool StaticallyConfined(const std::string& path) {
  if (path.empty() || path[0] == '/') return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return false;
  }
  return true;
}

class Confiner {
 public:
  Confiner(LoadedPolicy& loaded, const SourceAccess& access,
           std::vector<PolicyError>& errors)
      : loaded_(loaded), access_(access), errors_(errors) {
    const v1::ObjectMeta& meta = loaded.policy.metadata();
    ns_ = meta.namespace_().empty() ? "default" : meta.namespace_();
    policy_ = absl::StrCat(ns_, "/", meta.name());
    std::string root = access.credentials_root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    dir_ = absl::StrCat(root, "/", ns_);
  }

  void Run() {
    // Most policies name no credentials file: then nothing is rewritten
    // and the shared policy is not copied (a reload checks every policy).
    if (access_.credentials_root.empty() ||
        !NamesACredentialFile(loaded_.policy.spec())) {
      ForEachSource(loaded_.policy.spec(),
                    [this](const v1::Source& s, const std::string& at) {
                      SourceHosts(s, at);
                    });
      return;
    }
    v1::PolicySpec& spec = *loaded_.policy.Mutable()->mutable_spec();
    ForEachSource(spec, [this](v1::Source& s, const std::string& at) {
      SourceHosts(s, at);
      SourceFiles(s, at);
    });
    if (failed_) return;
    for (auto& [path, field] : rewrites_)
      *path = absl::StrCat(dir_, "/", *path);
    // Mutable() may have copied it to the heap. Last: when this was the
    // only holder, the message `spec` and `rewrites_` point into is freed.
    loaded_.policy.Compact();
  }

  static bool ReadsFiles(const LoadedPolicy& loaded,
                         const SourceAccess& access) {
    return !access.credentials_root.empty() &&
           NamesACredentialFile(loaded.policy.spec());
  }

 private:
  void Error(std::string field, std::string message) {
    failed_ = true;
    PolicyError e;
    e.file = loaded_.file;
    e.line = loaded_.line;
    e.policy = policy_;
    e.field = std::move(field);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  template <typename Spec, typename Fn>
  static void ForEachSource(Spec& spec, Fn fn) {
    for (int i = 0; i < spec.signals_size(); ++i) {
      if constexpr (std::is_const_v<Spec>) {
        fn(spec.signals(i).source(),
           absl::StrCat("spec.signals[", i, "].source"));
      } else {
        fn(*spec.mutable_signals(i)->mutable_source(),
           absl::StrCat("spec.signals[", i, "].source"));
      }
    }
    if constexpr (std::is_const_v<Spec>) {
      if (spec.has_replicas()) fn(spec.replicas(), "spec.replicas");
      if (spec.has_ready_replicas()) {
        fn(spec.ready_replicas(), "spec.readyReplicas");
      }
    } else {
      if (spec.has_replicas()) fn(*spec.mutable_replicas(), "spec.replicas");
      if (spec.has_ready_replicas()) {
        fn(*spec.mutable_ready_replicas(), "spec.readyReplicas");
      }
    }
  }

  static bool NamesACredentialFile(const v1::PolicySpec& spec) {
    bool any = false;
    ForEachSource(spec, [&any](const v1::Source& s, const std::string&) {
      any = any || !s.prometheus().bearer_token_file().empty() ||
            !s.prometheus().ca_file().empty() ||
            !s.redis().password_file().empty();
    });
    return any;
  }

  void SourceHosts(const v1::Source& s, const std::string& at) {
    switch (s.kind_case()) {
      case v1::Source::kPrometheus:
        Host(HostOfUrl(s.prometheus().address()), at + ".prometheus.address");
        break;
      case v1::Source::kRedis:
        Host(HostOfHostPort(s.redis().address()), at + ".redis.address");
        break;
      case v1::Source::kScrape: {
        const v1::ScrapeSource& sc = s.scrape();
        for (int i = 0; i < sc.urls_size(); ++i) {
          Host(HostOfUrl(sc.urls(i)),
               absl::StrCat(at, ".scrape.urls[", i, "]"));
        }
        if (!sc.service().empty()) Host(sc.service(), at + ".scrape.service");
        break;
      }
      default:
        break;
    }
  }

  void SourceFiles(v1::Source& s, const std::string& at) {
    switch (s.kind_case()) {
      case v1::Source::kPrometheus: {
        v1::PrometheusSource& p = *s.mutable_prometheus();
        const std::string field = at + ".prometheus";
        File(*p.mutable_bearer_token_file(), field + ".bearerTokenFile");
        File(*p.mutable_ca_file(), field + ".caFile");
        break;
      }
      case v1::Source::kRedis:
        File(*s.mutable_redis()->mutable_password_file(),
             at + ".redis.passwordFile");
        break;
      default:
        break;
    }
  }

  void Host(const std::string& host, const std::string& field) {
    if (access_.allowed_hosts.empty() || access_.allowed_hosts.Allows(host)) {
      return;
    }
    Error(field, absl::StrCat("host \"", BodyExcerpt(host, 64),
                              "\" is not allowed by --allowed-source-hosts"));
  }

  void File(std::string& path, const std::string& field) {
    if (path.empty() || access_.credentials_root.empty()) return;
    if (!StaticallyConfined(path)) {
      Error(field, absl::StrCat("must be a path relative to the namespace's "
                                "credentials directory (",
                                dir_, "/), got \"", BodyExcerpt(path), "\""));
      return;
    }
    absl::StatusOr<std::string> real_dir = credential_file::RealPath(dir_);
    absl::StatusOr<std::string> real =
        credential_file::RealPath(absl::StrCat(dir_, "/", path));
    // Not there (yet): the source says so, and checks at every open.
    if (real_dir.ok() && real.ok() &&
        !credential_file::Inside(*real, *real_dir)) {
      Error(field, absl::StrCat("\"", BodyExcerpt(path),
                                "\" resolves outside the namespace's "
                                "credentials directory (",
                                dir_, "/) once its symlinks are followed"));
      return;
    }
    rewrites_.emplace_back(&path, field);
  }

  LoadedPolicy& loaded_;
  const SourceAccess& access_;
  std::vector<PolicyError>& errors_;
  std::string ns_;
  std::string policy_;
  std::string dir_;
  bool failed_ = false;
  std::vector<std::pair<std::string*, std::string>> rewrites_;
};

}  // namespace

absl::StatusOr<AllowedSourceHosts> AllowedSourceHosts::Parse(
    absl::string_view list) {
  AllowedSourceHosts out;
  for (absl::string_view raw : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    const std::string entry(absl::StripAsciiWhitespace(raw));
    if (entry.empty()) continue;
    Rule rule;
    const size_t slash = entry.find('/');
    const std::string addr = entry.substr(0, slash);
    if (ParseIp(addr, rule.v6, rule.addr)) {
      const int max_bits = rule.v6 ? 128 : 32;
      rule.kind = Rule::kCidr;
      rule.bits = max_bits;
      if (slash != std::string::npos &&
          (!absl::SimpleAtoi(entry.substr(slash + 1), &rule.bits) ||
           rule.bits < 0 || rule.bits > max_bits)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", entry, "\": the prefix length must be 0..", max_bits));
      }
    } else if (slash != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", entry, "\" is not a CIDR (e.g. 10.0.0.0/8)"));
    } else {
      const bool suffix = entry[0] == '.';
      const std::string name = Lower(suffix ? entry.substr(1) : entry);
      if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
            return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_';
          })) {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", entry,
            "\" is not a host name, a .suffix, an address or a CIDR"));
      }
      rule.kind = suffix ? Rule::kSuffix : Rule::kName;
      rule.name = suffix ? "." + name : name;
    }
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

bool AllowedSourceHosts::Allows(absl::string_view host) const {
  if (rules_.empty()) return true;
  std::array<uint8_t, 16> addr;
  bool v6 = false;
  if (ParseIp(std::string(host), v6, addr)) {
    return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
      return r.kind == Rule::kCidr && r.v6 == v6 &&
             PrefixMatches(r.addr, addr, r.bits);
    });
  }
  const std::string name = Lower(host);
  if (name.empty()) return false;
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return (r.kind == Rule::kName && r.name == name) ||
           (r.kind == Rule::kSuffix && absl::EndsWith(name, r.name));
  });
}

void ConfineSources(LoadedPolicy& loaded, const SourceAccess& access,
                    std::vector<PolicyError>& errors) {
  Confiner(loaded, access, errors).Run();
}

bool ConfinementReadsFiles(const LoadedPolicy& loaded,
                           const SourceAccess& access) {
  return Confiner::ReadsFiles(loaded, access);
}

absl::StatusOr<std::unique_ptr<Source>> MakeSource(const v1::Source& source,
                                                   const Clock& clock,
                                                   const SourceAccess& access) {
  switch (source.kind_case()) {
    case v1::Source::kPrometheus:
    case v1::Source::kScrape:
      return MakeHttpSource(source, clock, access.credentials_root);
    case v1::Source::kRedis: {
      RedisSourceTuning tuning;
      tuning.credentials_root = access.credentials_root;
      if (!access.allowed_hosts.empty()) {
        // A cluster's redirects lead only where a policy could.
        tuning.allow_host = [hosts =
                                 access.allowed_hosts](absl::string_view host) {
          return hosts.Allows(host);
        };
      }
      return MakeRedisSource(source.redis(), clock, tuning);
    }
    case v1::Source::kPush:
    case v1::Source::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "push sources are not sampled (their values arrive through the admin "
      "API)");
}

}  // namespace signalscaler
