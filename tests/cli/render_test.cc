// `signalscaler render` through the binary for every example policy, each
// output validated against KEDA's CRD schema and checked against its policy;
// the TLS variant; RenderScaledObjects on its own for what the examples do
// not cover (quoting).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/cli/render.h"
#include "scaler/policy/defaults.h"
#include "scaler/policy/loader.h"
#include "tests/cli/cli_test_util.h"
#include "tests/manifests/hpa_tolerance.h"
#include "tests/manifests/manifest_files.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using cli_testing::At;
using manifests::YamlDocument;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::RunCommand;
using testing::RunResult;
using testing::SignalscalerBinary;
using testing::SourceDir;

// Every example policy file, the quickstart's (three policies) included.
std::vector<std::string> PolicyFiles() {
  std::vector<std::string> files =
      manifests::FindYamlFiles(SourceDir() + "/deploy/examples/policies");
  files.push_back(SourceDir() + "/deploy/examples/quickstart/policies.yaml");
  return files;
}

RunResult Render(const std::string& file, std::vector<std::string> flags = {}) {
  flags.insert(flags.begin(), {SignalscalerBinary(), "render", file});
  return RunCommand(flags);
}

// Parses `text`, failing the test on a syntax error.
std::vector<YamlDocument> Parse(const std::string& text,
                                const std::string& what) {
  std::vector<YamlDocument> docs;
  std::string error;
  EXPECT_TRUE(manifests::ParseYamlDocuments(text, what, &docs, &error))
      << error << "\n"
      << text;
  return docs;
}

int64_t EffectiveMax(const v1::PolicySpec& spec) {
  int64_t upper = spec.max_replicas();
  for (const v1::Limit& l : spec.limits()) {
    upper = std::min<int64_t>(upper, std::floor(l.budget() / l.per_replica()));
  }
  return upper;
}

class RenderCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(keda_.ok()) << keda_.error(); }

  // The rendered ScaledObject of `p` follows the policy and the conventions.
  void ExpectMatchesPolicy(const YamlDocument& so, const v1::ScalingPolicy& p,
                           const std::string& trigger_type,
                           const std::string& address) {
    const std::string where = manifests::Where(so);
    for (const std::string& e : keda_.ValidateScaledObject(so)) {
      ADD_FAILURE() << e;
    }
    // The HPA carries out every step: both tolerances present and 0.
    for (const std::string& e : manifests::ZeroToleranceErrors(so)) {
      ADD_FAILURE() << e;
    }
    const json& v = so.value;
    const json& spec = v["spec"];
    EXPECT_EQ(v["metadata"]["name"], p.metadata().name()) << where;
    EXPECT_EQ(v["metadata"]["namespace"], p.metadata().namespace_()) << where;
    EXPECT_EQ(At(spec, {"scaleTargetRef", "kind"}), "Deployment") << where;
    EXPECT_EQ(At(spec, {"scaleTargetRef", "name"}), p.metadata().name());
    const int64_t min = MinReplicas(p.spec());
    EXPECT_EQ(spec["minReplicaCount"], min) << where;
    EXPECT_EQ(spec["maxReplicaCount"], p.spec().max_replicas()) << where;
    if (min == 0) {
      EXPECT_EQ(spec["pollingInterval"], 5) << where;
    } else {
      EXPECT_FALSE(spec.contains("pollingInterval")) << where;
    }
    const json& fallback = spec["fallback"];
    EXPECT_EQ(fallback["failureThreshold"], 3) << where;
    EXPECT_EQ(fallback["replicas"], std::min<int64_t>(std::max<int64_t>(min, 1),
                                                      EffectiveMax(p.spec())))
        << where;
    EXPECT_EQ(fallback["behavior"], "currentReplicasIfHigher") << where;
    const json& behavior =
        At(spec, {"advanced", "horizontalPodAutoscalerConfig", "behavior"});
    for (const char* direction : {"scaleUp", "scaleDown"}) {
      const json& rules = At(behavior, {direction});
      EXPECT_EQ(rules["stabilizationWindowSeconds"], 0) << where << direction;
      ASSERT_EQ(rules["policies"].size(), 2u) << where << direction;
      EXPECT_EQ(rules["policies"][0]["type"], "Pods");
      EXPECT_EQ(rules["policies"][0]["value"], p.spec().max_replicas());
      EXPECT_EQ(rules["policies"][1]["type"], "Percent");
      EXPECT_EQ(rules["policies"][1]["value"], 100);
      for (const json& rate : rules["policies"]) {
        EXPECT_EQ(rate["periodSeconds"], 15) << where;
      }
    }
    ASSERT_EQ(spec["triggers"].size(), 1u) << where;
    const json& trigger = spec["triggers"][0];
    EXPECT_EQ(trigger["type"], trigger_type) << where;
    EXPECT_EQ(trigger["metricType"], "AverageValue") << where;
    EXPECT_EQ(trigger["metadata"]["policy"], p.metadata().name()) << where;
    EXPECT_EQ(trigger["metadata"]["scalerAddress"], address) << where;
  }

  cli_testing::KedaSchemas keda_;
};

