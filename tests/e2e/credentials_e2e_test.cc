// Issue 14 item 3, through the real binary: a policy's credentials files
// (bearerTokenFile, caFile, passwordFile) are relative to
// --credentials-root/<namespace>/, and an absolute path, a `..` or a symlink
// leaving that directory is refused (by `check` and by `serve`, naming the
// field; a symlink swapped after the load is refused when the source opens
// the file); --allowed-source-hosts limits where sources connect; the
// sources' errors echo at most a short, sanitised part of an answer; and no
// secret reaches a log, an error, a metric or explain.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/redis_test_server.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler::testing {
namespace {

constexpr char kRedisPassword[] = "redis-pass-8d3f0c";
constexpr char kBearerToken[] = "bearer-tok-77a1e9";
constexpr char kOutsideSecret[] = "outside-secret-5150";

constexpr char kRelativeMessage[] =
    "must be a path relative to the namespace's credentials directory";
constexpr char kEscapeMessage[] =
    "resolves outside the namespace's credentials directory";

// A credentials root with the namespace's directory, and a file outside it
// (the scaler's own secret, say) holding kOutsideSecret.
struct Credentials {
  std::string root;
  std::string ns_dir;
  std::string outside;

  Credentials() {
    const std::string base = MakeTempDir();
    root = base + "/credentials";
    ns_dir = absl::StrCat(root, "/", kNamespace);
    outside = base + "/scaler-own-secret";
    EXPECT_EQ(::mkdir(root.c_str(), 0700), 0);
    EXPECT_EQ(::mkdir(ns_dir.c_str(), 0700), 0);
    WriteFile(outside, kOutsideSecret);
  }
  void Write(const std::string& name, const std::string& text) const {
    WriteFile(ns_dir + "/" + name, text);
  }
  // ns_dir/name -> target, replaced atomically (as kubelet swaps `..data`).
  void Link(const std::string& name, const std::string& target) const {
    const std::string tmp = ns_dir + "/." + name + ".tmp";
    ::unlink(tmp.c_str());
    EXPECT_EQ(::symlink(target.c_str(), tmp.c_str()), 0);
    EXPECT_EQ(::rename(tmp.c_str(), (ns_dir + "/" + name).c_str()), 0);
  }
};

std::string Pushed() { return TotalPolicy("pushed", "push: {}", 1); }

// A Prometheus that answers `value` only to the right bearer token (401
// otherwise), and remembers every request's head.
class TokenPrometheus {
 public:
  TokenPrometheus()
      : server_([this](const std::string& head) { return Answer(head); }) {}
  std::string address() const { return server_.Url(""); }
  std::vector<std::string> Requests() const { return server_.Requests(); }

 private:
  TestResponse Answer(const std::string& head) {
    TestResponse r;
    if (!absl::StrContains(
            head, absl::StrCat("Authorization: Bearer ", kBearerToken))) {
      r.status = 401;
      r.body = "unauthorized";
      return r;
    }
    r.body = absl::StrFormat(
        R"({"status":"success","data":{"resultType":"vector","result":[)"
        R"({"metric":{},"value":[%.3f,"7"]}]}})",
        absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
    return r;
  }
  TestHttpServer server_;
};

std::string PrometheusYaml(const std::string& address,
                           const std::string& extra) {
  return absl::StrCat("prometheus: {address: \"", address, "\", query: up",
                      extra.empty() ? "" : ", ", extra, "}");
}

::testing::AssertionResult LogHas(const ServedScaler& s,
                                  const std::vector<std::string>& needles) {
  std::string log;
  const bool found = PollUntil(
      [&] {
        log = s.Log();
        for (const std::string& n : needles) {
          if (!absl::StrContains(log, n)) return false;
        }
        return true;
      },
      absl::Seconds(15));
  if (found) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the log lacks one of the needles:\n"
                                       << log;
}

TEST(CredentialsE2eTest,
     AbsoluteDotDotAndEscapingPathsAreRefusedNamingTheField) {
  Credentials creds;
  ASSERT_EQ(
      ::symlink(creds.outside.c_str(), (creds.ns_dir + "/escape").c_str()), 0);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"absolute",
       TotalPolicy("absolute",
                   "redis: {address: \"127.0.0.1:6379\", list: jobs, "
                   "passwordFile: /var/run/secrets/state-password}",
                   1)},
      {"dotdot",
       TotalPolicy("dotdot",
                   PrometheusYaml("http://127.0.0.1:1",
                                  "bearerTokenFile: ../other-ns/token"),
                   1)},
      {"ca", TotalPolicy("ca",
                         PrometheusYaml("https://127.0.0.1:1",
                                        "caFile: /etc/ssl/private/key.pem"),
                         1)},
      {"escape",
       TotalPolicy(
           "escape",
           PrometheusYaml("http://127.0.0.1:1", "bearerTokenFile: escape"), 1)},
  };
  const std::string files = MakeTempDir();
  for (const auto& [name, text] : bad) {
    WriteFile(absl::StrCat(files, "/", name, ".yaml"), text);
  }

