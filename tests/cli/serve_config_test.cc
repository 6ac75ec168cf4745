// serve's flags parsed into a ServeConfig (scaler/cli/serve_flags.h),
// without starting anything: the defaults are the components' defaults,
// every flag lands in its field, and every usage error names its flag.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/cli/flags.h"
#include "scaler/cli/serve_flags.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// `signalscaler serve ARGS...` parsed; the flag parse must succeed.
absl::StatusOr<ServeConfig> Parse(std::vector<std::string> args) {
  std::vector<std::string> words = {"signalscaler", "serve"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  FlagSet flags = ServeFlags();
  absl::Status s =
      flags.Parse(static_cast<int>(argv.size()), argv.data(), /*first=*/2);
  EXPECT_TRUE(s.ok()) << s;
  return ParseServeConfig(flags);
}

TEST(ServeConfigTest, DefaultsAreTheComponentsDefaults) {
  absl::StatusOr<ServeConfig> c = Parse({"--replica-id=r1"});
  ASSERT_TRUE(c.ok()) << c.status();
  const ServeConfig want;
  EXPECT_EQ(c->listen, "0.0.0.0:9090");
  EXPECT_EQ(c->admin_listen, "");
  EXPECT_EQ(c->metrics_listen, "0.0.0.0:9091");
  EXPECT_EQ(c->policies_path, "");
  EXPECT_EQ(c->policy_reload_period, absl::Seconds(5));
  EXPECT_EQ(c->drain, absl::Seconds(10));
  EXPECT_EQ(c->drain, want.drain);
  EXPECT_TRUE(c->namespaces.empty());
  EXPECT_EQ(c->source_access.credentials_root, "/etc/signalscaler/credentials");
  EXPECT_FALSE(c->tls.enabled());
  EXPECT_EQ(c->tls.refresh_seconds, want.tls.refresh_seconds);
  EXPECT_EQ(c->server_limits.max_request_bytes,
            want.server_limits.max_request_bytes);
  EXPECT_EQ(c->server_limits.max_open_streams,
            want.server_limits.max_open_streams);
  EXPECT_EQ(c->server_limits.max_pushes_per_second,
            want.server_limits.max_pushes_per_second);
  EXPECT_EQ(c->policy_limits.max_policies, want.policy_limits.max_policies);
  EXPECT_EQ(c->access.file, "");
  EXPECT_FALSE(c->access.allow_any);
  EXPECT_EQ(c->access.refresh, absl::Seconds(5));
  EXPECT_EQ(c->evaluator.lease_period, want.evaluator.lease_period);
  EXPECT_EQ(c->evaluator.record_ttl, want.evaluator.record_ttl);
  EXPECT_EQ(c->evaluator.store_timeout, want.evaluator.store_timeout);
  EXPECT_TRUE(c->evaluator.wait_without_history);
  EXPECT_EQ(c->evaluator.replica_id, "r1");
  EXPECT_FALSE(c->redis.has_value()) << "--state-store=memory";
  EXPECT_EQ(c->log_level, LogLevel::kInfo);
  EXPECT_EQ(c->log_format, LogFormat::kText);
}

TEST(ServeConfigTest, EveryFlagLandsInItsField) {
  absl::StatusOr<ServeConfig> c = Parse({
      "--listen=127.0.0.1:7000",
      "--admin-listen=127.0.0.1:7001",
      "--metrics-listen=",
      "--policies=/srv/policies",
      "--policy-reload-seconds=0.5",
      "--drain-seconds=3",
      "--namespaces=team-a, team-b",
      "--credentials-root=/creds/",
      "--allowed-source-hosts=.svc.cluster.local,10.0.0.0/8",
      "--tls-cert=/tls/crt",
      "--tls-key=/tls/key",
      "--tls-client-ca=/tls/ca",
      "--tls-refresh-seconds=30",
      "--max-request-bytes=2048",
      "--max-metadata-entries=4",
      "--max-metadata-bytes=100",
      "--max-open-streams=7",
      "--max-pushes-per-second=9",
      "--max-policies-per-namespace=11",
      "--max-policies=13",
      "--authz-file=/authz.yaml",
      "--authz-refresh-seconds=2.5",
      "--state-store=redis://redis.default:6380/2",
      "--state-redis-password-file=/secret/redis",
      "--state-key-prefix=fleet",
      "--replica-id=pod-0",
      "--lease-seconds=4",
      "--state-ttl-seconds=600",
      "--state-timeout-ms=250",
      "--no-history=decide",
      "--log-level=debug",
      "--log-format=json",
  });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:7000");
  EXPECT_EQ(c->admin_listen, "127.0.0.1:7001");
  EXPECT_EQ(c->metrics_listen, "");
  EXPECT_EQ(c->policies_path, "/srv/policies");
  EXPECT_EQ(c->policy_reload_period, absl::Milliseconds(500));
  EXPECT_EQ(c->drain, absl::Seconds(3));
  EXPECT_EQ(c->namespaces, NamespaceSet({"team-a", "team-b"}));
  EXPECT_EQ(c->source_access.credentials_root, "/creds/");
  EXPECT_EQ(c->tls.cert_file, "/tls/crt");
  EXPECT_EQ(c->tls.key_file, "/tls/key");
  EXPECT_EQ(c->tls.client_ca_file, "/tls/ca");
  EXPECT_EQ(c->tls.refresh_seconds, 30);
  EXPECT_EQ(c->server_limits.max_request_bytes, 2048);
  EXPECT_EQ(c->server_limits.max_metadata_entries, 4u);
  EXPECT_EQ(c->server_limits.max_metadata_bytes, 100u);
  EXPECT_EQ(c->server_limits.max_open_streams, 7u);
  EXPECT_EQ(c->server_limits.max_pushes_per_second, 9);
  EXPECT_EQ(c->policy_limits.max_policies_per_namespace, 11u);
  EXPECT_EQ(c->policy_limits.max_policies, 13u);
  EXPECT_EQ(c->access.file, "/authz.yaml");
  EXPECT_TRUE(c->access.client_certificates) << "--tls-client-ca is set";
  EXPECT_EQ(c->access.refresh, absl::Milliseconds(2500));
  ASSERT_TRUE(c->redis.has_value());
  EXPECT_EQ(c->redis->host, "redis.default");
  EXPECT_EQ(c->redis->port, 6380);
  EXPECT_EQ(c->redis->database, 2);
  EXPECT_EQ(c->redis->password_file, "/secret/redis");
  EXPECT_EQ(c->redis->key_prefix, "fleet");
  EXPECT_EQ(c->evaluator.replica_id, "pod-0");
  EXPECT_EQ(c->evaluator.lease_period, absl::Seconds(4));
  EXPECT_EQ(c->evaluator.record_ttl, absl::Seconds(600));
  EXPECT_EQ(c->evaluator.store_timeout, absl::Milliseconds(250));
  EXPECT_FALSE(c->evaluator.wait_without_history);
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
  EXPECT_EQ(c->log_format, LogFormat::kJson);
}

TEST(ServeConfigTest, ReplicaIdDefaultsToPodName) {
  ::setenv("POD_NAME", "signalscaler-7f9c-x2", 1);
  absl::StatusOr<ServeConfig> c = Parse({});
  ::unsetenv("POD_NAME");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->evaluator.replica_id, "signalscaler-7f9c-x2");
}

