// What a policy's sources may touch (sources/factory.h, issue 14 item 3):
// --allowed-source-hosts as parsed and matched; ConfineSources refusing a
// credentials file that resolves outside ROOT/<namespace>/ and rewriting the
// good ones; ReadConfinedFile, and the HTTP client through it, refusing a
// symlink swapped outside after the load.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sources/credential_file.h"
#include "sources/factory.h"
#include "sources/http/http_client.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler {
namespace {

using ::signalscaler::testing::TestHttpServer;
using ::signalscaler::testing::TestResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

AllowedSourceHosts Hosts(const std::string& list) {
  absl::StatusOr<AllowedSourceHosts> h = AllowedSourceHosts::Parse(list);
  EXPECT_TRUE(h.ok()) << h.status();
  return h.ok() ? *h : AllowedSourceHosts();
}

TEST(AllowedSourceHostsTest, NamesSuffixesAndCidrs) {
  const AllowedSourceHosts h = Hosts(
      "prometheus.monitoring, .svc.cluster.local,10.0.0.0/8,127.0.0.1/32,"
      "fd00::/8");
  EXPECT_TRUE(h.Allows("prometheus.monitoring"));
  EXPECT_TRUE(h.Allows("Prometheus.Monitoring."));
  EXPECT_FALSE(h.Allows("evil-prometheus.monitoring"));
  EXPECT_TRUE(h.Allows("redis.team-a.svc.cluster.local"));
  EXPECT_FALSE(h.Allows("svc.cluster.local"));
  EXPECT_FALSE(h.Allows("svc.cluster.local.evil.example"));
  EXPECT_TRUE(h.Allows("10.1.2.3"));
  EXPECT_FALSE(h.Allows("11.0.0.1"));
  EXPECT_TRUE(h.Allows("127.0.0.1"));
  EXPECT_FALSE(h.Allows("127.0.0.2"));
  EXPECT_TRUE(h.Allows("fd12::1"));
  EXPECT_FALSE(h.Allows("::1"));
  // A name is never resolved to be matched against a CIDR.
  EXPECT_FALSE(h.Allows("localhost"));
  EXPECT_FALSE(h.Allows(""));
  EXPECT_TRUE(Hosts("").Allows("anything.example"));
  EXPECT_TRUE(Hosts("10.0.0.0/0").Allows("192.168.1.1"));
  for (const char* bad : {"10.0.0.0/33", "foo/8", "a b", ".", "::1/129"}) {
    EXPECT_FALSE(AllowedSourceHosts::Parse(bad).ok()) << bad;
  }
}

class ConfineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::MakeTempDir();
    root_ = base_ + "/creds";
    ASSERT_EQ(::mkdir(root_.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((root_ + "/team-a").c_str(), 0700), 0);
    WriteFile(root_ + "/team-a/token", "team-a-token");
    WriteFile(base_ + "/outside", "outside-secret");
    ASSERT_EQ(::symlink((base_ + "/outside").c_str(),
                        (root_ + "/team-a/escape").c_str()),
              0);
  }
  LoadedPolicy Policy(const std::string& token_file,
                      const std::string& address = "http://127.0.0.1:9090") {
    LoadedPolicy p;
    p.file = "p.yaml";
    p.line = 3;
    p.policy.Mutable()->mutable_metadata()->set_name("web");
    p.policy.Mutable()->mutable_metadata()->set_namespace_("team-a");
    v1::PrometheusSource* prom = p.policy.Mutable()
                                     ->mutable_spec()
                                     ->add_signals()
                                     ->mutable_source()
                                     ->mutable_prometheus();
    prom->set_address(address);
    prom->set_query("up");
    prom->set_bearer_token_file(token_file);
    return p;
  }
  std::string base_;
  std::string root_;
};

TEST_F(ConfineTest, RewritesAGoodPathAndRefusesAnEscape) {
  SourceAccess access;
  access.credentials_root = root_;
  std::vector<PolicyError> errors;
  LoadedPolicy good = Policy("token");
  ConfineSources(good, access, errors);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(
      good.policy.spec().signals(0).source().prometheus().bearer_token_file(),
      root_ + "/team-a/token");

  // Not there yet: passes (the source reports it, and checks at open).
  LoadedPolicy later = Policy("not-yet");
  ConfineSources(later, access, errors);
  EXPECT_THAT(errors, IsEmpty());

  LoadedPolicy escape = Policy("escape");
  ConfineSources(escape, access, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field,
            "spec.signals[0].source.prometheus.bearerTokenFile");
  EXPECT_EQ(errors[0].policy, "team-a/web");
  EXPECT_THAT(errors[0].message,
              HasSubstr("\"escape\" resolves outside the namespace's "
                        "credentials directory (" +
                        root_ + "/team-a/)"));
  EXPECT_THAT(errors[0].ToString(), Not(HasSubstr("outside-secret")));
  // Refused: nothing rewritten.
  EXPECT_EQ(
      escape.policy.spec().signals(0).source().prometheus().bearer_token_file(),
      "escape");

  errors.clear();
  LoadedPolicy absolute = Policy(base_ + "/outside");
  ConfineSources(absolute, access, errors);
  EXPECT_THAT(errors, ElementsAre(::testing::Field(
                          &PolicyError::message,
                          HasSubstr("must be a path relative to"))));
}

