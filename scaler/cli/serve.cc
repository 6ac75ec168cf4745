// `signalscaler serve`: load the policies, evaluate them, serve KEDA.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/engine/clock.h"
#include "scaler/policy/loader.h"
#include "scaler/server/authz.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/limits.h"
#include "scaler/server/policy_registry.h"
#include "scaler/server/policy_reloader.h"
#include "scaler/server/scaler_server.h"
#include "scaler/state/redis_state_store.h"
#include "scaler/state/state_store.h"
#include "sources/factory.h"
#include "sources/observer.h"
#include "sources/push/push_source.h"
#include "sources/sampler.h"

namespace signalscaler {
namespace {

// How long unary calls in flight may finish once the drain is over.
constexpr absl::Duration kShutdownGrace = absl::Seconds(2);

// Parses --namespaces: a comma-separated list of DNS-1123 names, or empty.
absl::StatusOr<NamespaceSet> ParseNamespaces(absl::string_view text) {
  NamespaceSet out;
  for (absl::string_view ns : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    ns = absl::StripAsciiWhitespace(ns);
    if (ns.empty()) continue;
    if (!IsDns1123Label(ns)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", ns, "\" is not a namespace name (DNS-1123 label)"));
    }
    out.insert(std::string(ns));
  }
  return out;
}

// Reads the duration flag `name` (seconds, fractions allowed) into `out`;
// false (after printing why) when it is not a number >= min.
bool GetSeconds(const FlagSet& flags, const char* name, double min,
                absl::Duration& out) {
  absl::StatusOr<double> v = flags.GetDouble(name);
  if (!v.ok() || !(*v >= min)) {
    std::fprintf(stderr,
                 "signalscaler serve: --%s must be a number of seconds >= %g\n",
                 name, min);
    return false;
  }
  out = absl::Seconds(*v);
  return true;
}

// Reads the integer flag `name` into `out`; false (after printing why) when
// it is not a whole number in [min, max].
template <typename T>
bool GetCount(const FlagSet& flags, const char* name, int64_t min, int64_t max,
              T& out) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(flags.Get(name), &v) || v < min || v > max) {
    std::fprintf(stderr,
                 "signalscaler serve: --%s must be a whole number from %lld "
                 "to %lld\n",
                 name, static_cast<long long>(min),
                 static_cast<long long>(max));
    return false;
  }
  out = static_cast<T>(v);
  return true;
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

// Reads the flags of AddEdgeFlags(); false (after printing why) on a bad one.
bool GetEdgeFlags(const FlagSet& flags, ServerTls& tls, ServerLimits& server,
                  PolicyLimits& policies) {
  tls.cert_file = flags.Get("tls-cert");
  tls.key_file = flags.Get("tls-key");
  tls.client_ca_file = flags.Get("tls-client-ca");
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    std::fprintf(stderr,
                 "signalscaler serve: --tls-cert and --tls-key go together\n");
    return false;
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    std::fprintf(stderr,
                 "signalscaler serve: --tls-client-ca needs --tls-cert and "
                 "--tls-key\n");
    return false;
  }
  constexpr int64_t kMax = INT_MAX;
  return GetCount(flags, "tls-refresh-seconds", 1, 86400,
                  tls.refresh_seconds) &&
         GetCount(flags, "max-request-bytes", 1024, kMax,
                  server.max_request_bytes) &&
         GetCount(flags, "max-metadata-entries", 1, kMax,
                  server.max_metadata_entries) &&
         GetCount(flags, "max-metadata-bytes", 1, kMax,
                  server.max_metadata_bytes) &&
         GetCount(flags, "max-open-streams", 1, kMax,
                  server.max_open_streams) &&
         GetCount(flags, "max-pushes-per-second", 1, kMax,
                  server.max_pushes_per_second) &&
         GetCount(flags, "max-policies-per-namespace", 1, kMax,
                  policies.max_policies_per_namespace) &&
         GetCount(flags, "max-policies", 1, kMax, policies.max_policies);
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

