// The `signalscaler` binary as a user runs it: serve on the embedded
// quickstart policies, push a value, read the decision back, reload on
// SIGHUP, shut down on SIGTERM with streams ended OK; and its flag errors.
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/externalscaler.grpc.pb.h"
#include "sources/http/http_client.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Server = ScalerProcess;

TEST(BinaryTest, ServeHelpDocumentsEveryFlag) {
  RunResult r = RunCommand({SignalscalerBinary(), "serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--listen", "--policies", "--log-level", "--log-format"}) {
    EXPECT_THAT(r.output, HasSubstr(flag));
  }
  EXPECT_THAT(r.output, HasSubstr("0.0.0.0:9090"));
  r = RunCommand({SignalscalerBinary(), "push", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--address", "--namespace", "--policy", "--signal", "--value"}) {
    EXPECT_THAT(r.output, HasSubstr(flag));
  }
  EXPECT_THAT(r.output, HasSubstr("127.0.0.1:9090"));
}

TEST(BinaryTest, BadStateStoreFlagsAreUsageErrors) {
  RunResult r =
      RunCommand({SignalscalerBinary(), "serve", "--state-store=redis"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--state-store must be \"memory\" or "
                                  "redis://HOST:PORT[/DB], not \"redis\""));
  r = RunCommand({SignalscalerBinary(), "serve",
                  "--state-store=redis://:hunter2@127.0.0.1:6379"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--state-redis-password-file"));
  EXPECT_THAT(r.output, Not(HasSubstr("hunter2"))) << "never echoed";
  r = RunCommand({SignalscalerBinary(), "serve",
                  "--state-store=redis://127.0.0.1:6379",
                  "--state-key-prefix=a{b}"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--state-store"));
  r = RunCommand({SignalscalerBinary(), "serve", "--lease-seconds=0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--lease-seconds must be a number"));
}

TEST(BinaryTest, UnknownFlagIsAUsageError) {
  RunResult r = RunCommand({SignalscalerBinary(), "serve", "--polices=/tmp"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown flag --polices"));
  r = RunCommand({SignalscalerBinary(), "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown command \"frobnicate\""));
  r = RunCommand({SignalscalerBinary(), "serve", "--namespaces=team-a,Bad_NS"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("\"Bad_NS\" is not a namespace name"));
  r = RunCommand({SignalscalerBinary(), "serve", "--drain-seconds=soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--drain-seconds must be a number"));
}

TEST(BinaryTest, InvalidPolicyFileIsRejectedAloneAndNamed) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/broken.yaml", R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: broken, namespace: demo}
spec:
  maxReplicas: 3
  signals:
  - name: q
    type: Total
    source: {push: {}}
    targetPerReplica: 5
    targetPerRepilca: 6
)");
  WriteFile(dir + "/good.yaml", R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: good, namespace: demo}
spec:
  maxReplicas: 3
  signals:
  - {name: q, type: Total, source: {push: {}}, targetPerReplica: 5}
)");
  Server server = StartServe({"--policies=" + dir});
  ASSERT_NE(server.port, 0);
  EXPECT_THAT(server.process->Output(), HasSubstr("broken.yaml"));
  EXPECT_THAT(server.process->Output(), HasSubstr("targetPerRepilca"));
  auto push = [&](const std::string& policy) {
    return RunCommand({SignalscalerBinary(), "push",
                       "--address=" + server.address(), "--namespace=demo",
                       "--policy=" + policy, "--signal=q", "--value=1"});
  };
  EXPECT_EQ(push("good").exit_code, 0);
  RunResult broken = push("broken");
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_THAT(broken.output, HasSubstr("no policy \"broken\""));
  server.process->Signal(SIGTERM);
  EXPECT_EQ(server.process->Wait(absl::Seconds(20)), std::optional<int>(0));
}

TEST(BinaryTest, MissingPoliciesDirectoryRefusesToStart) {
  RunResult r =
      RunCommand({SignalscalerBinary(), "serve", "--listen=127.0.0.1:0",
                  "--policies=/nonexistent/policies"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("/nonexistent/policies"));
}

// Issue 13 item 2: `serve` logs a policy's warnings (here: minReplicas 0
// with a Prometheus Total signal that holds on no series, so the service
// could never reach 0) at warn when it loads the file; it still serves it.
TEST(BinaryTest, ServeLogsPolicyWarningsOnLoad) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/zero.yaml", R"yaml(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: zero, namespace: ops}
spec:
  minReplicas: 0
  maxReplicas: 4
  signals:
  - name: jobs
    type: Total
    targetPerReplica: 10
    source: {prometheus: {address: "http://127.0.0.1:1", query: "sum(q)"}}
)yaml");
  Server server = StartServe({"--policies=" + dir});
  ASSERT_NE(server.port, 0) << server.process->Output();
  EXPECT_TRUE(PollUntil(
      [&] {
        const std::string out = server.process->Output();
        return out.find("policy warning") != std::string::npos &&
               out.find("presenceQuery") != std::string::npos;
      },
      absl::Seconds(10)))
      << server.process->Output();
  KedaClient keda(server.address());
  EXPECT_TRUE(keda.MetricName("ops", "zero").ok()) << "served despite it";
}

// Issue 13 item 4: by default a scaler that knows neither a policy's
// current count nor its history (it has just started: a restart loses the
// memory store) answers nothing before a full scale-down window has been
// seen. Before, the first push answered at once: a restart with load 200 ->
// 20 then 50 answered 5 at once, a scale-down no window allowed.
TEST(BinaryTest, ByDefaultNoAnswerBeforeAFullDownWindowWithoutHistory) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/p.yaml", R"yaml(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: restart, namespace: ops}
spec:
  maxReplicas: 40
  evaluationIntervalSeconds: 1
  behavior:
    scaleDown: {stabilizationWindowSeconds: 4}
  signals:
  - {name: load, type: Total, targetPerReplica: 10, source: {push: {}}}
)yaml");
  Server server = StartServe({"--policies=" + dir});
  ASSERT_NE(server.port, 0) << server.process->Output();
  KedaClient keda(server.address());
  ASSERT_TRUE(keda.Push("ops", "restart", "load", 50).ok());
  const absl::Time pushed = absl::Now();
  absl::StatusOr<std::string> metric = keda.MetricName("ops", "restart");
  ASSERT_TRUE(metric.ok()) << metric.status();  // GetMetricSpec never fails
  // UNAVAILABLE (the HPA holds, KEDA's fallback applies) for the window...
  absl::StatusOr<double> early = keda.GetMetrics("ops", "restart", *metric);
  ASSERT_FALSE(early.ok()) << *early;
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(early.status().message()),
              HasSubstr("no answer before a full scale-down window"));
  absl::StatusOr<admin::v1::PolicyDecision> d = keda.Explain("ops", "restart");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->has_decision());
  EXPECT_THAT(d->unavailable_reason(), HasSubstr("4s"));
  // ...then the highest recommendation seen: 5.
  absl::StatusOr<double> later;
  ASSERT_TRUE(PollUntil(
      [&] {
        EXPECT_TRUE(keda.Push("ops", "restart", "load", 50).ok());
        later = keda.GetMetrics("ops", "restart", *metric);
        return later.ok();
      },
      absl::Seconds(20)));
  EXPECT_EQ(*later, 5);
  EXPECT_GE(absl::Now() - pushed, absl::Seconds(3)) << "answered too early";
}

