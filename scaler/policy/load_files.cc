// Loading of a policy file, or of a directory of them (the files composed
// by ComposePolicySet, with no file in force). Declared in loader.h.
#include "scaler/policy/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/policy/policy_set.h"

namespace signalscaler {
namespace {

namespace fs = std::filesystem;

// Reads and parses one file: its errors go to `result`, and its policies are
// returned only if it has none (all or nothing).
std::vector<LoadedPolicy> ReadFile(const std::string& file,
                                   LoadResult& result) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    PolicyError e;
    e.file = file;
    e.message = absl::StrCat("cannot read: ", std::strerror(errno));
    result.errors.push_back(std::move(e));
    return {};
  }
  result.files.push_back(file);
  LoadResult parsed = ParsePolicies(text.str(), file);
  for (PolicyError& e : parsed.errors) result.errors.push_back(std::move(e));
  for (PolicyError& w : parsed.warnings) result.warnings.push_back(w);
  return std::move(parsed.policies);
}

bool IsPolicyFileName(const std::string& name) {
  return !absl::StartsWith(name, ".") &&
         (absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml"));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListPolicyFiles(
    const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot load policies: ",
                     ec ? ec.message() : "no such file or directory"));
  }
  if (!fs::is_directory(status)) return std::vector<std::string>{path};
  std::vector<std::string> files;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    // is_regular_file follows symlinks (kubelet's `egress.yaml -> ..data/`).
    if (IsPolicyFileName(name) && fs::is_regular_file(it->path(), type_ec)) {
      files.push_back(it->path().string());
    }
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot list directory: ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

LoadResult LoadPolicyFile(const std::string& file) {
  LoadResult result;
  result.policies = ReadFile(file, result);
  return result;
}

LoadResult LoadPolicies(const std::string& path, const PolicyFileCheck& check) {
  LoadResult result;
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  absl::StatusOr<std::vector<std::string>> listed = ListPolicyFiles(path);
  if (!listed.ok()) {
    // "PATH: message": the path is the error's file.
    const std::string message(listed.status().message());
    PolicyError e;
    e.file = path;
    e.message = message.substr(std::min(message.size(), path.size() + 2));
    result.errors.push_back(std::move(e));
    return result;
  }
  const std::vector<std::string>& files = *listed;
  if (!is_dir) {
    result.policies = ReadFile(path, result);
    if (result.errors.empty() && check) {
      check(result.policies, result.errors);
      if (!result.errors.empty()) {
        result.policies.clear();
        result.warnings.clear();
      }
    }
    if (result.errors.empty() && result.policies.empty()) {
      PolicyError e;
      e.file = path;
      e.message = "no policy document in this file";
      result.errors.push_back(std::move(e));
    }
    return result;
  }
  if (files.empty()) {
    PolicyError e;
    e.file = path;
    e.message =
        "no policy file: the directory has no *.yaml or *.yml file (names "
        "starting with '.' are skipped)";
    result.errors.push_back(std::move(e));
    return result;
  }
  // Each file alone first (with `check`), then the composition with no
  // file in force (what `serve` does when it starts): every file defining a
  // policy that another clean file also defines is rejected, whatever the
  // names.
  std::vector<PolicyFileInput> inputs(files.size());
  std::vector<std::vector<PolicyError>> warnings(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    LoadResult one;
    inputs[i].file = files[i];
    inputs[i].policies = ReadFile(files[i], one);
    if (one.errors.empty() && check) check(inputs[i].policies, one.errors);
    inputs[i].errors = std::move(one.errors);
    warnings[i] = std::move(one.warnings);
    result.files.insert(result.files.end(), one.files.begin(), one.files.end());
  }
  std::vector<PolicyFileOutcome> composed = ComposePolicySet(inputs);
  for (size_t i = 0; i < composed.size(); ++i) {
    PolicyFileOutcome& o = composed[i];
    result.errors.insert(result.errors.end(), o.errors.begin(), o.errors.end());
    if (!o.errors.empty()) continue;  // (Nor its warnings.)
    result.policies.insert(result.policies.end(), o.serving.begin(),
                           o.serving.end());
    result.warnings.insert(result.warnings.end(), warnings[i].begin(),
                           warnings[i].end());
  }
  if (result.errors.empty() && result.policies.empty()) {
    PolicyError e;
    e.file = path;
    e.message =
        absl::StrCat("no policy document in the directory's ", files.size(),
                     " file(s): ", absl::StrJoin(files, ", "));
    result.errors.push_back(std::move(e));
  }
  return result;
}

}  // namespace signalscaler
