// Every example policy loads through the strict loader with no error, and
// every example ScaledObject names a policy of its own namespace with the
// same replica bounds.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/defaults.h"
#include "scaler/policy/loader.h"
#include "tests/manifests/manifest_files.h"

namespace signalscaler::manifests {
namespace {

using nlohmann::json;

std::string Examples() { return SourceDir() + "/deploy/examples"; }

// Fails the test with every error of `result`.
void ExpectNoErrors(const LoadResult& result, const std::string& what) {
  EXPECT_TRUE(result.errors.empty())
      << what << " has " << result.errors.size() << " error(s)";
  for (const PolicyError& e : result.errors) ADD_FAILURE() << e.ToString();
}

std::string Key(const v1::ScalingPolicy& p) {
  return p.metadata().namespace_() + "/" + p.metadata().name();
}

// The quickstart policies are the binary's default and the conformance
// tests' fixtures: their names are an interface.
TEST(ExamplePoliciesTest, QuickstartLoadsWithStableNames) {
  LoadResult r = LoadPolicies(Examples() + "/quickstart/policies.yaml");
  ExpectNoErrors(r, "quickstart/policies.yaml");
  std::set<std::string> names;
  for (const LoadedPolicy& p : r.policies) {
    names.insert(Key(p.policy));
    for (const v1::Signal& s : p.policy.spec().signals()) {
      EXPECT_EQ(s.source().kind_case(), v1::Source::kPush)
          << Key(p.policy) << " signal " << s.name()
          << ": quickstart signals are pushed, so nothing else is needed";
    }
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"demo/parlant-agent", "demo/egress-jobs",
                                   "demo/voice-agent"}));
}

TEST(ExamplePoliciesTest, EveryExamplePolicyLoads) {
  const std::string dir = Examples() + "/policies";
  LoadResult r = LoadPolicies(dir);
  ExpectNoErrors(r, dir);
  std::vector<std::string> files = FindYamlFiles(dir);
  EXPECT_EQ(r.files.size(), files.size());
  EXPECT_GE(files.size(), 9u) << "one policy per service in the seeds";
  // Each file holds a valid policy and starts with its reasons.
  auto base = [](const std::string& f) { return f.substr(f.rfind('/') + 1); };
  std::set<std::string> loaded;
  for (const LoadedPolicy& p : r.policies) loaded.insert(base(p.file));
  for (const std::string& f : files) {
    EXPECT_TRUE(loaded.count(base(f))) << f << " holds no valid policy";
    std::ifstream in(f);
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first.rfind("# ", 0), 0u)
        << f << ": start with a comment naming the seed section it is from";
  }
}

// Each ScaledObject under deploy/examples against the example policies.
TEST(ExamplePoliciesTest, ScaledObjectsMatchTheirPolicies) {
  std::map<std::string, v1::ScalingPolicy> policies;
  for (const std::string& path :
       {Examples() + "/policies", Examples() + "/quickstart/policies.yaml"}) {
    LoadResult r = LoadPolicies(path);
    ExpectNoErrors(r, path);
    for (const LoadedPolicy& p : r.policies) {
      EXPECT_TRUE(policies.emplace(Key(p.policy), p.policy).second)
          << "policy " << Key(p.policy) << " defined twice";
    }
  }
  ASSERT_FALSE(policies.empty());

  std::vector<std::string> errors;
  std::vector<YamlDocument> objects = FindScaledObjects(Examples(), &errors);
  for (const std::string& e : errors) ADD_FAILURE() << e;
  std::set<std::string> covered;
  for (const YamlDocument& doc : objects) {
    const json& so = doc.value;
    const std::string ns = so["metadata"].value("namespace", "default");
    const json& spec = so["spec"];
    for (size_t i = 0; i < spec["triggers"].size(); ++i) {
      const json& t = spec["triggers"][i];
      const std::string type = t.value("type", "");
      if (type != "external" && type != "external-push") continue;
      const std::string where = Where(doc, IndexPath("spec.triggers", i));
      const std::string name = t["metadata"].value("policy", "");
      auto it = policies.find(ns + "/" + name);
      if (it == policies.end()) {
        ADD_FAILURE() << where << ": no policy \"" << name << "\" in namespace "
                      << ns
                      << " (policies are looked up in the ScaledObject's "
                         "own namespace)";
        continue;
      }
      covered.insert(it->first);
      const v1::PolicySpec& p = it->second.spec();
      const int64_t min = spec.value("minReplicaCount", int64_t{0});
      const int64_t max = spec.value("maxReplicaCount", int64_t{100});
      EXPECT_EQ(min, MinReplicas(p))
          << Where(doc, "spec.minReplicaCount") << ": policy " << it->first
          << " says minReplicas " << MinReplicas(p);
      EXPECT_EQ(max, p.max_replicas())
          << Where(doc, "spec.maxReplicaCount") << ": policy " << it->first
          << " says maxReplicas " << p.max_replicas();
      // The fallback count is a safe one: within the policy's bounds and
      // under every hard limit (a DB connection budget, a quota).
      int64_t upper = p.max_replicas();
      for (const v1::Limit& l : p.limits()) {
        upper = std::min<int64_t>(
            upper,
            static_cast<int64_t>(std::floor(l.budget() / l.per_replica())));
      }
      const int64_t fallback = spec["fallback"].value("replicas", int64_t{-1});
      EXPECT_GE(fallback, MinReplicas(p)) << Where(doc, "spec.fallback");
      EXPECT_LE(fallback, upper)
          << Where(doc, "spec.fallback")
          << ": fallback replicas above the policy's hard limits";
    }
  }
  for (const auto& [key, unused] : policies) {
    EXPECT_TRUE(covered.count(key))
        << "policy " << key << " has no ScaledObject under deploy/examples";
  }
}

}  // namespace
}  // namespace signalscaler::manifests
