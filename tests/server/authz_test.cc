// The authz file (scaler/server/authz.h) without gRPC: parsing and its
// errors (each naming the field, never a digest), identification by token
// and certificate, grants, KEDA checks, the modes without a file, loopback
// peers, and a reload that keeps the last good file.
#include "scaler/server/authz.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenA[] = "team-a-secret-token-0123456789";
constexpr char kTokenB[] = "team-b-secret-token-9876543210";

std::string Header() {
  return "apiVersion: signalscaler.io/v1\nkind: AdminAccess\nclients:\n";
}

std::string TokenClient(const std::string& name, const std::string& token,
                        const std::string& namespaces,
                        const std::string& verbs) {
  return absl::StrCat(
      "- name: ", name, "\n  tokenSha256: ", HexOf(Sha256Of(token)),
      "\n  namespaces: ", namespaces, "\n  verbs: ", verbs, "\n");
}

std::string Policy() {
  return Header() +
         TokenClient("team-a-pusher", kTokenA, "[team-a]", "[push, explain]") +
         TokenClient("team-b-reader", kTokenB, "[team-b]", "[explain]") +
         "- name: team-b-keda\n"
         "  certificate: {uriSAN: \"spiffe://cluster.local/ns/team-b/sa/k\"}\n"
         "  namespaces: [team-b]\n"
         "  verbs: [keda]\n"
         "- name: ops\n"
         "  certificate: {commonName: ops}\n"
         "  namespaces: [\"*\"]\n"
         "  verbs: [explain]\n";
}

CallerCredentials Token(const std::string& token) {
  CallerCredentials c;
  c.has_authorization = true;
  c.bearer_token = token;
  return c;
}

CallerCredentials Cert(std::vector<std::string> uris, std::string cn = "") {
  CallerCredentials c;
  c.certificate_verified = true;
  c.uri_sans = std::move(uris);
  c.common_name = std::move(cn);
  c.certificate_name = "cert";
  return c;
}

