// Every KEDA ScaledObject shipped under deploy/ is valid against KEDA's CRD
// schema (what the API server would accept without pruning anything) and
// follows the project's conventions for signalscaler triggers.
#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/manifests/hpa_tolerance.h"
#include "tests/manifests/manifest_files.h"
#include "tests/manifests/schema_validator.h"

namespace signalscaler::manifests {
namespace {

using nlohmann::json;

// The CRD's CEL rules, each checked by hand below (the validator evaluates
// no CEL). A new rule in a newer CRD fails ChecksEveryCelRule until it is
// added here and to CheckCelRules.
const std::set<std::string>& HandledCelMessages() {
  static const auto* messages = new std::set<std::string>{
      "minReplicaCount must be less than or equal to maxReplicaCount"};
  return *messages;
}

// KEDA's defaults when the fields are unset.
constexpr int64_t kKedaDefaultMinReplicas = 0;
constexpr int64_t kKedaDefaultMaxReplicas = 100;

int64_t IntOr(const json& object, const char* key, int64_t fallback) {
  auto it = object.find(key);
  return (it != object.end() && it->is_number_integer()) ? it->get<int64_t>()
                                                         : fallback;
}

const json& At(const json& v, std::initializer_list<const char*> path) {
  static const json* null = new json();
  const json* cur = &v;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return *null;
    cur = &(*cur)[key];
  }
  return *cur;
}

class ScaledObjectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    std::vector<YamlDocument> crd;
    ASSERT_TRUE(LoadYamlFile(KedaCrdPath(), &crd, &error))
        << "KEDA's ScaledObject CRD is required to validate the shipped "
           "ScaledObjects and was not found: "
        << error
        << ". Put KEDA's keda.sh_scaledobjects.yaml there or set "
           "SIGNALSCALER_KEDA_CRD to its path.";
    ASSERT_FALSE(crd.empty()) << KedaCrdPath() << " holds no document";
    crd_ = crd[0].value;
    std::vector<std::string> errors;
    objects_ = FindScaledObjects(SourceDir() + "/deploy", &errors);
    for (const std::string& e : errors) ADD_FAILURE() << e;
    ASSERT_FALSE(objects_.empty())
        << "no ScaledObject found under " << SourceDir() << "/deploy";
  }

  // The validator for an object's apiVersion (keda.sh/VERSION).
  const SchemaValidator* ValidatorFor(const YamlDocument& doc) {
    std::string api = doc.value.value("apiVersion", "");
    std::string version = api.substr(api.find('/') + 1);
    auto& slot = validators_[version];
    if (!slot) {
      json schema;
      std::string error;
      if (!CrdVersionSchema(crd_, version, &schema, &error)) {
        ADD_FAILURE() << Where(doc, "apiVersion") << ": " << error;
        return nullptr;
      }
      slot = std::make_unique<SchemaValidator>(schema);
    }
    return slot.get();
  }

  json crd_;
  std::vector<YamlDocument> objects_;
  std::map<std::string, std::unique_ptr<SchemaValidator>> validators_;
};

TEST_F(ScaledObjectsTest, FindsTheExamples) {
  std::set<std::string> files;
  for (const YamlDocument& doc : objects_) files.insert(doc.file);
  const std::string examples = SourceDir() + "/deploy/examples/";
  EXPECT_TRUE(files.count(examples + "quickstart/scaledobjects.yaml"));
  EXPECT_TRUE(files.count(examples + "scaledobjects/parlant.yaml"));
  EXPECT_GE(objects_.size(), 12u);
}

TEST_F(ScaledObjectsTest, ValidAgainstKedaCrdSchema) {
  for (const YamlDocument& doc : objects_) {
    const SchemaValidator* validator = ValidatorFor(doc);
    if (validator == nullptr) continue;
    for (const SchemaError& e : validator->Validate(doc.value)) {
      ADD_FAILURE() << Where(doc, e.path) << ": " << e.ToString();
    }
  }
}

TEST_F(ScaledObjectsTest, ChecksEveryCelRule) {
  for (const YamlDocument& doc : objects_) {
    const SchemaValidator* validator = ValidatorFor(doc);
    if (validator == nullptr) continue;
    for (const CelRule& rule : validator->CelRules()) {
      EXPECT_TRUE(HandledCelMessages().count(rule.message))
          << "KEDA's CRD has a CEL rule this test does not check, at "
          << rule.path << ": " << rule.rule;
    }
  }
}

