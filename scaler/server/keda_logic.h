// The semantics of KEDA's ExternalScaler RPCs, free of gRPC: trigger
// metadata validation, policy lookup confined to the caller's namespace,
// and answers read from memory. The gRPC service (external_scaler_service.cc)
// only adapts these to the wire; tests call them directly too.
#ifndef SIGNALSCALER_SCALER_SERVER_KEDA_LOGIC_H_
#define SIGNALSCALER_SCALER_SERVER_KEDA_LOGIC_H_

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

// The decided replica count as the metric value (int and float).
// UNAVAILABLE when there is no decision yet (KEDA's fallback then applies);
// NOT_FOUND when metricName is set and is not this policy's.
absl::StatusOr<externalscaler::GetMetricsResponse> MetricsFor(
    const externalscaler::GetMetricsRequest& request,
    const PolicySnapshot& snap, const DecisionBoard& board,
    const NamespaceSet* served = nullptr, const ServerLimits* limits = nullptr);

// decision > 0. UNAVAILABLE when there is no decision yet.
absl::StatusOr<bool> IsActiveFor(const externalscaler::ScaledObjectRef& ref,
                                 const PolicySnapshot& snap,
                                 const DecisionBoard& board,
                                 const NamespaceSet* served = nullptr,
                                 const ServerLimits* limits = nullptr);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_KEDA_LOGIC_H_
