// Helpers of the CLI tests: KEDA's schemas (the ScaledObject CRD from
// ../shared/keda, and the subset of TriggerAuthentication that `render`
// writes, whose CRD is not there), and finding kubectl.
//
//   KedaSchemas keda;
//   ASSERT_TRUE(keda.ok()) << keda.error();
//   for (const std::string& e : keda.ValidateScaledObject(doc)) ADD_FAILURE()
//       << e;
#ifndef SIGNALSCALER_TESTS_CLI_CLI_TEST_UTIL_H_
#define SIGNALSCALER_TESTS_CLI_CLI_TEST_UTIL_H_

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

// kubectl: $KUBECTL if set, else the first `kubectl` on $PATH, else
// /usr/bin/kubectl. Empty if none of them is an executable file.
std::string FindKubectl();

// The value at `path` of a JSON object, or null if any step is missing.
const nlohmann::json& At(const nlohmann::json& value,
                         std::initializer_list<const char*> path);

}  // namespace signalscaler::cli_testing

#endif  // SIGNALSCALER_TESTS_CLI_CLI_TEST_UTIL_H_
