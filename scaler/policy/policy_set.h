// Composing the policies in force from a set of policy files: the one place
// where duplicates across files and the policy caps are settled. `check`
// (through LoadPolicies), `serve`'s first load and every reload of the
// PolicyReloader call ComposePolicySet, so that they cannot disagree.
//
// Pure: the files are given as parsed, with what each served before.
//
// Duplicates across files (one namespace/name in several files) never
// depend on file names, which a tenant chooses:
// - the file in force keeps its policy while it still defines it (edited,
//   or rejected on its own account and so serving its previous version); any
//   other file defining it is rejected, naming the file in force;
// - with no file in force for it (at a start, in `check`, or the file in
//   force removed), none of the files defining it is loaded: each is rejected
//   naming the others, until only one defines it.
//
// Caps (PolicySetLimits): files are taken in the order given (name order); a
// file whose policies would take a namespace past max_policies_per_namespace,
// or the set past max_policies, is rejected with an error naming the limit;
// its previous policies keep serving if they still fit.
//
//   std::vector<PolicyFileInput> files = ...;  // in name order
//   for (const PolicyFileOutcome& o : ComposePolicySet(files, limits)) ...
#ifndef SIGNALSCALER_SCALER_POLICY_POLICY_SET_H_
#define SIGNALSCALER_SCALER_POLICY_POLICY_SET_H_

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "scaler/policy/loader.h"

namespace signalscaler {

// One policy file as read now.
struct PolicyFileInput {
  std::string file;
  // The file's latest valid policies (ignored when `errors` is not empty).
  std::vector<LoadedPolicy> policies;
  // Why the file is rejected on its own account (YAML, validation, a
  // namespace not served, a source outside its confinement); empty: none.
  std::vector<PolicyError> errors;
  // What the file served before this composition: the policy ids it holds
  // in force, at the versions in force. Empty at a start.
  std::vector<LoadedPolicy> in_force;
};

// The caps of a policy set; the defaults cap nothing.
struct PolicySetLimits {
  size_t max_policies_per_namespace = std::numeric_limits<size_t>::max();
  size_t max_policies = std::numeric_limits<size_t>::max();
};

// What one file gives to the set, in the order of the input.
struct PolicyFileOutcome {
  std::string file;
  // The policies in force from this file: its latest content when `errors`
  // is empty, else what it keeps of `in_force` (those no other file took
  // over, if they still fit the caps).
  std::vector<LoadedPolicy> serving;
  // Why its latest content is not in force (its own errors, duplicates,
  // caps); empty when it is.
  std::vector<PolicyError> errors;
};

std::vector<PolicyFileOutcome> ComposePolicySet(
    const std::vector<PolicyFileInput>& files,
    const PolicySetLimits& limits = PolicySetLimits());

// The error for `again` having the namespace/name of `others` (at least one,
// each in another file) while no file has it in force: every one of these
// files is rejected.
PolicyError DuplicateAcrossFilesError(
    const LoadedPolicy& again, const std::vector<const LoadedPolicy*>& others);

// The error for `again` having the namespace/name of `in_force`, which
// another file serves: the file in force keeps it.
PolicyError InForceDuplicateError(const LoadedPolicy& again,
                                  const LoadedPolicy& in_force);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_POLICY_SET_H_
