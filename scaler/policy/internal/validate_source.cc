// Checks of a Source (a signal's, or the replicas/readyReplicas one), and the
// Reporter that every validation check writes its errors through. A source
// that passes them is one the sources' factory can create (`check` runs the
// same checks as `serve`, so it accepts nothing that `serve` then refuses;
// tests/http_sources/source_validation_parity_test holds them to that).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "scaler/policy/internal/validation.h"

namespace signalscaler {
namespace policy_internal {
namespace {

// The longest timeoutSeconds a prometheus source accepts (as
// PrometheusSource::Create does).
constexpr double kMaxTimeoutSeconds = 300;

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), absl::ascii_isdigit);
}

// A port as the sources parse one: digits, 1..65535.
bool IsPort(absl::string_view s) {
  int port = 0;
  return IsDigits(s) && s.size() <= 5 && absl::SimpleAtoi(s, &port) &&
         port >= 1 && port <= 65535;
}

// A host name or IPv4 address: letters, digits, '-', '.', '_'.
bool IsHostName(absl::string_view h) {
  return !h.empty() && std::all_of(h.begin(), h.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

// An IPv6 address as written between brackets: hex digits, ':' and '.'.
bool IsIpv6(absl::string_view h) {
  return absl::StrContains(h, ':') &&
         std::all_of(h.begin(), h.end(), [](char c) {
           return absl::ascii_isxdigit(c) || c == ':' || c == '.';
         });
}

// Why `hostport` is not `host:port` (port required) or, if `port_optional`,
// `host` alone; empty when it is. IPv6 hosts go in brackets.
std::string HostPortProblem(absl::string_view hostport, bool port_optional) {
  absl::string_view host = hostport;
  absl::string_view port;
  bool has_port = false;
  if (absl::StartsWith(hostport, "[")) {
    const size_t close = hostport.find(']');
    if (close == absl::string_view::npos) return "an unclosed '[' (IPv6)";
    host = hostport.substr(1, close - 1);
    absl::string_view rest = hostport.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return "unexpected text after ']'";
      port = rest.substr(1);
      has_port = true;
    }
    if (!IsIpv6(host)) return "not an IPv6 address between '[' and ']'";
  } else {
    const size_t colon = hostport.rfind(':');
    if (colon != absl::string_view::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return "no host";
    if (absl::StrContains(host, ':')) {
      return "an IPv6 address goes in brackets, e.g. [::1]:6379";
    }
    if (!IsHostName(host)) {
      return "the host may hold only letters, digits, '-', '.' and '_'";
    }
  }
  if (!has_port) return port_optional ? "" : "no port";
  if (!IsPort(port)) return "the port must be a number in [1, 65535]";
  return "";
}

// Why `url` is not an http:// or https:// URL with a host (and, unless
// `allow_query`, without a query string or fragment); empty when it is.
// Never quotes the URL (it may hold credentials).
std::string HttpUrlProblem(absl::string_view url, bool allow_query) {
  if (std::any_of(url.begin(), url.end(), [](char c) {
        return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
      })) {
    return "a URL has no blank or control character";
  }
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") &&
      !absl::ConsumePrefix(&rest, "https://")) {
    const size_t colon = url.find("://");
    return colon == absl::string_view::npos
               ? "must start with http:// or https://"
               : absl::StrCat("must start with http:// or https://, not ",
                              url.substr(0, colon), "://");
  }
  if (!allow_query &&
      (absl::StrContains(rest, "?") || absl::StrContains(rest, "#"))) {
    return "must not have a query string or fragment";
  }
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (authority.empty()) return "has no host";
  const std::string problem = HostPortProblem(authority, true);
  return problem.empty() ? "" : absl::StrCat("host: ", problem);
}

// A credentials file (bearerTokenFile, caFile, passwordFile) names a file
// under --credentials-root/<the policy's namespace>/: relative, without
// `..`, so that a tenant cannot name the scaler's own secrets (its state
// store's password, its ServiceAccount token) and have them sent to a
// server of its choice. Where the path resolves (symlinks) is checked where
// the root is known (ConfineSources in sources/factory.h).
void CredentialsFile(const std::string& path, const std::string& field,
                     Reporter& report) {
  if (path.empty()) return;
  bool dotdot = false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") dotdot = true;
  }
  const bool control = std::any_of(path.begin(), path.end(), [](char c) {
    return static_cast<unsigned char>(c) < ' ' || c == 0x7f;
  });
  if (path[0] != '/' && !dotdot && !control) return;
  std::string shown;
  for (const char c : path.substr(0, 128)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < ' ' || u == 0x7f) {
      absl::StrAppend(&shown, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else if (c == '"' || c == '\\') {
      absl::StrAppend(&shown, "\\", std::string(1, c));
    } else {
      shown.push_back(c);
    }
  }
  if (path.size() > 128) shown += "...";
  report.Error(
      field,
      absl::StrCat("must be a path relative to the namespace's credentials "
                   "directory (<--credentials-root>/",
                   report.Namespace(), "/)", dotdot ? ", without `..`" : "",
                   control ? ", without control characters" : "", ", got \"",
                   shown, "\""));
}

// A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsMetricName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == ':';
  });
}

