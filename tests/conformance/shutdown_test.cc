// Operations through the real binary: SIGTERM drains (readiness off first,
// every call still answered, streams end with OK, exit 0 within the drain
// plus 2 s), and liveness does not depend on the data sources. The same
// health over HTTP on the metrics port: GET /livez and /readyz.
#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "proto/admin.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

using ::testing::HasSubstr;
using HC = grpc::health::v1::HealthCheckResponse;

externalscaler::ScaledObjectRef Ref() {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("agent");
  ref.set_namespace_("demo");
  (*ref.mutable_scalermetadata())["policy"] = "parlant-agent";
  return ref;
}

HC::ServingStatus Health(grpc::health::v1::Health::Stub& stub,
                         const std::string& service) {
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  if (!stub.Check(&ctx, req, &resp).ok()) return HC::UNKNOWN;
  return resp.status();
}

// Polls Health() for up to 2 s until it says `want`.
bool PollHealth(grpc::health::v1::Health::Stub& stub,
                const std::string& service, HC::ServingStatus want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (Health(stub, service) != want) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

TEST(ShutdownTest, SigtermDrainsThenEndsStreamsOkAndExitsInTime) {
  constexpr int kDrainSeconds = 2;
  // The quickstart's embedded policies with the README's first command:
  // a push decides at once (no fleet runs here, --no-history=decide).
  ScalerProcess server = StartServe(
      {absl::StrCat("--drain-seconds=", kDrainSeconds), "--no-history=decide"});
  ASSERT_NE(server.port, 0);
  auto channel =
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  auto scaler = externalscaler::ExternalScaler::NewStub(channel);
  auto admin = admin::v1::Admin::NewStub(channel);
  auto health = grpc::health::v1::Health::NewStub(channel);
  {
    admin::v1::PushRequest req;
    req.set_namespace_("demo");
    req.set_policy("parlant-agent");
    req.set_signal("active_requests");
    req.set_value(45);
    admin::v1::PushResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->Push(&ctx, req, &resp).ok());
  }
  ASSERT_EQ(Health(*health, "readiness"), HC::SERVING);
  // The push's decision is on the board before the streams open (they
  // answer it at once).
  {
    bool decided = false;
    for (int i = 0; i < 50 && !decided; ++i) {
      externalscaler::GetMetricsRequest req;
      *req.mutable_scaledobjectref() = Ref();
      req.set_metricname("signalscaler-demo-parlant-agent");
      externalscaler::GetMetricsResponse resp;
      grpc::ClientContext ctx;
      decided = scaler->GetMetrics(&ctx, req, &resp).ok();
      if (!decided) absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(decided) << "no decision 5 s after the push";
  }

  // Three external-push streams, as KEDA keeps them.
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> r;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 3; ++i) {
    auto s = std::make_unique<Stream>();
    s->ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    s->r = scaler->StreamIsActive(&s->ctx, Ref());
    externalscaler::IsActiveResponse msg;
    ASSERT_TRUE(s->r->Read(&msg));
    EXPECT_TRUE(msg.result());
    streams.push_back(std::move(s));
  }

  // KEDA's unary polling, without pause, through the whole shutdown.
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<std::pair<absl::Time, bool>> calls;  // start, ok
  std::thread poller([&] {
    while (!stop.load()) {
      externalscaler::GetMetricsRequest req;
      *req.mutable_scaledobjectref() = Ref();
      req.set_metricname("signalscaler-demo-parlant-agent");
      externalscaler::GetMetricsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      const absl::Time start = absl::Now();
      const bool ok = scaler->GetMetrics(&ctx, req, &resp).ok();
      absl::MutexLock lock(&mu);
      calls.emplace_back(start, ok);
    }
  });

  const absl::Time sigterm = absl::Now();
  server.process->Signal(SIGTERM);
  // Readiness turns NOT_SERVING first, while liveness and calls go on.
  absl::Time not_ready = absl::InfiniteFuture();
  while (absl::Now() - sigterm < absl::Seconds(kDrainSeconds)) {
    if (Health(*health, "readiness") == HC::NOT_SERVING) {
      not_ready = absl::Now();
      break;
    }
  }
  ASSERT_LT(not_ready - sigterm, absl::Seconds(1));
  EXPECT_EQ(Health(*health, ""), HC::SERVING);

  // Every stream ends with OK once the drain is over.
  for (auto& s : streams) {
    externalscaler::IsActiveResponse msg;
    EXPECT_FALSE(s->r->Read(&msg));
    grpc::Status st = s->r->Finish();
    EXPECT_TRUE(st.ok()) << st.error_code() << ": " << st.error_message();
  }
  const absl::Time streams_ended = absl::Now();
  EXPECT_GE(streams_ended - sigterm, absl::Seconds(kDrainSeconds) * 0.9);
  stop = true;
  poller.join();

  std::optional<int> code = server.process->Wait(absl::Seconds(10));
  const absl::Duration exit_after = absl::Now() - sigterm;
  EXPECT_EQ(code, std::optional<int>(0)) << server.process->Output();
  // The drain, then at most serve's 2 s shutdown grace (gRPC cancels what
  // is still in flight then), then the exit itself: well inside the pod's
  // terminationGracePeriodSeconds. gRPC core sometimes keeps a finished
  // call counted until the grace ends, so the grace is part of the bound.
  EXPECT_LT(exit_after, absl::Seconds(kDrainSeconds + 2 + 1)) << exit_after;

  // No call started during the drain failed (calls started once the
  // server was closing may be refused: they were never in flight).
  absl::MutexLock lock(&mu);
  int during_drain = 0;
  for (const auto& [start, ok] : calls) {
    if (start < sigterm + absl::Seconds(kDrainSeconds) * 0.9) {
      ++during_drain;
      EXPECT_TRUE(ok) << "a call started "
                      << absl::FormatDuration(start - sigterm)
                      << " after SIGTERM failed";
    }
  }
  EXPECT_GT(during_drain, 20);
  EXPECT_THAT(server.process->Output(), HasSubstr("draining"));
}

