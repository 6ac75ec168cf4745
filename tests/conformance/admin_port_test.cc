// The admin API on a port of its own (serve --admin-listen) and its audit
// trail, through the real binary: Push, Explain and Policies answer on the
// admin port and are UNIMPLEMENTED on --listen, while ExternalScaler and
// health answer on --listen only; without --admin-listen everything stays on
// --listen; TLS and mTLS apply to both ports with the same certificate (the
// verified client certificate names the client); SIGTERM drains and stops
// both. Every accepted push and every denied admin call is logged (JSON)
// with its client and code, rate-limited per client, and counted in
// signalscaler_admin_requests_total{client,verb,code}; --max-pushes-per-second
// answers RESOURCE_EXHAUSTED beyond it; no key or token reaches the logs or
// the metrics.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "proto/admin.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"
#include "tests/testing/observe.h"
#include "tests/testing/pki.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kNamespace[] = "demo";
constexpr char kPolicy[] = "parlant-agent";
constexpr char kSignal[] = "active_requests";

std::shared_ptr<grpc::Channel> Channel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> creds =
        grpc::InsecureChannelCredentials()) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, creds, args);
}

void Deadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
}

admin::v1::PushRequest PushOf(double value,
                              const std::string& policy = kPolicy) {
  admin::v1::PushRequest req;
  req.set_namespace_(kNamespace);
  req.set_policy(policy);
  req.set_signal(kSignal);
  req.set_value(value);
  return req;
}

grpc::Status Push(admin::v1::Admin::Stub& stub,
                  const admin::v1::PushRequest& req,
                  const std::string& bearer = "") {
  grpc::ClientContext ctx;
  Deadline(ctx);
  if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
  admin::v1::PushResponse resp;
  return stub.Push(&ctx, req, &resp);
}

grpc::Status Explain(admin::v1::Admin::Stub& stub, const std::string& policy) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  admin::v1::ExplainRequest req;
  req.set_namespace_(kNamespace);
  req.set_policy(policy);
  admin::v1::ExplainResponse resp;
  return stub.Explain(&ctx, req, &resp);
}

grpc::Status Policies(admin::v1::Admin::Stub& stub) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  admin::v1::PoliciesResponse resp;
  grpc::Status s = stub.Policies(&ctx, admin::v1::PoliciesRequest(), &resp);
  if (s.ok() && resp.files_size() == 0) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "no policy file listed");
  }
  return s;
}

externalscaler::ScaledObjectRef Ref() {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("agent");
  ref.set_namespace_(kNamespace);
  (*ref.mutable_scalermetadata())["policy"] = kPolicy;
  return ref;
}

grpc::Status GetMetrics(externalscaler::ExternalScaler::Stub& stub) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  externalscaler::GetMetricsRequest req;
  *req.mutable_scaledobjectref() = Ref();
  req.set_metricname("signalscaler-demo-parlant-agent");
  externalscaler::GetMetricsResponse resp;
  return stub.GetMetrics(&ctx, req, &resp);
}

grpc::Status IsActive(externalscaler::ExternalScaler::Stub& stub) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  externalscaler::IsActiveResponse resp;
  return stub.IsActive(&ctx, Ref(), &resp);
}

grpc::Status Health(const std::shared_ptr<grpc::Channel>& channel,
                    bool* serving) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("readiness");
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  Deadline(ctx);
  grpc::Status s = stub->Check(&ctx, req, &resp);
  *serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  return s;
}

// A loopback port free right now.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

class AdminPortTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_.process != nullptr) {
      server_.process->Signal(SIGTERM);
      server_.process->Wait(absl::Seconds(20));
    }
  }
  // With --no-history=decide, so that KEDA's calls are answered at once
  // (the default waits a scale-down window after a start).
  void Start(std::vector<std::string> flags) {
    flags.insert(flags.begin(), "--no-history=decide");
    server_ = StartServe(flags);
    ASSERT_NE(server_.port, 0)
        << (server_.process != nullptr
                ? server_.process->Output()
                : "cannot start " + SignalscalerBinary());
    ASSERT_NE(server_.admin_port, 0) << server_.process->Output();
    ASSERT_NE(server_.metrics_port, 0) << server_.process->Output();
  }

  ScalerProcess server_;
};

