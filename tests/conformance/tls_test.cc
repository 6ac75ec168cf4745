// TLS and mTLS on the gRPC port, through the real binary, with certificates
// made by the openssl CLI: server TLS answers a client that trusts the CA
// (KEDA's ExternalScaler, health, the admin client) and refuses plaintext and
// TLS 1.1; mTLS refuses a client without a certificate, with one from another
// CA or an expired one, and serves KEDA's; rotating the certificate files
// takes effect without a restart; bad files stop startup naming the file.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"
#include "tests/testing/pki.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Certificates: CA `ca` signs server-1, server-2 and the client `keda`; CA
// `other` signs `intruder`; `expired` (signed by `ca`) expired yesterday.
class TlsPki : public Pki {
 public:
  TlsPki() {
    NewCa("ca");
    NewCa("other");
    NewCert("server-1", "ca", kServerExt);
    NewCert("server-2", "ca", kServerExt);
    NewCert("keda", "ca", kClientExt);
    NewCert("intruder", "other", kClientExt);
    NewCert("expired", "ca", kClientExt, -1);
  }
};

externalscaler::ScaledObjectRef Ref() {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("agent");
  ref.set_namespace_("demo");
  (*ref.mutable_scalermetadata())["policy"] = "parlant-agent";
  return ref;
}

// A channel of its own (no connection shared with other channels).
std::shared_ptr<grpc::Channel> Channel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> creds) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, creds, args);
}

std::shared_ptr<grpc::ChannelCredentials> TlsCreds(const Pki& pki,
                                                   const std::string& ca,
                                                   const std::string& client) {
  return pki.Creds(ca, client);
}

struct Answer {
  grpc::Status status;
  std::string server_cn;  // the server certificate's CN, when TLS
};

// One GetMetricSpec on a new connection.
Answer GetMetricSpec(const std::string& address,
                     std::shared_ptr<grpc::ChannelCredentials> creds) {
  auto stub = externalscaler::ExternalScaler::NewStub(Channel(address, creds));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  externalscaler::GetMetricSpecResponse resp;
  Answer a;
  a.status = stub->GetMetricSpec(&ctx, Ref(), &resp);
  if (a.status.ok() && resp.metricspecs_size() != 1) {
    a.status = grpc::Status(grpc::StatusCode::INTERNAL, "no metric spec");
  }
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth != nullptr) {
    for (const grpc::string_ref& v :
         auth->FindPropertyValues("x509_common_name")) {
      a.server_cn.assign(v.data(), v.size());
    }
  }
  return a;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(pki_.errors(), ""); }
  void TearDown() override {
    if (server_.process != nullptr) {
      server_.process->Signal(SIGTERM);
      server_.process->Wait(absl::Seconds(20));
    }
  }
  void Start(const std::vector<std::string>& flags) {
    server_ = StartServe(flags);
    ASSERT_NE(server_.port, 0)
        << (server_.process != nullptr
                ? server_.process->Output()
                : "cannot start " + SignalscalerBinary());
  }
  std::vector<std::string> ServerFlags(const std::string& cert) const {
    return {"--tls-cert=" + pki_.Crt(cert), "--tls-key=" + pki_.Key(cert),
            "--tls-refresh-seconds=1"};
  }

  TlsPki pki_;
  ScalerProcess server_;
};