std::unique_ptr<AccessControl> Control(const std::string& text,
                                       std::string* path_out = nullptr) {
  const std::string dir =
      ::testing::TempDir() + "/authz-" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/authz.yaml";
  std::ofstream(path) << text;
  if (path_out != nullptr) *path_out = path;
  AccessOptions o;
  o.file = path;
  o.client_certificates = true;
  absl::StatusOr<std::unique_ptr<AccessControl>> c = AccessControl::Create(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

TEST(Sha256Test, KnownDigest) {
  // sha256("test"), as sha256sum prints it (the example digest).
  EXPECT_EQ(HexOf(Sha256Of("test")),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(ParseAccessPolicyTest, ParsesClients) {
  absl::StatusOr<AccessPolicy> p = ParseAccessPolicy(Policy(), "f.yaml", true);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->clients.size(), 4u);
  EXPECT_TRUE(p->keda_restricted);
  EXPECT_EQ(p->clients[0].name, "team-a-pusher");
  EXPECT_TRUE(p->clients[0].Has(AccessVerb::kPush));
  EXPECT_FALSE(p->clients[0].Has(AccessVerb::kKeda));
  EXPECT_TRUE(p->clients[0].Covers("team-a"));
  EXPECT_FALSE(p->clients[0].Covers("team-b"));
  EXPECT_TRUE(p->clients[3].all_namespaces);
  EXPECT_TRUE(p->clients[3].Covers("anything"));
}

TEST(ParseAccessPolicyTest, EmptyClientListIsValid) {
  absl::StatusOr<AccessPolicy> p = ParseAccessPolicy(
      "apiVersion: signalscaler.io/v1\nkind: AdminAccess\nclients: []\n",
      "f.yaml", false);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->clients.empty());
  EXPECT_FALSE(p->keda_restricted);
}

TEST(ParseAccessPolicyTest, ErrorsNameTheFieldAndNeverTheDigest) {
  const std::string digest = HexOf(Sha256Of(kTokenA));
  struct Case {
    std::string text;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"apiVersion: v2\nkind: AdminAccess\n", "apiVersion"},
      {"apiVersion: signalscaler.io/v1\nkind: Policy\n", "kind"},
      {Header() + "- name: a\n  tokenSha256: " + digest.substr(0, 63) +
           "\n  namespaces: [x]\n  verbs: [push]\n",
       "clients[0].tokenSha256"},
      {Header() + "- name: a\n  tokenSha256: " + digest.substr(0, 62) +
           "zz\n  namespaces: [x]\n  verbs: [push]\n",
       "clients[0].tokenSha256"},
      {Header() + "- name: a\n  namespaces: [x]\n  verbs: [push]\n",
       "clients[0]: needs exactly one of tokenSha256 and certificate"},
      {Header() + "- name: a\n  tokenSha256: " + digest +
           "\n  certificate: {commonName: a}\n  namespaces: [x]\n"
           "  verbs: [push]\n",
       "clients[0]: needs exactly one"},
      {Header() + "- name: a\n  certificate: {commonName: a, dnsSAN: b}\n"
                  "  namespaces: [x]\n  verbs: [push]\n",
       "clients[0].certificate"},
      {Header() + "- name: a\n  certificate: {email: a}\n"
                  "  namespaces: [x]\n  verbs: [push]\n",
       "clients[0].certificate.email"},
      {Header() + "- name: a\n  tokenSha256: " + digest +
           "\n  namespaces: []\n  verbs: [push]\n",
       "clients[0].namespaces"},
      {Header() + "- name: a\n  tokenSha256: " + digest +
           "\n  namespaces: [\"*\", x]\n  verbs: [push]\n",
       "clients[0].namespaces"},
      {Header() + "- name: a\n  tokenSha256: " + digest +
           "\n  namespaces: [x]\n  verbs: [push, delete]\n",
       "clients[0].verbs[1]"},
      {Header() + "- name: a\n  tokenSha256: " + digest +
           "\n  namespaces: [x]\n  verbs: [keda]\n",
       "clients[0].verbs: keda needs a certificate client"},
      {Header() + "- name: a\n  tokenSha256: " + digest +
           "\n  namespaces: [x]\n  verbs: [push]\n  role: admin\n",
       "clients[0].role"},
      {Header() + TokenClient("a", kTokenA, "[x]", "[push]") +
           TokenClient("a", kTokenB, "[x]", "[push]"),
       "clients[1].name"},
      {Header() + TokenClient("a", kTokenA, "[x]", "[push]") +
           TokenClient("b", kTokenA, "[x]", "[push]"),
       "clients[1].tokenSha256: the same token"},
      {Header() + "- name: \"a b\"\n  tokenSha256: " + digest +
           "\n  namespaces: [x]\n  verbs: [push]\n",
       "clients[0].name"},
      {"clients: [\n", "invalid YAML"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AccessPolicy> p = ParseAccessPolicy(c.text, "f.yaml", true);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(p.status().message(), HasSubstr("f.yaml: "));
    EXPECT_THAT(p.status().message(), HasSubstr(c.field)) << c.text;
    EXPECT_THAT(p.status().message(), Not(HasSubstr(digest.substr(0, 16))));
  }
}

TEST(ParseAccessPolicyTest, CertificateClientsNeedClientCertificates) {
  absl::StatusOr<AccessPolicy> p =
      ParseAccessPolicy(Policy(), "f.yaml", /*client_certificates=*/false);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(),
              HasSubstr("clients[2].certificate: a certificate client needs "
                        "serve --tls-client-ca"));
}

TEST(AccessControlTest, TokenIdentifiesItsClient) {
  std::unique_ptr<AccessControl> ac = Control(Policy());
  ASSERT_NE(ac, nullptr);
  EXPECT_EQ(ac->mode(), AccessMode::kFile);
  absl::StatusOr<Caller> a = ac->IdentifyAdmin(Token(kTokenA), nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->name(), "team-a-pusher");
  EXPECT_TRUE(a->Authorize(AccessVerb::kPush, "team-a").ok());
  EXPECT_TRUE(a->Authorize(AccessVerb::kExplain, "team-a").ok());
  absl::Status other = a->Authorize(AccessVerb::kPush, "team-b");
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(other.message(),
            "client \"team-a-pusher\" may not push in namespace \"team-b\"");
  EXPECT_FALSE(a->MayEverywhere(AccessVerb::kExplain));

  absl::StatusOr<Caller> b = ac->IdentifyAdmin(Token(kTokenB), nullptr);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->Authorize(AccessVerb::kPush, "team-b").code(),
            absl::StatusCode::kPermissionDenied)
      << "a verb it lacks";
}