TEST_F(ScaledObjectsTest, SatisfiesCelRules) {
  for (const YamlDocument& doc : objects_) {
    const json& spec = At(doc.value, {"spec"});
    if (!spec.is_object()) continue;  // reported by the schema test
    // !has(self.minReplicaCount) || self.minReplicaCount <=
    //     (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)
    if (spec.contains("minReplicaCount")) {
      EXPECT_LE(IntOr(spec, "minReplicaCount", 0),
                IntOr(spec, "maxReplicaCount", kKedaDefaultMaxReplicas))
          << Where(doc, "spec.minReplicaCount")
          << ": minReplicaCount must be less than or equal to "
             "maxReplicaCount";
    }
  }
}

// The conventions of a signalscaler trigger (DESIGN.md "KEDA mapping").
TEST_F(ScaledObjectsTest, FollowsSignalscalerConventions) {
  for (const YamlDocument& doc : objects_) {
    const json& spec = At(doc.value, {"spec"});
    const std::string where = Where(doc);
    EXPECT_TRUE(At(doc.value, {"metadata", "name"}).is_string()) << where;
    EXPECT_TRUE(At(doc.value, {"metadata", "namespace"}).is_string())
        << where << ": set metadata.namespace: a policy is looked up in the "
        << "ScaledObject's own namespace";
    const json& triggers = At(spec, {"triggers"});
    ASSERT_TRUE(triggers.is_array()) << where;
    int ours = 0;
    for (size_t i = 0; i < triggers.size(); ++i) {
      const json& t = triggers[i];
      const std::string type = t.value("type", "");
      if (type != "external" && type != "external-push") continue;
      ++ours;
      const std::string path = IndexPath("spec.triggers", i);
      // signalscaler's trigger metadata keys: the scaler rejects any other.
      static const std::set<std::string> kAccepted = {"policy", "scalerAddress",
                                                      "enableTLS", "unsafeSsl"};
      const json& metadata = At(t, {"metadata"});
      for (const char* required : {"policy", "scalerAddress"}) {
        EXPECT_TRUE(metadata.contains(required))
            << Where(doc, path) << ": metadata." << required << " is required";
      }
      for (const auto& [key, unused] : metadata.items()) {
        EXPECT_TRUE(kAccepted.count(key))
            << Where(doc, ChildPath(path + ".metadata", key))
            << ": the scaler rejects the unknown metadata key \"" << key
            << "\" (INVALID_ARGUMENT)";
      }
      EXPECT_EQ(t.value("metricType", "AverageValue"), "AverageValue")
          << Where(doc, path) << ": the decision is a replica count";
    }
    EXPECT_GT(ours, 0) << where << ": no signalscaler trigger";

    const json& fallback = At(spec, {"fallback"});
    EXPECT_TRUE(fallback.is_object()) << where << ": set a fallback";
    EXPECT_EQ(fallback.value("behavior", ""), "currentReplicasIfHigher")
        << where;

    const int64_t max = IntOr(spec, "maxReplicaCount", kKedaDefaultMaxReplicas);
    const int64_t min = IntOr(spec, "minReplicaCount", kKedaDefaultMinReplicas);
    const json& behavior =
        At(spec, {"advanced", "horizontalPodAutoscalerConfig", "behavior"});
    for (const char* dir : {"scaleUp", "scaleDown"}) {
      const json& rules = At(behavior, {dir});
      const std::string what = where + ": HPA behavior." + dir;
      ASSERT_TRUE(rules.is_object()) << what << " must be set (neutralised)";
      EXPECT_EQ(IntOr(rules, "stabilizationWindowSeconds", -1), 0)
          << what << ": the policy's window is the one in force";
      EXPECT_EQ(rules.value("selectPolicy", "Max"), "Max") << what;
      // Permissive: one HPA sync may make any step the policy decided.
      bool permissive = false;
      for (const json& p : At(rules, {"policies"})) {
        const std::string type = p.value("type", "");
        const int64_t value = IntOr(p, "value", 0);
        const bool up = std::string(dir) == "scaleUp";
        if (up) {
          permissive |=
              (type == "Pods" && value >= max - std::max<int64_t>(min, 1)) ||
              (type == "Percent" && value >= 100 * (max - 1));
        } else {
          permissive |= (type == "Percent" && value >= 100) ||
                        (type == "Pods" && value >= max);
        }
      }
      EXPECT_TRUE(permissive) << what << ": a policy must allow any step";
    }
  }
}

