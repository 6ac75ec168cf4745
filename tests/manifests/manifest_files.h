// Locating the project's manifests from tests.
//
//   for (const std::string& f : FindYamlFiles(SourceDir() + "/deploy")) ...
#ifndef SIGNALSCALER_TESTS_MANIFESTS_MANIFEST_FILES_H_
#define SIGNALSCALER_TESTS_MANIFESTS_MANIFEST_FILES_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/manifests/schema_validator.h"

namespace signalscaler::manifests {

// The project's source directory: $SIGNALSCALER_SOURCE_DIR (set by ss_test),
// else the directory the tests were configured from.
std::string SourceDir();

// KEDA's ScaledObject CRD: $SIGNALSCALER_KEDA_CRD if set, else
// SourceDir()/../shared/keda/keda.sh_scaledobjects.yaml. The file may not
// exist: callers must fail, never skip, when it does not.
std::string KedaCrdPath();

// Every *.yaml / *.yml file under `root`, recursively, sorted. Hidden entries
// (".git", ".cache") are skipped, and so are Helm templates (files under a
// `templates/` folder that contain "{{"), which are not YAML until rendered.
std::vector<std::string> FindYamlFiles(const std::string& root);

// A keda.sh ScaledObject document?
bool IsScaledObject(const nlohmann::json& doc);

// All ScaledObject documents of the YAML files under `root`. A file that
// cannot be parsed is reported in `errors` (and its documents skipped).
std::vector<YamlDocument> FindScaledObjects(const std::string& root,
                                            std::vector<std::string>* errors);

// "FILE:LINE" of a value of a document, for messages.
std::string Where(const YamlDocument& doc, const std::string& path = "");

}  // namespace signalscaler::manifests

#endif  // SIGNALSCALER_TESTS_MANIFESTS_MANIFEST_FILES_H_