void Prometheus(const v1::PrometheusSource& p, const std::string& at,
                Reporter& report) {
  if (p.address().empty()) {
    report.Error(at + ".address",
                 "required: Prometheus' base URL, e.g. "
                 "http://prometheus.monitoring:9090");
  } else if (std::string why = HttpUrlProblem(p.address(), false);
             !why.empty()) {
    report.Error(at + ".address",
                 absl::StrCat(why,
                              " (Prometheus' base URL, e.g. "
                              "http://prometheus.monitoring:9090)"));
  }
  if (p.query().empty())
    report.Error(at + ".query", "required: a PromQL query");
  CredentialsFile(p.bearer_token_file(), at + ".bearerTokenFile", report);
  CredentialsFile(p.ca_file(), at + ".caFile", report);
  if (p.has_timeout_seconds()) {
    if (p.timeout_seconds() > kMaxTimeoutSeconds) {
      report.Error(at + ".timeoutSeconds",
                   absl::StrCat("must be at most ", kMaxTimeoutSeconds,
                                " seconds, got ", p.timeout_seconds()));
    } else {
      report.Positive(at + ".timeoutSeconds", p.timeout_seconds(), "seconds");
    }
  }
  if (p.has_ignore_null_values() && p.has_no_series_is_zero() &&
      p.ignore_null_values() != p.no_series_is_zero()) {
    report.Error(at + ".ignoreNullValues",
                 absl::StrCat("contradicts noSeriesIsZero: ",
                              p.no_series_is_zero() ? "true" : "false",
                              " (ignoreNullValues: true means noSeriesIsZero: "
                              "true; keep only noSeriesIsZero)"));
  }
  const bool zero = p.has_no_series_is_zero()
                        ? p.no_series_is_zero()
                        : p.has_ignore_null_values() && p.ignore_null_values();
  if (!p.presence_query().empty() && zero) {
    report.Error(at + ".presenceQuery",
                 absl::StrCat("set presenceQuery or ",
                              p.has_no_series_is_zero() ? "noSeriesIsZero"
                                                        : "ignoreNullValues",
                              ": true, not both (with it, no series reads as 0 "
                              "whatever the presence query finds)"));
  }
}

void Redis(const v1::RedisSource& r, const std::string& at, Reporter& report) {
  if (r.address().empty()) {
    report.Error(at + ".address", "required: host:port, e.g. redis:6379");
  } else if (absl::StrContains(r.address(), "://")) {
    report.Error(at + ".address",
                 "must be host:port (e.g. redis:6379), not a URL; the "
                 "password goes in passwordFile");
  } else if (std::string why = HostPortProblem(r.address(), false);
             !why.empty()) {
    report.Error(at + ".address",
                 absl::StrCat("must be host:port (e.g. redis:6379): ", why));
  }
  CredentialsFile(r.password_file(), at + ".passwordFile", report);
  std::vector<std::string> keys;
  if (!r.list().empty()) keys.push_back("list");
  if (!r.sorted_set().empty()) keys.push_back("sortedSet");
  if (!r.stream().empty()) keys.push_back("stream");
  if (keys.size() != 1) {
    report.Error(
        at,
        absl::StrCat("needs exactly one of list, sortedSet, stream; ",
                     keys.empty() ? "none is set"
                                  : absl::StrJoin(keys, " and ") + " are set"));
  }
  if (!r.group().empty() && r.stream().empty()) {
    report.Error(at + ".group", "applies only to a `stream`");
  }
  if (r.group_measure() != v1::RedisSource::GROUP_MEASURE_UNSPECIFIED &&
      r.group().empty()) {
    report.Error(at + ".groupMeasure", "applies only with a `group`");
  }
  if (r.database() < 0) {
    report.Error(at + ".database",
                 absl::StrCat("must be >= 0, got ", r.database()));
  }
}

