// Drives the server exactly as KEDA does, over real gRPC on loopback:
// GetMetricSpec, then GetMetrics with the spec's metric name, then IsActive;
// StreamIsActive kept open across an inactive -> active transition and a
// server shutdown; StreamMetricSpec; every error case of the trigger
// metadata; health checking and reflection. The server is the one `serve`
// runs: an Application built from a ServeConfig, with a ManualClock and no
// background loops (the tests drive time and evaluation).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/client_callback.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "proto/admin.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"
#include "reflection.pb.h"
#include "scaler/app/application.h"
#include "scaler/app/serve_config.h"
#include "scaler/common/clock.h"
#include "scaler/policy/loader.h"
#include "scaler/server/policy_registry.h"

namespace signalscaler {
namespace {

// serve's defaults on loopback ports of its own, without the ops port,
// serving `policies` as its built-in policies (no --policies). These tests
// are about the wire, not about a restart's wait: decide at once, as
// `serve --no-history=decide` (the wait: UnknownHistory tests). Admin calls
// from any peer, as --admin-allow-any.
ServeConfig TestConfig(const std::string& policies) {
  ServeConfig c;
  c.listen = "127.0.0.1:0";
  c.metrics_listen = "";
  c.builtin_policies = policies;
  c.builtin_policies_name = "test policies";
  c.evaluator.wait_without_history = false;
  c.evaluator.replica_id = "conformance";
  c.access.allow_any = true;
  c.shutdown_grace = absl::Seconds(1);
  return c;
}

// The Application on `clock`, started, its loops left to the test.
std::unique_ptr<Application> StartApp(const ServeConfig& config,
                                      const Clock& clock) {
  ApplicationOptions options;
  options.clock = &clock;
  options.background_loops = false;
  absl::StatusOr<std::unique_ptr<Application>> app =
      Application::Create(config, options);
  EXPECT_TRUE(app.ok()) << app.status();
  if (!app.ok()) return nullptr;
  absl::Status s = (*app)->Start();
  EXPECT_TRUE(s.ok()) << s;
  return s.ok() ? *std::move(app) : nullptr;
}

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A policy in another namespace, to prove that namespaces do not leak, and
// a non-push signal, to prove push refuses it.
constexpr char kOtherNamespace[] = R"(
apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: hidden, namespace: secret-ns}
spec:
  maxReplicas: 3
  signals:
  - name: queue
    type: Total
    source: {prometheus: {address: "http://127.0.0.1:1", query: "up"}}
    targetPerReplica: 5
)";

