#include "scaler/server/keda_logic.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/common/status_macros.h"
#include "scaler/policy/defaults.h"

namespace signalscaler {
namespace {

// `policy` is ours; the rest are KEDA's own keys, forwarded with every call.
constexpr const char* kAcceptedKeys[] = {kPolicyKey, "scalerAddress",
                                         "enableTLS", "unsafeSsl"};

bool Accepted(const std::string& key) {
  for (const char* k : kAcceptedKeys) {
    if (key == k) return true;
  }
  return false;
}

// A metadata key for a message: at most 64 bytes of it are quoted back.
std::string QuoteKey(const std::string& key) {
  constexpr size_t kQuotedKeyBytes = 64;
  if (key.size() <= kQuotedKeyBytes) return absl::StrCat("\"", key, "\"");
  return absl::StrCat("\"", key.substr(0, kQuotedKeyBytes), "...\"");
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
      return absl::InvalidArgumentError(absl::StrCat(
          "trigger metadata key ", QuoteKey(key), " is ", key.size(),
          " bytes; the limit is ", limits.max_metadata_bytes,
          " bytes (--max-metadata-bytes)"));
    }
    if (value.size() > limits.max_metadata_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the value of trigger metadata key ", QuoteKey(key), " is ",
          value.size(), " bytes; the limit is ", limits.max_metadata_bytes,
          " bytes (--max-metadata-bytes)"));
    }
  }
  return absl::OkStatus();
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
  for (const auto& [key, value] : ref.scalermetadata()) {
    if (!Accepted(key)) unknown.push_back(key);
  }
  if (!unknown.empty()) {
    std::sort(unknown.begin(), unknown.end());
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown trigger metadata key", unknown.size() > 1 ? "s" : "", " \"",
        absl::StrJoin(unknown, "\", \""),
        "\"; accepted keys: ", absl::StrJoin(kAcceptedKeys, ", ")));
  }
  auto it = ref.scalermetadata().find(kPolicyKey);
  if (it == ref.scalermetadata().end() || it->second.empty()) {
    return absl::InvalidArgumentError(
        "trigger metadata has no \"policy\": set it to the name of a "
        "ScalingPolicy in the ScaledObject's namespace");
  }
  const LoadedPolicy* p = snap.Find(PolicyKey{ref.namespace_(), it->second});
  if (p == nullptr) {
    return absl::NotFoundError(absl::StrCat("no policy \"", it->second,
                                            "\" in namespace \"",
                                            ref.namespace_(), "\""));
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
  const std::string name = MetricName(p->policy);
  if (!request.metricname().empty() && request.metricname() != name) {
    return absl::NotFoundError(absl::StrCat(
        "metric \"", request.metricname(), "\" is not served; policy \"",
        p->policy.metadata().name(), "\" serves \"", name, "\""));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Decision> d,
                   board.Get(KeyOf(p->policy)));
  externalscaler::GetMetricsResponse resp;
  externalscaler::MetricValue* v = resp.add_metricvalues();
  v->set_metricname(name);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  v->set_metricvalue(d->replicas);
#pragma GCC diagnostic pop
  v->set_metricvaluefloat(static_cast<double>(d->replicas));
  return resp;
}

absl::StatusOr<bool> IsActiveFor(const externalscaler::ScaledObjectRef& ref,
                                 const PolicySnapshot& snap,
                                 const DecisionBoard& board,
                                 const NamespaceSet* served,
                                 const ServerLimits* limits) {
  ASSIGN_OR_RETURN(const LoadedPolicy* p,
                   ResolvePolicy(ref, snap, served, limits));
  ASSIGN_OR_RETURN(std::shared_ptr<const Decision> d,
                   board.Get(KeyOf(p->policy)));
  return d->active();
}

}  // namespace signalscaler
