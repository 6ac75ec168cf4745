#include "scaler/cli/trace_history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "scaler/cli/source_access_flags.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

// The value of one duration unit of a relative time.
std::optional<absl::Duration> Unit(char c) {
  switch (c) {
    case 'w':
      return absl::Hours(24 * 7);
    case 'd':
      return absl::Hours(24);
    case 'h':
      return absl::Hours(1);
    case 'm':
      return absl::Minutes(1);
    case 's':
      return absl::Seconds(1);
    default:
      return std::nullopt;
  }
}

// "7d", "1h30m", "90m": a sum of NUMBER UNIT terms.
absl::StatusOr<absl::Duration> ParseAgo(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("no duration after -");
  absl::Duration total;
  while (!text.empty()) {
    size_t n = 0;
    while (n < text.size() &&
           (absl::ascii_isdigit(text[n]) || text[n] == '.')) {
      ++n;
    }
    double number = 0;
    if (n == 0 || n == text.size() ||
        !absl::SimpleAtod(text.substr(0, n), &number)) {
      return absl::InvalidArgumentError(
          "a duration is NUMBER UNIT terms, units w, d, h, m, s");
    }
    const std::optional<absl::Duration> unit = Unit(text[n]);
    if (!unit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown unit '", std::string(1, text[n]), "' (w, d, h, m, s)"));
    }
    total += number * *unit;
    text.remove_prefix(n + 1);
  }
  return total;
}

}  // namespace

std::vector<std::string> TakeSignalQueries(int& argc, char** argv) {
  std::vector<std::string> out;
  int w = 2;
  for (int i = 2; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--signal-query=")) {
      out.emplace_back(a);
      continue;
    }
    if (a == "--signal-query") {
      out.emplace_back(i + 1 < argc ? argv[++i] : "");
      continue;
    }
    argv[w++] = argv[i];
  }
  argc = w;
  return out;
}

void AddHistoryFlags(FlagSet& flags) {
  flags.Add("start", "",
            "start of the history: RFC 3339 (2026-12-01T09:00:00Z), or "
            "relative to now (-7d, -90m, now-1h30m)");
  flags.Add("end", "now", "end of the history, as --start");
  flags.Add("step", "",
            "seconds between rows; default the smallest sampling interval "
            "of the policy's signals");
  flags.Add("prometheus", "",
            "query this Prometheus (http(s)://HOST:PORT) instead of each "
            "source's address, e.g. a port-forward; the sources' bearer "
            "token and CA file still apply");
  flags.Add("signal-query", "",
            "NAME=PROMQL: the history of signal NAME (one read from Redis, a "
            "scrape or a push has none in Prometheus, e.g. redis_exporter's "
            "series); repeatable");
  flags.Add("demand-query", "",
            "PromQL of the replicas truly needed: the trace's demand column");
  flags.Add("credentials-root", "",
            "as serve's: the sources' bearerTokenFile and caFile are "
            "DIR/<the policy's namespace>/FILE; empty: as written, from the "
            "working directory");
  flags.Add("allowed-source-hosts", "",
            "as serve's: every source's host must be in this list");
}

namespace {

// History is from 1970 on and never after tomorrow: an absurd duration
// (-1e20d is an infinite one) or year must not reach the millisecond
// arithmetic of the range (review finding F7, 2 Dec).
absl::StatusOr<absl::Time> InHistory(absl::string_view text, absl::Time t,
                                     absl::Time now) {
  if (t < absl::UnixEpoch() || t > now + absl::Hours(24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is outside [1970-01-01, now + 1 day]"));
  }
  return t;
}

}  // namespace

absl::StatusOr<absl::Time> ParseHistoryTime(absl::string_view text,
                                            absl::Time now) {
  absl::string_view rest = text;
  const bool relative =
      absl::ConsumePrefix(&rest, "now") || absl::StartsWith(rest, "-");
  if (relative) {
    if (rest.empty()) return now;
    if (!absl::ConsumePrefix(&rest, "-")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\" is not a time: after `now` comes -DURATION"));
    }
    absl::StatusOr<absl::Duration> ago = ParseAgo(rest);
    if (!ago.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\" is not a time: ", ago.status().message()));
    }
    return InHistory(text, now - *ago, now);
  }
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text,
        "\" is not a time: RFC 3339 (2026-12-01T09:00:00Z) or relative "
        "(-7d, -90m, now)"));
  }
  return InHistory(text, t, now);
}

