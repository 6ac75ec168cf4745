// Authorization (serve --authz-file) through the real binary, with real
// tokens and certificates made by the openssl CLI:
// - tokens: accepted, wrong, absent, another namespace (the same answer
//   whether the policy exists or not), a verb the client lacks; the CLI's
//   --token-file;
// - certificates: the right one, another CA's, the right CA with an identity
//   no client has; URI SAN, DNS SAN and CN matching; token clients without a
//   certificate on an mTLS admin port of its own;
// - KEDA's calls under `keda` clients: the namespace's certificate only;
// - Explain and Policies list only the caller's namespaces;
// - without a file: loopback peers only, with a warning; --admin-allow-any;
// - a hot reload of the file, a broken edit keeping the last good one, and a
//   broken file stopping startup naming the field;
// - the audit lines and the metric, and no token in any log line, error,
//   metric or explain output.
#include <signal.h>

#include <cstdio>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/admin.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"
#include "scaler/server/authz.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/observe.h"
#include "tests/testing/pki.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// The tests' secrets: no output may ever contain them.
constexpr char kTokenA[] = "tA-4f1c9e2b7d3a5068c1b0e9f8d7c6b5a4";
constexpr char kTokenB[] = "tB-8e2d1c0b9a8f7e6d5c4b3a29180f7e6d";
constexpr char kWrongToken[] = "tX-0000111122223333444455556666777";

constexpr char kKedaBUri[] = "spiffe://cluster.local/ns/team-b/sa/keda";
constexpr char kKedaADns[] = "keda.team-a.svc";

std::string TeamPolicy(const std::string& ns) {
  return absl::StrCat(
      "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
      "metadata: {name: agent, namespace: ",
      ns,
      "}\n"
      "spec:\n  minReplicas: 1\n  maxReplicas: 10\n  signals:\n"
      "  - name: active_requests\n    type: Total\n    source: {push: {}}\n"
      "    targetPerReplica: 10\n");
}

std::string TokenClient(const std::string& name, const std::string& token,
                        const std::string& namespaces,
                        const std::string& verbs) {
  return absl::StrCat(
      "- name: ", name, "\n  tokenSha256: ", HexOf(Sha256Of(token)),
      "\n  namespaces: ", namespaces, "\n  verbs: ", verbs, "\n");
}

constexpr char kHeader[] =
    "apiVersion: signalscaler.io/v1\nkind: AdminAccess\nclients:\n";

std::string TokenClients() {
  return kHeader +
         TokenClient("team-a-pusher", kTokenA, "[team-a]", "[push, explain]") +
         TokenClient("team-b-reader", kTokenB, "[team-b]", "[explain]");
}

std::string CertificateClients() {
  return absl::StrCat("- name: team-b-keda\n  certificate: {uriSAN: \"",
                      kKedaBUri,
                      "\"}\n  namespaces: [team-b]\n  verbs: [keda]\n"
                      "- name: team-a-keda\n  certificate: {dnsSAN: ",
                      kKedaADns,
                      "}\n  namespaces: [team-a]\n  verbs: [keda]\n"
                      "- name: ops\n  certificate: {commonName: ops}\n"
                      "  namespaces: [\"*\"]\n  verbs: [explain]\n");
}

std::shared_ptr<grpc::Channel> Channel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> creds =
        grpc::InsecureChannelCredentials()) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, creds, args);
}

void Prepare(grpc::ClientContext& ctx, const std::string& token) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
}

grpc::Status Push(admin::v1::Admin::Stub& stub, const std::string& ns,
                  const std::string& policy, const std::string& token,
                  double value = 25) {
  grpc::ClientContext ctx;
  Prepare(ctx, token);
  admin::v1::PushRequest req;
  req.set_namespace_(ns);
  req.set_policy(policy);
  req.set_signal("active_requests");
  req.set_value(value);
  admin::v1::PushResponse resp;
  return stub.Push(&ctx, req, &resp);
}

struct Listed {
  grpc::Status status;
  std::vector<std::string> names;  // "ns/policy" of explain, paths of files
  std::string text;                // the whole answer, for secret greps
};