std::string SourceDir() {
  const char* dir = std::getenv("SIGNALSCALER_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string QuickstartText() {
  std::ifstream in(SourceDir() + "/deploy/examples/quickstart/policies.yaml");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<LoadedPolicy> QuickstartPolicies(bool with_other) {
  LoadResult r =
      LoadPolicies(SourceDir() + "/deploy/examples/quickstart/policies.yaml");
  EXPECT_TRUE(r.errors.empty()) << r.ToStatus();
  std::vector<LoadedPolicy> all = r.policies;
  if (with_other) {
    LoadResult other = ParsePolicies(kOtherNamespace, "other.yaml");
    EXPECT_TRUE(other.errors.empty()) << other.ToStatus();
    all.insert(all.end(), other.policies.begin(), other.policies.end());
  }
  return all;
}

externalscaler::ScaledObjectRef Ref(const std::string& ns,
                                    const std::string& policy) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("my-scaledobject");
  ref.set_namespace_(ns);
  // KEDA forwards all trigger metadata, its own keys included.
  (*ref.mutable_scalermetadata())["scalerAddress"] =
      "signalscaler.signalscaler.svc.cluster.local:9090";
  if (!policy.empty()) (*ref.mutable_scalermetadata())["policy"] = policy;
  return ref;
}

class KedaConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = StartApp(TestConfig(QuickstartText()), clock_);
    ASSERT_NE(app_, nullptr);
    // The quickstart's policies, and one of another namespace.
    registry().Set(std::make_shared<PolicySnapshot>(QuickstartPolicies(true)));
    Connect();
  }
  void TearDown() override {
    if (app_ != nullptr) app_->Stop();
  }

  void Connect() {
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", app_->port()),
                                   grpc::InsecureChannelCredentials());
    scaler_ = externalscaler::ExternalScaler::NewStub(channel_);
    admin_ = admin::v1::Admin::NewStub(channel_);
  }

  PolicyRegistry& registry() { return app_->registry(); }
  ScalerServer& server() { return app_->server(); }

  static void Deadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  }

  grpc::Status Push(const std::string& ns, const std::string& policy,
                    const std::string& signal, double value) {
    admin::v1::PushRequest req;
    req.set_namespace_(ns);
    req.set_policy(policy);
    req.set_signal(signal);
    req.set_value(value);
    admin::v1::PushResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    return admin_->Push(&ctx, req, &resp);
  }

  grpc::Status GetMetricSpec(const externalscaler::ScaledObjectRef& ref,
                             externalscaler::GetMetricSpecResponse& resp) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    return scaler_->GetMetricSpec(&ctx, ref, &resp);
  }

  grpc::Status GetMetrics(const externalscaler::ScaledObjectRef& ref,
                          const std::string& metric,
                          externalscaler::GetMetricsResponse& resp) {
    externalscaler::GetMetricsRequest req;
    *req.mutable_scaledobjectref() = ref;
    req.set_metricname(metric);
    grpc::ClientContext ctx;
    Deadline(ctx);
    return scaler_->GetMetrics(&ctx, req, &resp);
  }

  grpc::Status IsActive(const externalscaler::ScaledObjectRef& ref,
                        bool& active) {
    externalscaler::IsActiveResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    grpc::Status s = scaler_->IsActive(&ctx, ref, &resp);
    active = resp.result();
    return s;
  }

  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<Application> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> scaler_;
  std::unique_ptr<admin::v1::Admin::Stub> admin_;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

TEST_F(KedaConformanceTest, KedaCallSequenceReturnsTheDecision) {
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 45).ok());
  auto ref = Ref("demo", "parlant-agent");
  (*ref.mutable_scalermetadata())["enableTLS"] = "false";
  (*ref.mutable_scalermetadata())["unsafeSsl"] = "false";

  externalscaler::GetMetricSpecResponse spec;
  ASSERT_TRUE(GetMetricSpec(ref, spec).ok());
  ASSERT_EQ(spec.metricspecs_size(), 1);
  EXPECT_EQ(spec.metricspecs(0).metricname(),
            "signalscaler-demo-parlant-agent");
  EXPECT_EQ(spec.metricspecs(0).targetsize(), 1);
  EXPECT_EQ(spec.metricspecs(0).targetsizefloat(), 1.0);

  externalscaler::GetMetricsResponse metrics;
  ASSERT_TRUE(GetMetrics(ref, spec.metricspecs(0).metricname(), metrics).ok());
  ASSERT_EQ(metrics.metricvalues_size(), 1);
  EXPECT_EQ(metrics.metricvalues(0).metricname(),
            "signalscaler-demo-parlant-agent");
  // ceil(45 / 20) = 3 replicas, in both fields.
  EXPECT_EQ(metrics.metricvalues(0).metricvalue(), 3);
  EXPECT_EQ(metrics.metricvalues(0).metricvaluefloat(), 3.0);

  bool active = false;
  ASSERT_TRUE(IsActive(ref, active).ok());
  EXPECT_TRUE(active);
}

TEST_F(KedaConformanceTest, ZeroDecisionIsInactiveWithBothFieldsZero) {
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 0).ok());
  auto ref = Ref("demo", "parlant-agent");
  externalscaler::GetMetricsResponse metrics;
  ASSERT_TRUE(GetMetrics(ref, "signalscaler-demo-parlant-agent", metrics).ok());
  EXPECT_EQ(metrics.metricvalues(0).metricvalue(), 0);
  EXPECT_EQ(metrics.metricvalues(0).metricvaluefloat(), 0.0);
  bool active = true;
  ASSERT_TRUE(IsActive(ref, active).ok());
  EXPECT_FALSE(active);
}

