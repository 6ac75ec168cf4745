#include "scaler/cli/serve_flags.h"

#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "scaler/cli/source_access_flags.h"
#include "scaler/common/status_macros.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

void AddPortFlags(FlagSet& flags) {
  flags.Add("listen", "0.0.0.0:9090",
            "HOST:PORT of the gRPC server (ExternalScaler, health, and admin "
            "unless --admin-listen); "
            "port 0 picks a free port, printed at startup");
  flags.Add("admin-listen", "",
            "HOST:PORT of a port of its own for the admin API (push, explain, "
            "policies), then no longer served on --listen (which keeps "
            "ExternalScaler, health and reflection); same TLS as --listen; "
            "empty: the admin API on --listen");
  flags.Add("authz-file", "",
            "AdminAccess YAML naming the admin API's clients (by the SHA-256 "
            "of a bearer token, or a verified client certificate's URI SAN, "
            "DNS SAN or CN), the namespaces and the verbs (push, explain, "
            "keda) each may use; re-read every --authz-refresh-seconds and "
            "on SIGHUP, a broken edit keeping the last good one. Empty: admin "
            "calls from loopback peers only (see --admin-allow-any)");
  flags.Add("authz-refresh-seconds", "5", "how often --authz-file is re-read");
  flags.AddBool("admin-allow-any",
                "without --authz-file, accept admin calls (push, explain, "
                "policies) from every peer, not only loopback ones: anyone "
                "who reaches the admin port may then act on every namespace");
  flags.Add("metrics-listen", "0.0.0.0:9091",
            "HOST:PORT of the HTTP operations port: GET /metrics "
            "(Prometheus), /livez (200 while the process runs) and /readyz "
            "(200 when serving with policies in force, 503 while draining); "
            "HOST an IPv4 address or a name (Debian's CivetWeb has no IPv6); "
            "empty disables it");
}

void AddPolicyFlags(FlagSet& flags) {
  flags.Add("policies", "",
            "directory (or file) of ScalingPolicy YAML documents; empty serves "
            "the embedded quickstart policies (push sources only)");
  flags.Add("policy-reload-seconds", "5",
            "how often the policies directory is re-read as a safety net "
            "(changes are also seen at once through inotify, and on SIGHUP)");
  flags.Add("namespaces", "",
            "comma-separated namespaces whose policies may be served; empty "
            "serves every namespace");
  flags.Add("credentials-root", "/etc/signalscaler/credentials",
            "directory of the policies' credentials files: a policy's "
            "bearerTokenFile, caFile and passwordFile are paths relative to "
            "DIR/<the policy's namespace>/ (mount each namespace's Secret "
            "there); an absolute path, `..`, or a file that resolves outside "
            "that directory (symlinks followed, at load and at every open) "
            "is refused");
  flags.Add("allowed-source-hosts", "",
            "comma-separated hosts that prometheus, scrape and redis sources "
            "may connect to: names (prometheus.monitoring), .suffixes "
            "(.svc.cluster.local), addresses and CIDRs (10.0.0.0/8, "
            "127.0.0.1/32), checked on the host as the policy writes it (a "
            "name never matches a CIDR); a policy naming another host is "
            "refused; empty: any host");
  flags.Add("drain-seconds", "10",
            "on SIGTERM, how long readiness reports NOT_SERVING while every "
            "call is still answered, before streams end with OK and the "
            "process exits (keep terminationGracePeriodSeconds longer)");
}