// "redis://HOST:PORT[/DB]" into `options`; false, after saying why, if not.
bool ParseRedisUrl(const std::string& url, RedisStateStoreOptions& options) {
  absl::string_view rest = url;
  const bool ok_scheme = absl::ConsumePrefix(&rest, "redis://");
  std::string db = "0";
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    db = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  if (ok_scheme && rest.find('@') != absl::string_view::npos) {
    // Not echoed: it holds a credential.
    std::fprintf(stderr,
                 "signalscaler serve: --state-store: credentials in the URL "
                 "are not accepted (they would reach logs and errors); put "
                 "the password in --state-redis-password-file\n");
    return false;
  }
  const size_t colon = rest.rfind(':');
  int port = 0;
  if (!ok_scheme || colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port < 1 ||
      port > 65535 || !absl::SimpleAtoi(db, &options.database) ||
      options.database < 0) {
    std::fprintf(stderr,
                 "signalscaler serve: --state-store must be \"memory\" or "
                 "redis://HOST:PORT[/DB], not \"%s\"\n",
                 url.c_str());
    return false;
  }
  options.host = std::string(rest.substr(0, colon));
  options.port = port;
  return true;
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

}  // namespace

int ServeCommand(int argc, char** argv) {
  FlagSet flags(
      "serve",
      "Serve KEDA's ExternalScaler API (and the admin API, health "
      "checking and reflection) on one gRPC port, deciding replica "
      "counts from the ScalingPolicy files in --policies.\n"
      "Policy files are watched and reloaded file by file (SIGHUP forces "
      "it). SIGTERM or SIGINT drains (readiness off, calls still answered "
      "for --drain-seconds), ends every open stream with status OK and "
      "exits 0; a second one exits at once.");
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
  AddEdgeFlags(flags);
  AddStateFlags(flags);
  flags.Add("log-level", "info", "debug, info, warn, error or off");
  flags.Add("log-format", "text", "text, or json for one JSON object a line");
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    std::fprintf(stderr, "signalscaler serve: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!flags.positional().empty()) {
    std::fprintf(stderr, "signalscaler serve: unexpected argument \"%s\"\n",
                 flags.positional()[0].c_str());
    return 2;
  }
  LogLevel level;
  LogFormat format;
  if (absl::Status s = ParseLogLevel(flags.Get("log-level"), level); !s.ok()) {
    std::fprintf(stderr, "signalscaler serve: --log-level: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = ParseLogFormat(flags.Get("log-format"), format);
      !s.ok()) {
    std::fprintf(stderr, "signalscaler serve: --log-format: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  ConfigureLogging(level, format);

  // Signals are taken by sigwait() on this thread only: block them before any
  // other thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string dir = flags.Get("policies");
  absl::Duration reload_period;
  absl::Duration drain;
  if (!GetSeconds(flags, "policy-reload-seconds", 0.1, reload_period) ||
      !GetSeconds(flags, "drain-seconds", 0, drain)) {
    return 2;
  }
  absl::StatusOr<NamespaceSet> namespaces =
      ParseNamespaces(flags.Get("namespaces"));
  if (!namespaces.ok()) {
    std::fprintf(stderr, "signalscaler serve: --namespaces: %s\n",
                 std::string(namespaces.status().message()).c_str());
    return 2;
  }
  SourceAccess source_access;
  source_access.credentials_root = flags.Get("credentials-root");
  if (source_access.credentials_root.empty() ||
      source_access.credentials_root[0] != '/' ||
      source_access.credentials_root.find_first_not_of('/') ==
          std::string::npos) {
    // `/` itself would make /etc/<file> the files of a namespace `etc`.
    std::fprintf(stderr,
                 "signalscaler serve: --credentials-root must be an absolute "
                 "path of a dedicated directory (not /), got \"%s\"\n",
                 absl::CHexEscape(source_access.credentials_root).c_str());
    return 2;
  }
  if (absl::StatusOr<AllowedSourceHosts> hosts =
          AllowedSourceHosts::Parse(flags.Get("allowed-source-hosts"));
      hosts.ok()) {
    source_access.allowed_hosts = *std::move(hosts);
  } else {
    std::fprintf(stderr, "signalscaler serve: --allowed-source-hosts: %s\n",
                 std::string(hosts.status().message()).c_str());
    return 2;
  }
  // The scaler's own secrets never under the root, where a policy could
  // name them (and have them sent to a server of its choice).
  for (const char* own : {"tls-key", "state-redis-password-file"}) {
    const std::string file = flags.Get(own);
    std::string root = source_access.credentials_root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (!file.empty() && absl::StartsWith(file, root + "/")) {
      std::fprintf(stderr,
                   "signalscaler serve: --%s must not be under "
                   "--credentials-root (%s), where a policy could name it\n",
                   own, root.c_str());
      return 2;
    }
  }
  ServerTls tls;
  ServerLimits server_limits;
  PolicyLimits policy_limits;
  if (!GetEdgeFlags(flags, tls, server_limits, policy_limits)) return 2;
  AccessOptions access_options;
  access_options.file = flags.Get("authz-file");
  access_options.allow_any = flags.GetBool("admin-allow-any");
  access_options.client_certificates = !tls.client_ca_file.empty();
  if (!GetSeconds(flags, "authz-refresh-seconds", 0.1,
                  access_options.refresh)) {
    return 2;
  }
  absl::StatusOr<std::unique_ptr<AccessControl>> access =
      AccessControl::Create(access_options);
  if (!access.ok()) {
    std::fprintf(stderr, "signalscaler serve: %s\n",
                 std::string(access.status().message()).c_str());
    return 2;
  }
  switch ((*access)->mode()) {
    case AccessMode::kLoopbackOnly:
      LogWarn(
          "no --authz-file: admin calls (push, explain, policies) are "
          "accepted from loopback peers only; give an authz file to admit "
          "other clients, or --admin-allow-any to admit every peer");
      break;
    case AccessMode::kAllowAny:
      LogWarn(
          "--admin-allow-any: every peer that reaches the admin port may "
          "push to, and read, every namespace's policies");
      break;
    case AccessMode::kFile:
      if (!tls.enabled()) {
        LogWarn(
            "--authz-file without --tls-cert: bearer tokens travel in "
            "plaintext");
      }
      break;
  }
  EvaluatorOptions evaluator_options;
  int64_t state_timeout_ms = 0;
  if (!GetSeconds(flags, "lease-seconds", 1, evaluator_options.lease_period) ||
      !GetSeconds(flags, "state-ttl-seconds", 60,
                  evaluator_options.record_ttl) ||
      !GetCount(flags, "state-timeout-ms", 1, 60'000, state_timeout_ms)) {
    return 2;
  }
  evaluator_options.store_timeout = absl::Milliseconds(state_timeout_ms);
  if (const std::string h = flags.Get("no-history"); h == "decide") {
    evaluator_options.wait_without_history = false;
  } else if (h != "wait") {
    std::fprintf(stderr,
                 "signalscaler serve: --no-history must be wait or decide, "
                 "got \"%s\"\n",
                 absl::CHexEscape(h).c_str());
    return 2;
  }
  evaluator_options.replica_id = flags.Get("replica-id");
  if (evaluator_options.replica_id.empty()) {
    evaluator_options.replica_id = DefaultReplicaId();
  }
  if (!dir.empty()) {
    if (absl::Status s = ListPolicyFiles(dir).status(); !s.ok()) {
      LogError("cannot serve", {{"error", std::string(s.message())}});
      FlushLogs();
      return 1;
    }
  }

  SystemClock clock;
  std::unique_ptr<StateStore> state_store;
  if (const std::string store = flags.Get("state-store"); store != "memory") {
    RedisStateStoreOptions redis;
    if (!ParseRedisUrl(store, redis)) return 2;
    redis.password_file = flags.Get("state-redis-password-file");
    redis.key_prefix = flags.Get("state-key-prefix");
    absl::StatusOr<std::unique_ptr<StateStore>> made =
        MakeRedisStateStore(redis, clock);
    if (!made.ok()) {
      std::fprintf(stderr, "signalscaler serve: --state-store: %s\n",
                   std::string(made.status().message()).c_str());
      return 2;
    }
    state_store = *std::move(made);
  } else {
    state_store = MakeMemoryStateStore(clock);
  }
  evaluator_options.store = state_store.get();
  PolicyRegistry registry;
  DecisionBoard board;
  PushStore push;
  Sampler sampler(
      [&clock, &source_access](const v1::Source& source) {
        return MakeSource(source, clock, source_access);
      },
      clock, SamplerOptions());
  SourceObserver observer(push, &sampler);
  Evaluator evaluator(registry, observer, board, clock, evaluator_options);
  // The sampled queries follow the policies in force.
  registry.AddListener([&sampler](const PolicySnapshot& snap) {
    sampler.Update(snap.policies());
  });
  // A source notification (a first item on an empty queue) re-evaluates the
  // policies using it at once, so an open StreamIsActive learns without
  // waiting for a tick.
  sampler.SetOnNotified([&evaluator](const std::vector<PolicyKey>& keys) {
    for (const PolicyKey& key : keys) evaluator.EvaluateNow(key).IgnoreError();
  });
  std::unique_ptr<PolicyReloader> reloader;
  if (dir.empty()) {
    LoadResult embedded =
        ParsePolicies(EmbeddedPolicies(), kEmbeddedPoliciesName);
    for (const PolicyError& e : embedded.errors) {
      LogError("embedded policy rejected", {{"error", e.ToString()}});
    }
    registry.Set(
        std::make_shared<PolicySnapshot>(std::move(embedded.policies)));
  } else {
    reloader = std::make_unique<PolicyReloader>(dir, registry, *namespaces,
                                                policy_limits, source_access);
    reloader->Reload();
  }
  LogInfo("policies loaded",
          {{"source", dir.empty() ? kEmbeddedPoliciesName : dir},
           {"policies", absl::StrCat(registry.Get()->policies().size())}});

  ServerDeps deps;
  deps.registry = &registry;
  deps.board = &board;
  deps.push = &push;
  deps.evaluator = &evaluator;
  deps.clock = &clock;
  deps.reloader = reloader.get();
  deps.policies_source = dir.empty() ? kEmbeddedPoliciesName : dir;
  deps.namespaces = &*namespaces;
  deps.limits = server_limits;
  deps.tls = tls;
  deps.access = access->get();
  ScalerServer server(deps);
  if (absl::Status s =
          server.Start(flags.Get("listen"), flags.Get("admin-listen"));
      !s.ok()) {
    LogError("cannot start", {{"error", std::string(s.message())}});
    FlushLogs();
    return 1;
  }
  // Health follows the policies: SERVING once at least one is in force.
  registry.AddListener(
      [&server](const PolicySnapshot&) { server.RefreshHealth(); });
  sampler.Start();
  if (const std::string m = flags.Get("metrics-listen"); !m.empty()) {
    // /livez and /readyz say what gRPC health says; once serving, the
    // process exits without returning, so `server` outlives the checks.
    Metrics::Get().SetHealthChecks([&server] { return server.Liveness(); },
                                   [&server] { return server.Readiness(); });
    // Degraded (the state store out of reach) is still ready: every call
    // is answered. /readyz says so.
    Metrics::Get().SetReadyDetail([&evaluator]() -> std::string {
      const StateStatus st = evaluator.Status();
      if (!st.degraded) return "";
      return absl::StrCat("degraded: state store ", st.kind,
                          " unreachable, evaluating locally: ", st.why);
    });
    if (absl::Status s = Metrics::Get().Serve(m); !s.ok()) {
      LogError("cannot start", {{"error", std::string(s.message())}});
      FlushLogs();
      return 1;
    }
  }
  evaluator.Start();
  if (reloader != nullptr) {
    reloader->Start(reload_period);
  }
  (*access)->Start();
  LogInfo("serving", {{"listen", flags.Get("listen")},
                      {"metrics_port", absl::StrCat(Metrics::Get().port())},
                      {"port", absl::StrCat(server.port())},
                      {"admin_listen", flags.Get("admin-listen").empty()
                                           ? flags.Get("listen")
                                           : flags.Get("admin-listen")},
                      {"admin_port", absl::StrCat(server.admin_port())},
                      {"state_store", std::string(state_store->kind())},
                      {"replica", evaluator_options.replica_id}});

  std::unique_ptr<std::thread> stopper;
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      if (reloader != nullptr) {
        LogInfo("SIGHUP: reloading policies");
        reloader->Reload();
      }
      (*access)->Reload().IgnoreError();  // logged there
      continue;
    }
    if (stopper != nullptr) {
      LogWarn("second termination signal: exiting at once");
      FlushLogs();
      std::_Exit(0);
    }
    LogInfo("termination signal: draining",
            {{"signal", absl::StrCat(sig)},
             {"drain", absl::FormatDuration(drain)}});
    stopper = std::make_unique<std::thread>([&, drain] {
      // Readiness first, so Kubernetes takes the pod out of the Service
      // while every call is still answered; then streams end with OK.
      server.StartDrain();
      absl::SleepFor(drain);
      server.Shutdown(kShutdownGrace);
      if (reloader != nullptr) reloader->Stop();
      (*access)->Stop();
      evaluator.Stop();
      sampler.Stop();
      LogInfo("stopped");
      FlushLogs();
      std::fflush(nullptr);
      std::_Exit(0);
    });
  }
}

}  // namespace signalscaler
