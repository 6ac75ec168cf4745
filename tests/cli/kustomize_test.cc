// deploy/overlays/example rendered with `kubectl kustomize` (no cluster
// needed): every ScaledObject valid against KEDA's CRD, the Deployment
// mounting every policy ConfigMap through its projected volume, and the
// mounted directory loading as the scaler would load it.
//
// The overlay uses ../../examples without copies, which kustomize's default
// load restrictor refuses: it is rendered with
// --load-restrictor LoadRestrictionsNone, as deploy/overlays/example/README.md
// says. Without kubectl this test fails; it never skips.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"
#include "tests/cli/cli_test_util.h"
#include "tests/manifests/manifest_files.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using cli_testing::At;
using manifests::YamlDocument;
using nlohmann::json;
using ::testing::IsEmpty;

constexpr char kPoliciesPath[] = "/etc/signalscaler/policies";

class KustomizeExampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string kubectl = cli_testing::FindKubectl();
    ASSERT_FALSE(kubectl.empty())
        << "kubectl (with its built-in kustomize) is required to render "
           "deploy/overlays/example and was not found ($KUBECTL, $PATH, "
           "/usr/bin/kubectl). Install kubectl or set KUBECTL to its path.";
    const std::string out = testing::MakeTempDir();
    const std::string overlay =
        testing::SourceDir() + "/deploy/overlays/example";
    // stdout alone is the YAML: kubectl's warnings go to another file.
    const testing::RunResult r = testing::RunCommand(
        {"/bin/sh", "-c",
         "exec \"$0\" kustomize --load-restrictor LoadRestrictionsNone \"$1\" "
         ">\"$2/out.yaml\" 2>\"$2/err.txt\"",
         kubectl, overlay, out});
    std::ifstream err(out + "/err.txt");
    const std::string stderr_text((std::istreambuf_iterator<char>(err)),
                                  std::istreambuf_iterator<char>());
    ASSERT_EQ(r.exit_code, 0)
        << kubectl << " kustomize " << overlay << " failed:\n"
        << stderr_text << r.output;
    std::string error;
    ASSERT_TRUE(manifests::LoadYamlFile(out + "/out.yaml", &docs_, &error))
        << error;
    for (const YamlDocument& doc : docs_) {
      const std::string kind = doc.value.value("kind", "");
      const std::string name = At(doc.value, {"metadata", "name"});
      by_kind_[kind][name] = &doc.value;
      if (kind == "ScaledObject") scaled_objects_.push_back(&doc);
    }
  }

  // The only object of `kind` named `name`, or null.
  const json* Find(const std::string& kind, const std::string& name) {
    auto it = by_kind_[kind].find(name);
    return it == by_kind_[kind].end() ? nullptr : it->second;
  }

  // ConfigMaps holding policy files: a key ending in .yaml / .yml.
  std::map<std::string, const json*> PolicyConfigMaps() {
    std::map<std::string, const json*> out;
    for (const auto& [name, cm] : by_kind_["ConfigMap"]) {
      for (const auto& [key, unused] : At(*cm, {"data"}).items()) {
        if (key.size() > 5 && (key.rfind(".yaml") == key.size() - 5 ||
                               key.rfind(".yml") == key.size() - 4)) {
          out[name] = cm;
        }
      }
    }
    return out;
  }

  std::vector<YamlDocument> docs_;
  std::vector<const YamlDocument*> scaled_objects_;
  std::map<std::string, std::map<std::string, const json*>> by_kind_;
};

TEST_F(KustomizeExampleTest, RendersTheScalerAndEveryExample) {
  EXPECT_NE(Find("Namespace", "signalscaler"), nullptr);
  EXPECT_NE(Find("ServiceAccount", "signalscaler"), nullptr);
  EXPECT_NE(Find("Deployment", "signalscaler"), nullptr);
  EXPECT_NE(Find("Service", "signalscaler"), nullptr);
  const size_t examples =
      manifests::FindYamlFiles(testing::SourceDir() +
                               "/deploy/examples/scaledobjects")
          .size();
  EXPECT_EQ(scaled_objects_.size(), examples);
  EXPECT_EQ(PolicyConfigMaps().size(),
            manifests::FindYamlFiles(testing::SourceDir() +
                                     "/deploy/examples/policies")
                .size());
}