TEST(ServeConfigTest, EveryUsageErrorNamesItsFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;  // the whole message serve prints after "serve: "
  };
  const std::vector<Case> cases = {
      {{"extra"}, "unexpected argument \"extra\""},
      {{"--drain-seconds=soon"},
       "--drain-seconds must be a number of seconds >= 0"},
      {{"--drain-seconds=-1"},
       "--drain-seconds must be a number of seconds >= 0"},
      {{"--policy-reload-seconds=0.05"},
       "--policy-reload-seconds must be a number of seconds >= 0.1"},
      {{"--lease-seconds=0"},
       "--lease-seconds must be a number of seconds >= 1"},
      {{"--state-ttl-seconds=59"},
       "--state-ttl-seconds must be a number of seconds >= 60"},
      {{"--authz-refresh-seconds=nan"},
       "--authz-refresh-seconds must be a number of seconds >= 0.1"},
      {{"--state-timeout-ms=60001"},
       "--state-timeout-ms must be a whole number from 1 to 60000"},
      {{"--max-request-bytes=1023"},
       "--max-request-bytes must be a whole number from 1024 to 2147483647"},
      {{"--max-pushes-per-second=0"},
       "--max-pushes-per-second must be a whole number from 1 to 2147483647"},
      {{"--max-open-streams=many"},
       "--max-open-streams must be a whole number from 1 to 2147483647"},
      {{"--tls-refresh-seconds=86401"},
       "--tls-refresh-seconds must be a whole number from 1 to 86400"},
      {{"--max-policies=0"},
       "--max-policies must be a whole number from 1 to 2147483647"},
      {{"--namespaces=team-a,Bad_NS"},
       "--namespaces: \"Bad_NS\" is not a namespace name (DNS-1123 label)"},
      {{"--credentials-root=/"},
       "--credentials-root must be an absolute path of a dedicated directory "
       "(not /), got \"/\""},
      {{"--credentials-root=relative"},
       "--credentials-root must be an absolute path of a dedicated directory "
       "(not /), got \"relative\""},
      {{"--tls-cert=/c", "--tls-key=/etc/signalscaler/credentials/k"},
       "--tls-key must not be under --credentials-root "
       "(/etc/signalscaler/credentials), where a policy could name it"},
      {{"--state-redis-password-file=/creds/ns/p",
        "--credentials-root=/creds//"},
       "--state-redis-password-file must not be under --credentials-root "
       "(/creds), where a policy could name it"},
      {{"--tls-cert=/c"}, "--tls-cert and --tls-key go together"},
      {{"--tls-key=/k"}, "--tls-cert and --tls-key go together"},
      {{"--tls-client-ca=/ca"},
       "--tls-client-ca needs --tls-cert and --tls-key"},
      {{"--admin-allow-any", "--authz-file=/authz.yaml"},
       "--admin-allow-any and --authz-file exclude each other: the authz "
       "file says who may call"},
      {{"--no-history=maybe"},
       "--no-history must be wait or decide, got \"maybe\""},
      {{"--state-store=redis"},
       "--state-store must be \"memory\" or redis://HOST:PORT[/DB], not "
       "\"redis\""},
      {{"--state-store=redis://h:0"},
       "--state-store must be \"memory\" or redis://HOST:PORT[/DB], not "
       "\"redis://h:0\""},
      {{"--state-store=redis://h:6379/-1"},
       "--state-store must be \"memory\" or redis://HOST:PORT[/DB], not "
       "\"redis://h:6379/-1\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ServeConfig> r = Parse(c.args);
    ASSERT_FALSE(r.ok()) << c.args[0];
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message) << c.args[0];
  }
}