#pragma GCC diagnostic pop

TEST_F(KedaConformanceTest, NoDecisionYetIsUnavailable) {
  auto ref = Ref("demo", "egress-jobs");
  externalscaler::GetMetricSpecResponse spec;
  EXPECT_TRUE(GetMetricSpec(ref, spec).ok()) << "the spec needs no decision";
  externalscaler::GetMetricsResponse metrics;
  grpc::Status s = GetMetrics(ref, "signalscaler-demo-egress-jobs", metrics);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  bool active = false;
  EXPECT_EQ(IsActive(ref, active).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(KedaConformanceTest, UnknownMetadataKeyIsInvalidArgumentNamingIt) {
  auto ref = Ref("demo", "parlant-agent");
  (*ref.mutable_scalermetadata())["threshold"] = "20";
  const std::vector<std::string> expected = {
      "\"threshold\"",
      "accepted keys: policy, policyFromEnv, scalerAddress, enableTLS, "
      "unsafeSsl"};

  externalscaler::GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(ref, spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const auto& e : expected) EXPECT_THAT(s.error_message(), HasSubstr(e));

  externalscaler::GetMetricsResponse metrics;
  s = GetMetrics(ref, "signalscaler-demo-parlant-agent", metrics);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("\"threshold\""));

  bool active = false;
  s = IsActive(ref, active);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("\"threshold\""));

  grpc::ClientContext ctx;
  Deadline(ctx);
  auto reader = scaler_->StreamIsActive(&ctx, ref);
  externalscaler::IsActiveResponse msg;
  EXPECT_FALSE(reader->Read(&msg));
  s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("\"threshold\""));
}

// KEDA forwards `policyFromEnv` unchanged with the value it resolved from the
// workload's environment: it names the policy exactly as `policy` does.
TEST_F(KedaConformanceTest, PolicyFromEnvReadsAsPolicy) {
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 45).ok());
  auto from_env = Ref("demo", "");
  (*from_env.mutable_scalermetadata())["policyFromEnv"] = "parlant-agent";
  const auto plain = Ref("demo", "parlant-agent");

  externalscaler::GetMetricSpecResponse spec_env;
  externalscaler::GetMetricSpecResponse spec_plain;
  grpc::Status s = GetMetricSpec(from_env, spec_env);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(GetMetricSpec(plain, spec_plain).ok());
  EXPECT_EQ(spec_env.SerializeAsString(), spec_plain.SerializeAsString());
  ASSERT_EQ(spec_env.metricspecs_size(), 1);
  EXPECT_EQ(spec_env.metricspecs(0).metricname(),
            "signalscaler-demo-parlant-agent");

  externalscaler::GetMetricsResponse m_env;
  externalscaler::GetMetricsResponse m_plain;
  s = GetMetrics(from_env, "signalscaler-demo-parlant-agent", m_env);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(
      GetMetrics(plain, "signalscaler-demo-parlant-agent", m_plain).ok());
  ASSERT_EQ(m_env.metricvalues_size(), 1);
  EXPECT_EQ(m_env.metricvalues(0).metricvaluefloat(), 3.0);  // ceil(45 / 20)
  EXPECT_EQ(m_env.SerializeAsString(), m_plain.SerializeAsString());

  bool active = false;
  ASSERT_TRUE(IsActive(from_env, active).ok());
  EXPECT_TRUE(active);

  grpc::ClientContext ctx;
  Deadline(ctx);
  auto reader = scaler_->StreamIsActive(&ctx, from_env);
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.result());
  ctx.TryCancel();
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(KedaConformanceTest, PolicyAndPolicyFromEnvDifferingIsInvalidArgument) {
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 45).ok());
  ASSERT_TRUE(Push("demo", "egress-jobs", "queue_depth", 25).ok());
  auto ref = Ref("demo", "parlant-agent");
  (*ref.mutable_scalermetadata())["policyFromEnv"] = "egress-jobs";
  auto names_both = [](const grpc::Status& s) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("\"policy\""));
    EXPECT_THAT(s.error_message(), HasSubstr("\"policyFromEnv\""));
    EXPECT_THAT(s.error_message(), Not(HasSubstr("unknown")));
  };

  externalscaler::GetMetricSpecResponse spec;
  names_both(GetMetricSpec(ref, spec));
  externalscaler::GetMetricsResponse metrics;
  names_both(GetMetrics(ref, "signalscaler-demo-parlant-agent", metrics));
  bool active = false;
  names_both(IsActive(ref, active));
  grpc::ClientContext ctx;
  Deadline(ctx);
  auto reader = scaler_->StreamIsActive(&ctx, ref);
  externalscaler::IsActiveResponse msg;
  EXPECT_FALSE(reader->Read(&msg));
  names_both(reader->Finish());
}

