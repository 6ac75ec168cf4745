// The validator itself: it must catch what the API server would prune or
// reject, or the manifest tests prove nothing.
#include "tests/manifests/schema_validator.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/manifests/manifest_files.h"

namespace signalscaler::manifests {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

json ParseOne(const std::string& yaml) {
  std::vector<YamlDocument> docs;
  std::string error;
  EXPECT_TRUE(ParseYamlDocuments(yaml, "test.yaml", &docs, &error)) << error;
  EXPECT_EQ(docs.size(), 1u);
  return docs.empty() ? json() : docs[0].value;
}

std::string Joined(const std::vector<SchemaError>& errors) {
  std::string out;
  for (const SchemaError& e : errors) out += e.ToString() + "\n";
  return out;
}

constexpr char kValidScaledObject[] = R"(
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: parlant
  namespace: parlant
  labels: {app.kubernetes.io/part-of: parlant}
spec:
  scaleTargetRef: {name: parlant, kind: Deployment, apiVersion: apps/v1}
  minReplicaCount: 2
  maxReplicaCount: 10
  fallback: {failureThreshold: 3, replicas: 4, behavior: currentReplicasIfHigher}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 0
          policies: [{type: Percent, value: 100, periodSeconds: 15}]
          tolerance: "0.05"
  triggers:
  - type: external
    metricType: AverageValue
    metadata: {scalerAddress: "signalscaler:9090", policy: parlant}
)";

// Against KEDA's real CRD. Fails (never skips) when the CRD is missing.
class KedaSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<YamlDocument> docs;
    std::string error;
    ASSERT_TRUE(LoadYamlFile(KedaCrdPath(), &docs, &error))
        << "KEDA's ScaledObject CRD is required: " << error
        << " (set SIGNALSCALER_KEDA_CRD to its path)";
    ASSERT_FALSE(docs.empty()) << KedaCrdPath() << " is empty";
    json schema;
    ASSERT_TRUE(CrdVersionSchema(docs[0].value, "v1alpha1", &schema, &error))
        << error;
    validator_ = std::make_unique<SchemaValidator>(schema);
    object_ = ParseOne(kValidScaledObject);
  }

  std::vector<SchemaError> Validate() const {
    return validator_->Validate(object_);
  }

  std::unique_ptr<SchemaValidator> validator_;
  json object_;
};

TEST_F(KedaSchemaTest, AcceptsAValidScaledObject) {
  EXPECT_THAT(Joined(Validate()), IsEmpty());
}

TEST_F(KedaSchemaTest, UnknownFieldIsAnError) {
  object_["spec"]["fallback"]["replica"] = 4;
  EXPECT_THAT(Joined(Validate()),
              HasSubstr("spec.fallback.replica: unknown field"));
}

TEST_F(KedaSchemaTest, MisplacedBehaviorIsAnUnknownField) {
  // A classic: HPA behavior one level too high is silently pruned.
  object_["spec"]["advanced"]["behavior"] = json::object();
  EXPECT_THAT(Joined(Validate()),
              HasSubstr("spec.advanced.behavior: unknown field"));
}

TEST_F(KedaSchemaTest, UnknownMetadataFieldIsAnError) {
  object_["metadata"]["nmae"] = "x";
  EXPECT_THAT(Joined(Validate()), HasSubstr("metadata.nmae: unknown field"));
}

TEST_F(KedaSchemaTest, WrongTypeIsAnError) {
  object_["spec"]["maxReplicaCount"] = "10";
  EXPECT_THAT(Joined(Validate()),
              HasSubstr("spec.maxReplicaCount: must be of type integer, got "
                        "string"));
}

TEST_F(KedaSchemaTest, NonStringTriggerMetadataIsAnError) {
  // YAML 1.1: an unquoted `on` is a boolean, and trigger metadata is a
  // map of strings.
  object_ = ParseOne(std::string(kValidScaledObject) +
                     "    name: t\n"
                     "  - type: external\n"
                     "    metadata: {policy: on}\n");
  EXPECT_THAT(Joined(Validate()),
              HasSubstr("spec.triggers[1].metadata.policy: must be of type "
                        "string, got boolean"));
}

