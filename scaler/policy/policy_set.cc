#include "scaler/policy/policy_set.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scaler/policy/policy_key.h"

namespace signalscaler {
namespace {

// Policies accepted so far in a composition, per namespace and in all.
struct PolicyCounts {
  std::map<std::string, size_t> by_namespace;
  size_t total = 0;

  void Add(const std::vector<LoadedPolicy>& policies) {
    for (const LoadedPolicy& p : policies) {
      ++by_namespace[p.policy.metadata().namespace_()];
    }
    total += policies.size();
  }
};

// Why adding `policies` (from `file`) to `counts` would break `limits`;
// empty when it would not.
std::vector<PolicyError> CapErrors(const std::string& file,
                                   const std::vector<LoadedPolicy>& policies,
                                   const PolicyCounts& counts,
                                   const PolicySetLimits& limits) {
  std::vector<PolicyError> errors;
  PolicyCounts added;
  added.Add(policies);
  for (const auto& [ns, n] : added.by_namespace) {
    const auto it = counts.by_namespace.find(ns);
    const size_t after = n + (it != counts.by_namespace.end() ? it->second : 0);
    if (after > limits.max_policies_per_namespace) {
      PolicyError e;
      e.file = file;
      e.message = absl::StrCat("namespace `", ns, "` would hold ", after,
                               " policies; the limit is ",
                               limits.max_policies_per_namespace,
                               " per namespace (--max-policies-per-namespace)");
      errors.push_back(std::move(e));
    }
  }
  if (counts.total + added.total > limits.max_policies) {
    PolicyError e;
    e.file = file;
    e.message = absl::StrCat(
        "the scaler would hold ", counts.total + added.total,
        " policies; the limit is ", limits.max_policies, " (--max-policies)");
    errors.push_back(std::move(e));
  }
  return errors;
}

// The policies in force stay with their file while it still defines them,
// or is rejected on its own account (its previous version keeps serving).
// id -> the policy in force.
std::map<std::string, const LoadedPolicy*> HeldPolicies(
    const std::vector<PolicyFileInput>& files) {
  std::map<std::string, const LoadedPolicy*> held;
  for (const PolicyFileInput& f : files) {
    const bool own_errors = !f.errors.empty();
    std::set<std::string> defined;
    if (!own_errors) {
      for (const LoadedPolicy& q : f.policies)
        defined.insert(KeyOf(q.policy).ToString());
    }
    for (const LoadedPolicy& p : f.in_force) {
      std::string id = KeyOf(p.policy).ToString();
      if (own_errors || defined.count(id) > 0) held.emplace(std::move(id), &p);
    }
  }
  return held;
}

// Duplicates across files, whatever the file names: another file defining a
// policy in force is rejected, naming the file in force; a policy in force
// nowhere that several files define is loaded from none of them (each is
// rejected naming the others). Appends to `errors[i]` for `files[i]`.
void DuplicateErrors(const std::vector<PolicyFileInput>& files,
                     const std::map<std::string, const LoadedPolicy*>& held,
                     std::vector<std::vector<PolicyError>>& errors) {
  std::map<std::string, std::vector<const LoadedPolicy*>> claimants;
  for (const PolicyFileInput& f : files) {
    if (!f.errors.empty()) continue;
    for (const LoadedPolicy& p : f.policies) {
      std::string id = KeyOf(p.policy).ToString();
      if (held.count(id) == 0) claimants[std::move(id)].push_back(&p);
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const PolicyFileInput& f = files[i];
    if (!f.errors.empty()) continue;
    for (const LoadedPolicy& p : f.policies) {
      const std::string id = KeyOf(p.policy).ToString();
      if (const auto h = held.find(id); h != held.end()) {
        if (h->second->file != f.file) {
          errors[i].push_back(InForceDuplicateError(p, *h->second));
        }
        continue;
      }
      const std::vector<const LoadedPolicy*>& all = claimants[id];
      if (all.size() < 2) continue;
      std::vector<const LoadedPolicy*> others;
      for (const LoadedPolicy* o : all) {
        if (o != &p) others.push_back(o);
      }
      errors[i].push_back(DuplicateAcrossFilesError(p, others));
    }
  }
}

}  // namespace

PolicyError DuplicateAcrossFilesError(
    const LoadedPolicy& again, const std::vector<const LoadedPolicy*>& others) {
  PolicyError e = DuplicatePolicyError(again, *others.front());
  for (size_t i = 1; i < others.size(); ++i) {
    absl::StrAppend(&e.message, ", ", others[i]->file, ":", others[i]->line);
  }
  absl::StrAppend(&e.message,
                  "; with none of them in force, none is loaded while more "
                  "than one defines it, whatever their names (remove all "
                  "but one)");
  return e;
}

PolicyError InForceDuplicateError(const LoadedPolicy& again,
                                  const LoadedPolicy& in_force) {
  PolicyError e = DuplicatePolicyError(again, in_force);
  e.message = absl::StrCat(
      "duplicate policy name `", again.policy.metadata().name(),
      "` in namespace `", again.policy.metadata().namespace_(),
      "`: already in force from ", in_force.file, ":", in_force.line,
      ", which keeps serving it; this file is rejected until one of the two "
      "no longer defines it");
  return e;
}

std::vector<PolicyFileOutcome> ComposePolicySet(
    const std::vector<PolicyFileInput>& files, const PolicySetLimits& limits) {
  std::vector<std::vector<PolicyError>> errors(files.size());
  for (size_t i = 0; i < files.size(); ++i) errors[i] = files[i].errors;
  DuplicateErrors(files, HeldPolicies(files), errors);
  // Who serves each policy now that duplicates are settled (caps aside).
  std::map<std::string, std::string> claimed;  // id -> file
  for (size_t i = 0; i < files.size(); ++i) {
    if (!errors[i].empty()) continue;
    for (const LoadedPolicy& p : files[i].policies) {
      claimed.emplace(KeyOf(p.policy).ToString(), files[i].file);
    }
  }
  // Caps, in order; then what each file serves.
  std::vector<PolicyFileOutcome> out(files.size());
  PolicyCounts counts;  // of what is served
  for (size_t i = 0; i < files.size(); ++i) {
    const PolicyFileInput& f = files[i];
    PolicyFileOutcome& o = out[i];
    o.file = f.file;
    o.errors = std::move(errors[i]);
    if (o.errors.empty())
      o.errors = CapErrors(f.file, f.policies, counts, limits);
    if (o.errors.empty()) {
      o.serving = f.policies;
    } else {
      // Rejected: the file's policies in force keep serving, except those
      // its new content gave up that another file now serves, and unless
      // they no longer fit the caps.
      std::vector<LoadedPolicy> kept;
      for (const LoadedPolicy& p : f.in_force) {
        const auto it = claimed.find(KeyOf(p.policy).ToString());
        if (it == claimed.end() || it->second == f.file) kept.push_back(p);
      }
      if (CapErrors(f.file, kept, counts, limits).empty()) {
        o.serving = std::move(kept);
      }
    }
    counts.Add(o.serving);
  }
  return out;
}

}  // namespace signalscaler