TEST_F(KustomizeExampleTest, ScaledObjectsValidAgainstKedaCrd) {
  cli_testing::KedaSchemas keda;
  ASSERT_TRUE(keda.ok()) << keda.error();
  ASSERT_FALSE(scaled_objects_.empty());
  for (const YamlDocument* so : scaled_objects_) {
    EXPECT_THAT(keda.ValidateScaledObject(*so), IsEmpty());
    // Kustomize kept each in its service's namespace (a policy is looked up
    // in the ScaledObject's own namespace).
    EXPECT_NE(At(so->value, {"metadata", "namespace"}), "signalscaler");
  }
}

TEST_F(KustomizeExampleTest, DeploymentMountsEveryPolicyConfigMap) {
  const json* deployment = Find("Deployment", "signalscaler");
  ASSERT_NE(deployment, nullptr);
  const json& pod = At(*deployment, {"spec", "template", "spec"});
  ASSERT_EQ(pod["containers"].size(), 1u);
  const json& container = pod["containers"][0];
  EXPECT_EQ(container["image"], "signalscaler:latest");
  EXPECT_THAT(container["args"].get<std::vector<std::string>>(),
              ::testing::Contains(std::string("--policies=") + kPoliciesPath));
  EXPECT_EQ(
      container["ports"][0],
      json({{"name", "grpc"}, {"containerPort", 9090}, {"protocol", "TCP"}}));
  EXPECT_EQ(At(container, {"securityContext", "readOnlyRootFilesystem"}), true);
  EXPECT_EQ(At(pod, {"securityContext", "runAsNonRoot"}), true);
  EXPECT_TRUE(container.contains("resources"));

  std::string volume_name;
  for (const json& m : container["volumeMounts"]) {
    if (m["mountPath"] == kPoliciesPath) volume_name = m["name"];
  }
  ASSERT_FALSE(volume_name.empty()) << "nothing mounted at " << kPoliciesPath;
  std::set<std::string> projected;
  for (const json& v : pod["volumes"]) {
    if (v["name"] != volume_name) continue;
    ASSERT_TRUE(v.contains("projected")) << v.dump();
    for (const json& source : v["projected"]["sources"]) {
      const std::string name = At(source, {"configMap", "name"});
      EXPECT_TRUE(projected.insert(name).second) << name << " twice";
      EXPECT_NE(Find("ConfigMap", name), nullptr)
          << "the projected volume names ConfigMap " << name
          << ", which the overlay does not create";
    }
  }
  const std::map<std::string, const json*> policies = PolicyConfigMaps();
  ASSERT_FALSE(policies.empty());
  for (const auto& [name, cm] : policies) {
    EXPECT_TRUE(projected.count(name))
        << "policy ConfigMap " << name << " is not in the projected volume "
        << volume_name << ": add it to deploy/overlays/example/"
        << "deployment-policies.yaml";
    EXPECT_EQ(At(*cm, {"metadata", "namespace"}), "signalscaler") << name;
  }
}

// The projected directory, as kubelet would fill it, loads without an error
// and serves the policy of every ScaledObject, in its namespace.
TEST_F(KustomizeExampleTest, MountedPoliciesLoadAndServeEveryScaledObject) {
  const std::string dir = testing::MakeTempDir();
  for (const auto& [name, cm] : PolicyConfigMaps()) {
    for (const auto& [key, text] : At(*cm, {"data"}).items()) {
      ASSERT_FALSE(std::filesystem::exists(dir + "/" + key))
          << "two ConfigMaps project the key " << key;
      std::ofstream(dir + "/" + key) << text.get<std::string>();
    }
  }
  const LoadResult r = LoadPolicies(dir);
  for (const PolicyError& e : r.errors) ADD_FAILURE() << e.ToString();
  std::set<std::string> served;
  for (const LoadedPolicy& p : r.policies) {
    served.insert(p.policy.metadata().namespace_() + "/" +
                  p.policy.metadata().name());
  }
  const json* service = Find("Service", "signalscaler");
  ASSERT_NE(service, nullptr);
  const std::string address =
      "signalscaler." +
      At(*service, {"metadata", "namespace"}).get<std::string>() +
      ".svc.cluster.local:" +
      std::to_string(At(*service, {"spec", "ports"})[0]["port"].get<int>());
  for (const YamlDocument* so : scaled_objects_) {
    const std::string ns = At(so->value, {"metadata", "namespace"});
    for (const json& t : At(so->value, {"spec", "triggers"})) {
      const std::string policy = At(t, {"metadata", "policy"});
      EXPECT_TRUE(served.count(ns + "/" + policy))
          << manifests::Where(*so) << ": policy " << ns << "/" << policy
          << " is not in the mounted policies";
      EXPECT_EQ(At(t, {"metadata", "scalerAddress"}), address)
          << manifests::Where(*so);
    }
  }
}

}  // namespace
}  // namespace signalscaler