TEST_F(KedaSchemaTest, MissingRequiredFieldIsAnError) {
  object_["spec"].erase("scaleTargetRef");
  object_["spec"]["fallback"].erase("failureThreshold");
  std::string errors = Joined(Validate());
  EXPECT_THAT(errors, HasSubstr("spec.scaleTargetRef: required field"));
  EXPECT_THAT(errors,
              HasSubstr("spec.fallback.failureThreshold: required field"));
}

TEST_F(KedaSchemaTest, BadEnumIsAnError) {
  object_["spec"]["fallback"]["behavior"] = "currentReplicasIfHigherr";
  EXPECT_THAT(Joined(Validate()),
              HasSubstr("spec.fallback.behavior: unsupported value"));
}

TEST_F(KedaSchemaTest, Int32OverflowIsAnError) {
  object_["spec"]["maxReplicaCount"] = 3000000000LL;
  EXPECT_THAT(Joined(Validate()),
              HasSubstr("spec.maxReplicaCount: 3000000000 is not a valid "
                        "int32"));
}

TEST_F(KedaSchemaTest, MinimumAndMinItemsAreChecked) {
  object_["spec"]["pollingInterval"] = 0;
  object_["spec"]["triggers"] = json::array();
  std::string errors = Joined(Validate());
  EXPECT_THAT(errors, HasSubstr("spec.pollingInterval: must be >= 1"));
  EXPECT_THAT(errors, HasSubstr("spec.triggers: must have at least 1 items"));
}

TEST_F(KedaSchemaTest, NullIsAnError) {
  object_["spec"]["fallback"] = nullptr;
  EXPECT_THAT(Joined(Validate()), HasSubstr("spec.fallback: must not be null"));
}

TEST_F(KedaSchemaTest, IntOrStringToleranceIsChecked) {
  json& down = object_["spec"]["advanced"]["horizontalPodAutoscalerConfig"]
                      ["behavior"]["scaleDown"];
  down["tolerance"] = 0;
  EXPECT_THAT(Joined(Validate()), IsEmpty());
  down["tolerance"] = true;
  EXPECT_THAT(Joined(Validate()),
              HasSubstr("tolerance: must be an integer or a string"));
  down["tolerance"] = "ten percent";
  EXPECT_THAT(Joined(Validate()), HasSubstr("does not match"));
}

TEST_F(KedaSchemaTest, BadNamesAndLabelsAreErrors) {
  object_["metadata"]["name"] = "Parlant_Agent";
  object_["metadata"]["labels"]["bad key!"] = "x";
  std::string errors = Joined(Validate());
  EXPECT_THAT(errors, HasSubstr("metadata.name: \"Parlant_Agent\" does not"));
  EXPECT_THAT(errors, HasSubstr("not a valid key"));
}

TEST_F(KedaSchemaTest, ListsTheCrdsCelRules) {
  std::vector<CelRule> rules = validator_->CelRules();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].path, "spec");
  EXPECT_THAT(rules[0].message, HasSubstr("minReplicaCount"));
}

TEST(SchemaValidatorTest, Combinators) {
  SchemaValidator any(json::parse(R"({"type": "object", "properties": {
      "v": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
      "w": {"oneOf": [{"type": "number"}, {"type": "integer"}]},
      "x": {"allOf": [{"minLength": 2}, {"maxLength": 3}]},
      "y": {"type": "string", "not": {"enum": ["no"]}}}})"));
  EXPECT_THAT(Joined(any.Validate(json{{"v", 1}, {"x", "ab"}, {"y", "ok"}})),
              IsEmpty());
  EXPECT_THAT(Joined(any.Validate(json{{"v", true}})),
              HasSubstr("v: matches none of anyOf"));
  // 2 is both a number and an integer: oneOf needs exactly one.
  EXPECT_THAT(Joined(any.Validate(json{{"w", 2}})),
              HasSubstr("w: must match exactly one of oneOf, matches 2"));
  EXPECT_THAT(Joined(any.Validate(json{{"x", "abcd"}})),
              HasSubstr("x: must be at most 3 characters long"));
  EXPECT_THAT(Joined(any.Validate(json{{"y", "no"}})),
              HasSubstr("y: must not match"));
}

