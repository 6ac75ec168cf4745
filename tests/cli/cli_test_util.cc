#include "tests/cli/cli_test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/manifests/manifest_files.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::cli_testing {
namespace {

using manifests::SchemaError;
using manifests::YamlDocument;
using nlohmann::json;

// KEDA's TriggerAuthentication, v1alpha1, as far as `render` writes it: the
// field names and types of KEDA's CRD (keda.sh_triggerauthentications.yaml).
const char kTriggerAuthenticationSchema[] = R"json({
  "type": "object",
  "required": ["spec"],
  "properties": {
    "apiVersion": {"type": "string", "enum": ["keda.sh/v1alpha1"]},
    "kind": {"type": "string", "enum": ["TriggerAuthentication"]},
    "metadata": {"type": "object"},
    "spec": {
      "type": "object",
      "required": ["secretTargetRef"],
      "properties": {
        "secretTargetRef": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "required": ["key", "name", "parameter"],
            "properties": {
              "key": {"type": "string"},
              "name": {"type": "string"},
              "parameter": {"type": "string"}
            }
          }
        }
      }
    }
  }
})json";

int64_t IntOr(const json& object, const char* key, int64_t fallback) {
  auto it = object.find(key);
  return (it != object.end() && it->is_number_integer()) ? it->get<int64_t>()
                                                         : fallback;
}

std::vector<std::string> Describe(const YamlDocument& doc,
                                  const std::vector<SchemaError>& errors) {
  std::vector<std::string> out;
  for (const SchemaError& e : errors) {
    out.push_back(
        absl::StrCat(manifests::Where(doc, e.path), ": ", e.ToString()));
  }
  return out;
}

bool IsExecutable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

KedaSchemas::KedaSchemas() {
  trigger_authentication_ = std::make_unique<manifests::SchemaValidator>(
      json::parse(kTriggerAuthenticationSchema));
  std::vector<YamlDocument> crd;
  const std::string path = manifests::KedaCrdPath();
  if (!manifests::LoadYamlFile(path, &crd, &error_) || crd.empty()) {
    error_ = absl::StrCat(
        "KEDA's ScaledObject CRD is required and was not loaded from ", path,
        ": ", error_.empty() ? "no document" : error_,
        ". Put KEDA's keda.sh_scaledobjects.yaml there or set "
        "SIGNALSCALER_KEDA_CRD to its path.");
    return;
  }
  json schema;
  if (!manifests::CrdVersionSchema(crd[0].value, "v1alpha1", &schema,
                                   &error_)) {
    return;
  }
  scaled_object_ = std::make_unique<manifests::SchemaValidator>(schema);
}

std::vector<std::string> KedaSchemas::ValidateScaledObject(
    const YamlDocument& doc) const {
  if (!ok()) return {error_};
  std::vector<std::string> out =
      Describe(doc, scaled_object_->Validate(doc.value));
  // The CRD's only CEL rule: minReplicaCount <= maxReplicaCount (default 100).
  const json& spec = At(doc.value, {"spec"});
  if (spec.is_object() && spec.contains("minReplicaCount") &&
      IntOr(spec, "minReplicaCount", 0) > IntOr(spec, "maxReplicaCount", 100)) {
    out.push_back(absl::StrCat(
        manifests::Where(doc, "spec.minReplicaCount"),
        ": minReplicaCount must be less than or equal to maxReplicaCount"));
  }
  for (const manifests::CelRule& rule : scaled_object_->CelRules()) {
    if (rule.message !=
        "minReplicaCount must be less than or equal to maxReplicaCount") {
      out.push_back("KEDA's CRD has a CEL rule this test does not check, at " +
                    rule.path + ": " + rule.rule);
    }
  }
  return out;
}

std::vector<std::string> KedaSchemas::ValidateTriggerAuthentication(
    const YamlDocument& doc) const {
  return Describe(doc, trigger_authentication_->Validate(doc.value));
}

std::string FindTool(const char* name, const char* env_var) {
  if (const char* env = std::getenv(env_var); env != nullptr && *env) {
    return IsExecutable(env) ? env : "";
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      std::string candidate = absl::StrCat(dir, "/", name);
      if (IsExecutable(candidate)) return candidate;
    }
  }
  const std::string fallback = absl::StrCat("/usr/bin/", name);
  return IsExecutable(fallback) ? fallback : "";
}

std::string FindKubectl() { return FindTool("kubectl", "KUBECTL"); }

bool RenderKustomize(const std::string& dir, std::vector<YamlDocument>* docs,
                     std::string* error) {
  const std::string kubectl = FindKubectl();
  if (kubectl.empty()) {
    *error = absl::StrCat(
        "kubectl (with its built-in kustomize) is required to render ", dir,
        " and was not found ($KUBECTL, $PATH, /usr/bin/kubectl). Install "
        "kubectl or set KUBECTL to its path.");
    return false;
  }
  const std::string out = testing::MakeTempDir();
  // stdout alone is the YAML: kubectl's warnings go to another file.
  const testing::RunResult r = testing::RunCommand(
      {"/bin/sh", "-c",
       "exec \"$0\" kustomize \"$1\" >\"$2/out.yaml\" 2>\"$2/err.txt\"",
       kubectl, dir, out});
  if (r.exit_code != 0) {
    std::ifstream err(out + "/err.txt");
    *error = absl::StrCat(kubectl, " kustomize ", dir, " failed:\n",
                          std::string(std::istreambuf_iterator<char>(err),
                                      std::istreambuf_iterator<char>()),
                          r.output);
    return false;
  }
  return manifests::LoadYamlFile(out + "/out.yaml", docs, error);
}

bool Selects(const json& selector, const json& labels) {
  if (!selector.is_object()) return false;
  auto label = [&labels](const std::string& key) -> const json* {
    if (!labels.is_object() || !labels.contains(key)) return nullptr;
    return &labels[key];
  };
  for (const auto& [key, value] : At(selector, {"matchLabels"}).items()) {
    const json* l = label(key);
    if (l == nullptr || *l != value) return false;
  }
  for (const json& e : At(selector, {"matchExpressions"})) {
    const json* l = label(e.value("key", ""));
    const std::string op = e.value("operator", "");
    bool in = false;
    if (l != nullptr) {
      for (const json& v : At(e, {"values"})) in = in || v == *l;
    }
    const bool ok = op == "In"             ? in
                    : op == "NotIn"        ? !in
                    : op == "Exists"       ? l != nullptr
                    : op == "DoesNotExist" ? l == nullptr
                                           : false;
    if (!ok) return false;
  }
  return true;
}

const json& At(const json& value, std::initializer_list<const char*> path) {
  static const json* null = new json();
  const json* cur = &value;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return *null;
    cur = &(*cur)[key];
  }
  return *cur;
}

}  // namespace signalscaler::cli_testing