Listed Explain(admin::v1::Admin::Stub& stub, const std::string& ns,
               const std::string& token) {
  grpc::ClientContext ctx;
  Prepare(ctx, token);
  admin::v1::ExplainRequest req;
  req.set_namespace_(ns);
  admin::v1::ExplainResponse resp;
  Listed out;
  out.status = stub.Explain(&ctx, req, &resp);
  for (const auto& d : resp.decisions()) {
    out.names.push_back(d.namespace_() + "/" + d.policy());
  }
  out.text = resp.DebugString() + out.status.error_message();
  return out;
}

Listed Policies(admin::v1::Admin::Stub& stub, const std::string& token) {
  grpc::ClientContext ctx;
  Prepare(ctx, token);
  admin::v1::PoliciesResponse resp;
  Listed out;
  out.status = stub.Policies(&ctx, admin::v1::PoliciesRequest(), &resp);
  for (const auto& f : resp.files()) {
    for (const std::string& p : f.policies()) out.names.push_back(p);
  }
  out.text = resp.DebugString() + out.status.error_message();
  return out;
}

externalscaler::ScaledObjectRef Ref(const std::string& ns) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("agent");
  ref.set_namespace_(ns);
  (*ref.mutable_scalermetadata())["policy"] = "agent";
  return ref;
}

grpc::Status GetMetricSpec(externalscaler::ExternalScaler::Stub& stub,
                           const std::string& ns) {
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  externalscaler::GetMetricSpecResponse resp;
  return stub.GetMetricSpec(&ctx, Ref(ns), &resp);
}

grpc::Status GetMetrics(externalscaler::ExternalScaler::Stub& stub,
                        const std::string& ns) {
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  externalscaler::GetMetricsRequest req;
  *req.mutable_scaledobjectref() = Ref(ns);
  externalscaler::GetMetricsResponse resp;
  return stub.GetMetrics(&ctx, req, &resp);
}

// The final status of a StreamIsActive that is refused at once (or the
// first message's arrival as OK).
grpc::Status StreamIsActive(externalscaler::ExternalScaler::Stub& stub,
                            const std::string& ns) {
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> r =
      stub.StreamIsActive(&ctx, Ref(ns));
  externalscaler::IsActiveResponse msg;
  if (r->Read(&msg)) {
    ctx.TryCancel();
    return grpc::Status::OK;
  }
  return r->Finish();
}

class AuthzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    policies_ = dir_ + "/policies";
    ASSERT_EQ(RunCommand({"/bin/mkdir", "-p", policies_}).exit_code, 0);
    WriteFile(policies_ + "/team-a.yaml", TeamPolicy("team-a"));
    WriteFile(policies_ + "/team-b.yaml", TeamPolicy("team-b"));
    authz_ = dir_ + "/authz.yaml";
    token_a_file_ = dir_ + "/token-a";
    WriteFile(token_a_file_, std::string(kTokenA) + "\n");
  }
  void TearDown() override {
    if (server_.process != nullptr) {
      server_.process->Signal(SIGTERM);
      server_.process->Wait(absl::Seconds(20));
      // Whatever else the test checked: no token ever in the log.
      const std::string log = server_.process->Output();
      for (const char* secret : {kTokenA, kTokenB, kWrongToken}) {
        EXPECT_THAT(log, Not(HasSubstr(secret)));
      }
      EXPECT_THAT(log, Not(HasSubstr("PRIVATE KEY")));
    }
  }
  // Every client (tokens and certificates), mTLS on both ports, the admin
  // API on a port of its own.
  void StartWithMtls(const Pki& pki) {
    WriteFile(authz_, TokenClients() + CertificateClients());
    Start({"--authz-file=" + authz_, "--admin-listen=127.0.0.1:0",
           "--tls-cert=" + pki.Crt("server"), "--tls-key=" + pki.Key("server"),
           "--tls-client-ca=" + pki.Crt("ca")});
  }
  void Start(std::vector<std::string> flags) {
    flags.insert(flags.begin(),
                 {"--no-history=decide", "--policies=" + policies_,
                  "--authz-refresh-seconds=0.2"});
    server_ = StartServe(flags);
    ASSERT_NE(server_.port, 0)
        << (server_.process != nullptr
                ? server_.process->Output()
                : "cannot start " + SignalscalerBinary());
  }
  // Every secret of the test, absent from `text`.
  static void ExpectNoSecret(const std::string& text) {
    for (const char* secret : {kTokenA, kTokenB, kWrongToken}) {
      EXPECT_THAT(text, Not(HasSubstr(secret)));
    }
  }

  std::string dir_;
  std::string policies_;
  std::string authz_;
  std::string token_a_file_;
  ScalerProcess server_;
};