// The TLS and input-limit flags; their defaults come from limits.h and
// scaler_server.h.
void AddEdgeFlags(FlagSet& flags) {
  const ServerLimits server;
  const PolicyLimits policies;
  flags.Add("tls-cert", "",
            "PEM certificate (chain) of the gRPC port; with --tls-key, serves "
            "TLS (1.2 or later). Re-read every --tls-refresh-seconds");
  flags.Add("tls-key", "", "PEM private key of --tls-cert (unencrypted)");
  flags.Add("tls-client-ca", "",
            "PEM CA bundle; when set, every client must present a "
            "certificate it verifies (mTLS)");
  flags.Add("tls-refresh-seconds", absl::StrCat(ServerTls().refresh_seconds),
            "how often the TLS files are re-read (cert-manager rotates "
            "them); new connections get the new certificate");
  flags.Add("max-request-bytes", absl::StrCat(server.max_request_bytes),
            "largest request message accepted (RESOURCE_EXHAUSTED beyond)");
  flags.Add("max-metadata-entries", absl::StrCat(server.max_metadata_entries),
            "trigger metadata entries per ScaledObjectRef (INVALID_ARGUMENT "
            "beyond)");
  flags.Add("max-metadata-bytes", absl::StrCat(server.max_metadata_bytes),
            "length of each trigger metadata key and value (INVALID_ARGUMENT "
            "beyond)");
  flags.Add("max-open-streams", absl::StrCat(server.max_open_streams),
            "StreamIsActive and StreamMetricSpec streams open at once; one "
            "more ends at once with RESOURCE_EXHAUSTED");
  flags.Add("max-pushes-per-second", absl::StrCat(server.max_pushes_per_second),
            "Push calls each admin client may make per second; beyond it, "
            "RESOURCE_EXHAUSTED (every client without a verified certificate "
            "counts as one, \"anonymous\")");
  flags.Add("max-policies-per-namespace",
            absl::StrCat(policies.max_policies_per_namespace),
            "policies in force per namespace; a file that would exceed it is "
            "rejected (its previous policies keep serving)");
  flags.Add("max-policies", absl::StrCat(policies.max_policies),
            "policies in force in the whole scaler; a file that would exceed "
            "it is rejected");
}

void AddStateFlags(FlagSet& flags) {
  const EvaluatorOptions defaults;
  flags.Add("state-store", "memory",
            "where histories, decisions and leases live: \"memory\" (one "
            "replica; a restart forgets them) or redis://HOST:PORT[/DB], "
            "shared by every replica: one of them evaluates each policy, all "
            "answer KEDA alike, and a restart keeps every window");
  flags.Add("state-redis-password-file", "",
            "file holding the Redis password (AUTH) of --state-store, re-read "
            "on every connect; empty: no AUTH");
  flags.Add("state-key-prefix", "signalscaler",
            "prefix of every Redis key and channel of --state-store (one per "
            "fleet sharing a Redis)");
  flags.Add("replica-id", "",
            "this replica's name among those sharing --state-store; empty: "
            "$POD_NAME, else the host name");
  flags.Add("lease-seconds",
            absl::StrCat(absl::ToDoubleSeconds(defaults.lease_period)),
            "when a replica dies (or stops), another takes over its policies "
            "within this period");
  flags.Add("state-ttl-seconds",
            absl::StrCat(absl::ToDoubleSeconds(defaults.record_ttl)),
            "a policy's shared record expires this long after its last "
            "decision (abandoned policies go away); longer than every "
            "stabilization window");
  flags.Add("no-history", "wait",
            "what a policy answers while neither its current replica count "
            "(a replicas source) nor its history (--state-store) is known, "
            "as after a restart: wait (UNAVAILABLE, so the HPA holds and "
            "KEDA's fallback applies, until a full scale-down window has "
            "been seen; a count at maxReplicas is answered at once) or "
            "decide (the desired count at once, as the HPA does: only where "
            "no fleet runs yet)");
  flags.Add("state-timeout-ms",
            absl::StrCat(absl::ToInt64Milliseconds(defaults.store_timeout)),
            "bound on every call to --state-store; past it the replica "
            "evaluates locally (degraded) until the store answers again");
}

// Reads the integer flag `name` into `out` (a field of a limits struct).
template <typename T>
absl::Status GetCountInto(const FlagSet& flags, const char* name, int64_t min,
                          int64_t max, T& out) {
  ASSIGN_OR_RETURN(const int64_t v, flags.GetCount(name, min, max));
  out = static_cast<T>(v);
  return absl::OkStatus();
}