TEST_F(AdminPortTest, AdminApiOnTheAdminPortOnlyAndKedaOnListenOnly) {
  Start({"--admin-listen=127.0.0.1:0"});
  ASSERT_NE(server_.admin_port, server_.port);
  auto keda_channel = Channel(server_.address());
  auto admin_channel = Channel(server_.admin_address());
  auto admin_on_admin = admin::v1::Admin::NewStub(admin_channel);
  auto admin_on_keda = admin::v1::Admin::NewStub(keda_channel);
  auto keda_on_keda = externalscaler::ExternalScaler::NewStub(keda_channel);
  auto keda_on_admin = externalscaler::ExternalScaler::NewStub(admin_channel);

  // The admin port: Push, Explain, Policies.
  grpc::Status pushed = Push(*admin_on_admin, PushOf(30));
  EXPECT_TRUE(pushed.ok()) << pushed.error_message();
  EXPECT_TRUE(Explain(*admin_on_admin, kPolicy).ok());
  EXPECT_TRUE(Policies(*admin_on_admin).ok());
  // ... none of which --listen serves any more.
  EXPECT_EQ(Push(*admin_on_keda, PushOf(30)).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Explain(*admin_on_keda, kPolicy).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Policies(*admin_on_keda).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);

  // --listen: KEDA's calls and health, which the admin port does not serve.
  grpc::Status metrics = GetMetrics(*keda_on_keda);
  EXPECT_TRUE(metrics.ok()) << metrics.error_message();
  EXPECT_TRUE(IsActive(*keda_on_keda).ok());
  EXPECT_EQ(GetMetrics(*keda_on_admin).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(IsActive(*keda_on_admin).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  bool serving = false;
  EXPECT_TRUE(Health(keda_channel, &serving).ok());
  EXPECT_TRUE(serving);
  EXPECT_EQ(Health(admin_channel, &serving).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);

  // The CLI's push and explain take --address as before: the admin port.
  RunResult push = RunCommand({SignalscalerBinary(), "push",
                               "--address=" + server_.admin_address(),
                               "--namespace=demo", "--policy=parlant-agent",
                               "--signal=active_requests", "--value=12"});
  EXPECT_EQ(push.exit_code, 0) << push.output;
  RunResult explain = RunCommand(
      {SignalscalerBinary(), "explain", "--address=" + server_.admin_address(),
       "--namespace=demo", "--policy=parlant-agent"});
  EXPECT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_THAT(explain.output, HasSubstr("policy demo/parlant-agent"));
  RunResult refused = RunCommand({SignalscalerBinary(), "push",
                                  "--address=" + server_.address(),
                                  "--namespace=demo", "--policy=parlant-agent",
                                  "--signal=active_requests", "--value=12"});
  EXPECT_NE(refused.exit_code, 0) << refused.output;

  // The "serving" line names both.
  std::vector<json> serving_lines = LogLines(server_, "serving");
  ASSERT_EQ(serving_lines.size(), 1u) << server_.process->Output();
  EXPECT_EQ(serving_lines[0].value("port", ""), absl::StrCat(server_.port));
  EXPECT_EQ(serving_lines[0].value("admin_port", ""),
            absl::StrCat(server_.admin_port));
  EXPECT_EQ(serving_lines[0].value("admin_listen", ""), "127.0.0.1:0");
}

TEST_F(AdminPortTest, WithoutAdminListenEverythingStaysOnListen) {
  Start({});
  EXPECT_EQ(server_.admin_port, server_.port);
  auto channel = Channel(server_.address());
  auto admin = admin::v1::Admin::NewStub(channel);
  auto keda = externalscaler::ExternalScaler::NewStub(channel);
  EXPECT_TRUE(Push(*admin, PushOf(5)).ok());
  EXPECT_TRUE(Explain(*admin, kPolicy).ok());
  EXPECT_TRUE(Policies(*admin).ok());
  // KEDA's call on the same port. The push's evaluation may come before the
  // first lease upkeep made this replica the holder (a loaded ASan run
  // showed it): then there is no decision yet, UNAVAILABLE, for a moment.
  grpc::Status metrics = GetMetrics(*keda);
  for (int i = 0;
       i < 50 && metrics.error_code() == grpc::StatusCode::UNAVAILABLE; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    metrics = GetMetrics(*keda);
  }
  EXPECT_TRUE(metrics.ok()) << metrics.error_message();
  bool serving = false;
  EXPECT_TRUE(Health(channel, &serving).ok());
  EXPECT_TRUE(serving);
}

TEST_F(AdminPortTest, AnAdminPortInUseStopsStartup) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  // --listen's own port: the two never share one (gRPC would otherwise
  // balance connections between them with SO_REUSEPORT).
  RunResult same = RunCommand(
      {SignalscalerBinary(), "serve", absl::StrCat("--listen=127.0.0.1:", port),
       absl::StrCat("--admin-listen=127.0.0.1:", port), "--metrics-listen="});
  EXPECT_EQ(same.exit_code, 1) << same.output;
  EXPECT_THAT(same.output, HasSubstr("--admin-listen"));
  RunResult bad =
      RunCommand({SignalscalerBinary(), "serve", "--listen=127.0.0.1:0",
                  "--admin-listen=not an address", "--metrics-listen="});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--admin-listen"));
}

TEST_F(AdminPortTest, SigtermDrainsAndStopsBothPorts) {
  Start({"--admin-listen=127.0.0.1:0", "--drain-seconds=2"});
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  ASSERT_TRUE(Push(*admin, PushOf(1)).ok());
  server_.process->Signal(SIGTERM);
  ASSERT_TRUE(
      server_.process->WaitForOutput("draining", absl::Seconds(5)).has_value());
  // Draining: readiness off on --listen, calls still answered on both.
  auto keda_channel = Channel(server_.address());
  bool serving = true;
  EXPECT_TRUE(Health(keda_channel, &serving).ok());
  EXPECT_FALSE(serving);
  EXPECT_TRUE(Push(*admin, PushOf(2)).ok());
  auto keda = externalscaler::ExternalScaler::NewStub(keda_channel);
  EXPECT_TRUE(GetMetrics(*keda).ok());
  std::optional<int> code = server_.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.has_value()) << "still running after the drain";
  EXPECT_EQ(*code, 0) << server_.process->Output();
  // Both ports closed.
  const int admin_fd = ConnectLoopback(server_.admin_port);
  const int keda_fd = ConnectLoopback(server_.port);
  EXPECT_EQ(admin_fd, -1);
  EXPECT_EQ(keda_fd, -1);
  if (admin_fd >= 0) ::close(admin_fd);
  if (keda_fd >= 0) ::close(keda_fd);
  server_.process.reset();
}