// The README's first command: the embedded quickstart policies, and
// --no-history=decide (no fleet runs on a laptop: the first push decides).
TEST(BinaryTest, QuickstartServePushExplainAndGracefulShutdown) {
  Server server = StartServe({"--no-history=decide"});
  ASSERT_NE(server.port, 0);

  RunResult push =
      RunCommand({SignalscalerBinary(), "push", "--address=" + server.address(),
                  "--namespace=demo", "--policy=parlant-agent",
                  "--signal=active_requests", "--value=45"});
  ASSERT_EQ(push.exit_code, 0) << push.output;

  RunResult explain = RunCommand(
      {SignalscalerBinary(), "explain", "--address=" + server.address(),
       "--namespace=demo", "--policy=parlant-agent", "--output=json"});
  ASSERT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_THAT(explain.output, HasSubstr("\"replicas\": \"3\""));
  EXPECT_THAT(explain.output, HasSubstr("\"winner\": \"active_requests\""));

  // The same decision in Prometheus metrics.
  ASSERT_NE(server.metrics_port, 0);
  HttpClient http{HttpClientOptions()};
  absl::StatusOr<std::string> metrics = http.Get(
      absl::StrCat("http://127.0.0.1:", server.metrics_port, "/metrics"),
      absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(*metrics, HasSubstr("signalscaler_decision_replicas{namespace="
                                  "\"demo\",policy=\"parlant-agent\"} 3"));
  EXPECT_THAT(*metrics, HasSubstr("signalscaler_signal_value{namespace=\"demo"
                                  "\",policy=\"parlant-agent\",signal="
                                  "\"active_requests\"} 45"));

  explain = RunCommand(
      {SignalscalerBinary(), "explain", "--address=" + server.address()});
  ASSERT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_THAT(explain.output, HasSubstr("policy demo/parlant-agent"));
  EXPECT_THAT(explain.output, HasSubstr("replicas 3"));

  // A KEDA external-push stream, open across the shutdown.
  auto stub = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  externalscaler::ScaledObjectRef ref;
  ref.set_name("agent");
  ref.set_namespace_("demo");
  (*ref.mutable_scalermetadata())["policy"] = "parlant-agent";
  auto reader = stub->StreamIsActive(&ctx, ref);
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.result());

  server.process->Signal(SIGTERM);
  EXPECT_FALSE(reader->Read(&msg));
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(server.process->Wait(absl::Seconds(20)), std::optional<int>(0))
      << server.process->Output();
  EXPECT_THAT(server.process->Output(), HasSubstr("shutting down"));
}

