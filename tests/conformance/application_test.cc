// The Application `serve` runs, in process: it builds its parts from a
// ServeConfig, says why it cannot (with the code serve turns into its exit
// code), starts them, reloads, drains, and stops them in reverse order: the
// ops port is closed before the gRPC server ends its streams.
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/externalscaler.grpc.pb.h"
#include "scaler/app/application.h"
#include "scaler/app/serve_config.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using testing::ConnectLoopback;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::MakeTempDir;
using testing::RawHttpAnswer;
using testing::WriteFile;

constexpr char kPolicy[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: NAME, namespace: demo}
spec:
  maxReplicas: 5
  signals:
  - {name: q, type: Total, source: {push: {}}, targetPerReplica: 10}
)";

std::string Policy(const std::string& name) {
  std::string text = kPolicy;
  text.replace(text.find("NAME"), 4, name);
  return text;
}

// Loopback ports picked by the kernel, the ops port included.
ServeConfig LoopbackConfig() {
  ServeConfig c;
  c.listen = "127.0.0.1:0";
  c.metrics_listen = "127.0.0.1:0";
  c.builtin_policies = Policy("builtin");
  c.evaluator.replica_id = "application-test";
  c.shutdown_grace = absl::Seconds(1);
  return c;
}

bool Refused(int port) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return true;
  ::close(fd);
  return false;
}

TEST(ApplicationTest, StopsTheOpsPortBeforeTheGrpcServerEndsItsStreams) {
  absl::StatusOr<std::unique_ptr<Application>> app =
      Application::Create(LoopbackConfig());
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  const int ops_port = (*app)->metrics_port();
  ASSERT_GT(ops_port, 0);
  ASSERT_GT((*app)->port(), 0);
  EXPECT_EQ((*app)->admin_port(), (*app)->port());
  EXPECT_EQ(HttpGet(ops_port, "/readyz").status, 200);

  auto scaler = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*app)->port()),
                          grpc::InsecureChannelCredentials()));
  externalscaler::ScaledObjectRef ref;
  ref.set_name("so");
  ref.set_namespace_("demo");
  (*ref.mutable_scalermetadata())["policy"] = "builtin";
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto reader = scaler->StreamIsActive(&ctx, ref);
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(reader->Read(&msg));  // the current state, at once

  std::thread stopper([&app] { (*app)->Stop(); });
  // The stream ends (with OK) once the gRPC server shuts down; by then the
  // ops port, stopped first, refuses connections.
  EXPECT_FALSE(reader->Read(&msg));
  const bool ops_closed = Refused(ops_port);
  grpc::Status s = reader->Finish();
  stopper.join();
  EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_TRUE(ops_closed) << "the ops port outlived the gRPC server";
  EXPECT_TRUE(Refused((*app)->port()));
  (*app)->Stop();  // idempotent
}

TEST(ApplicationTest, DrainTurnsReadinessOffAndKeepsAnswering) {
  absl::StatusOr<std::unique_ptr<Application>> app =
      Application::Create(LoopbackConfig());
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  const int ops_port = (*app)->metrics_port();
  (*app)->StartDrain();
  RawHttpAnswer ready = HttpGet(ops_port, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "not ready: draining\n");
  EXPECT_EQ(HttpGet(ops_port, "/livez").status, 200);
  EXPECT_EQ(HttpGet(ops_port, "/metrics").status, 200);
  EXPECT_TRUE((*app)->server().Liveness().ok());
  app->reset();  // the destructor stops it
  EXPECT_TRUE(Refused(ops_port));
}

TEST(ApplicationTest, StartFailureNamesTheFlagAndLeavesNothingOpen) {
  absl::StatusOr<std::unique_ptr<Application>> first =
      Application::Create(LoopbackConfig());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Start().ok());

  ServeConfig config = LoopbackConfig();
  config.admin_listen = absl::StrCat("127.0.0.1:", (*first)->port());
  absl::StatusOr<std::unique_ptr<Application>> second =
      Application::Create(config);
  ASSERT_TRUE(second.ok()) << second.status();
  absl::Status s = (*second)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("--admin-listen"));
  EXPECT_EQ((*second)->metrics_port(), 0) << "the ops port comes last";
  EXPECT_EQ(HttpGet((*first)->metrics_port(), "/readyz").status, 200);
}

TEST(ApplicationTest, CreateSaysWhyWithTheCodeServeExitsOn) {
  ServeConfig config = LoopbackConfig();
  config.policies_path = "/nonexistent/policies";
  absl::StatusOr<std::unique_ptr<Application>> app =
      Application::Create(config);
  ASSERT_FALSE(app.ok());
  EXPECT_FALSE(absl::IsInvalidArgument(app.status())) << "exit 1, not 2";
  EXPECT_THAT(app.status().message(), HasSubstr("/nonexistent/policies"));

  const std::string dir = MakeTempDir();
  config = LoopbackConfig();
  config.access.file = dir + "/authz.yaml";
  WriteFile(config.access.file, "kind: AdminAccess\n");
  app = Application::Create(config);
  ASSERT_FALSE(app.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(app.status())) << "exit 2, as a flag";
  EXPECT_THAT(app.status().message(), HasSubstr("--authz-file " + dir));

  config = LoopbackConfig();
  config.access.file = dir + "/authz.yaml";
  config.access.allow_any = true;
  app = Application::Create(config);
  ASSERT_FALSE(app.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(app.status()));
  EXPECT_THAT(app.status().message(),
              HasSubstr("--admin-allow-any and --authz-file"));
}

TEST(ApplicationTest, PoliciesFromAPathAndReload) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/a.yaml", Policy("a"));
  ServeConfig config = LoopbackConfig();
  config.policies_path = dir;
  ApplicationOptions options;
  options.background_loops = false;  // no watch: only Reload() reloads
  absl::StatusOr<std::unique_ptr<Application>> app =
      Application::Create(config, options);
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ((*app)->registry().Get()->policies().size(), 1u)
      << "loaded when built, before Start()";
  ASSERT_TRUE((*app)->Start().ok());
  WriteFile(dir + "/b.yaml", Policy("b"));
  (*app)->Reload();
  EXPECT_EQ((*app)->registry().Get()->policies().size(), 2u);
}

TEST(ApplicationTest, WithoutAPathServesTheBuiltinPoliciesOnly) {
  ServeConfig config = LoopbackConfig();
  config.metrics_listen = "";
  absl::StatusOr<std::unique_ptr<Application>> app =
      Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_EQ((*app)->registry().Get()->policies().size(), 1u);
  EXPECT_EQ((*app)->registry().Get()->policies()[0].policy.metadata().name(),
            "builtin");
  ASSERT_TRUE((*app)->Start().ok());
  EXPECT_EQ((*app)->metrics_port(), 0) << "no --metrics-listen, no ops port";
  EXPECT_TRUE((*app)->server().Readiness().ok());
}

}  // namespace
}  // namespace signalscaler