TEST_F(RenderCommandTest, EveryExamplePolicy) {
  int rendered = 0;
  for (const std::string& file : PolicyFiles()) {
    SCOPED_TRACE(file);
    const LoadResult policies = LoadPolicies(file);
    ASSERT_THAT(policies.errors, IsEmpty());
    const RunResult r = Render(file);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<YamlDocument> docs = Parse(r.output, file + " rendered");
    ASSERT_EQ(docs.size(), policies.policies.size()) << r.output;
    for (size_t i = 0; i < docs.size(); ++i) {
      EXPECT_EQ(docs[i].value["kind"], "ScaledObject");
      ExpectMatchesPolicy(docs[i], policies.policies[i].policy, "external",
                          kDefaultScalerAddress);
      ++rendered;
    }
    // Explains itself, the HPA's tolerance of 0 included: which Kubernetes
    // versions honour it, and what an older API server does instead.
    EXPECT_EQ(r.output.rfind("# KEDA ScaledObject for the signalscaler", 0),
              0u);
    EXPECT_THAT(r.output, HasSubstr("tolerance is 0 in both directions"));
    EXPECT_THAT(r.output, HasSubstr("HPAConfigurableTolerance"));
    EXPECT_THAT(r.output, HasSubstr("from 1.35"));
    EXPECT_THAT(r.output, HasSubstr("swallows a step of at most 10 %"));
    EXPECT_THAT(r.output, Not(HasSubstr("tolerance still applies")));
  }
  EXPECT_GE(rendered, 12);
}

