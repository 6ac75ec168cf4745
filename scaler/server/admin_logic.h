// The Admin API's semantics, free of gRPC: recording pushed values and
// explaining decisions.
#ifndef SIGNALSCALER_SCALER_SERVER_ADMIN_LOGIC_H_
#define SIGNALSCALER_SCALER_SERVER_ADMIN_LOGIC_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/admin.pb.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/policy_registry.h"
#include "scaler/server/policy_reloader.h"
#include "sources/push/push_source.h"

namespace signalscaler {

// Largest accepted clock skew of a pushed sample time into the future: up to
// it, a sample time ahead is clamped to the receipt time; beyond, refused
// (INVALID_ARGUMENT): a clock that far off is a broken pusher.
inline constexpr absl::Duration kMaxPushFutureSkew = absl::Seconds(60);

// Validates and records a pushed value, then re-evaluates the policy at once
// (so a first queued item wakes a service without waiting for a tick).
// INVALID_ARGUMENT: missing names, non-finite value, sample time in the
// future; NOT_FOUND: no such policy in the namespace, or no such signal;
// FAILED_PRECONDITION: the signal's source is not `push`.
absl::StatusOr<admin::v1::PushResponse> RecordPush(
    const admin::v1::PushRequest& req, const PolicySnapshot& snap,
    PushStore& store, Evaluator& evaluator, absl::Time now);

// Which namespaces a caller may read (explain); null: every namespace.
using NamespaceVisible = std::function<bool(const std::string& ns)>;

// Explains the current decision of one policy (namespace and policy set),
// every policy of a namespace (policy empty) or all (both empty), leaving
// out the namespaces `visible` refuses (the caller authorizes a named
// namespace first: this only filters the lists).
// NOT_FOUND when a named policy does not exist in the namespace.
absl::StatusOr<admin::v1::ExplainResponse> Explain(
    const admin::v1::ExplainRequest& req, const PolicySnapshot& snap,
    const DecisionBoard& board, const NamespaceVisible& visible = nullptr);

// The policy files, their status and what each contributes. `reloader` may
// be null (embedded policies): then every policy is listed under `source`.
// With `visible`, a caller sees a file only if it declares a namespace the
// caller may read, only the policies in force of such namespaces, and the
// file's errors only if every namespace it declares is readable and none of
// its errors is of an unknown namespace (else one line says how many were
// withheld); the reload counters are left at 0.
admin::v1::PoliciesResponse ListPolicies(
    const PolicyReloader* reloader, const std::string& source,
    const PolicySnapshot& snap, const NamespaceVisible& visible = nullptr);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_ADMIN_LOGIC_H_