TEST_F(TlsTest, ServerTlsAnswersClientsTrustingTheCaOnly) {
  Start(ServerFlags("server-1"));
  const std::string address = server_.address();

  Answer a = GetMetricSpec(address, TlsCreds(pki_, "ca", ""));
  EXPECT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_EQ(a.server_cn, "server-1");

  // Health (for Kubernetes' probes through a TLS-aware prober) over TLS.
  auto health = grpc::health::v1::Health::NewStub(
      Channel(address, TlsCreds(pki_, "ca", "")));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("readiness");
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // Plaintext, and TLS trusting another CA, get nothing.
  EXPECT_EQ(GetMetricSpec(address, grpc::InsecureChannelCredentials())
                .status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(
      GetMetricSpec(address, TlsCreds(pki_, "other", "")).status.error_code(),
      grpc::StatusCode::UNAVAILABLE);

  // The admin client's --tls-ca.
  RunResult explain =
      RunCommand({SignalscalerBinary(), "explain", "--address=" + address,
                  "--tls-ca=" + pki_.Crt("ca"), "--policy=parlant-agent",
                  "--namespace=demo"});
  EXPECT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_THAT(explain.output, HasSubstr("policy demo/parlant-agent"));
}

TEST_F(TlsTest, Tls12IsTheMinimum) {
  Start(ServerFlags("server-1"));
  const std::string connect = absl::StrCat("127.0.0.1:", server_.port);
  RunResult tls12 =
      RunCommand({OpensslPath(), "s_client", "-connect", connect, "-tls1_2",
                  "-CAfile", pki_.Crt("ca"), "-alpn", "h2"});
  EXPECT_EQ(tls12.exit_code, 0) << tls12.output;
  EXPECT_THAT(tls12.output, HasSubstr("TLSv1.2"));
  // SECLEVEL=0 so that the client itself would offer TLS 1.1.
  RunResult tls11 =
      RunCommand({OpensslPath(), "s_client", "-connect", connect, "-tls1_1",
                  "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", pki_.Crt("ca")});
  EXPECT_NE(tls11.exit_code, 0) << tls11.output;
}

TEST_F(TlsTest, MutualTlsServesOnlyClientsTheCaSigned) {
  std::vector<std::string> flags = ServerFlags("server-1");
  flags.push_back("--tls-client-ca=" + pki_.Crt("ca"));
  Start(flags);
  const std::string address = server_.address();

  // KEDA with the TriggerAuthentication's caCert, tlsClientCert, tlsClientKey.
  Answer keda = GetMetricSpec(address, TlsCreds(pki_, "ca", "keda"));
  EXPECT_TRUE(keda.status.ok()) << keda.status.error_message();

  EXPECT_FALSE(GetMetricSpec(address, TlsCreds(pki_, "ca", "")).status.ok())
      << "no client certificate";
  EXPECT_FALSE(
      GetMetricSpec(address, TlsCreds(pki_, "ca", "intruder")).status.ok())
      << "a client certificate from another CA";
  EXPECT_FALSE(
      GetMetricSpec(address, TlsCreds(pki_, "ca", "expired")).status.ok())
      << "an expired client certificate";
  EXPECT_FALSE(
      GetMetricSpec(address, grpc::InsecureChannelCredentials()).status.ok());

  // The admin client's --tls-cert and --tls-key.
  const std::vector<std::string> explain = {SignalscalerBinary(), "explain",
                                            "--address=" + address,
                                            "--tls-ca=" + pki_.Crt("ca")};
  RunResult without = RunCommand(explain);
  EXPECT_EQ(without.exit_code, 1) << without.output;
  std::vector<std::string> with = explain;
  with.push_back("--tls-cert=" + pki_.Crt("keda"));
  with.push_back("--tls-key=" + pki_.Key("keda"));
  RunResult served = RunCommand(with);
  EXPECT_EQ(served.exit_code, 0) << served.output;
  EXPECT_THAT(served.output, HasSubstr("policy demo/parlant-agent"));
}

TEST_F(TlsTest, RotatedCertificateFilesTakeEffectWithoutRestart) {
  // The files cert-manager rotates, outside the PKI's own.
  const std::string dir = MakeTempDir();
  fs::copy_file(pki_.Crt("server-1"), dir + "/tls.crt");
  fs::copy_file(pki_.Key("server-1"), dir + "/tls.key");
  Start({"--tls-cert=" + dir + "/tls.crt", "--tls-key=" + dir + "/tls.key",
         "--tls-client-ca=" + pki_.Crt("ca"), "--tls-refresh-seconds=1"});
  const std::string address = server_.address();
  Answer before = GetMetricSpec(address, TlsCreds(pki_, "ca", "keda"));
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  ASSERT_EQ(before.server_cn, "server-1");

  // Each file replaced atomically, as a rename.
  fs::copy_file(pki_.Key("server-2"), dir + "/tls.key.new");
  fs::copy_file(pki_.Crt("server-2"), dir + "/tls.crt.new");
  fs::rename(dir + "/tls.key.new", dir + "/tls.key");
  fs::rename(dir + "/tls.crt.new", dir + "/tls.crt");
  const absl::Time rotated = absl::Now();
  Answer after;
  while (absl::Now() - rotated < absl::Seconds(15)) {
    after = GetMetricSpec(address, TlsCreds(pki_, "ca", "keda"));
    if (after.server_cn == "server-2") break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.server_cn, "server-2");
  // A few refresh intervals at most (slack for sanitizer builds).
  EXPECT_LT(absl::Now() - rotated, absl::Seconds(8));
  EXPECT_FALSE(server_.process->Wait(absl::ZeroDuration()).has_value())
      << "the server exited";
}

TEST_F(TlsTest, BadFilesStopStartupNamingTheFile) {
  const std::string missing = pki_.dir() + "/missing.crt";
  const std::string not_pem = pki_.dir() + "/server-1.csr.txt";
  WriteFile(not_pem, "not a certificate\n");
  struct Case {
    std::vector<std::string> flags;
    std::string named;  // the file the error names
  };
  const std::vector<Case> cases = {
      {{"--tls-cert=" + missing, "--tls-key=" + pki_.Key("server-1")}, missing},
      {{"--tls-cert=" + not_pem, "--tls-key=" + pki_.Key("server-1")}, not_pem},
      {{"--tls-cert=" + pki_.Crt("server-1"), "--tls-key=" + not_pem}, not_pem},
      // A key that is not the certificate's.
      {{"--tls-cert=" + pki_.Crt("server-1"),
        "--tls-key=" + pki_.Key("server-2")},
       pki_.Key("server-2")},
      {{"--tls-cert=" + pki_.Crt("server-1"),
        "--tls-key=" + pki_.Key("server-1"), "--tls-client-ca=" + missing},
       missing},
  };
  const std::string key_pem = pki_.Pem(pki_.Key("server-2"));
  for (const Case& c : cases) {
    std::vector<std::string> argv = {SignalscalerBinary(), "serve",
                                     "--listen=127.0.0.1:0",
                                     "--metrics-listen="};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    RunResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 1) << c.named << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(c.named));
    // Never a key's content.
    EXPECT_THAT(r.output, Not(HasSubstr("PRIVATE KEY")));
    EXPECT_THAT(r.output, Not(HasSubstr(key_pem.substr(30, 40))));
  }
  // A key without its certificate is a usage error.
  RunResult r = RunCommand(
      {SignalscalerBinary(), "serve", "--tls-key=" + pki_.Key("server-1")});
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace signalscaler::testing
