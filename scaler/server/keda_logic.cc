#include "scaler/server/keda_logic.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "scaler/common/status_macros.h"
#include "scaler/policy/defaults.h"

namespace signalscaler {
namespace {

// `policy` and `policyFromEnv` are ours; the rest are KEDA's own keys,
// forwarded with every call.
//
// The `*FromEnv` rule applies to `policy` only. KEDA itself reads
// `scalerAddress`, `enableTLS` and `unsafeSsl` from the trigger metadata as
// written, never from the environment (`order=triggerMetadata` in its
// external_scaler.go), so a `scalerAddressFromEnv`, `enableTLSFromEnv` or
// `unsafeSslFromEnv` configures nothing in KEDA. Accepting one here would
// hide that; it stays an unknown key (INVALID_ARGUMENT naming it), with a
// hint saying why.
constexpr const char* kKedaKeys[] = {"scalerAddress", "enableTLS", "unsafeSsl"};
constexpr const char* kAcceptedKeys[] = {
    kPolicyKey, kPolicyFromEnvKey, "scalerAddress", "enableTLS", "unsafeSsl"};
constexpr absl::string_view kFromEnvSuffix = "FromEnv";

bool Accepted(const std::string& key) {
  for (const char* k : kAcceptedKeys) {
    if (key == k) return true;
  }
  return false;
}

// True for `<one of KEDA's own keys>FromEnv`.
bool IsKedaKeyFromEnv(absl::string_view key) {
  if (!absl::ConsumeSuffix(&key, kFromEnvSuffix)) return false;
  for (const char* k : kKedaKeys) {
    if (key == k) return true;
  }
  return false;
}

// A metadata key or value for a message: at most 64 bytes of it are quoted
// back.
std::string Quoted(absl::string_view text) {
  constexpr size_t kQuotedBytes = 64;
  if (text.size() <= kQuotedBytes) return absl::StrCat("\"", text, "\"");
  return absl::StrCat("\"", text.substr(0, kQuotedBytes), "...\"");
}

// The trigger metadata within `limits`: entry count first, then each key and
// value length.
absl::Status CheckMetadataBounds(const externalscaler::ScaledObjectRef& ref,
                                 const ServerLimits& limits) {
  const size_t entries = static_cast<size_t>(ref.scalermetadata().size());
  if (entries > limits.max_metadata_entries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trigger metadata has ", entries, " entries; the limit is ",
        limits.max_metadata_entries, " (--max-metadata-entries)"));
  }
  for (const auto& [key, value] : ref.scalermetadata()) {
    if (key.size() > limits.max_metadata_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("trigger metadata key ", Quoted(key), " is ", key.size(),
                       " bytes; the limit is ", limits.max_metadata_bytes,
                       " bytes (--max-metadata-bytes)"));
    }
    if (value.size() > limits.max_metadata_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the value of trigger metadata key ", Quoted(key), " is ",
          value.size(), " bytes; the limit is ", limits.max_metadata_bytes,
          " bytes (--max-metadata-bytes)"));
    }
  }
  return absl::OkStatus();
}

// The policy name of `policy` or `policyFromEnv` (the value KEDA resolved
// from the workload's environment). An empty value counts as absent: KEDA
// drops a `*FromEnv` key whose variable is unset or empty. Both given and
// equal is fine; both given and different is INVALID_ARGUMENT naming both.
absl::StatusOr<std::string> PolicyName(
    const externalscaler::ScaledObjectRef& ref) {
  const auto& metadata = ref.scalermetadata();
  auto value_of = [&metadata](const char* key) -> absl::string_view {
    auto it = metadata.find(key);
    return it == metadata.end() ? absl::string_view() : it->second;
  };
  const absl::string_view plain = value_of(kPolicyKey);
  const absl::string_view from_env = value_of(kPolicyFromEnvKey);
  if (plain.empty() && from_env.empty()) {
    return absl::InvalidArgumentError(
        "trigger metadata has no \"policy\" (nor \"policyFromEnv\"): set it "
        "to the name of a ScalingPolicy in the ScaledObject's namespace "
        "(KEDA drops \"policyFromEnv\" when the workload's variable is unset "
        "or empty)");
  }
  if (!plain.empty() && !from_env.empty() && plain != from_env) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trigger metadata keys \"policy\" and \"policyFromEnv\" name "
        "different policies (",
        Quoted(plain), " and ", Quoted(from_env), "); set only one"));
  }
  return std::string(plain.empty() ? from_env : plain);
}

}  // namespace