TEST(ShutdownTest, LivenessStaysServingWhilePrometheusIsUnreachable) {
  const std::string dir = MakeTempDir();
  // Port 1 on loopback: nothing listens there.
  WriteFile(dir + "/api.yaml",
            "apiVersion: signalscaler.io/v1\n"
            "kind: ScalingPolicy\n"
            "metadata: {name: api, namespace: web}\n"
            "spec:\n"
            "  maxReplicas: 5\n"
            "  evaluationIntervalSeconds: 1\n"
            "  signals:\n"
            "  - name: requests\n"
            "    type: Total\n"
            "    targetPerReplica: 10\n"
            "    source:\n"
            "      intervalSeconds: 1\n"
            "      prometheus: {address: 'http://127.0.0.1:1', query: up}\n");
  ScalerProcess server = StartServe({"--policies=" + dir});
  ASSERT_NE(server.port, 0);
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
  // Wait until the source has failed (and is logged), then probe.
  ASSERT_TRUE(
      server.process->WaitForOutput("source read failed", absl::Seconds(20)))
      << server.process->Output();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Health(*health, ""), HC::SERVING);
    EXPECT_EQ(Health(*health, "liveness"), HC::SERVING);
    EXPECT_EQ(Health(*health, "readiness"), HC::SERVING);
    EXPECT_EQ(HttpGet(server.metrics_port, "/livez").status, 200);
    EXPECT_EQ(HttpGet(server.metrics_port, "/readyz").status, 200);
    absl::SleepFor(absl::Milliseconds(300));  // across several failed polls
  }
  RunResult explain = RunCommand({SignalscalerBinary(), "explain",
                                  "--address=" + server.address(),
                                  "--namespace=web", "--policy=api"});
  EXPECT_EQ(explain.exit_code, 0);
  EXPECT_THAT(explain.output, HasSubstr("no decision"));
  EXPECT_THAT(explain.output, HasSubstr("no signal of policy web/api"));
  server.process->Signal(SIGTERM);
  EXPECT_EQ(server.process->Wait(absl::Seconds(10)), std::optional<int>(0));
}