TEST(SchemaValidatorTest, PreserveUnknownFieldsAndAdditionalProperties) {
  SchemaValidator v(json::parse(R"({"type": "object", "properties": {
      "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
      "map": {"type": "object", "additionalProperties": {"type": "integer"}},
      "closed": {"type": "object"}}})"));
  EXPECT_THAT(Joined(v.Validate(json::parse(
                  R"({"open": {"a": {"b": 1}}, "map": {"k": 1}})"))),
              IsEmpty());
  EXPECT_THAT(Joined(v.Validate(json::parse(R"({"map": {"k": "1"}})"))),
              HasSubstr("map.k: must be of type integer"));
  EXPECT_THAT(Joined(v.Validate(json::parse(R"({"closed": {"a": 1}})"))),
              HasSubstr("closed.a: unknown field"));
  EXPECT_THAT(Joined(v.Validate(json::parse(R"({"other": 1})"))),
              HasSubstr("other: unknown field"));
}

TEST(SchemaValidatorTest, ListTypeSetAndMapRejectDuplicates) {
  SchemaValidator v(json::parse(R"({"type": "object", "properties": {
      "s": {"type": "array", "x-kubernetes-list-type": "set",
            "items": {"type": "string"}},
      "m": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "v": {"type": "integer"}}}}}})"));
  EXPECT_THAT(Joined(v.Validate(json::parse(R"({"s": ["a", "a"]})"))),
              HasSubstr("s[1]: duplicate entry"));
  EXPECT_THAT(Joined(v.Validate(json::parse(
                  R"({"m": [{"name": "a", "v": 1}, {"name": "a", "v": 2}]})"))),
              HasSubstr("m[1]: duplicate entry"));
}

TEST(YamlDocumentsTest, ResolvesScalarsLikeKubernetes) {
  json v = ParseOne(R"(
a: yes
b: 'yes'
c: 0755
d: 0x1F
e: 1e3
f: "10"
g: ~
h: 1_000
i: .inf
j: off
k: !!str 12
l: |
  text
)");
  EXPECT_EQ(v["a"], true);
  EXPECT_EQ(v["b"], "yes");
  EXPECT_EQ(v["c"], 493);
  EXPECT_EQ(v["d"], 31);
  EXPECT_TRUE(v["e"].is_number_float());
  EXPECT_EQ(v["f"], "10");
  EXPECT_TRUE(v["g"].is_null());
  EXPECT_EQ(v["h"], 1000);
  EXPECT_TRUE(v["i"].is_number_float());
  EXPECT_EQ(v["j"], false);
  EXPECT_EQ(v["k"], "12");
  EXPECT_EQ(v["l"], "text\n");
}

TEST(YamlDocumentsTest, DuplicateKeyIsAnErrorWithItsLine) {
  std::vector<YamlDocument> docs;
  std::string error;
  EXPECT_FALSE(ParseYamlDocuments("a: 1\nb:\n  c: 1\n  c: 2\n", "dup.yaml",
                                  &docs, &error));
  EXPECT_THAT(error, HasSubstr("dup.yaml:4: duplicate key \"c\" in b"));
}

TEST(YamlDocumentsTest, SkipsEmptyDocumentsAndKeepsLines) {
  std::vector<YamlDocument> docs;
  std::string error;
  ASSERT_TRUE(ParseYamlDocuments("---\n---\n# c\nkind: A\nspec:\n  x: 1\n",
                                 "f.yaml", &docs, &error))
      << error;
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].LineOf("spec.x"), 6);
  EXPECT_EQ(docs[0].LineOf("spec.missing"), 5);
  EXPECT_EQ(Where(docs[0], "kind"), "f.yaml:4");
}

TEST(YamlDocumentsTest, SyntaxErrorIsReported) {
  std::vector<YamlDocument> docs;
  std::string error;
  EXPECT_FALSE(ParseYamlDocuments("a: [1, 2\n", "bad.yaml", &docs, &error));
  EXPECT_THAT(error, HasSubstr("bad.yaml:"));
}

TEST(CrdVersionSchemaTest, ReportsAMissingVersion) {
  json crd = json::parse(R"({"kind": "CustomResourceDefinition",
      "spec": {"versions": [{"name": "v1", "schema": {
          "openAPIV3Schema": {"type": "object"}}}]}})");
  json schema;
  std::string error;
  EXPECT_TRUE(CrdVersionSchema(crd, "v1", &schema, &error));
  EXPECT_FALSE(CrdVersionSchema(crd, "v2", &schema, &error));
  EXPECT_THAT(error, HasSubstr("no version v2"));
}

}  // namespace
}  // namespace signalscaler::manifests