TEST(AccessControlTest, UnknownOrMalformedCredentialsAreUnauthenticated) {
  std::unique_ptr<AccessControl> ac = Control(Policy());
  ASSERT_NE(ac, nullptr);
  std::string name;
  absl::StatusOr<Caller> wrong = ac->IdentifyAdmin(Token("guess"), &name);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(name, kUnauthenticatedClient);
  EXPECT_THAT(wrong.status().message(), Not(HasSubstr("guess")));

  CallerCredentials basic;
  basic.has_authorization = true;  // "Basic ...": no bearer token
  EXPECT_EQ(ac->IdentifyAdmin(basic, nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ac->IdentifyAdmin(CallerCredentials(), nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A wrong token is refused even with a certificate that would match.
  CallerCredentials both = Cert({}, "ops");
  both.has_authorization = true;
  both.bearer_token = "guess";
  EXPECT_EQ(ac->IdentifyAdmin(both, nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A loopback peer is nobody special with a file in force.
  CallerCredentials loopback;
  loopback.loopback = true;
  EXPECT_EQ(ac->IdentifyAdmin(loopback, nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AccessControlTest, CertificatesMatchOnTheirField) {
  std::unique_ptr<AccessControl> ac = Control(Policy());
  ASSERT_NE(ac, nullptr);
  absl::StatusOr<Caller> ops = ac->IdentifyAdmin(Cert({}, "ops"), nullptr);
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ(ops->name(), "ops");
  EXPECT_TRUE(ops->MayEverywhere(AccessVerb::kExplain));
  EXPECT_FALSE(ops->MayAnywhere(AccessVerb::kPush));
  // The CN "ops" as a URI SAN is not the CN.
  EXPECT_FALSE(ac->IdentifyAdmin(Cert({"ops"}), nullptr).ok());
  // Unverified: never matches.
  CallerCredentials unverified = Cert({}, "ops");
  unverified.certificate_verified = false;
  EXPECT_EQ(ac->IdentifyAdmin(unverified, nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AccessControlTest, KedaCallsNeedAKedaCertificateForTheNamespace) {
  std::unique_ptr<AccessControl> ac = Control(Policy());
  ASSERT_NE(ac, nullptr);
  ASSERT_TRUE(ac->keda_restricted());
  const CallerCredentials keda_b =
      Cert({"spiffe://cluster.local/ns/team-b/sa/k"});
  std::string client;
  EXPECT_TRUE(ac->AuthorizeKeda(keda_b, "team-b", &client).ok());
  EXPECT_EQ(client, "team-b-keda");
  absl::Status other = ac->AuthorizeKeda(keda_b, "team-a", &client);
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(other.message(),
            "client \"team-b-keda\" may not keda in namespace \"team-a\"");
  // A certificate of a client without `keda`, and none at all.
  EXPECT_EQ(ac->AuthorizeKeda(Cert({}, "ops"), "team-b", &client).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ac->AuthorizeKeda(Token(kTokenA), "team-a", &client).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AccessControlTest, WithoutKedaClientsKedaCallsAreNotChecked) {
  std::unique_ptr<AccessControl> ac =
      Control(Header() + TokenClient("a", kTokenA, "[x]", "[push]"));
  ASSERT_NE(ac, nullptr);
  EXPECT_FALSE(ac->keda_restricted());
  EXPECT_TRUE(ac->AuthorizeKeda(CallerCredentials(), "x", nullptr).ok());
}

TEST(AccessControlTest, ModesWithoutAFile) {
  AccessOptions loopback_only;
  absl::StatusOr<std::unique_ptr<AccessControl>> lo =
      AccessControl::Create(loopback_only);
  ASSERT_TRUE(lo.ok());
  EXPECT_EQ((*lo)->mode(), AccessMode::kLoopbackOnly);
  CallerCredentials local;
  local.loopback = true;
  absl::StatusOr<Caller> ok = (*lo)->IdentifyAdmin(local, nullptr);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->name(), kAnonymousClient);
  EXPECT_TRUE(ok->MayEverywhere(AccessVerb::kPush));
  absl::Status remote =
      (*lo)->IdentifyAdmin(CallerCredentials(), nullptr).status();
  EXPECT_EQ(remote.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(remote.message(), HasSubstr("loopback peers only"));
  EXPECT_THAT(remote.message(), HasSubstr("--admin-allow-any"));
  EXPECT_TRUE((*lo)->AuthorizeKeda(CallerCredentials(), "x", nullptr).ok());

  AccessOptions any;
  any.allow_any = true;
  absl::StatusOr<std::unique_ptr<AccessControl>> all =
      AccessControl::Create(any);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE((*all)->IdentifyAdmin(CallerCredentials(), nullptr).ok());

  any.file = "/nonexistent";
  EXPECT_EQ(AccessControl::Create(any).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "--admin-allow-any with --authz-file";
  AccessOptions missing;
  missing.file = "/nonexistent/authz.yaml";
  absl::Status s = AccessControl::Create(missing).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/authz.yaml"));
}

TEST(AccessControlTest, ABrokenEditKeepsTheLastGoodFile) {
  std::string path;
  std::unique_ptr<AccessControl> ac = Control(Policy(), &path);
  ASSERT_NE(ac, nullptr);
  std::ofstream(path) << "apiVersion: signalscaler.io/v1\nkind: Admin\n";
  absl::Status s = ac->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("kind"));
  EXPECT_TRUE(ac->IdentifyAdmin(Token(kTokenA), nullptr).ok());
  EXPECT_EQ(ac->failed_reloads(), 1u);

  std::filesystem::remove(path);
  EXPECT_FALSE(ac->Reload().ok());
  EXPECT_TRUE(ac->IdentifyAdmin(Token(kTokenA), nullptr).ok());

  // A good edit: team-a's token gone, team-b's now pushes.
  std::ofstream(path) << Header()
                      << TokenClient("b", kTokenB, "[team-b]", "[push]");
  ASSERT_TRUE(ac->Reload().ok());
  EXPECT_FALSE(ac->IdentifyAdmin(Token(kTokenA), nullptr).ok());
  absl::StatusOr<Caller> b = ac->IdentifyAdmin(Token(kTokenB), nullptr);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->May(AccessVerb::kPush, "team-b"));
  EXPECT_FALSE(ac->keda_restricted());
  EXPECT_EQ(ac->good_reloads(), 2u);
}

TEST(AccessControlTest, AChangeThatInvolvesKedaIsAnnounced) {
  std::string path;
  std::unique_ptr<AccessControl> ac = Control(Policy(), &path);
  ASSERT_NE(ac, nullptr);
  int changes = 0;
  ac->SetOnChange([&changes] { ++changes; });
  // team-b-keda gone: KEDA's open streams must be authorized again.
  std::ofstream(path) << Header()
                      << TokenClient("a", kTokenA, "[team-a]", "[push]");
  ASSERT_TRUE(ac->Reload().ok());
  EXPECT_EQ(changes, 1);
  // Unchanged bytes, a broken edit, and a change with no keda client before
  // or after: nothing to announce.
  ASSERT_TRUE(ac->Reload().ok());
  std::ofstream(path) << "kind: AdminAccess\n";
  EXPECT_FALSE(ac->Reload().ok());
  std::ofstream(path) << Header()
                      << TokenClient("b", kTokenB, "[team-b]", "[push]");
  ASSERT_TRUE(ac->Reload().ok());
  EXPECT_EQ(changes, 1);
}

TEST(IsLoopbackPeerTest, GrpcPeerStrings) {
  EXPECT_TRUE(IsLoopbackPeer("ipv4:127.0.0.1:5000"));
  // Not all of 127/8: a sidecar forwards remote callers from other loopback
  // addresses (Istio from 127.0.0.6).
  EXPECT_FALSE(IsLoopbackPeer("ipv4:127.10.0.3:5000"));
  EXPECT_FALSE(IsLoopbackPeer("ipv4:127.0.0.6:5000"));
  EXPECT_FALSE(IsLoopbackPeer("ipv4:127.0.0.10:5000"));
  EXPECT_TRUE(IsLoopbackPeer("ipv6:[::1]:5000"));
  EXPECT_TRUE(IsLoopbackPeer("ipv6:%5B::1%5D:5000"));
  EXPECT_TRUE(IsLoopbackPeer("ipv6:[::ffff:127.0.0.1]:5000"));
  EXPECT_TRUE(IsLoopbackPeer("unix:/run/signalscaler.sock"));
  EXPECT_FALSE(IsLoopbackPeer("ipv4:10.0.0.7:5000"));
  EXPECT_FALSE(IsLoopbackPeer("ipv4:128.0.0.1:5000"));
  EXPECT_FALSE(IsLoopbackPeer("ipv6:[::ffff:10.0.0.7]:5000"));
  EXPECT_FALSE(IsLoopbackPeer("ipv6:[::ffff:127.0.0.6]:5000"));
  EXPECT_FALSE(IsLoopbackPeer("ipv6:[fe80::1]:5000"));
  EXPECT_FALSE(IsLoopbackPeer("ipv6:[::1"));
  EXPECT_FALSE(IsLoopbackPeer(""));
}

}  // namespace
}  // namespace signalscaler