absl::StatusOr<const LoadedPolicy*> ResolvePolicy(
    const externalscaler::ScaledObjectRef& ref, const PolicySnapshot& snap,
    const NamespaceSet* served, const ServerLimits* limits) {
  RETURN_IF_ERROR(
      CheckMetadataBounds(ref, limits != nullptr ? *limits : ServerLimits()));
  if (ref.namespace_().empty()) {
    return absl::InvalidArgumentError(
        "ScaledObjectRef.namespace is empty; the policy is looked up in the "
        "ScaledObject's namespace");
  }
  if (served != nullptr && !served->empty() &&
      !served->contains(ref.namespace_())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "namespace \"", ref.namespace_(), "\" is not served by this scaler"));
  }
  // Report unknown keys in a stable (sorted) order.
  std::vector<std::string> unknown;
  bool keda_key_from_env = false;
  for (const auto& [key, value] : ref.scalermetadata()) {
    if (Accepted(key)) continue;
    unknown.push_back(key);
    keda_key_from_env = keda_key_from_env || IsKedaKeyFromEnv(key);
  }
  if (!unknown.empty()) {
    std::sort(unknown.begin(), unknown.end());
    std::vector<std::string> quoted;
    quoted.reserve(unknown.size());
    for (const std::string& key : unknown) quoted.push_back(Quoted(key));
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown trigger metadata key", unknown.size() > 1 ? "s" : "", " ",
        absl::StrJoin(quoted, ", "),
        "; accepted keys: ", absl::StrJoin(kAcceptedKeys, ", "),
        keda_key_from_env
            ? " (KEDA reads scalerAddress, enableTLS and unsafeSsl only as "
              "written in the trigger metadata, never FromEnv)"
            : ""));
  }
  ASSIGN_OR_RETURN(const std::string name, PolicyName(ref));
  const LoadedPolicy* p = snap.Find(PolicyKey{ref.namespace_(), name});
  if (p == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no policy \"", name, "\" in namespace \"", ref.namespace_(), "\""));
  }
  return p;
}

externalscaler::GetMetricSpecResponse MetricSpecFor(
    const LoadedPolicy& policy) {
  externalscaler::GetMetricSpecResponse resp;
  externalscaler::MetricSpec* spec = resp.add_metricspecs();
  spec->set_metricname(MetricName(policy.policy));
  // Both fields: KEDA reads targetSizeFloat if > 0, else targetSize.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  spec->set_targetsize(1);
#pragma GCC diagnostic pop
  spec->set_targetsizefloat(1.0);
  return resp;
}

absl::StatusOr<externalscaler::GetMetricsResponse> MetricsFor(
    const externalscaler::GetMetricsRequest& request,
    const PolicySnapshot& snap, const DecisionBoard& board,
    const NamespaceSet* served, const ServerLimits* limits) {
  ASSIGN_OR_RETURN(
      const LoadedPolicy* p,
      ResolvePolicy(request.scaledobjectref(), snap, served, limits));
  std::string name = MetricName(p->policy);
  if (!request.metricname().empty() && request.metricname() != name) {
    return absl::NotFoundError(absl::StrCat(
        "metric \"", request.metricname(), "\" is not served; policy \"",
        p->policy.metadata().name(), "\" serves \"", name, "\""));
  }
  ASSIGN_OR_RETURN(const int64_t replicas, AnswerFor(*p, board));
  externalscaler::GetMetricsResponse resp;
  externalscaler::MetricValue* v = resp.add_metricvalues();
  v->set_metricname(std::move(name));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  v->set_metricvalue(replicas);
#pragma GCC diagnostic pop
  v->set_metricvaluefloat(static_cast<double>(replicas));
  return resp;
}

absl::StatusOr<int64_t> AnswerFor(const LoadedPolicy& policy,
                                  const DecisionBoard& board) {
  const PolicyKey key = KeyOf(policy.policy);
  std::shared_ptr<const Decision> d;
  ASSIGN_OR_RETURN(const FleetView view, board.Fleet(key, &d));
  // Active, and the latest decision made active: the decision. A decision
  // made in shadow is never answered, not even in the moment between a
  // switch to active and its first active decision (that one counts its
  // rate limits from the fleet's count, which the shadow's did not).
  if (!IsShadow(policy.policy.spec()) && !view.shadow) return d->replicas;
  if (!view.fleet) {
    return absl::UnavailableError(absl::StrCat(
        "policy ", key.ToString(),
        " is in shadow mode and its replicas source (spec.replicas) has given "
        "no count yet: it answers the fleet's own count, never its decision"));
  }
  return *view.fleet;
}

absl::StatusOr<bool> IsActiveFor(const externalscaler::ScaledObjectRef& ref,
                                 const PolicySnapshot& snap,
                                 const DecisionBoard& board,
                                 const NamespaceSet* served,
                                 const ServerLimits* limits) {
  ASSIGN_OR_RETURN(const LoadedPolicy* p,
                   ResolvePolicy(ref, snap, served, limits));
  ASSIGN_OR_RETURN(const int64_t replicas, AnswerFor(*p, board));
  return replicas > 0;
}

bool ActiveAnswer(const Decision& decision, const FleetView& view) {
  // In shadow now, or the latest decision was made in shadow (a switch to
  // active, before its first active decision): the fleet's count.
  if (view.shadow || view.mode_shadow) return view.fleet.value_or(0) > 0;
  return decision.active();
}

}  // namespace signalscaler
