#include "tests/manifests/manifest_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace signalscaler::manifests {
namespace fs = std::filesystem;

namespace {

bool Hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

bool IsHelmTemplate(const fs::path& p) {
  bool under_templates = false;
  for (const fs::path& part : p) under_templates |= part == "templates";
  if (!under_templates) return false;
  std::ifstream in(p);
  std::stringstream text;
  text << in.rdbuf();
  return text.str().find("{{") != std::string::npos;
}

}  // namespace

std::string SourceDir() {
  const char* env = std::getenv("SIGNALSCALER_SOURCE_DIR");
  if (env != nullptr && *env != '\0') return env;
  return SIGNALSCALER_DEFAULT_SOURCE_DIR;
}

std::string KedaCrdPath() {
  const char* env = std::getenv("SIGNALSCALER_KEDA_CRD");
  if (env != nullptr && *env != '\0') return env;
  return SourceDir() + "/../shared/keda/keda.sh_scaledobjects.yaml";
}

std::vector<std::string> FindYamlFiles(const std::string& root) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(
      root, fs::directory_options::follow_directory_symlink, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    if (Hidden(p)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    const std::string ext = p.extension().string();
    if (!it->is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
    if (IsHelmTemplate(p)) continue;
    files.push_back(p.string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool IsScaledObject(const nlohmann::json& doc) {
  if (!doc.is_object()) return false;
  auto kind = doc.find("kind");
  auto api = doc.find("apiVersion");
  return kind != doc.end() && *kind == "ScaledObject" && api != doc.end() &&
         api->is_string() && api->get<std::string>().rfind("keda.sh/", 0) == 0;
}

std::vector<YamlDocument> FindScaledObjects(const std::string& root,
                                            std::vector<std::string>* errors) {
  std::vector<YamlDocument> found;
  for (const std::string& file : FindYamlFiles(root)) {
    std::vector<YamlDocument> docs;
    std::string error;
    if (!LoadYamlFile(file, &docs, &error)) {
      errors->push_back(error);
      continue;
    }
    for (YamlDocument& doc : docs) {
      if (IsScaledObject(doc.value)) found.push_back(std::move(doc));
    }
  }
  return found;
}

std::string Where(const YamlDocument& doc, const std::string& path) {
  return doc.file + ":" + std::to_string(doc.LineOf(path));
}

}  // namespace signalscaler::manifests