TEST_F(AdminPortTest, AcceptedPushesAndDeniedCallsAreAuditedAndCounted) {
  Start({"--admin-listen=127.0.0.1:0"});
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  ASSERT_TRUE(Push(*admin, PushOf(17.5)).ok());
  EXPECT_EQ(Push(*admin, PushOf(1, "no-such-policy")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  admin::v1::PushRequest unnamed = PushOf(1);
  unnamed.clear_signal();
  EXPECT_EQ(Push(*admin, unnamed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Explain(*admin, "no-such-policy").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Explain(*admin, kPolicy).ok());
  EXPECT_TRUE(Policies(*admin).ok());

  std::vector<json> accepted = LogLines(server_, "admin push accepted");
  ASSERT_EQ(accepted.size(), 1u) << server_.process->Output();
  EXPECT_EQ(accepted[0].value("level", ""), "info");
  EXPECT_EQ(accepted[0].value("client", ""), "anonymous");
  EXPECT_EQ(accepted[0].value("namespace", ""), kNamespace);
  EXPECT_EQ(accepted[0].value("policy", ""), kPolicy);
  EXPECT_EQ(accepted[0].value("signal", ""), kSignal);
  EXPECT_EQ(accepted[0].value("value", ""), "17.5");

  std::vector<json> denied = LogLines(server_, "admin call denied");
  ASSERT_EQ(denied.size(), 3u) << server_.process->Output();
  EXPECT_EQ(denied[0].value("verb", ""), "push");
  EXPECT_EQ(denied[0].value("code", ""), "NOT_FOUND");
  EXPECT_EQ(denied[0].value("policy", ""), "no-such-policy");
  EXPECT_EQ(denied[0].value("client", ""), "anonymous");
  EXPECT_EQ(denied[1].value("verb", ""), "push");
  EXPECT_EQ(denied[1].value("code", ""), "INVALID_ARGUMENT");
  EXPECT_EQ(denied[2].value("verb", ""), "explain");
  EXPECT_EQ(denied[2].value("code", ""), "NOT_FOUND");

  const std::string m = MetricsText(server_);
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "OK", "push")), 1) << m;
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "NOT_FOUND", "push")), 1);
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "INVALID_ARGUMENT", "push")), 1);
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "NOT_FOUND", "explain")), 1);
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "OK", "explain")), 1);
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "OK", "policies")), 1);
}