TEST_F(ConfineTest, RefusesHostsNotAllowed) {
  SourceAccess access;
  access.allowed_hosts = Hosts("127.0.0.1/32");
  std::vector<PolicyError> errors;
  LoadedPolicy ok = Policy("", "http://127.0.0.1:9090");
  ConfineSources(ok, access, errors);
  EXPECT_THAT(errors, IsEmpty());
  LoadedPolicy elsewhere = Policy("", "http://user:pw@10.9.8.7:9090/prom");
  ConfineSources(elsewhere, access, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "spec.signals[0].source.prometheus.address");
  EXPECT_EQ(errors[0].message,
            "host \"10.9.8.7\" is not allowed by --allowed-source-hosts");
}

TEST_F(ConfineTest, ReadConfinedFileChecksTheFileOpened) {
  const std::string link = root_ + "/team-a/swapped";
  ASSERT_EQ(::symlink("token", link.c_str()), 0);
  absl::StatusOr<std::string> read = ReadConfinedFile(link, root_, 1024);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "team-a-token");
  // Swapped outside after the load.
  ASSERT_EQ(::unlink(link.c_str()), 0);
  ASSERT_EQ(::symlink((base_ + "/outside").c_str(), link.c_str()), 0);
  read = ReadConfinedFile(link, root_, 1024);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(read.status().message(), HasSubstr("resolves outside"));
  EXPECT_THAT(read.status().message(), Not(HasSubstr("outside-secret")));
  // Another namespace's directory is outside too.
  ASSERT_EQ(::mkdir((root_ + "/team-b").c_str(), 0700), 0);
  WriteFile(root_ + "/team-b/token", "team-b-token");
  ASSERT_EQ(::unlink(link.c_str()), 0);
  ASSERT_EQ(::symlink("../team-b/token", link.c_str()), 0);
  EXPECT_FALSE(ReadConfinedFile(link, root_, 1024).ok());
  // Not under ROOT/<namespace>/ at all.
  EXPECT_FALSE(ReadConfinedFile(base_ + "/outside", root_, 1024).ok());
  // No root: no confinement (the state store's own password file).
  EXPECT_TRUE(ReadConfinedFile(base_ + "/outside", "", 1024).ok());
  EXPECT_EQ(ReadConfinedFile(root_ + "/team-a/token", root_, 4).status().code(),
            absl::StatusCode::kOutOfRange);
  // A namespace's directory that is itself a symlink out of the root (to
  // `/`) does not make every file inside.
  ASSERT_EQ(::symlink("/", (root_ + "/team-evil").c_str()), 0);
  const absl::StatusOr<std::string> evil =
      ReadConfinedFile(root_ + "/team-evil" + base_ + "/outside", root_, 1024);
  EXPECT_EQ(evil.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(evil.status().message(), HasSubstr("resolves outside"));
}

TEST_F(ConfineTest, HttpClientNeverSendsATokenFromOutside) {
  TestHttpServer server([](const std::string&) {
    TestResponse r;
    r.body = "ok";
    return r;
  });
  const std::string link = root_ + "/team-a/current";
  ASSERT_EQ(::symlink("token", link.c_str()), 0);
  HttpClientOptions options;
  options.bearer_token_file = link;
  options.credentials_root = root_;
  HttpClient client(options);
  EXPECT_TRUE(client.Get(server.Url("/"), absl::Now() + absl::Seconds(5)).ok());
  ASSERT_EQ(::unlink(link.c_str()), 0);
  ASSERT_EQ(::symlink((base_ + "/outside").c_str(), link.c_str()), 0);
  absl::StatusOr<std::string> body =
      client.Get(server.Url("/"), absl::Now() + absl::Seconds(5));
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(body.status().message(), HasSubstr("resolves outside"));
  ASSERT_EQ(server.Requests().size(), 1u);  // the second was never sent
  EXPECT_THAT(server.Requests()[0], HasSubstr("Bearer team-a-token"));

  // The CA bundle likewise.
  HttpClientOptions ca_options;
  ca_options.ca_file = root_ + "/team-a/escape";
  ca_options.credentials_root = root_;
  HttpClient ca_client(ca_options);
  body = ca_client.Get(server.Url("/"), absl::Now() + absl::Seconds(5));
  EXPECT_EQ(body.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(body.status().message(), HasSubstr("cannot read CA file"));
  EXPECT_EQ(server.Requests().size(), 1u);
}

}  // namespace
}  // namespace signalscaler