TEST_F(AuthzTest, TokensActOnTheirNamespacesAndVerbsOnly) {
  WriteFile(authz_, TokenClients());
  Start({"--authz-file=" + authz_});
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  std::vector<std::string> errors;  // every error message, for the grep

  EXPECT_TRUE(Push(*admin, "team-a", "agent", kTokenA).ok());
  grpc::Status wrong = Push(*admin, "team-a", "agent", kWrongToken);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status absent = Push(*admin, "team-a", "agent", "");
  EXPECT_EQ(absent.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(absent.error_message(), HasSubstr("--token-file"));

  // Another namespace: the same answer whether the policy, or the
  // namespace, exists or not.
  grpc::Status other = Push(*admin, "team-b", "agent", kTokenA);
  grpc::Status other_missing = Push(*admin, "team-b", "no-such", kTokenA);
  grpc::Status nowhere = Push(*admin, "team-z", "agent", kTokenA);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(other.error_message(),
            "client \"team-a-pusher\" may not push in namespace \"team-b\"");
  EXPECT_EQ(other_missing.error_code(), other.error_code());
  EXPECT_EQ(other_missing.error_message(), other.error_message());
  EXPECT_EQ(nowhere.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A verb the client lacks.
  grpc::Status reader = Push(*admin, "team-b", "agent", kTokenB);
  EXPECT_EQ(reader.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(reader.error_message(),
            "client \"team-b-reader\" may not push in namespace \"team-b\"");
  for (const grpc::Status* s :
       {&wrong, &absent, &other, &other_missing, &nowhere, &reader}) {
    errors.push_back(s->error_message());
  }

  // Explain and Policies: only the caller's namespaces.
  Listed a = Explain(*admin, "", kTokenA);
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_THAT(a.names, ElementsAre("team-a/agent"));
  Listed b = Explain(*admin, "", kTokenB);
  ASSERT_TRUE(b.status.ok());
  EXPECT_THAT(b.names, ElementsAre("team-b/agent"));
  Listed a_on_b = Explain(*admin, "team-b", kTokenA);
  EXPECT_EQ(a_on_b.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Listed files_a = Policies(*admin, kTokenA);
  ASSERT_TRUE(files_a.status.ok());
  EXPECT_THAT(files_a.names, ElementsAre("team-a/agent"));
  EXPECT_THAT(files_a.text, HasSubstr("team-a.yaml"));
  EXPECT_THAT(files_a.text, Not(HasSubstr("team-b")));
  Listed files_b = Policies(*admin, kTokenB);
  EXPECT_THAT(files_b.names, ElementsAre("team-b/agent"));
  EXPECT_EQ(Policies(*admin, kWrongToken).status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // The CLI with --token-file.
  RunResult push = RunCommand(
      {SignalscalerBinary(), "push", "--address=" + server_.admin_address(),
       "--token-file=" + token_a_file_, "--namespace=team-a", "--policy=agent",
       "--signal=active_requests", "--value=35"});
  EXPECT_EQ(push.exit_code, 0) << push.output;
  RunResult explain = RunCommand({SignalscalerBinary(), "explain",
                                  "--address=" + server_.admin_address(),
                                  "--token-file=" + token_a_file_});
  EXPECT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_THAT(explain.output, HasSubstr("policy team-a/agent"));
  EXPECT_THAT(explain.output, Not(HasSubstr("team-b")));
  RunResult denied = RunCommand(
      {SignalscalerBinary(), "push", "--address=" + server_.admin_address(),
       "--token-file=" + token_a_file_, "--namespace=team-b", "--policy=agent",
       "--signal=active_requests", "--value=35"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.output, HasSubstr("PERMISSION_DENIED"));
  RunResult no_token = RunCommand(
      {SignalscalerBinary(), "push", "--address=" + server_.admin_address(),
       "--token-file=" + dir_ + "/missing", "--namespace=team-a",
       "--policy=agent", "--signal=active_requests", "--value=1"});
  EXPECT_EQ(no_token.exit_code, 2);
  EXPECT_THAT(no_token.output, HasSubstr("--token-file " + dir_ + "/missing"));

  // Without keda clients, KEDA's calls are not checked.
  auto keda =
      externalscaler::ExternalScaler::NewStub(Channel(server_.address()));
  EXPECT_TRUE(GetMetricSpec(*keda, "team-b").ok());

  // The audit: accepted pushes by client, denials with their code.
  int accepted = 0;
  for (const json& j : LogLines(server_, "admin push accepted")) {
    EXPECT_EQ(j.value("client", ""), "team-a-pusher");
    EXPECT_EQ(j.value("namespace", ""), "team-a");
    ++accepted;
  }
  EXPECT_EQ(accepted, 2);
  int unauthenticated = 0;
  int permission = 0;
  for (const json& j : LogLines(server_, "admin call denied")) {
    if (j.value("code", "") == "UNAUTHENTICATED") {
      EXPECT_EQ(j.value("client", ""), kUnauthenticatedClient);
      ++unauthenticated;
    }
    if (j.value("code", "") == "PERMISSION_DENIED") ++permission;
  }
  EXPECT_EQ(unauthenticated, 3);  // wrong, absent, Policies with wrong
  EXPECT_EQ(permission, 6);       // 4 pushes, 1 explain, the CLI's push
  const std::string m = MetricsText(server_);
  EXPECT_EQ(Series(m, AdminSeries("team-a-pusher", "OK", "push")), 2) << m;
  EXPECT_EQ(
      Series(m, AdminSeries("team-a-pusher", "PERMISSION_DENIED", "push")), 4)
      << m;
  EXPECT_EQ(
      Series(m, AdminSeries("team-b-reader", "PERMISSION_DENIED", "push")), 1);
  EXPECT_EQ(
      Series(m, AdminSeries("unauthenticated", "UNAUTHENTICATED", "push")), 2);
  EXPECT_EQ(Series(m, AdminSeries("team-a-pusher", "OK", "explain")), 2);

  // No secret in any error, explain or Policies answer, CLI output or the
  // metrics (the log is checked in TearDown).
  for (const std::string& e : errors) ExpectNoSecret(e);
  for (const std::string* text : std::vector<const std::string*>{
           &a.text, &b.text, &a_on_b.text, &files_a.text, &files_b.text, &m,
           &push.output, &explain.output, &denied.output, &no_token.output}) {
    ExpectNoSecret(*text);
  }
}

TEST_F(AuthzTest, AFileOfUnknownNamespacesIsShownOnlyToReadersOfAll) {
  // A file with a team-a document and one that names no policy (its
  // namespace is team-b's): a rejected file keeps none of its documents, and
  // whose the nameless one is nobody can tell. A team-a reader does not see
  // the file at all; a reader of every namespace sees its errors.
  WriteFile(policies_ + "/mixed.yaml",
            absl::StrReplaceAll(TeamPolicy("team-a"),
                                {{"name: agent", "name: second"}}) +
                "---\napiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
                "metadata: {namespace: team-b}\nspec: {maxReplicas: 1}\n");
  WriteFile(authz_, TokenClients() + TokenClient("root", kWrongToken, "[\"*\"]",
                                                 "[explain]"));
  Start({"--authz-file=" + authz_});
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  const Listed a = Policies(*admin, kTokenA);
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_THAT(a.text, HasSubstr("team-a.yaml"));
  EXPECT_THAT(a.text, Not(HasSubstr("mixed.yaml")));
  const Listed root = Policies(*admin, kWrongToken);
  ASSERT_TRUE(root.status.ok()) << root.status.error_message();
  EXPECT_THAT(root.text, HasSubstr("mixed.yaml"));
  EXPECT_THAT(root.text, HasSubstr("metadata.name"));

  // The file made good: team-a/second serves from it. Broken again the same
  // way, it keeps serving team-a/second, so a team-a reader sees the file,
  // and only how many errors it has.
  WriteFile(policies_ + "/mixed.yaml",
            absl::StrReplaceAll(TeamPolicy("team-a"),
                                {{"name: agent", "name: second"}}));
  ASSERT_TRUE(PollUntil(
      [&] {
        return absl::StrContains(Policies(*admin, kTokenA).text,
                                 "team-a/second");
      },
      absl::Seconds(15)));
  WriteFile(policies_ + "/mixed.yaml",
            absl::StrReplaceAll(TeamPolicy("team-a"),
                                {{"name: agent", "name: second"}}) +
                "---\napiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
                "metadata: {namespace: team-b}\nspec: {maxReplicas: 1}\n");
  ASSERT_TRUE(PollUntil(
      [&] {
        return absl::StrContains(Policies(*admin, kTokenA).text, "withheld");
      },
      absl::Seconds(15)))
      << Policies(*admin, kTokenA).text;
  const Listed again = Policies(*admin, kTokenA);
  EXPECT_THAT(again.text, HasSubstr("mixed.yaml"));
  EXPECT_THAT(again.text, Not(HasSubstr("metadata.name")));
}

// CA `ca` signs the server and the clients; CA `other` signs an `ops` of
// its own.
class AuthzPki : public Pki {
 public:
  AuthzPki() {
    NewCa("ca");
    NewCa("other");
    NewCert("server", "ca", kServerExt);
    NewCert("keda-b", "ca",
            absl::StrCat("subjectAltName=URI:", kKedaBUri, "\n", kClientExt));
    NewCert("keda-a", "ca",
            absl::StrCat("subjectAltName=DNS:", kKedaADns, "\n", kClientExt));
    NewCert("ops", "ca", kClientExt);
    NewCert("nobody", "ca", kClientExt);
    NewCert("ops-elsewhere", "other", kClientExt);
  }
};

TEST_F(AuthzTest, CertificatesAndKedaCallsPerNamespace) {
  AuthzPki pki;
  ASSERT_EQ(pki.errors(), "");
  StartWithMtls(pki);
  const std::string admin_address = server_.admin_address();
  const std::string keda_address = server_.address();

  // The admin port: a CN client reads every namespace.
  auto ops =
      admin::v1::Admin::NewStub(Channel(admin_address, pki.Creds("ca", "ops")));
  Listed all = Explain(*ops, "", "");
  ASSERT_TRUE(all.status.ok()) << all.status.error_message();
  EXPECT_THAT(all.names, UnorderedElementsAre("team-a/agent", "team-b/agent"));
  EXPECT_EQ(Push(*ops, "team-a", "agent", "").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A token client presents no certificate on the admin port of its own.
  auto token_only =
      admin::v1::Admin::NewStub(Channel(admin_address, pki.Creds("ca", "")));
  EXPECT_TRUE(Push(*token_only, "team-a", "agent", kTokenA).ok());
  EXPECT_EQ(Push(*token_only, "team-a", "agent", "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // The right CA with an identity no client has.
  auto nobody = admin::v1::Admin::NewStub(
      Channel(admin_address, pki.Creds("ca", "nobody")));
  grpc::Status unknown = Explain(*nobody, "", "").status;
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(unknown.error_message(), HasSubstr("certificate"));
  // Another CA's certificate, with the right CN: the handshake fails.
  auto elsewhere = admin::v1::Admin::NewStub(
      Channel(admin_address, pki.Creds("ca", "ops-elsewhere")));
  EXPECT_EQ(Explain(*elsewhere, "", "").status.error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // The KEDA port: each namespace's certificate for its own namespace only.
  auto keda_b = externalscaler::ExternalScaler::NewStub(
      Channel(keda_address, pki.Creds("ca", "keda-b")));
  auto keda_a = externalscaler::ExternalScaler::NewStub(
      Channel(keda_address, pki.Creds("ca", "keda-a")));
  auto keda_ops = externalscaler::ExternalScaler::NewStub(
      Channel(keda_address, pki.Creds("ca", "ops")));
  EXPECT_TRUE(GetMetricSpec(*keda_b, "team-b").ok());
  grpc::Status b_on_a = GetMetricSpec(*keda_b, "team-a");
  EXPECT_EQ(b_on_a.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(b_on_a.error_message(),
            "client \"team-b-keda\" may not keda in namespace \"team-a\"");
  EXPECT_TRUE(GetMetricSpec(*keda_a, "team-a").ok());
  EXPECT_TRUE(GetMetrics(*keda_a, "team-a").ok());
  EXPECT_EQ(GetMetrics(*keda_a, "team-b").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(StreamIsActive(*keda_b, "team-b").ok());
  EXPECT_EQ(StreamIsActive(*keda_b, "team-a").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetMetricSpec(*keda_ops, "team-a").error_code(),
            grpc::StatusCode::UNAUTHENTICATED)
      << "a certificate client without the keda verb";
  // mTLS stays required on the KEDA port.
  auto no_cert = externalscaler::ExternalScaler::NewStub(
      Channel(keda_address, pki.Creds("ca", "")));
  EXPECT_FALSE(GetMetricSpec(*no_cert, "team-b").ok());

  // Refused KEDA calls are audited under the verb keda.
  int keda_denied = 0;
  for (const json& j : LogLines(server_, "admin call denied")) {
    if (j.value("verb", "") != "keda") continue;
    ++keda_denied;
    EXPECT_FALSE(j.value("method", "").empty());
  }
  EXPECT_EQ(keda_denied, 4);
  const std::string m = MetricsText(server_);
  EXPECT_EQ(Series(m, AdminSeries("team-b-keda", "PERMISSION_DENIED", "keda")),
            2)
      << m;
  EXPECT_EQ(
      Series(m, AdminSeries("unauthenticated", "UNAUTHENTICATED", "keda")), 1)
      << m;
  EXPECT_EQ(Series(m, AdminSeries("ops", "OK", "explain")), 1) << m;
  ExpectNoSecret(m);
}

TEST_F(AuthzTest, AnAuthzChangeEndsKedaStreamsToAuthorizeThemAgain) {
  AuthzPki pki;
  ASSERT_EQ(pki.errors(), "");
  StartWithMtls(pki);
  auto keda_b = externalscaler::ExternalScaler::NewStub(
      Channel(server_.address(), pki.Creds("ca", "keda-b")));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> stream =
      keda_b->StreamIsActive(&ctx, Ref("team-b"));
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(stream->Read(&msg)) << "the stream's first state";

  // team-b's KEDA certificate is revoked: the open stream ends with OK (KEDA
  // reconnects), and the reconnect is refused.
  WriteFile(authz_, TokenClients() +
                        "- name: ops\n  certificate: {commonName: ops}\n"
                        "  namespaces: [\"*\"]\n  verbs: [explain]\n"
                        "- name: team-a-keda\n  certificate: {dnsSAN: " +
                        std::string(kKedaADns) +
                        "}\n  namespaces: [team-a]\n  verbs: [keda]\n");
  const absl::Time edited = absl::Now();
  while (stream->Read(&msg)) {
  }
  const grpc::Status ended = stream->Finish();
  EXPECT_TRUE(ended.ok()) << ended.error_message();
  EXPECT_LT(absl::Now() - edited, absl::Seconds(10));
  EXPECT_EQ(StreamIsActive(*keda_b, "team-b").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetMetricSpec(*keda_b, "team-b").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthzTest, WithoutAFileLoopbackOnlyWithAWarning) {
  Start({});
  bool warned = false;
  for (const json& j : LogLines(server_,
                                "no --authz-file: admin calls (push, "
                                "explain, policies) are accepted from "
                                "loopback peers only; give an authz "
                                "file to admit other clients, or "
                                "--admin-allow-any to admit every "
                                "peer")) {
    warned =
        j.value("level", "") == "warning" || j.value("level", "") == "warn";
  }
  EXPECT_TRUE(warned) << server_.process->Output();
  // This test's peer is 127.0.0.1: the quickstart's push keeps working. (A
  // peer that is not loopback is refused: tests only ever use loopback, so
  // authz_test.cc's IsLoopbackPeerTest and ModesWithoutAFile show that.)
  RunResult push =
      RunCommand({SignalscalerBinary(), "push",
                  "--address=" + server_.admin_address(), "--namespace=team-a",
                  "--policy=agent", "--signal=active_requests", "--value=5"});
  EXPECT_EQ(push.exit_code, 0) << push.output;
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  EXPECT_THAT(Explain(*admin, "", "").names,
              UnorderedElementsAre("team-a/agent", "team-b/agent"));

  RunResult both = RunCommand(
      {SignalscalerBinary(), "serve", "--listen=127.0.0.1:0",
       "--metrics-listen=", "--admin-allow-any", "--authz-file=" + authz_});
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_THAT(both.output, HasSubstr("--admin-allow-any and --authz-file"));
}

TEST_F(AuthzTest, AdminAllowAnyIsExplicit) {
  Start({"--admin-allow-any"});
  EXPECT_EQ(LogLines(server_,
                     "--admin-allow-any: every peer that reaches the "
                     "admin port may push to, and read, every "
                     "namespace's policies")
                .size(),
            1u)
      << server_.process->Output();
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  EXPECT_TRUE(Push(*admin, "team-b", "agent", "").ok());
}

TEST_F(AuthzTest, HotReloadAndABrokenEditKeepingTheLastGoodFile) {
  WriteFile(authz_, kHeader + TokenClient("a", kTokenA, "[team-a]", "[push]"));
  Start({"--authz-file=" + authz_});
  auto admin = admin::v1::Admin::NewStub(Channel(server_.admin_address()));
  ASSERT_TRUE(Push(*admin, "team-a", "agent", kTokenA).ok());
  ASSERT_FALSE(Push(*admin, "team-b", "agent", kTokenB).ok());

  // Rotated: token B for team-b instead, written as kubelet does (a new
  // file renamed into place).
  WriteFile(authz_ + ".new",
            kHeader + TokenClient("b", kTokenB, "[team-b]", "[push]"));
  ASSERT_EQ(std::rename((authz_ + ".new").c_str(), authz_.c_str()), 0);
  EXPECT_TRUE(
      PollUntil([&] { return Push(*admin, "team-b", "agent", kTokenB).ok(); },
                absl::Seconds(10)))
      << server_.process->Output();
  EXPECT_EQ(Push(*admin, "team-a", "agent", kTokenA).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A broken edit: logged, counted, and token B still works.
  WriteFile(authz_, std::string(kHeader) + "- name: b\n  verbs: [push]\n");
  EXPECT_TRUE(PollUntil(
      [&] {
        return !LogLines(server_,
                         "authz file rejected: the last good one stays in "
                         "force")
                    .empty();
      },
      absl::Seconds(10)))
      << server_.process->Output();
  std::vector<json> rejected = LogLines(
      server_, "authz file rejected: the last good one stays in force");
  ASSERT_FALSE(rejected.empty());
  EXPECT_THAT(rejected[0].value("error", ""),
              HasSubstr("clients[0]: needs exactly one of tokenSha256 and "
                        "certificate"));
  EXPECT_EQ(rejected.size(), 1u) << "logged once while the file stays broken";
  EXPECT_TRUE(Push(*admin, "team-b", "agent", kTokenB).ok());
  const std::string m = MetricsText(server_);
  EXPECT_GE(Series(m, "signalscaler_authz_reloads_total{result=\"rejected\"}"),
            1)
      << m;
  EXPECT_GE(Series(m, "signalscaler_authz_reloads_total{result=\"ok\"}"), 2);

  // SIGHUP re-reads it at once.
  WriteFile(authz_, kHeader + TokenClient("a", kTokenA, "[team-a]", "[push]"));
  server_.process->Signal(SIGHUP);
  EXPECT_TRUE(
      PollUntil([&] { return Push(*admin, "team-a", "agent", kTokenA).ok(); },
                absl::Seconds(10)));
}

TEST_F(AuthzTest, ABrokenFileStopsStartupNamingTheField) {
  AuthzPki pki;
  ASSERT_EQ(pki.errors(), "");
  struct Case {
    std::string text;
    std::vector<std::string> flags;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {kHeader + std::string("- name: a\n  tokenSha256: ") +
           HexOf(Sha256Of(kTokenA)).substr(0, 60) +
           "\n  namespaces: [x]\n  verbs: [push]\n",
       {},
       "clients[0].tokenSha256: must be the SHA-256"},
      // A certificate client without --tls-client-ca.
      {kHeader + CertificateClients(), {}, "needs serve --tls-client-ca"},
      {"kind: AdminAccess\n", {}, "apiVersion: must be signalscaler.io/v1"},
  };
  for (const Case& c : cases) {
    WriteFile(authz_, c.text);
    std::vector<std::string> argv = {
        SignalscalerBinary(), "serve", "--listen=127.0.0.1:0",
        "--metrics-listen=", "--authz-file=" + authz_};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    RunResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("--authz-file " + authz_));
    EXPECT_THAT(r.output, HasSubstr(c.expected));
    EXPECT_THAT(r.output,
                Not(HasSubstr(HexOf(Sha256Of(kTokenA)).substr(0, 20))));
  }
  RunResult missing =
      RunCommand({SignalscalerBinary(), "serve", "--listen=127.0.0.1:0",
                  "--metrics-listen=", "--authz-file=" + dir_ + "/none.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr(dir_ + "/none.yaml: cannot be read"));
}

}  // namespace
}  // namespace signalscaler::testing
