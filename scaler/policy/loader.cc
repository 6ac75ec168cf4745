// Parsing of policy files (YAML documents -> ScalingPolicy, then
// ValidatePolicy). Loading files and directories: load_files.cc.
#include "scaler/policy/loader.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/arena.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "scaler/policy/internal/yaml_to_proto.h"
#include "scaler/policy/policy_key.h"
#include "scaler/policy/warnings.h"

namespace signalscaler {

std::shared_ptr<const v1::ScalingPolicy> SharedPolicy::CompactCopy(
    const v1::ScalingPolicy& p) {
  // The heap the message uses now, with room for the arena's own headers
  // and alignment; a larger policy grows the arena by more blocks.
  const size_t bytes = p.SpaceUsedLong();
  google::protobuf::ArenaOptions options;
  options.start_block_size = bytes + bytes / 4 + 256;
  options.max_block_size = options.start_block_size;
  struct Held {
    explicit Held(const google::protobuf::ArenaOptions& o) : arena(o) {}
    google::protobuf::Arena arena;
    v1::ScalingPolicy* message = nullptr;
  };
  auto held = std::make_shared<Held>(options);
  held->message =
      google::protobuf::Arena::CreateMessage<v1::ScalingPolicy>(&held->arena);
  held->message->CopyFrom(p);
  // Owns the arena, points at the message.
  return std::shared_ptr<const v1::ScalingPolicy>(held, held->message);
}
namespace {

using policy_internal::LineIndex;
using policy_internal::LineOf;

constexpr char kDefaultNamespace[] = "default";

// The value of `key` in a YAML map, or an undefined node. (yaml-cpp's const
// operator[] returns a node that throws when asked its type.)
YAML::Node Get(const YAML::Node& map, const std::string& key) {
  if (map.IsMap()) {
    for (const auto& entry : map) {
      if (entry.first.IsScalar() && entry.first.Scalar() == key) {
        return entry.second;
      }
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// "namespace/name" read straight from a document's YAML, so that errors found
// before (or instead of) metadata can name their policy. Empty without a name.
std::string PeekPolicyId(const YAML::Node& doc) {
  const YAML::Node meta = Get(doc, "metadata");
  const YAML::Node name = Get(meta, "name");
  if (!name.IsScalar() || name.Scalar().empty()) return "";
  const YAML::Node ns = Get(meta, "namespace");
  return PolicyKey{
      ns.IsScalar() && !ns.Scalar().empty() ? ns.Scalar() : kDefaultNamespace,
      name.Scalar()}
      .ToString();
}

// `field` is `path` or lies below it.
bool IsWithin(const std::string& field, const std::string& path) {
  if (!absl::StartsWith(field, path)) return false;
  return field.size() == path.size() || field[path.size()] == '.' ||
         field[path.size()] == '[';
}

// The line of `field`, or of its nearest ancestor the document spells out.
int LineFor(std::string field, const LineIndex& lines) {
  while (!field.empty()) {
    if (auto it = lines.find(field); it != lines.end()) return it->second;
    const size_t cut = field.find_last_of(".[");
    if (cut == std::string::npos) break;
    field.resize(cut);
  }
  return 0;
}

// One document: YAML -> proto, then validation. Appends its errors (and, if
// it has none, its warnings); returns whether it had none.
bool ParseDocument(const YAML::Node& doc, absl::string_view file,
                   LoadedPolicy& loaded, std::vector<PolicyError>& errors,
                   std::vector<PolicyError>& warnings) {
  loaded.file = std::string(file);
  loaded.line = LineOf(doc);
  policy_internal::Conversion found;
  const YAML::Node kind = Get(doc, "kind");
  if (!doc.IsMap()) {
    PolicyError e;
    e.line = loaded.line;
    e.message = "expected a ScalingPolicy document (a YAML map), got " +
                std::string(doc.IsSequence() ? "a list" : "a scalar");
    found.errors.push_back(std::move(e));
  } else if (kind.IsScalar() && kind.Scalar() != kPolicyKind) {
    // Another kind of object (a ScaledObject beside the policies): its
    // fields are not ours to list one by one.
    PolicyError e;
    e.line = LineOf(kind);
    e.field = "kind";
    e.message =
        absl::StrCat("unsupported kind \"", kind.Scalar(), "\": must be `",
                     kPolicyKind, "` (only policies belong in policy files)");
    found.errors.push_back(std::move(e));
  } else {
    policy_internal::YamlToMessage(doc, *loaded.policy.Mutable(), found);
    if (loaded.policy.metadata().namespace_().empty()) {
      loaded.policy.Mutable()->mutable_metadata()->set_namespace_(
          kDefaultNamespace);
    }
    std::vector<PolicyError> rules;
    ValidatePolicy(loaded, rules);
    for (PolicyError& e : rules) {
      // A field already reported (malformed, or misspelled) is not also
      // reported as missing or out of range.
      const bool repeated = std::any_of(
          found.reported.begin(), found.reported.end(),
          [&](const std::string& path) { return IsWithin(e.field, path); });
      if (repeated) continue;
      if (const int line = LineFor(e.field, found.lines); line > 0) {
        e.line = line;
      }
      found.errors.push_back(std::move(e));
    }
    if (found.errors.empty()) {
      loaded.policy.Compact();
      std::vector<PolicyError> found_warnings;
      AppendPolicyWarnings(loaded, found_warnings);
      for (PolicyError& w : found_warnings) {
        if (const int line = LineFor(w.field, found.lines); line > 0) {
          w.line = line;
        }
        warnings.push_back(std::move(w));
      }
    }
  }
  const std::string id = PeekPolicyId(doc);
  for (PolicyError& e : found.errors) {
    e.file = std::string(file);
    e.policy = id;
  }
  const bool ok = found.errors.empty();
  errors.insert(errors.end(), std::make_move_iterator(found.errors.begin()),
                std::make_move_iterator(found.errors.end()));
  return ok;
}

PolicyError DuplicateError(const LoadedPolicy& again,
                           const LoadedPolicy& first) {
  PolicyError e;
  e.file = again.file;
  e.line = again.line;
  e.policy = KeyOf(again.policy).ToString();
  e.field = "metadata.name";
  e.message =
      absl::StrCat("duplicate policy name `", again.policy.metadata().name(),
                   "` in namespace `", again.policy.metadata().namespace_(),
                   "`: also defined at ", first.file, ":", first.line);
  return e;
}

// Splits a multi-document YAML text at its `---` (document start) and `...`
// (document end) marker lines. Each piece keeps its lines where they were
// (earlier lines become empty, the marker becomes spaces), so that marks,
// and thus error lines, stay those of the file.
std::vector<std::string> SplitYamlDocuments(absl::string_view text) {
  std::vector<std::string> docs;
  std::string current;
  int line = 0;
  int start_line = 0;
  const auto flush = [&](int next_start) {
    if (current.find_first_not_of(" \t\r\n") != std::string::npos) {
      docs.push_back(std::string(start_line, '\n') + current);
    }
    current.clear();
    start_line = next_start;
  };
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    const bool start =
        absl::StartsWith(l, "---") &&
        (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
    const bool end = l == "..." || l == "...\r";
    if (start || end) {
      flush(line);
      if (start) {
        current = absl::StrCat("   ", l.substr(3), "\n");
      } else {
        current = "\n";
      }
    } else {
      absl::StrAppend(&current, l, "\n");
    }
    ++line;
  }
  flush(line);
  return docs;
}

}  // namespace

std::string PolicyError::ToString() const {
  std::string out;
  if (!file.empty()) {
    out = line > 0 ? absl::StrCat(file, ":", line, ": ") : file + ": ";
  } else if (line > 0) {
    out = absl::StrCat("line ", line, ": ");
  }
  if (!policy.empty()) absl::StrAppend(&out, "policy ", policy, ": ");
  if (!field.empty()) absl::StrAppend(&out, field, ": ");
  absl::StrAppend(&out, message);
  return out;
}

absl::Status LoadResult::ToStatus() const {
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrJoin(errors, "\n", [](std::string* out, const PolicyError& e) {
        out->append(e.ToString());
      }));
}

LoadResult ParsePolicies(absl::string_view yaml_text, absl::string_view file) {
  LoadResult result;
  if (yaml_text.size() > kMaxPolicyFileBytes) {
    PolicyError error;
    error.file = std::string(file);
    error.message =
        absl::StrCat("file is ", yaml_text.size(), " bytes; the limit is ",
                     kMaxPolicyFileBytes, " (split it into several files)");
    result.errors.push_back(std::move(error));
    return result;
  }
  std::vector<YAML::Node> docs;
  try {
    // Not YAML::LoadAll: on some malformed input yaml-cpp 0.7's LoadAll
    // allocates without bound (a 1.3 KB file took 16 GB; found by
    // fuzz_policy_yaml). Each document is parsed alone with YAML::Load.
    for (const std::string& doc : SplitYamlDocuments(yaml_text)) {
      docs.push_back(YAML::Load(doc));
    }
  } catch (const YAML::Exception& e) {
    PolicyError error;
    error.file = std::string(file);
    error.line = e.mark.is_null() ? 0 : e.mark.line + 1;
    error.message = absl::StrCat("invalid YAML: ", e.msg);
    result.errors.push_back(std::move(error));
    return result;
  }
  std::vector<LoadedPolicy> policies;
  std::vector<PolicyError> warnings;
  std::map<std::string, size_t> by_id;  // -> index in policies
  for (const YAML::Node& doc : docs) {
    if (!doc.IsDefined() || doc.IsNull()) continue;  // An empty document.
    LoadedPolicy loaded;
    bool ok = false;
    try {
      ok = ParseDocument(doc, file, loaded, result.errors, warnings);
    } catch (const YAML::Exception& e) {  // Not expected; never let it out.
      PolicyError error;
      error.file = std::string(file);
      error.line = e.mark.is_null() ? LineOf(doc) : e.mark.line + 1;
      error.message = absl::StrCat("cannot read this document: ", e.msg);
      result.errors.push_back(std::move(error));
    }
    if (!ok) continue;
    const std::string id = KeyOf(loaded.policy).ToString();
    if (auto it = by_id.find(id); it != by_id.end()) {
      result.errors.push_back(DuplicateError(loaded, policies[it->second]));
      continue;
    }
    by_id.emplace(id, policies.size());
    policies.push_back(std::move(loaded));
  }
  // All or nothing: a file with any error contributes no policy (and so no
  // warning).
  if (result.errors.empty()) {
    result.policies = std::move(policies);
    result.warnings = std::move(warnings);
  }
  return result;
}

PolicyError DuplicatePolicyError(const LoadedPolicy& again,
                                 const LoadedPolicy& first) {
  return DuplicateError(again, first);
}

}  // namespace signalscaler