TEST_F(RenderCommandTest, AddressAndPushTrigger) {
  const std::string file = SourceDir() + "/deploy/examples/policies/sip.yaml";
  const LoadResult policies = LoadPolicies(file);
  ASSERT_THAT(policies.errors, IsEmpty());
  const RunResult r =
      Render(file, {"--address", "scaler.ops:7000", "--trigger=external-push"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<YamlDocument> docs = Parse(r.output, "sip rendered");
  ASSERT_EQ(docs.size(), 1u);
  ExpectMatchesPolicy(docs[0], policies.policies[0].policy, "external-push",
                      "scaler.ops:7000");
}

TEST_F(RenderCommandTest, TargetOfAnotherKindAndName) {
  const RunResult r =
      Render(SourceDir() + "/deploy/examples/policies/sfu.yaml",
             {"--target-kind", "StatefulSet", "--target-name", "livekit-sfu"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<YamlDocument> docs = Parse(r.output, "sfu rendered");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_THAT(keda_.ValidateScaledObject(docs[0]), IsEmpty());
  EXPECT_EQ(At(docs[0].value, {"spec", "scaleTargetRef"}),
            json::parse(R"({"apiVersion": "apps/v1", "kind": "StatefulSet",
                            "name": "livekit-sfu"})"));
}

TEST_F(RenderCommandTest, TlsAddsATriggerAuthentication) {
  const std::string file =
      SourceDir() + "/deploy/examples/quickstart/policies.yaml";
  const LoadResult policies = LoadPolicies(file);
  ASSERT_THAT(policies.errors, IsEmpty());
  const RunResult r = Render(file, {"--tls-secret", "scaler-client-tls"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<YamlDocument> docs = Parse(r.output, "quickstart rendered");
  std::vector<const YamlDocument*> objects;
  std::map<std::string, const YamlDocument*> auths;  // by namespace
  for (const YamlDocument& doc : docs) {
    const std::string kind = doc.value.value("kind", "");
    const std::string ns = At(doc.value, {"metadata", "namespace"});
    if (kind == "ScaledObject") objects.push_back(&doc);
    if (kind == "TriggerAuthentication") {
      EXPECT_TRUE(auths.emplace(ns, &doc).second) << "two in " << ns;
    }
  }
  ASSERT_EQ(objects.size(), policies.policies.size());
  ASSERT_EQ(auths.size(), 1u) << "the quickstart's policies share a namespace";

  for (const auto& [ns, auth] : auths) {
    EXPECT_THAT(keda_.ValidateTriggerAuthentication(*auth), IsEmpty());
    EXPECT_EQ(auth->value["apiVersion"], "keda.sh/v1alpha1");
    EXPECT_EQ(At(auth->value, {"metadata", "name"}),
              kTlsTriggerAuthenticationName);
    EXPECT_EQ(At(auth->value, {"spec", "secretTargetRef"}), json::parse(R"([
      {"parameter": "caCert", "name": "scaler-client-tls", "key": "ca.crt"},
      {"parameter": "tlsClientCert", "name": "scaler-client-tls",
       "key": "tls.crt"},
      {"parameter": "tlsClientKey", "name": "scaler-client-tls",
       "key": "tls.key"}])"));
  }
  for (size_t i = 0; i < objects.size(); ++i) {
    const YamlDocument& so = *objects[i];
    ExpectMatchesPolicy(so, policies.policies[i].policy, "external",
                        kDefaultScalerAddress);
    const json& trigger = so.value["spec"]["triggers"][0];
    // A string, as KEDA's metadata map requires ("true", not true).
    EXPECT_EQ(trigger["metadata"]["enableTLS"], "true");
    const std::string ns = At(so.value, {"metadata", "namespace"});
    ASSERT_TRUE(auths.count(ns)) << "no TriggerAuthentication in " << ns;
    EXPECT_EQ(trigger["authenticationRef"],
              json({{"name", kTlsTriggerAuthenticationName}}));
  }
  EXPECT_THAT(r.output, HasSubstr("TLS: the CA and client certificate"));
}

TEST_F(RenderCommandTest, InvalidPolicyFileExitsOneWithTheLoadersErrors) {
  const std::string dir = testing::MakeTempDir();
  const std::string file = dir + "/bad.yaml";
  std::ofstream(file) << "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
                         "metadata: {name: bad}\nspec:\n  maxReplicas: -1\n"
                         "  signals: [{name: q, type: Total, source: {push: "
                         "{}}, targetPerReplica: 1}]\n";
  const RunResult r = Render(file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output,
              HasSubstr(file + ":5: policy default/bad: spec.maxReplicas: "
                               "must be >= 1, got -1"));
  EXPECT_THAT(r.output, Not(HasSubstr("kind: ScaledObject")));
}

TEST_F(RenderCommandTest, UsageErrorsExitTwo) {
  const std::string quickstart =
      SourceDir() + "/deploy/examples/quickstart/policies.yaml";
  EXPECT_EQ(RunCommand({SignalscalerBinary(), "render"}).exit_code, 2);
  EXPECT_EQ(Render(quickstart, {quickstart}).exit_code, 2);
  RunResult r = Render(quickstart, {"--trigger", "pull"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--trigger must be external or "
                                  "external-push"));
  r = Render(quickstart, {"--target-name", "web"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--target-name needs a file with a single "
                                  "policy"));
  EXPECT_EQ(Render(quickstart, {"--adress", "x:1"}).exit_code, 2);
}

// Names that a plain YAML scalar would turn into a number or a boolean stay
// strings (KEDA's metadata is a map of strings; metadata.name is one too).
TEST(RenderScaledObjectsTest, QuotesNamesThatLookLikeOtherTypes) {
  const LoadResult r = ParsePolicies(
      "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
      "metadata: {name: 'on', namespace: '0755'}\nspec:\n  maxReplicas: 3\n"
      "  signals: [{name: q, type: Total, source: {push: {}}, "
      "targetPerReplica: 1}]\n",
      "odd.yaml");
  ASSERT_THAT(r.errors, IsEmpty());
  RenderOptions options;
  options.address = "10.0.0.1:9090";
  std::vector<YamlDocument> docs =
      Parse(RenderScaledObjects(r.policies, options), "odd");
  ASSERT_EQ(docs.size(), 1u);
  const json& so = docs[0].value;
  EXPECT_EQ(At(so, {"metadata", "name"}), "on");
  EXPECT_EQ(At(so, {"metadata", "namespace"}), "0755");
  EXPECT_EQ(At(so, {"spec", "scaleTargetRef", "name"}), "on");
  EXPECT_EQ(so["spec"]["triggers"][0]["metadata"],
            json({{"scalerAddress", "10.0.0.1:9090"}, {"policy", "on"}}));
  cli_testing::KedaSchemas keda;
  ASSERT_TRUE(keda.ok()) << keda.error();
  EXPECT_THAT(keda.ValidateScaledObject(docs[0]), IsEmpty());
}

TEST(RenderScaledObjectsTest, FallbackStaysUnderHardLimits) {
  const LoadResult r = ParsePolicies(
      "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
      "metadata: {name: db, namespace: prod}\nspec:\n  minReplicas: 0\n"
      "  maxReplicas: 8\n"
      "  limits: [{name: conns, budget: 100, perReplica: 60}]\n"
      "  signals: [{name: q, type: Total, source: {push: {}}, "
      "targetPerReplica: 1}]\n",
      "db.yaml");
  ASSERT_THAT(r.errors, IsEmpty());
  std::vector<YamlDocument> docs =
      Parse(RenderScaledObjects(r.policies, RenderOptions()), "db");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(At(docs[0].value, {"spec", "fallback", "replicas"}), 1);
  EXPECT_EQ(At(docs[0].value, {"spec", "minReplicaCount"}), 0);
  EXPECT_EQ(At(docs[0].value, {"spec", "pollingInterval"}), 5);
}

}  // namespace
}  // namespace signalscaler