// Parses --namespaces: a comma-separated list of DNS-1123 names, or empty.
absl::StatusOr<NamespaceSet> ParseNamespaces(absl::string_view text) {
  NamespaceSet out;
  for (absl::string_view ns : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    ns = absl::StripAsciiWhitespace(ns);
    if (ns.empty()) continue;
    if (!IsDns1123Label(ns)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--namespaces: \"", ns,
                       "\" is not a namespace name (DNS-1123 "
                       "label)"));
    }
    out.insert(std::string(ns));
  }
  return out;
}

// The TLS, input-limit and admin-access flags.
absl::Status ParseEdge(const FlagSet& flags, ServeConfig& config) {
  ServerTls& tls = config.tls;
  tls.cert_file = flags.Get("tls-cert");
  tls.key_file = flags.Get("tls-key");
  tls.client_ca_file = flags.Get("tls-client-ca");
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca needs --tls-cert and --tls-key");
  }
  constexpr int64_t kMax = INT_MAX;
  ServerLimits& server = config.server_limits;
  PolicyLimits& policies = config.policy_limits;
  RETURN_IF_ERROR(GetCountInto(flags, "tls-refresh-seconds", 1, 86400,
                               tls.refresh_seconds));
  RETURN_IF_ERROR(GetCountInto(flags, "max-request-bytes", 1024, kMax,
                               server.max_request_bytes));
  RETURN_IF_ERROR(GetCountInto(flags, "max-metadata-entries", 1, kMax,
                               server.max_metadata_entries));
  RETURN_IF_ERROR(GetCountInto(flags, "max-metadata-bytes", 1, kMax,
                               server.max_metadata_bytes));
  RETURN_IF_ERROR(GetCountInto(flags, "max-open-streams", 1, kMax,
                               server.max_open_streams));
  RETURN_IF_ERROR(GetCountInto(flags, "max-pushes-per-second", 1, kMax,
                               server.max_pushes_per_second));
  RETURN_IF_ERROR(GetCountInto(flags, "max-policies-per-namespace", 1, kMax,
                               policies.max_policies_per_namespace));
  RETURN_IF_ERROR(
      GetCountInto(flags, "max-policies", 1, kMax, policies.max_policies));
  config.access.file = flags.Get("authz-file");
  config.access.allow_any = flags.GetBool("admin-allow-any");
  if (!config.access.file.empty() && config.access.allow_any) {
    // As AccessControl::Create says it, for callers without flags.
    return absl::InvalidArgumentError(
        "--admin-allow-any and --authz-file exclude each other: the authz "
        "file says who may call");
  }
  config.access.client_certificates = !tls.client_ca_file.empty();
  ASSIGN_OR_RETURN(config.access.refresh,
                   flags.GetSeconds("authz-refresh-seconds", 0.1));
  return absl::OkStatus();
}

// "redis://HOST:PORT[/DB]" into `options`.
absl::Status ParseRedisUrl(const std::string& url,
                           RedisStateStoreOptions& options) {
  absl::string_view rest = url;
  const bool ok_scheme = absl::ConsumePrefix(&rest, "redis://");
  std::string db = "0";
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    db = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  if (ok_scheme && rest.find('@') != absl::string_view::npos) {
    // Not echoed: it holds a credential.
    return absl::InvalidArgumentError(
        "--state-store: credentials in the URL are not accepted (they would "
        "reach logs and errors); put the password in "
        "--state-redis-password-file");
  }
  const size_t colon = rest.rfind(':');
  int port = 0;
  if (!ok_scheme || colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port < 1 ||
      port > 65535 || !absl::SimpleAtoi(db, &options.database) ||
      options.database < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--state-store must be \"memory\" or "
                     "redis://HOST:PORT[/DB], not \"",
                     url, "\""));
  }
  options.host = std::string(rest.substr(0, colon));
  options.port = port;
  return absl::OkStatus();
}