TEST_F(KedaConformanceTest, PolicyAndPolicyFromEnvEqualIsFine) {
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 45).ok());
  auto ref = Ref("demo", "parlant-agent");
  (*ref.mutable_scalermetadata())["policyFromEnv"] = "parlant-agent";
  externalscaler::GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(ref, spec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(spec.metricspecs_size(), 1);
  EXPECT_EQ(spec.metricspecs(0).metricname(),
            "signalscaler-demo-parlant-agent");
  externalscaler::GetMetricsResponse metrics;
  s = GetMetrics(ref, "signalscaler-demo-parlant-agent", metrics);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(metrics.metricvalues(0).metricvaluefloat(), 3.0);
  bool active = false;
  ASSERT_TRUE(IsActive(ref, active).ok());
  EXPECT_TRUE(active);

  // An empty value is no value (KEDA drops a FromEnv key whose variable is
  // unset or empty): `policy` alone decides.
  (*ref.mutable_scalermetadata())["policyFromEnv"] = "";
  s = GetMetricSpec(ref, spec);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// KEDA reads its own keys only as written, so their FromEnv forms configure
// nothing in KEDA: they are unknown keys, named, with the reason.
TEST_F(KedaConformanceTest, FromEnvOfKedaKeysIsInvalidArgumentNamingIt) {
  auto ref = Ref("demo", "parlant-agent");
  (*ref.mutable_scalermetadata())["enableTLSFromEnv"] = "true";
  externalscaler::GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(ref, spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("\"enableTLSFromEnv\""));
  EXPECT_THAT(s.error_message(), HasSubstr("never FromEnv"));
}

TEST_F(KedaConformanceTest, MissingPolicyKeyIsInvalidArgument) {
  externalscaler::GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(Ref("demo", ""), spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("\"policy\""));
  EXPECT_THAT(s.error_message(), HasSubstr("\"policyFromEnv\""));
}

TEST_F(KedaConformanceTest, EmptyNamespaceIsInvalidArgument) {
  externalscaler::GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(Ref("", "parlant-agent"), spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("namespace"));
}

TEST_F(KedaConformanceTest, PolicyOfAnotherNamespaceIsNotFoundAndNotNamed) {
  // `hidden` exists, but in secret-ns: from demo it does not exist.
  externalscaler::GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(Ref("demo", "hidden"), spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("\"hidden\""));
  EXPECT_THAT(s.error_message(), HasSubstr("\"demo\""));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("secret-ns")));

  // And demo's policies are invisible from another namespace.
  s = GetMetricSpec(Ref("team-b", "parlant-agent"), spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), Not(HasSubstr("demo")));

  bool active = false;
  EXPECT_EQ(IsActive(Ref("team-b", "parlant-agent"), active).error_code(),
            grpc::StatusCode::NOT_FOUND);
  externalscaler::GetMetricsResponse metrics;
  EXPECT_EQ(GetMetrics(Ref("team-b", "parlant-agent"),
                       "signalscaler-demo-parlant-agent", metrics)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(KedaConformanceTest, WrongMetricNameIsNotFound) {
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 5).ok());
  externalscaler::GetMetricsResponse metrics;
  grpc::Status s =
      GetMetrics(Ref("demo", "parlant-agent"), "s0-other", metrics);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("signalscaler-demo-parlant-agent"));
}