TEST(BinaryTest, SighupReloadKeepsTheLastGoodPolicies) {
  const std::string dir = MakeTempDir();
  const std::string good = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: worker, namespace: jobs}
spec:
  maxReplicas: 4
  signals:
  - {name: depth, type: Total, source: {push: {}}, targetPerReplica: 10}
)";
  WriteFile(dir + "/worker.yaml", good);
  Server server = StartServe({"--policies=" + dir});
  ASSERT_NE(server.port, 0);
  auto push = [&](const std::string& policy) {
    return RunCommand({SignalscalerBinary(), "push",
                       "--address=" + server.address(), "--namespace=jobs",
                       "--policy=" + policy, "--signal=depth", "--value=15"});
  };
  EXPECT_EQ(push("worker").exit_code, 0);

  // A typo: rejected, logged with the file, and `worker` keeps serving.
  WriteFile(dir + "/worker.yaml", good + "  maxReplica: 5\n");
  server.process->Signal(SIGHUP);
  ASSERT_TRUE(
      server.process->WaitForOutput("policy file rejected", absl::Seconds(20)))
      << server.process->Output();
  EXPECT_THAT(server.process->Output(), HasSubstr("worker.yaml"));
  EXPECT_EQ(push("worker").exit_code, 0);

  // A good change: a second policy appears.
  WriteFile(
      dir + "/other.yaml",
      "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
      "metadata: {name: other, namespace: jobs}\nspec:\n  maxReplicas: 2\n"
      "  signals:\n  - {name: depth, type: Total, source: {push: {}}, "
      "targetPerReplica: 1}\n");
  WriteFile(dir + "/worker.yaml", good);
  server.process->Signal(SIGHUP);
  ASSERT_TRUE(server.process->WaitForOutput(
      "policies in force\",\"policies\":\"2\"", absl::Seconds(20)))
      << server.process->Output();
  EXPECT_EQ(push("other").exit_code, 0);

  server.process->Signal(SIGTERM);
  EXPECT_EQ(server.process->Wait(absl::Seconds(20)), std::optional<int>(0));
}

TEST(BinaryTest, PushToNoServerFailsClearly) {
  RunResult r =
      RunCommand({SignalscalerBinary(), "push", "--address=127.0.0.1:1",
                  "--namespace=demo", "--policy=p", "--signal=s", "--value=1",
                  "--timeout-seconds=2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("127.0.0.1:1"));
}

}  // namespace
}  // namespace signalscaler::testing