TEST_F(AdminPortTest, AuditLinesAreRateLimitedPerClient) {
  Start({"--admin-listen=127.0.0.1:0"});
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  constexpr int kBurst = 100;
  const absl::Time start = absl::Now();
  absl::Duration first_21;
  for (int i = 0; i < kBurst; ++i) {
    ASSERT_TRUE(Push(*admin, PushOf(i)).ok());
    if (i == 20) first_21 = absl::Now() - start;
  }
  const absl::Duration burst = absl::Now() - start;
  // A push after the second is over logs how many lines were left out.
  absl::SleepFor(absl::Milliseconds(1100));
  ASSERT_TRUE(Push(*admin, PushOf(kBurst)).ok());

  const size_t logged = LogLines(server_, "admin push accepted").size();
  int left_out = 0;
  for (const json& j : LogLines(server_, "admin audit lines left out")) {
    EXPECT_EQ(j.value("client", ""), "anonymous");
    int n = 0;
    EXPECT_TRUE(absl::SimpleAtoi(j.value("left_out", ""), &n)) << j.dump();
    left_out += n;
  }
  // Every push is either a line or counted in a "left out" line.
  EXPECT_EQ(static_cast<int>(logged) + left_out, kBurst + 1)
      << server_.process->Output();
  // At most 20 lines a second.
  EXPECT_LE(logged,
            20 * (static_cast<size_t>(absl::ToDoubleSeconds(burst)) + 2));
  if (first_21 < absl::Seconds(1)) {
    EXPECT_GT(left_out, 0) << "21 pushes within a second, all logged";
  }
  // The metric counts them all, logged or not.
  EXPECT_EQ(
      Series(MetricsText(server_), AdminSeries("anonymous", "OK", "push")),
      kBurst + 1);
}

TEST_F(AdminPortTest, MaxPushesPerSecondAnswersResourceExhausted) {
  Start({"--admin-listen=127.0.0.1:0", "--max-pushes-per-second=5"});
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  int ok = 0;
  int exhausted = 0;
  std::string message;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = Push(*admin, PushOf(i));
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << s.error_message();
      ++exhausted;
      message = s.error_message();
    }
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  // A bucket of 5, refilled at 5 a second.
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 5 + static_cast<int>(5 * elapsed) + 1);
  EXPECT_GT(exhausted, 0);
  EXPECT_THAT(message, HasSubstr("--max-pushes-per-second"));
  EXPECT_THAT(message, HasSubstr("at most 5 pushes per second"));
  // A second later the client may push again.
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(Push(*admin, PushOf(1)).ok());

  const std::string m = MetricsText(server_);
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "RESOURCE_EXHAUSTED", "push")),
            exhausted)
      << m;
  EXPECT_EQ(Series(m, AdminSeries("anonymous", "OK", "push")), ok + 1);
  int denied_lines = 0;
  for (const json& j : LogLines(server_, "admin call denied")) {
    if (j.value("code", "") == "RESOURCE_EXHAUSTED") ++denied_lines;
  }
  EXPECT_EQ(denied_lines, exhausted);
  // A usage error below 1.
  RunResult zero =
      RunCommand({SignalscalerBinary(), "serve", "--listen=127.0.0.1:0",
                  "--metrics-listen=", "--max-pushes-per-second=0"});
  EXPECT_EQ(zero.exit_code, 2) << zero.output;
  EXPECT_THAT(zero.output, HasSubstr("--max-pushes-per-second"));
}

std::string ReadAll(const std::string& path) { return Pki::Pem(path); }

// CA `ca` signs the server and the client `pusher`; CA `other` signs
// `intruder`.
class AdminPki : public Pki {
 public:
  AdminPki() {
    NewCa("ca");
    NewCa("other");
    NewCert("server", "ca", kServerExt);
    NewCert("pusher", "ca", kClientExt);
    NewCert("intruder", "other", kClientExt);
  }
};