void Scrape(const v1::ScrapeSource& s, const std::string& at,
            Reporter& report) {
  if (s.metric().empty()) {
    report.Error(at + ".metric", "required: the name of the metric to read");
  } else if (!IsMetricName(s.metric())) {
    report.Error(
        at + ".metric",
        absl::StrCat("\"", s.metric(),
                     "\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*; "
                     "label matchers go in `labels`)"));
  }
  for (int i = 0; i < s.urls_size(); ++i) {
    if (std::string why = HttpUrlProblem(s.urls(i), true); !why.empty()) {
      report.Error(absl::StrCat(at, ".urls[", i, "]"),
                   absl::StrCat(why,
                                " (a pod's metrics URL, e.g. "
                                "http://10.0.0.7:9000/metrics)"));
    }
  }
  if (!s.path().empty() && s.path()[0] != '/') {
    report.Error(at + ".path", "must start with '/', e.g. /metrics");
  }
  if (s.urls().empty() == s.service().empty()) {
    report.Error(at, s.service().empty()
                         ? "needs `urls` or `service` (where to scrape)"
                         : "set either `urls` or `service`, not both");
  }
  if (s.port() < 0 || s.port() > 65535) {
    report.Error(at + ".port",
                 absl::StrCat("must be between 1 and 65535, got ", s.port()));
  } else if (!s.service().empty() && s.urls().empty() && s.port() == 0) {
    report.Error(at + ".port",
                 "required with `service`: the pods' metrics port (1-65535)");
  }
}

}  // namespace

Reporter::Reporter(const LoadedPolicy& loaded, std::vector<PolicyError>& errors)
    : loaded_(loaded), errors_(errors) {
  const v1::ObjectMeta& meta = loaded.policy.metadata();
  if (!meta.name().empty()) {
    policy_ =
        absl::StrCat(meta.namespace_().empty() ? "default" : meta.namespace_(),
                     "/", meta.name());
  }
}

std::string Reporter::Namespace() const {
  const std::string& ns = loaded_.policy.metadata().namespace_();
  return ns.empty() ? "default" : ns;
}

void Reporter::Error(std::string field, std::string message) {
  PolicyError e;
  e.file = loaded_.file;
  e.line = loaded_.line;
  e.policy = policy_;
  e.field = std::move(field);
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

void Reporter::InRange(const std::string& field, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    Error(field, absl::StrCat("must be between ", lo, " and ", hi,
                              " seconds, got ", value));
  }
}

void Reporter::Positive(const std::string& field, double value,
                        const std::string& what) {
  if (!(value > 0)) {
    Error(field, absl::StrCat("must be > 0 (", what, "), got ", value));
  } else if (value < kMinPositive || value > kMaxMagnitude) {
    Error(field, absl::StrCat("must be between ", kMinPositive, " and ",
                              kMaxMagnitude, " (", what, "), got ", value));
  }
}

void ValidateSource(const v1::Source& s, const std::string& path,
                    Reporter& report) {
  if (s.has_interval_seconds()) {
    report.InRange(path + ".intervalSeconds", s.interval_seconds(), 1,
                   kMaxIntervalSeconds);
  }
  switch (s.kind_case()) {
    case v1::Source::kPush:
      break;
    case v1::Source::kPrometheus:
      Prometheus(s.prometheus(), path + ".prometheus", report);
      break;
    case v1::Source::kRedis:
      Redis(s.redis(), path + ".redis", report);
      break;
    case v1::Source::kScrape:
      Scrape(s.scrape(), path + ".scrape", report);
      break;
    default:
      report.Error(path,
                   "needs exactly one of push, prometheus, redis, scrape");
      break;
  }
}

}  // namespace policy_internal
}  // namespace signalscaler