std::string DefaultReplicaId() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod) {
    return pod;
  }
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') {
    return absl::StrCat(host, "-", getpid());
  }
  return absl::StrCat("replica-", getpid());
}

// The evaluator's and the state store's flags.
absl::Status ParseState(const FlagSet& flags, ServeConfig& config) {
  EvaluatorOptions& evaluator = config.evaluator;
  ASSIGN_OR_RETURN(evaluator.lease_period,
                   flags.GetSeconds("lease-seconds", 1));
  ASSIGN_OR_RETURN(evaluator.record_ttl,
                   flags.GetSeconds("state-ttl-seconds", 60));
  ASSIGN_OR_RETURN(const int64_t timeout_ms,
                   flags.GetCount("state-timeout-ms", 1, 60'000));
  evaluator.store_timeout = absl::Milliseconds(timeout_ms);
  if (const std::string& h = flags.Get("no-history"); h == "decide") {
    evaluator.wait_without_history = false;
  } else if (h != "wait") {
    return absl::InvalidArgumentError(
        absl::StrCat("--no-history must be wait or decide, got \"",
                     absl::CHexEscape(h), "\""));
  }
  evaluator.replica_id = flags.Get("replica-id");
  if (evaluator.replica_id.empty()) evaluator.replica_id = DefaultReplicaId();
  if (const std::string& store = flags.Get("state-store"); store != "memory") {
    RedisStateStoreOptions redis;
    RETURN_IF_ERROR(ParseRedisUrl(store, redis));
    redis.password_file = flags.Get("state-redis-password-file");
    redis.key_prefix = flags.Get("state-key-prefix");
    if (absl::Status s = ValidateRedisStateStoreOptions(redis); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--state-store: ", s.message()));
    }
    config.redis = std::move(redis);
  }
  return absl::OkStatus();
}

}  // namespace

FlagSet ServeFlags() {
  FlagSet flags(
      "serve",
      "Serve KEDA's ExternalScaler API (and the admin API, health "
      "checking and reflection) on one gRPC port, deciding replica "
      "counts from the ScalingPolicy files in --policies.\n"
      "Policy files are watched and reloaded file by file (SIGHUP forces "
      "it). SIGTERM or SIGINT drains (readiness off, calls still answered "
      "for --drain-seconds), ends every open stream with status OK and "
      "exits 0; a second one exits at once.");
  AddPortFlags(flags);
  AddPolicyFlags(flags);
  AddEdgeFlags(flags);
  AddStateFlags(flags);
  flags.Add("log-level", "info", "debug, info, warn, error or off");
  flags.Add("log-format", "text", "text, or json for one JSON object a line");
  return flags;
}

absl::StatusOr<ServeConfig> ParseServeConfig(const FlagSet& flags) {
  if (!flags.positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", flags.positional()[0], "\""));
  }
  ServeConfig config;
  if (absl::Status s = ParseLogLevel(flags.Get("log-level"), config.log_level);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-level: ", s.message()));
  }
  if (absl::Status s =
          ParseLogFormat(flags.Get("log-format"), config.log_format);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format: ", s.message()));
  }
  config.listen = flags.Get("listen");
  config.admin_listen = flags.Get("admin-listen");
  config.metrics_listen = flags.Get("metrics-listen");
  config.policies_path = flags.Get("policies");
  ASSIGN_OR_RETURN(config.policy_reload_period,
                   flags.GetSeconds("policy-reload-seconds", 0.1));
  ASSIGN_OR_RETURN(config.drain, flags.GetSeconds("drain-seconds", 0));
  ASSIGN_OR_RETURN(config.namespaces, ParseNamespaces(flags.Get("namespaces")));
  RETURN_IF_ERROR(ParseSourceAccess(flags, config.source_access));
  RETURN_IF_ERROR(ParseEdge(flags, config));
  RETURN_IF_ERROR(ParseState(flags, config));
  return config;
}

}  // namespace signalscaler