  // check: the static checks without a root, all of them with one.
  const RunResult bare =
      RunCommand({SignalscalerBinary(), "check", "--quiet", files});
  EXPECT_EQ(bare.exit_code, 1) << bare.output;
  EXPECT_TRUE(absl::StrContains(
      bare.output, absl::StrCat("spec.signals[0].source.redis.passwordFile: ",
                                kRelativeMessage)))
      << bare.output;
  EXPECT_TRUE(absl::StrContains(
      bare.output,
      absl::StrCat("spec.signals[0].source.prometheus.bearerTokenFile: ",
                   kRelativeMessage,
                   " (<--credentials-root>/e2e/), without "
                   "`..`, got \"../other-ns/token\"")))
      << bare.output;
  EXPECT_TRUE(absl::StrContains(
      bare.output, absl::StrCat("spec.signals[0].source.prometheus.caFile: ",
                                kRelativeMessage)))
      << bare.output;
  EXPECT_FALSE(absl::StrContains(bare.output, kEscapeMessage)) << bare.output;

  const RunResult rooted =
      RunCommand({SignalscalerBinary(), "check",
                  "--credentials-root=" + creds.root, files});
  EXPECT_EQ(rooted.exit_code, 1) << rooted.output;
  EXPECT_TRUE(absl::StrContains(
      rooted.output,
      absl::StrCat("policy e2e/escape: "
                   "spec.signals[0].source.prometheus.bearerTokenFile: "
                   "\"escape\" ",
                   kEscapeMessage, " (", creds.ns_dir, "/)")))
      << rooted.output;
  EXPECT_TRUE(absl::StrContains(rooted.output, "4 errors (0 policies OK"))
      << rooted.output;

  // serve: each file rejected with its field; the good one serves.
  auto scaler =
      ServedScaler::Start(Pushed(), {"--credentials-root=" + creds.root});
  ASSERT_NE(scaler, nullptr);
  for (const auto& [name, text] : bad) {
    WriteFile(absl::StrCat(scaler->dir(), "/", name, ".yaml"), text);
  }
  EXPECT_TRUE(LogHas(
      *scaler,
      {absl::StrCat("spec.signals[0].source.redis.passwordFile: ",
                    kRelativeMessage),
       absl::StrCat("spec.signals[0].source.prometheus.bearerTokenFile: ",
                    kRelativeMessage),
       absl::StrCat("spec.signals[0].source.prometheus.caFile: ",
                    kRelativeMessage),
       absl::StrCat("spec.signals[0].source.prometheus.bearerTokenFile: "
                    "\\\"escape\\\" ",
                    kEscapeMessage)}));
  for (const char* policy : {"absolute", "dotdot", "ca", "escape"}) {
    EXPECT_FALSE(scaler->keda().Explain(kNamespace, policy).ok()) << policy;
  }
  EXPECT_TRUE(scaler->keda().Explain(kNamespace, "pushed").ok());
  EXPECT_FALSE(absl::StrContains(scaler->Log(), kOutsideSecret));
}

