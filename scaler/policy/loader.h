// Strict loading of ScalingPolicy documents from YAML files.
//
// Every error names the file (and line, where YAML gives it), the policy
// (namespace/name, when known) and the field path in YAML's own spelling
// (`spec.signals[1].scaleUpAbove`), and all errors of a load are collected,
// not just the first.
//
//   LoadResult r = LoadPolicies("/etc/signalscaler/policies");
//   if (!r.errors.empty()) { for (auto& e : r.errors) log(e.ToString()); }
#ifndef SIGNALSCALER_SCALER_POLICY_LOADER_H_
#define SIGNALSCALER_SCALER_POLICY_LOADER_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/policy.pb.h"

namespace signalscaler {

// The only apiVersion and kind a policy document may declare.
inline constexpr char kPolicyApiVersion[] = "signalscaler.io/v1";
inline constexpr char kPolicyKind[] = "ScalingPolicy";

// The largest policy file accepted (a ConfigMap holds at most 1 MiB).
inline constexpr size_t kMaxPolicyFileBytes = 1 << 20;

struct PolicyError {
  std::string file;
  int line = 0;         // 1-based; 0 when unknown
  std::string policy;   // "namespace/name", or empty when not known yet
  std::string field;    // "spec.signals[1].scaleUpAbove", or empty
  std::string message;  // what is wrong, and what was expected

  // "FILE:LINE: policy NS/NAME: FIELD: MESSAGE" (absent parts left out).
  std::string ToString() const;
};

// A ScalingPolicy shared, immutable, by every copy of a LoadedPolicy: the
// reloader's files, each snapshot and the evaluator hold one protobuf per
// policy, not one each (they were ~3 KB a copy, and a reload of 10,000
// policies made several). Reads as the message itself (spec(), metadata(),
// a `const v1::ScalingPolicy&` argument); Mutable() copies it first unless
// this is the only holder.
class SharedPolicy {
 public:
  SharedPolicy() : p_(Empty()) {}
  SharedPolicy(v1::ScalingPolicy p)  // NOLINT: implicit, as the message was
      : p_(CompactCopy(p)) {}

  const v1::ScalingPolicy& get() const { return *p_; }
  operator const v1::ScalingPolicy&() const { return *p_; }  // NOLINT
  const v1::ScalingPolicy* operator->() const { return p_.get(); }
  const v1::PolicySpec& spec() const { return p_->spec(); }
  const v1::ObjectMeta& metadata() const { return p_->metadata(); }
  std::string SerializeAsString() const { return p_->SerializeAsString(); }

  // Moves the message into an arena of its own, one block sized to it: its
  // sub-messages (signals, sources, behavior) then lie together, not
  // wherever the parser's allocations fell. The evaluator reads every
  // policy's spec once a second, 10,000 of them, and their first reads were
  // cache misses. The loader calls it on every valid policy.
  void Compact() { p_ = CompactCopy(*p_); }

  // The message to change; a copy of it if another holder shares it. Not
  // thread-safe against another thread copying this same SharedPolicy.
  v1::ScalingPolicy* Mutable() {
    if (p_.use_count() != 1 || p_ == Empty()) {
      auto copy = std::make_shared<v1::ScalingPolicy>(*p_);
      v1::ScalingPolicy* mine = copy.get();
      p_ = std::move(copy);
      return mine;
    }
    // The sole holder: every message is made non-const (here or in the
    // constructor), only shared as const.
    return const_cast<v1::ScalingPolicy*>(p_.get());
  }

 private:
  static const std::shared_ptr<const v1::ScalingPolicy>& Empty() {
    static const auto* empty = new std::shared_ptr<const v1::ScalingPolicy>(
        std::make_shared<v1::ScalingPolicy>());
    return *empty;
  }
  // A copy of `p` in an arena of its own (Compact).
  static std::shared_ptr<const v1::ScalingPolicy> CompactCopy(
      const v1::ScalingPolicy& p);
  std::shared_ptr<const v1::ScalingPolicy> p_;
};

struct LoadedPolicy {
  SharedPolicy policy;  // metadata.namespace filled in ("default")
  std::string file;
  int line = 0;  // where the document starts
};

struct LoadResult {
  std::vector<LoadedPolicy> policies;  // only the valid ones
  std::vector<PolicyError> errors;
  std::vector<std::string> files;  // the files that were read
  // Of the valid policies only (scaler/policy/warnings.h); they never make
  // a load fail. PolicyWarningToString prints one.
  std::vector<PolicyError> warnings;

  // OK if there were no errors; else INVALID_ARGUMENT listing them all.
  absl::Status ToStatus() const;
};

// Parses and validates the documents in one file's text (`file` is only used
// in messages). Empty documents (a lone `---`) are skipped.
LoadResult ParsePolicies(absl::string_view yaml_text, absl::string_view file);

// Semantic checks of one parsed policy (required fields, ranges, bands,
// duplicate signal names, source fields). Appends to `errors`.
void ValidatePolicy(const LoadedPolicy& loaded,
                    std::vector<PolicyError>& errors);

// Further checks of one file's valid policies (as `serve` makes them: their
// sources' confinement, ConfineSources in sources/factory.h): appends the
// errors that reject the file.
using PolicyFileCheck = std::function<void(std::vector<LoadedPolicy>& policies,
                                           std::vector<PolicyError>& errors)>;

// Loads a file, or every `*.yaml` / `*.yml` file of a directory (not
// recursive; entries starting with '.' skipped, symlinks followed, as in a
// kubelet-mounted ConfigMap or projected volume), each file all or nothing
// (its parse, then `check`). Also reports a directory with no policy at all,
// and composes the files with no file in force (ComposePolicySet in
// scaler/policy/policy_set.h): a duplicate across files rejects every file
// defining it (each error naming the others), not the later one by name.
// This is what `serve` does when it starts.
LoadResult LoadPolicies(const std::string& path,
                        const PolicyFileCheck& check = nullptr);

// The policy files LoadPolicies reads for `path`: a file gives itself, a
// directory its *.yaml / *.yml entries (sorted, dot-names skipped, symlinks
// followed). NOT_FOUND if `path` does not exist; messages start with `path`.
absl::StatusOr<std::vector<std::string>> ListPolicyFiles(
    const std::string& path);

// Reads and parses one file, all or nothing (no "no document" error: an
// empty file simply holds no policy).
LoadResult LoadPolicyFile(const std::string& file);

// A Kubernetes name (namespace, policy): at most 63 lowercase letters,
// digits and '-', not starting or ending with '-'.
bool IsDns1123Label(absl::string_view s);

// The error for `again` having the namespace/name of `first`.
PolicyError DuplicatePolicyError(const LoadedPolicy& again,
                                 const LoadedPolicy& first);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_LOADER_H_
