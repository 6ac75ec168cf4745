// Helpers of the CLI tests: KEDA's schemas (the ScaledObject CRD from
// ../shared/keda, and the subset of TriggerAuthentication that `render`
// writes, whose CRD is not there), finding kubectl and promtool, rendering a
// kustomization, and Kubernetes label selectors.
//
//   KedaSchemas keda;
//   ASSERT_TRUE(keda.ok()) << keda.error();
//   for (const std::string& e : keda.ValidateScaledObject(doc)) ADD_FAILURE()
//       << e;
#ifndef SIGNALSCALER_TESTS_CLI_CLI_TEST_UTIL_H_
#define SIGNALSCALER_TESTS_CLI_CLI_TEST_UTIL_H_

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/manifests/schema_validator.h"

namespace signalscaler::cli_testing {

class KedaSchemas {
 public:
  // Loads KEDA's ScaledObject CRD (manifests::KedaCrdPath()).
  KedaSchemas();

  bool ok() const { return scaled_object_ != nullptr; }
  // Why the CRD could not be loaded, with what to do about it.
  const std::string& error() const { return error_; }

  // Errors ("FILE:LINE: PATH: MESSAGE") of a ScaledObject against the CRD's
  // v1alpha1 schema, plus its one CEL rule (min <= max), checked by hand.
  std::vector<std::string> ValidateScaledObject(
      const manifests::YamlDocument& doc) const;

  // Errors of a TriggerAuthentication against a structural schema of the
  // part of KEDA's CRD that `render` uses (apiVersion, kind, metadata,
  // spec.secretTargetRef[] with required parameter, name and key; unknown
  // fields are errors).
  std::vector<std::string> ValidateTriggerAuthentication(
      const manifests::YamlDocument& doc) const;

 private:
  std::string error_;
  std::unique_ptr<manifests::SchemaValidator> scaled_object_;
  std::unique_ptr<manifests::SchemaValidator> trigger_authentication_;
};

// An executable: $`env_var` if set, else the first `name` on $PATH, else
// /usr/bin/`name`. Empty if none of them is an executable file.
std::string FindTool(const char* name, const char* env_var);
// FindTool("kubectl", "KUBECTL").
std::string FindKubectl();

// The documents of `kubectl kustomize DIR`, with kustomize's default load
// restrictor (files only in or below each kustomization's directory), the
// only one `kubectl apply -k` has. False with a message saying what to do
// when kubectl is missing or fails (its stderr included).
bool RenderKustomize(const std::string& dir,
                     std::vector<manifests::YamlDocument>* docs,
                     std::string* error);

// Whether a Kubernetes label selector (matchLabels and matchExpressions with
// In, NotIn, Exists, DoesNotExist) selects an object with `labels`. An
// empty selector selects everything, as Kubernetes does.
bool Selects(const nlohmann::json& selector, const nlohmann::json& labels);

// The value at `path` of a JSON object, or null if any step is missing.
const nlohmann::json& At(const nlohmann::json& value,
                         std::initializer_list<const char*> path);

}  // namespace signalscaler::cli_testing

#endif  // SIGNALSCALER_TESTS_CLI_CLI_TEST_UTIL_H_