// The HPA carries out every step the scaler decides: both directions'
// tolerance is 0 (DESIGN.md "The HPA must execute the decision exactly"),
// written as KEDA's CRD takes a Quantity (ValidAgainstKedaCrdSchema).
TEST_F(ScaledObjectsTest, HpaToleranceIsZeroInBothDirections) {
  for (const YamlDocument& doc : objects_) {
    for (const std::string& e : ZeroToleranceErrors(doc)) ADD_FAILURE() << e;
  }
}

// The comments above the ScaledObjects say what the tolerance of 0 does, and
// no longer that the HPA's own tolerance applies.
TEST_F(ScaledObjectsTest, CommentsDescribeTheZeroTolerance) {
  std::set<std::string> files;
  for (const YamlDocument& doc : objects_) files.insert(doc.file);
  for (const std::string& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str().find("tolerance still applies"), std::string::npos)
        << file;
    EXPECT_NE(text.str().find("HPAConfigurableTolerance"), std::string::npos)
        << file << ": say which Kubernetes versions honour the tolerance";
  }
}

YamlDocument ParseOne(const std::string& yaml) {
  std::vector<YamlDocument> docs;
  std::string error;
  EXPECT_TRUE(ParseYamlDocuments(yaml, "so.yaml", &docs, &error)) << error;
  return docs.empty() ? YamlDocument() : docs[0];
}

std::string WithTolerances(const std::string& up, const std::string& down) {
  std::string yaml =
      "kind: ScaledObject\nspec:\n  advanced:\n"
      "    horizontalPodAutoscalerConfig:\n      behavior:\n";
  if (!up.empty())
    yaml += "        scaleUp:\n          tolerance: " + up + "\n";
  if (!down.empty()) {
    yaml += "        scaleDown:\n          tolerance: " + down + "\n";
  }
  return yaml;
}

TEST(ZeroToleranceErrorsTest, AcceptsZeroAsIntegerOrQuantityString) {
  EXPECT_THAT(ZeroToleranceErrors(ParseOne(WithTolerances("0", "0"))),
              ::testing::IsEmpty());
  EXPECT_THAT(ZeroToleranceErrors(ParseOne(WithTolerances("'0'", "\"0m\""))),
              ::testing::IsEmpty());
  EXPECT_TRUE(IsZeroQuantity(json(0.0)));
  EXPECT_TRUE(IsZeroQuantity(json("0.0")));
  EXPECT_TRUE(IsZeroQuantity(json("-0")));
}

TEST(ZeroToleranceErrorsTest, RejectsMissingAndNonZero) {
  EXPECT_EQ(
      ZeroToleranceErrors(ParseOne("kind: ScaledObject\nspec: {}\n")).size(),
      2u);
  const std::vector<std::string> up_only =
      ZeroToleranceErrors(ParseOne(WithTolerances("0", "")));
  ASSERT_EQ(up_only.size(), 1u);
  EXPECT_THAT(up_only[0], ::testing::HasSubstr("scaleDown.tolerance: not set"));
  const std::vector<std::string> tenth =
      ZeroToleranceErrors(ParseOne(WithTolerances("'0.1'", "0")));
  ASSERT_EQ(tenth.size(), 1u);
  EXPECT_THAT(tenth[0], ::testing::HasSubstr("scaleUp.tolerance: must be 0"));
  for (const char* nonzero : {"1", "10m", "0.01", "1e-3", "0.0001Ki"}) {
    EXPECT_FALSE(IsZeroQuantity(json(nonzero))) << nonzero;
  }
  EXPECT_FALSE(IsZeroQuantity(json(0.1)));
  EXPECT_FALSE(IsZeroQuantity(json(nullptr)));
  EXPECT_FALSE(IsZeroQuantity(json(false)));
}

}  // namespace
}  // namespace signalscaler::manifests