TEST_F(KedaConformanceTest, StreamIsActiveSendsStateThenTransitionsThenEndsOk) {
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 0).ok());
  grpc::ClientContext ctx;
  Deadline(ctx);
  auto reader = scaler_->StreamIsActive(&ctx, Ref("demo", "parlant-agent"));
  externalscaler::IsActiveResponse msg;

  // The current state at once: 0 replicas, inactive.
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_FALSE(msg.result());

  // Inactive -> active: `true`.
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 30).ok());
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.result());

  // Active -> more active: nothing. Then down to 0 once the 300 s default
  // scale-down window has passed (nothing sent for a deactivation either),
  // then active again: `true` once more.
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 50).ok());
  clock_.Advance(absl::Seconds(301));
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 0).ok());
  bool active = true;
  ASSERT_TRUE(IsActive(Ref("demo", "parlant-agent"), active).ok());
  ASSERT_FALSE(active) << "the decision should have reached 0";
  ASSERT_TRUE(Push("demo", "parlant-agent", "active_requests", 10).ok());
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.result());

  // Shutdown ends the stream with OK (KEDA then retries after 2 s), and no
  // other message was queued before it.
  EXPECT_EQ(server().open_streams(), 1u);
  server().Shutdown(absl::Seconds(2));
  EXPECT_FALSE(reader->Read(&msg));
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

TEST_F(KedaConformanceTest, StreamIsActiveBeforeAnyDecisionSendsFalse) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  auto reader = scaler_->StreamIsActive(&ctx, Ref("demo", "egress-jobs"));
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_FALSE(msg.result());
  // The first value wakes it: minReplicas 1, 25 queued -> 3 replicas.
  ASSERT_TRUE(Push("demo", "egress-jobs", "queue_depth", 25).ok());
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.result());
  ctx.TryCancel();
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(KedaConformanceTest, StreamMetricSpecSendsSpecAndEndsWhenPolicyRemoved) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  auto reader = scaler_->StreamMetricSpec(&ctx, Ref("demo", "egress-jobs"));
  externalscaler::GetMetricSpecResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_EQ(msg.metricspecs_size(), 1);
  EXPECT_EQ(msg.metricspecs(0).metricname(), "signalscaler-demo-egress-jobs");
  EXPECT_EQ(msg.metricspecs(0).targetsizefloat(), 1.0);

  // A reload that leaves the spec unchanged sends nothing; one that removes
  // the policy ends the stream with NOT_FOUND.
  registry().Set(std::make_shared<PolicySnapshot>(QuickstartPolicies(true)));
  std::vector<LoadedPolicy> without;
  for (const LoadedPolicy& p : QuickstartPolicies(true)) {
    if (p.policy.metadata().name() != "egress-jobs") without.push_back(p);
  }
  registry().Set(std::make_shared<PolicySnapshot>(without));
  EXPECT_FALSE(reader->Read(&msg));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("egress-jobs"));
}

