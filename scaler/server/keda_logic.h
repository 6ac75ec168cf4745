// The semantics of KEDA's ExternalScaler RPCs, free of gRPC: trigger
// metadata validation, policy lookup confined to the caller's namespace,
// and answers read from memory. The gRPC service (external_scaler_service.cc)
// only adapts these to the wire; tests call them directly too.
#ifndef SIGNALSCALER_SCALER_SERVER_KEDA_LOGIC_H_
#define SIGNALSCALER_SCALER_SERVER_KEDA_LOGIC_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/externalscaler.pb.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/limits.h"
#include "scaler/server/policy_registry.h"
#include "scaler/server/policy_reloader.h"

namespace signalscaler {

// Trigger metadata keys the scaler accepts: its own and KEDA's.
inline constexpr char kPolicyKey[] = "policy";
// KEDA forwards a `<key>FromEnv` key unchanged, with its value resolved from
// the workload's environment (and drops it when that variable is unset or
// empty): `policyFromEnv: agent` reads as `policy: agent`.
inline constexpr char kPolicyFromEnvKey[] = "policyFromEnv";

// The policy a ScaledObjectRef names (`policy` or `policyFromEnv`), looked up
// in the ref's own namespace only. INVALID_ARGUMENT for an empty namespace,
// more trigger metadata entries than `limits->max_metadata_entries` or a key
// or value longer than `limits->max_metadata_bytes` (the message names the
// limit and its flag), neither `policy` nor `policyFromEnv` (an empty value
// counts as absent), both naming different policies (the message names both
// keys), or an unknown metadata key (named, with the accepted keys);
// NOT_FOUND for a policy not in that namespace (the message names nothing
// outside it); PERMISSION_DENIED for a namespace outside `served` (when
// given, non-empty). Null `limits`: the defaults.
absl::StatusOr<const LoadedPolicy*> ResolvePolicy(
    const externalscaler::ScaledObjectRef& ref, const PolicySnapshot& snap,
    const NamespaceSet* served = nullptr, const ServerLimits* limits = nullptr);

// One MetricSpec: the policy's stable metric name, target 1 (int and float).
// From the policy alone, never from a source, a decision or the state store:
// GetMetricSpec answers OK for every policy that exists, before the first
// reading, while every source fails and while degraded. A failing
// GetMetricSpec would keep KEDA's `fallback` from ever applying (KEDA #8056).
externalscaler::GetMetricSpecResponse MetricSpecFor(const LoadedPolicy& policy);

// The count KEDA is answered for `policy`: its decision; in shadow mode
// (spec.mode: shadow) the fleet's own count, the last one read from
// spec.replicas (held while that source fails), so that KEDA and the HPA
// keep the fleet as it is (with MetricSpecFor's target 1, AverageValue:
// ceil(count / 1) = count, a ratio of exactly 1). The fleet's count too
// while the latest decision was made in shadow mode (right after a switch to
// active, until its first active decision). UNAVAILABLE when there is no
// decision yet, or in shadow mode no fleet count yet.
absl::StatusOr<int64_t> AnswerFor(const LoadedPolicy& policy,
                                  const DecisionBoard& board);

// AnswerFor() as the metric value (int and float).
// UNAVAILABLE when there is no decision yet (KEDA's fallback then applies);
// NOT_FOUND when metricName is set and is not this policy's.
absl::StatusOr<externalscaler::GetMetricsResponse> MetricsFor(
    const externalscaler::GetMetricsRequest& request,
    const PolicySnapshot& snap, const DecisionBoard& board,
    const NamespaceSet* served = nullptr, const ServerLimits* limits = nullptr);

// AnswerFor() > 0 (in shadow mode: the fleet runs pods). UNAVAILABLE as
// AnswerFor().
absl::StatusOr<bool> IsActiveFor(const externalscaler::ScaledObjectRef& ref,
                                 const PolicySnapshot& snap,
                                 const DecisionBoard& board,
                                 const NamespaceSet* served = nullptr,
                                 const ServerLimits* limits = nullptr);

// What IsActive answers from a published decision and the FleetView
// published with it (for streams, which know the decision only): in shadow
// mode (the mode now in force, or the one the decision was made in) whether
// the fleet runs pods (false while its count is unknown), else decision > 0.
bool ActiveAnswer(const Decision& decision, const FleetView& view);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_KEDA_LOGIC_H_
