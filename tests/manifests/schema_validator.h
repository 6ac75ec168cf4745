// A small OpenAPI v3 structural-schema validator, the subset that Kubernetes
// applies to custom resources, so that the project's ScaledObjects can be
// checked against KEDA's CRD without a cluster (`kubectl apply --dry-run`
// needs one).
//
// Unknown fields are errors: the API server prunes them silently (or rejects
// them under strict field validation), and a pruned `fallback` or HPA
// `behavior` is exactly the kind of mistake this exists to catch.
//
//   std::vector<YamlDocument> docs;
//   std::string error;
//   if (!ParseYamlDocuments(text, "so.yaml", &docs, &error)) Fail(error);
//   nlohmann::json schema;
//   if (!CrdVersionSchema(crd, "v1alpha1", &schema, &error)) Fail(error);
//   SchemaValidator validator(schema);
//   for (const SchemaError& e : validator.Validate(docs[0].value)) ...
//
// Test-only code: not thread-hostile, but not meant for production use.
#ifndef SIGNALSCALER_TESTS_MANIFESTS_SCHEMA_VALIDATOR_H_
#define SIGNALSCALER_TESTS_MANIFESTS_SCHEMA_VALIDATOR_H_

#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace signalscaler::manifests {

// Where each value of a document starts: path ("spec.triggers[0].metadata")
// -> 1-based line. The root's path is "".
using LineMap = std::map<std::string, int>;

// One YAML document converted to JSON.
struct YamlDocument {
  std::string file;
  int line = 0;  // 1-based line where the document's root starts
  nlohmann::json value;
  LineMap lines;

  // The line of `path`, or of its nearest ancestor that has one; else `line`.
  int LineOf(const std::string& path) const;
};

// Parses every document of `text` and converts it to JSON the way Kubernetes'
// YAML decoder does (YAML 1.1 plain scalars: `yes`/`no`/`on`/`off`/`y`/`n` are
// booleans, `0755` is octal, quoted scalars are always strings). Empty
// documents are skipped. Returns false with `error` set ("FILE:LINE: ...") on a
// syntax error or a duplicate mapping key; `docs` then holds the documents
// converted before the error.
bool ParseYamlDocuments(const std::string& text, const std::string& file,
                        std::vector<YamlDocument>* docs, std::string* error);

// Reads a file and parses it with ParseYamlDocuments. False with `error` set
// if the file cannot be read or parsed.
bool LoadYamlFile(const std::string& path, std::vector<YamlDocument>* docs,
                  std::string* error);

struct SchemaError {
  std::string path;  // "spec.triggers[0].metadata.foo"; "" for the root
  std::string message;

  std::string ToString() const;  // "PATH: MESSAGE" (or MESSAGE at the root)
};

// A CEL rule (x-kubernetes-validations) found in a schema. The validator does
// not evaluate CEL: callers must check every rule they are given by hand.
struct CelRule {
  std::string path;  // where the rule sits, in the same spelling as errors
  std::string rule;
  std::string message;
};

// Validates JSON values against one CRD version's openAPIV3Schema.
class SchemaValidator {
 public:
  // `schema` is a CRD version's `schema.openAPIV3Schema`.
  explicit SchemaValidator(nlohmann::json schema);

  // All errors of `object` (a whole resource: its root `metadata` is checked
  // as Kubernetes' ObjectMeta, since CRD schemas leave it open). Empty if
  // valid. Supported: type (object, array, string, integer, number,
  // boolean), properties, required, additionalProperties, items, enum,
  // format (int32, int64, date-time), minimum/maximum (and exclusive),
  // minLength/maxLength, minItems/maxItems, minProperties/maxProperties,
  // pattern, nullable, anyOf/oneOf/allOf/not, x-kubernetes-preserve-unknown-
  // fields, x-kubernetes-int-or-string, x-kubernetes-list-type set/map.
  // Unknown fields and nulls of non-nullable fields are errors (Kubernetes
  // would drop them).
  std::vector<SchemaError> Validate(const nlohmann::json& object) const;

  // The x-kubernetes-validations rules of the schema (not evaluated).
  std::vector<CelRule> CelRules() const;

 private:
  void ValidateNode(const nlohmann::json& schema, const nlohmann::json& value,
                    const std::string& path, bool structural,
                    std::vector<SchemaError>* errors) const;
  void ValidateObject(const nlohmann::json& schema, const nlohmann::json& value,
                      const std::string& path, bool structural,
                      std::vector<SchemaError>* errors) const;
  void ValidateArray(const nlohmann::json& schema, const nlohmann::json& value,
                     const std::string& path, bool structural,
                     std::vector<SchemaError>* errors) const;
  void ValidateScalar(const nlohmann::json& schema, const nlohmann::json& value,
                      const std::string& path,
                      std::vector<SchemaError>* errors) const;
  void ValidateCombinators(const nlohmann::json& schema,
                           const nlohmann::json& value, const std::string& path,
                           std::vector<SchemaError>* errors) const;

  nlohmann::json schema_;
};

// Finds `spec.versions[name == version].schema.openAPIV3Schema` in a
// CustomResourceDefinition. False with `error` set if it is not there.
bool CrdVersionSchema(const nlohmann::json& crd, const std::string& version,
                      nlohmann::json* schema, std::string* error);

// Path helpers, in the spelling used by errors: a key that is not a plain
// identifier is quoted (`metadata.labels["app.kubernetes.io/name"]`).
std::string ChildPath(const std::string& parent, const std::string& key);
std::string IndexPath(const std::string& parent, size_t index);

}  // namespace signalscaler::manifests

#endif  // SIGNALSCALER_TESTS_MANIFESTS_SCHEMA_VALIDATOR_H_