TEST(ServeConfigTest, StateStoreErrorsNeverEchoACredential) {
  absl::StatusOr<ServeConfig> r =
      Parse({"--state-store=redis://:hunter2@127.0.0.1:6379"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), StartsWith("--state-store: "));
  EXPECT_THAT(r.status().message(), HasSubstr("--state-redis-password-file"));
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("hunter2")));
  // What the store itself refuses is said under the flag's name too.
  r = Parse(
      {"--state-store=redis://127.0.0.1:6379", "--state-key-prefix=a{b}"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), StartsWith("--state-store: "));
  EXPECT_THAT(r.status().message(), HasSubstr("prefix"));
}

TEST(ServeConfigTest, LogFlagsAreChecked) {
  absl::StatusOr<ServeConfig> r = Parse({"--log-level=loud"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), StartsWith("--log-level: "));
  r = Parse({"--log-format=xml"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), StartsWith("--log-format: "));
}

TEST(FlagSetTest, TypedGettersNameTheFlag) {
  FlagSet flags("test", "typed getters");
  flags.Add("n", "", "a number");
  flags.Add("s", "", "seconds");
  std::string n = "--n=-2";
  std::string sec = "--s=1.5";
  std::vector<char*> argv = {nullptr, nullptr, n.data(), sec.data()};
  ASSERT_TRUE(flags.Parse(4, argv.data(), 2).ok());
  EXPECT_EQ(flags.GetInt("n", -2).value(), -2);
  EXPECT_EQ(flags.GetInt("n", 0).status().message(),
            "flag --n must be an integer >= 0, got \"-2\"");
  EXPECT_EQ(flags.GetCount("n", -5, 5).value(), -2);
  EXPECT_EQ(flags.GetCount("n", 1, 5).status().message(),
            "--n must be a whole number from 1 to 5");
  EXPECT_EQ(flags.GetDouble("n", -2, true).value(), -2);
  EXPECT_EQ(flags.GetDouble("n", -2, false).status().message(),
            "flag --n must be a number > -2, got \"-2\"");
  EXPECT_EQ(flags.GetDouble("s", 0, true).value(), 1.5);
  EXPECT_EQ(flags.GetSeconds("s", 1).value(), absl::Milliseconds(1500));
  EXPECT_EQ(flags.GetSeconds("s", 2).status().message(),
            "--s must be a number of seconds >= 2");
  EXPECT_EQ(flags.GetSeconds("n", 0.5).status().message(),
            "--n must be a number of seconds >= 0.5");
}

}  // namespace
}  // namespace signalscaler