TEST(CredentialsE2eTest, RelativeFilesWorkOnlyAllowedHostsAndNoSecretLeaks) {
  Credentials creds;
  creds.Write("redis-password", absl::StrCat(kRedisPassword, "\n"));
  creds.Write("token", kBearerToken);
  auto redis = TestRedisServer::Start({"--requirepass", kRedisPassword});
  ASSERT_TRUE(redis.ok()) << redis.status();
  TestRedisClient client((*redis)->port(), kRedisPassword);
  client.Run({"RPUSH", "jobs", "a", "b", "c"});
  TokenPrometheus prom;
  // A server whose error page is long, has control characters, and ends
  // with something explain must not show.
  TestHttpServer noisy([](const std::string&) {
    TestResponse r;
    r.status = 500;
    r.content_type = "text/plain";
    r.body =
        absl::StrCat(std::string(300, 'A'), "\x1b[31m\r\n", "tail-marker-QQ");
    return r;
  });

  const std::string policies = absl::StrCat(
      Pushed(),
      TotalPolicy("queue",
                  absl::StrCat("redis: {address: \"", (*redis)->address(),
                               "\", list: jobs, passwordFile: redis-password}"),
                  1),
      TotalPolicy("prom",
                  PrometheusYaml(prom.address(), "bearerTokenFile: token"), 1),
      TotalPolicy("noisy", PrometheusYaml(noisy.Url(""), ""), 1));
  auto scaler = ServedScaler::Start(
      policies, {"--credentials-root=" + creds.root,
                 "--allowed-source-hosts=.example.org, 127.0.0.1/32"});
  ASSERT_NE(scaler, nullptr);
  EXPECT_TRUE(scaler->WaitForValue("queue", 3)) << scaler->Log();
  EXPECT_TRUE(scaler->WaitForValue("prom", 7)) << scaler->Log();
  EXPECT_TRUE(scaler->WaitForError("noisy", {"HTTP 500"})) << scaler->Log();

  // The error shows at most 128 bytes of the body, escaped.
  absl::StatusOr<admin::v1::SignalExplanation> noisy_signal =
      scaler->Signal("noisy");
  ASSERT_TRUE(noisy_signal.ok()) << noisy_signal.status();
  const std::string& message = noisy_signal->message();
  EXPECT_FALSE(absl::StrContains(message, "tail-marker-QQ")) << message;
  EXPECT_FALSE(absl::StrContains(message, std::string(129, 'A'))) << message;
  EXPECT_TRUE(absl::StrContains(message, std::string(100, 'A'))) << message;
  EXPECT_FALSE(absl::StrContains(message, "\x1b")) << message;

  // Hosts not allowed: an address outside 127.0.0.1/32, and a name (never
  // resolved to be matched against the CIDR).
  WriteFile(scaler->dir() + "/elsewhere.yaml",
            TotalPolicy("elsewhere",
                        PrometheusYaml("http://10.255.0.1:9090", ""), 1));
  WriteFile(scaler->dir() + "/named.yaml",
            TotalPolicy("named",
                        "redis: {address: \"localhost:6379\", list: jobs}", 1));
  WriteFile(
      scaler->dir() + "/suffix.yaml",
      TotalPolicy("suffix",
                  PrometheusYaml("http://prometheus.example.org:9090", ""), 1));
  EXPECT_TRUE(LogHas(
      *scaler,
      {"spec.signals[0].source.prometheus.address: host \\\"10.255.0.1\\\" is "
       "not allowed by --allowed-source-hosts",
       "spec.signals[0].source.redis.address: host \\\"localhost\\\" is not "
       "allowed by --allowed-source-hosts"}));
  EXPECT_FALSE(scaler->keda().Explain(kNamespace, "elsewhere").ok());
  EXPECT_FALSE(scaler->keda().Explain(kNamespace, "named").ok());
  // A name under an allowed suffix is loaded (its source fails to resolve).
  EXPECT_TRUE(PollUntil(
      [&] { return scaler->keda().Explain(kNamespace, "suffix").ok(); },
      absl::Seconds(15)))
      << scaler->Log();
  EXPECT_TRUE(scaler->WaitForValue("queue", 3));

  // No secret anywhere a client or an operator looks.
  std::string seen = scaler->Log();
  for (const char* policy : {"queue", "prom", "noisy", "pushed", "suffix"}) {
    absl::StatusOr<admin::v1::PolicyDecision> d =
        scaler->keda().Explain(kNamespace, policy);
    ASSERT_TRUE(d.ok()) << policy << ": " << d.status();
    seen += d->DebugString();
  }
  const RawHttpAnswer metrics = HttpGet(scaler->metrics_port(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(absl::StrContains(metrics.body, "signalscaler_")) << metrics.body;
  seen += metrics.body;
  for (const char* secret : {kRedisPassword, kBearerToken, kOutsideSecret}) {
    EXPECT_FALSE(absl::StrContains(seen, secret)) << secret;
  }
}

TEST(CredentialsE2eTest, ASymlinkSwappedOutsideAfterTheLoadIsRefusedAtOpen) {
  Credentials creds;
  creds.Write("token-v1", kBearerToken);
  creds.Link("token", "token-v1");
  TokenPrometheus prom;
  auto scaler = ServedScaler::Start(
      absl::StrCat(
          Pushed(),
          TotalPolicy("prom",
                      PrometheusYaml(prom.address(), "bearerTokenFile: token"),
                      1)),
      {"--credentials-root=" + creds.root, "--policy-reload-seconds=1"});
  ASSERT_NE(scaler, nullptr);
  ASSERT_TRUE(scaler->WaitForValue("prom", 7)) << scaler->Log();

  // The tenant (or a bad Secret) points the name at the scaler's secret.
  creds.Link("token", creds.outside);
  EXPECT_TRUE(scaler->WaitForError("prom", {"bearer token file", "outside"}))
      << scaler->Log();
  // The periodic reload refuses the (unchanged) file too; the policy in
  // force keeps serving, its source refusing the file at every open.
  EXPECT_TRUE(LogHas(*scaler, {absl::StrCat("bearerTokenFile: \\\"token\\\" ",
                                            kEscapeMessage)}));
  EXPECT_TRUE(scaler->keda().Explain(kNamespace, "prom").ok());
  for (const std::string& request : prom.Requests()) {
    EXPECT_FALSE(absl::StrContains(request, kOutsideSecret)) << request;
  }
  EXPECT_FALSE(absl::StrContains(scaler->Log(), kOutsideSecret));

  // Pointed back inside, it works again.
  creds.Link("token", "token-v1");
  EXPECT_TRUE(scaler->WaitForValue("prom", 7)) << scaler->Log();
}

// A file refused at the start for a symlink out is served once the symlink
// points inside, though the file itself never changed.
TEST(CredentialsE2eTest, AFileRefusedForASymlinkIsServedOnceItIsFixed) {
  Credentials creds;
  creds.Write("token-v1", kBearerToken);
  creds.Link("token", creds.outside);
  TokenPrometheus prom;
  auto scaler = ServedScaler::Start(
      absl::StrCat(
          Pushed(),
          TotalPolicy("prom",
                      PrometheusYaml(prom.address(), "bearerTokenFile: token"),
                      1)),
      {"--credentials-root=" + creds.root, "--policy-reload-seconds=0.5"});
  ASSERT_NE(scaler, nullptr);
  EXPECT_TRUE(LogHas(*scaler, {absl::StrCat("bearerTokenFile: \\\"token\\\" ",
                                            kEscapeMessage)}));
  EXPECT_FALSE(scaler->keda().Explain(kNamespace, "prom").ok());
  EXPECT_TRUE(prom.Requests().empty());

  creds.Link("token", "token-v1");
  EXPECT_TRUE(scaler->WaitForValue("prom", 7)) << scaler->Log();
  for (const std::string& request : prom.Requests()) {
    EXPECT_FALSE(absl::StrContains(request, kOutsideSecret)) << request;
  }
}

TEST(CredentialsE2eTest, UnusableFlagsAreUsageErrors) {
  for (const std::vector<std::string>& flags :
       std::vector<std::vector<std::string>>{
           {"--credentials-root=relative/dir"},
           {"--credentials-root="},
           // `/` would make /etc/<file> the files of a namespace `etc`.
           {"--credentials-root=/"},
           {"--credentials-root=//"},
           {"--allowed-source-hosts=10.0.0.0/40"},
           {"--allowed-source-hosts=not a host"},
           // The scaler's own secrets never where a policy could name them.
           {"--state-redis-password-file=/etc/signalscaler/credentials/ns/pw",
            "--state-store=redis://127.0.0.1:1"},
           {"--tls-key=/etc/signalscaler/credentials/ns/key.pem",
            "--tls-cert=/etc/signalscaler/credentials/ns/cert.pem"}}) {
    std::vector<std::string> argv = {SignalscalerBinary(), "serve",
                                     "--listen=127.0.0.1:0",
                                     "--metrics-listen="};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const RunResult r = RunCommand(argv, absl::Seconds(10));
    EXPECT_EQ(r.exit_code, 2) << flags[0] << ": " << r.output;
    const std::string flag = flags[0].substr(0, flags[0].find('='));
    EXPECT_TRUE(absl::StrContains(r.output, flag + ": ") ||
                absl::StrContains(r.output, flag + " must"))
        << r.output;
    if (absl::StrContains(flags[0], "/etc/signalscaler/credentials/")) {
      EXPECT_TRUE(absl::StrContains(
          r.output, flag + " must not be under --credentials-root"))
          << r.output;
    }
  }
}

}  // namespace
}  // namespace signalscaler::testing