std::string HistoryTimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<HistoryRequest> ParseHistoryRequest(
    const FlagSet& flags, const std::vector<std::string>& signal_queries,
    absl::Time now) {
  HistoryRequest r;
  if (flags.Get("start").empty()) {
    return absl::InvalidArgumentError("--start is required");
  }
  for (const char* name : {"start", "end"}) {
    absl::StatusOr<absl::Time> t = ParseHistoryTime(flags.Get(name), now);
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": ", t.status().message()));
    }
    (std::string(name) == "start" ? r.start : r.end) = *t;
  }
  if (r.end <= r.start) {
    return absl::InvalidArgumentError("--end must be after --start");
  }
  if (flags.IsSet("step")) {
    absl::StatusOr<absl::Duration> step = flags.GetSeconds("step", 0.001);
    if (!step.ok()) return step.status();
    r.step = absl::Trunc(*step, absl::Milliseconds(1));
  }
  r.prometheus = flags.Get("prometheus");
  if (!r.prometheus.empty() && !absl::StartsWith(r.prometheus, "http://") &&
      !absl::StartsWith(r.prometheus, "https://")) {
    return absl::InvalidArgumentError(
        "--prometheus must start with http:// or https://");
  }
  for (const std::string& q : signal_queries) {
    const size_t eq = q.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == q.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--signal-query must be NAME=PROMQL, got \"", q, "\""));
    }
    if (!r.signal_queries.emplace(q.substr(0, eq), q.substr(eq + 1)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--signal-query: signal ", q.substr(0, eq), " given twice"));
    }
  }
  r.demand_query = flags.Get("demand-query");
  r.access.credentials_root = flags.Get("credentials-root");
  absl::StatusOr<AllowedSourceHosts> hosts = ParseAllowedSourceHosts(flags);
  if (!hosts.ok()) return hosts.status();
  r.access.allowed_hosts = *std::move(hosts);
  return r;
}

absl::StatusOr<v1::ScalingPolicy> LoadOnePolicy(const std::string& path,
                                                const std::string& name,
                                                const SourceAccess* access) {
  PolicyFileCheck confine;
  if (access != nullptr) {
    confine = [access](std::vector<LoadedPolicy>& policies,
                       std::vector<PolicyError>& errors) {
      for (LoadedPolicy& p : policies) ConfineSources(p, *access, errors);
    };
  }
  const LoadResult r = LoadPolicies(path, confine);
  if (!r.errors.empty()) {
    for (const PolicyError& e : r.errors) {
      std::fprintf(stderr, "%s\n", e.ToString().c_str());
    }
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": invalid policy"));
  }
  std::vector<std::string> names;
  for (const LoadedPolicy& p : r.policies) {
    const std::string full = absl::StrCat(p.policy.metadata().namespace_(), "/",
                                          p.policy.metadata().name());
    if (name.empty() ? r.policies.size() == 1
                     : (name == full || name == p.policy.metadata().name())) {
      return p.policy;
    }
    names.push_back(full);
  }
  return absl::InvalidArgumentError(
      name.empty()
          ? absl::StrCat(path, " holds ", r.policies.size(),
                         " policies: pick one with --name (",
                         absl::StrJoin(names, ", "), ")")
          : absl::StrCat("no policy ", name, " in ", path, " (it holds ",
                         absl::StrJoin(names, ", "), ")"));
}

}  // namespace signalscaler