TEST_F(AdminPortTest, MutualTlsOnBothPortsNamesTheClientAndLeaksNoSecret) {
  AdminPki pki;
  ASSERT_EQ(pki.errors(), "");
  Start({"--admin-listen=127.0.0.1:0", "--tls-cert=" + pki.Crt("server"),
         "--tls-key=" + pki.Key("server"), "--tls-client-ca=" + pki.Crt("ca"),
         "--tls-refresh-seconds=1"});
  // A bearer token a client sends along: never echoed anywhere.
  const std::string token = "tok-7f3a9c1e5b2d4068a1f0e9d8c7b6a5f4";

  auto admin = admin::v1::Admin::NewStub(
      Channel(server_.admin_address(), pki.Creds("ca", "pusher")));
  grpc::Status pushed = Push(*admin, PushOf(9), token);
  EXPECT_TRUE(pushed.ok()) << pushed.error_message();
  EXPECT_EQ(Push(*admin, PushOf(9, "no-such-policy"), token).error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto keda = externalscaler::ExternalScaler::NewStub(
      Channel(server_.address(), pki.Creds("ca", "pusher")));
  grpc::Status metrics = GetMetrics(*keda);
  EXPECT_TRUE(metrics.ok()) << metrics.error_message();

  // The same TLS on both: plaintext, no client certificate, or another CA's
  // get nothing on either port.
  for (const std::string& address :
       {server_.admin_address(), server_.address()}) {
    auto plain = admin::v1::Admin::NewStub(
        Channel(address, grpc::InsecureChannelCredentials()));
    EXPECT_EQ(Push(*plain, PushOf(1)).error_code(),
              grpc::StatusCode::UNAVAILABLE)
        << address;
    auto anonymous =
        admin::v1::Admin::NewStub(Channel(address, pki.Creds("ca", "")));
    EXPECT_FALSE(Push(*anonymous, PushOf(1)).ok()) << address;
    auto intruder = admin::v1::Admin::NewStub(
        Channel(address, pki.Creds("ca", "intruder")));
    EXPECT_FALSE(Push(*intruder, PushOf(1)).ok()) << address;
  }
  // The CLI's --tls-* flags on the admin port.
  RunResult explain = RunCommand(
      {SignalscalerBinary(), "explain", "--address=" + server_.admin_address(),
       "--tls-ca=" + pki.Crt("ca"), "--tls-cert=" + pki.Crt("pusher"),
       "--tls-key=" + pki.Key("pusher"), "--namespace=demo",
       "--policy=parlant-agent"});
  EXPECT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_THAT(explain.output, HasSubstr("policy demo/parlant-agent"));

  // The verified certificate names the client, in the audit and the metric.
  std::vector<json> accepted = LogLines(server_, "admin push accepted");
  ASSERT_EQ(accepted.size(), 1u) << server_.process->Output();
  EXPECT_EQ(accepted[0].value("client", ""), "pusher");
  std::vector<json> denied = LogLines(server_, "admin call denied");
  ASSERT_EQ(denied.size(), 1u) << server_.process->Output();
  EXPECT_EQ(denied[0].value("client", ""), "pusher");
  EXPECT_EQ(denied[0].value("code", ""), "NOT_FOUND");
  const std::string m = MetricsText(server_);
  EXPECT_EQ(Series(m, AdminSeries("pusher", "OK", "push")), 1) << m;
  EXPECT_EQ(Series(m, AdminSeries("pusher", "NOT_FOUND", "push")), 1) << m;
  EXPECT_EQ(Series(m, AdminSeries("pusher", "OK", "explain")), 1) << m;

  // No secret in the log, the metrics or explain: neither the token nor any
  // private key's content.
  const std::string log = server_.process->Output();
  for (const std::string* text :
       std::vector<const std::string*>{&log, &m, &explain.output}) {
    EXPECT_THAT(*text, Not(HasSubstr(token)));
    EXPECT_THAT(*text, Not(HasSubstr("PRIVATE KEY")));
    for (const char* key : {"server", "pusher", "ca"}) {
      const std::string pem = ReadAll(pki.Key(key));
      ASSERT_GT(pem.size(), 100u);
      // A slice of the base64 body, past the BEGIN line.
      EXPECT_THAT(*text, Not(HasSubstr(pem.substr(40, 40)))) << key;
    }
  }
}

}  // namespace
}  // namespace signalscaler::testing