TEST_F(KedaConformanceTest, StreamMetricSpecEndsOkOnShutdown) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  auto reader = scaler_->StreamMetricSpec(&ctx, Ref("demo", "voice-agent"));
  externalscaler::GetMetricSpecResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  server().Shutdown(absl::Seconds(2));
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(KedaConformanceTest, PushErrorsAreClear) {
  grpc::Status s = Push("secret-ns", "hidden", "queue", 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("not a push signal"));
  EXPECT_THAT(s.error_message(), HasSubstr("prometheus"));

  s = Push("demo", "parlant-agent", "no_such_signal", 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("no_such_signal"));

  s = Push("demo", "no-such-policy", "active_requests", 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  s = Push("demo", "parlant-agent", "active_requests", std::nan(""));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(KedaConformanceTest, StalePushedValueHoldsAndExplainSaysSo) {
  ASSERT_TRUE(Push("demo", "egress-jobs", "queue_depth", 25).ok());
  // Three evaluation intervals (3 x 5 s) later the value is stale.
  clock_.Advance(absl::Seconds(16));
  app_->evaluator().EvaluateDue();
  admin::v1::ExplainRequest req;
  req.set_namespace_("demo");
  req.set_policy("egress-jobs");
  admin::v1::ExplainResponse resp;
  grpc::ClientContext ctx;
  Deadline(ctx);
  ASSERT_TRUE(admin_->Explain(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.decisions_size(), 1);
  const auto& d = resp.decisions(0);
  EXPECT_TRUE(d.has_decision());
  EXPECT_EQ(d.replicas(), 3);  // held at ceil(25 / 10)
  ASSERT_EQ(d.signals_size(), 1);
  EXPECT_EQ(d.signals(0).state(), "stale");
  EXPECT_EQ(d.signals(0).proposal(), 3);
  EXPECT_FALSE(d.reasons().empty());
}

TEST_F(KedaConformanceTest, HealthIsServingForEveryService) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (const char* service :
       {"", "liveness", "readiness", "externalscaler.ExternalScaler",
        "signalscaler.admin.v1.Admin"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << service;
  }
}

TEST_F(KedaConformanceTest, ReflectionListsTheServices) {
  namespace refl = ::signalscaler::testing::reflection;
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING, channel_);
  grpc::ClientContext ctx;
  Deadline(ctx);
  std::unique_ptr<grpc::ClientReaderWriter<refl::ServerReflectionRequest,
                                           refl::ServerReflectionResponse>>
      stream(grpc::internal::ClientReaderWriterFactory<
             refl::ServerReflectionRequest,
             refl::ServerReflectionResponse>::Create(channel_.get(), method,
                                                     &ctx));
  refl::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  stream->WritesDone();
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf({"externalscaler.ExternalScaler",
                                              "signalscaler.admin.v1.Admin",
                                              "grpc.health.v1.Health"}));
  while (stream->Read(&resp)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(KedaConformanceTest, NamespaceOutsideServedSetIsPermissionDenied) {
  // A scaler started with --namespaces=demo answers no other namespace.
  app_->Stop();
  ServeConfig config =
      TestConfig(QuickstartText() + "\n---\n" + kOtherNamespace);
  config.namespaces = {"demo"};
  app_ = StartApp(config, clock_);
  ASSERT_NE(app_, nullptr);
  Connect();
  externalscaler::GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(Ref("secret-ns", "hidden"), spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("\"secret-ns\" is not served"));
  EXPECT_TRUE(GetMetricSpec(Ref("demo", "parlant-agent"), spec).ok());
}

TEST(HealthBeforePolicies, ReadyOnlyWithPoliciesAndNotDraining) {
  ManualClock clock;
  std::unique_ptr<Application> app = StartApp(TestConfig(""), clock);
  ASSERT_NE(app, nullptr);
  PolicyRegistry& registry = app->registry();
  ScalerServer& server = app->server();
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
                          grpc::InsecureChannelCredentials()));
  auto check = [&](const std::string& service) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    EXPECT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    return resp.status();
  };
  using HC = grpc::health::v1::HealthCheckResponse;
  // Liveness is the process alone; readiness needs policies in force.
  EXPECT_EQ(check(""), HC::SERVING);
  EXPECT_EQ(check("liveness"), HC::SERVING);
  EXPECT_EQ(check("readiness"), HC::NOT_SERVING);
  EXPECT_EQ(check("externalscaler.ExternalScaler"), HC::NOT_SERVING);
  registry.Set(std::make_shared<PolicySnapshot>(QuickstartPolicies(false)));
  server.RefreshHealth();
  EXPECT_EQ(check("readiness"), HC::SERVING);
  EXPECT_EQ(check("externalscaler.ExternalScaler"), HC::SERVING);
  // Draining: not ready, still alive, every call still answered.
  app->StartDrain();
  EXPECT_EQ(check("readiness"), HC::NOT_SERVING);
  EXPECT_EQ(check(""), HC::SERVING);
  app->Stop();
}

}  // namespace
}  // namespace signalscaler