TEST(ShutdownTest, HttpReadyzTurns503OnSigtermWhileLivezAndMetricsAnswer) {
  constexpr int kDrainSeconds = 3;
  ScalerProcess server =
      StartServe({absl::StrCat("--drain-seconds=", kDrainSeconds)});
  ASSERT_NE(server.port, 0);
  ASSERT_NE(server.metrics_port, 0) << server.process->Output();
  const int port = server.metrics_port;
  // The embedded policies are in force before the port opens.
  RawHttpAnswer ready = HttpGet(port, "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ok\n");
  EXPECT_EQ(ready.content_type, "text/plain; charset=utf-8");
  RawHttpAnswer live = HttpGet(port, "/livez");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  EXPECT_EQ(HttpGet(port, "/readyz", "HEAD").status, 200);
  EXPECT_EQ(HttpGet(port, "/healthz").status, 404);
  EXPECT_EQ(HttpGet(port, "/readyz", "POST").status, 405);

  const absl::Time sigterm = absl::Now();
  server.process->Signal(SIGTERM);
  absl::Time not_ready = absl::InfiniteFuture();
  while (absl::Now() - sigterm < absl::Seconds(kDrainSeconds)) {
    ready = HttpGet(port, "/readyz");
    if (ready.status == 503) {
      not_ready = absl::Now();
      break;
    }
  }
  ASSERT_LT(not_ready - sigterm, absl::Seconds(1)) << server.process->Output();
  EXPECT_EQ(ready.body, "not ready: draining\n");
  EXPECT_EQ(ready.content_type, "text/plain; charset=utf-8");
  // Through the drain: never ready again, always live, metrics answer.
  int probes = 0;
  while (absl::Now() - sigterm < absl::Seconds(kDrainSeconds) * 0.8) {
    EXPECT_EQ(HttpGet(port, "/readyz").status, 503);
    live = HttpGet(port, "/livez");
    EXPECT_EQ(live.status, 200);
    EXPECT_EQ(live.body, "ok\n");
    RawHttpAnswer metrics = HttpGet(port, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_THAT(metrics.body,
                HasSubstr("# TYPE signalscaler_policies_loaded gauge"));
    ++probes;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_GT(probes, 5);
  EXPECT_EQ(server.process->Wait(absl::Seconds(10)), std::optional<int>(0))
      << server.process->Output();
}

TEST(ShutdownTest, HttpReadyzIs503WithoutAValidPolicyAndLivezIs200) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/broken.yaml",
            "apiVersion: signalscaler.io/v1\n"
            "kind: ScalingPolicy\n"
            "metadata: {name: api, namespace: web\n");  // unclosed
  ScalerProcess server = StartServe({"--policies=" + dir});
  ASSERT_NE(server.port, 0) << server.process->Output();
  ASSERT_NE(server.metrics_port, 0) << server.process->Output();
  RawHttpAnswer ready = HttpGet(server.metrics_port, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "not ready: no policy loaded\n");
  RawHttpAnswer live = HttpGet(server.metrics_port, "/livez");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  // The same as gRPC health says.
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(Health(*health, "readiness"), HC::NOT_SERVING);
  EXPECT_EQ(Health(*health, "liveness"), HC::SERVING);

  // Ready once a valid policy is in force.
  WriteFile(dir + "/broken.yaml",
            "apiVersion: signalscaler.io/v1\n"
            "kind: ScalingPolicy\n"
            "metadata: {name: api, namespace: web}\n"
            "spec:\n"
            "  maxReplicas: 5\n"
            "  signals:\n"
            "  - {name: requests, type: Total, targetPerReplica: 10,\n"
            "     source: {push: {}}}\n");
  server.process->Signal(SIGHUP);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         HttpGet(server.metrics_port, "/readyz").status != 200) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ready = HttpGet(server.metrics_port, "/readyz");
  EXPECT_EQ(ready.status, 200) << server.process->Output();
  EXPECT_EQ(ready.body, "ok\n");
  // gRPC health is set by the reload's listener just after the policies
  // are in force, which /readyz reads directly: allow that moment.
  EXPECT_TRUE(PollHealth(*health, "readiness", HC::SERVING));
  server.process->Signal(SIGTERM);
  EXPECT_EQ(server.process->Wait(absl::Seconds(10)), std::optional<int>(0));
}

}  // namespace
}  // namespace signalscaler::testing
