// `signalscaler render`: the ScaledObject (and TriggerAuthentication) that
// uses a policy correctly. See render.h.
#include "scaler/cli/render.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/substitute.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
#include "scaler/policy/defaults.h"
#include "yaml-cpp/yaml.h"

namespace signalscaler {
namespace {

// The HPA's sync period: the rate policies below allow any step per sync.
constexpr int kHpaPeriodSeconds = 15;
constexpr int kFallbackFailureThreshold = 3;
// With minReplicas 0 the wake-up from zero waits for KEDA's poll.
constexpr int kScaleToZeroPollingIntervalSeconds = 5;

// Would a plain scalar `s` be read back as something other than a string
// (YAML 1.1 booleans and nulls, numbers, octal/hex, an empty value)? yaml-cpp
// 0.7 quotes none of these by itself.
bool NeedsQuotes(const std::string& s) {
  static const auto* kWords = new std::set<std::string>{
      "y",   "yes",  "n", "no",   "true",  "false", "on",
      "off", "null", "~", ".inf", "-.inf", ".nan",  "="};
  if (s.empty() || kWords->count(absl::AsciiStrToLower(s))) return true;
  const char c = s[0];
  return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' ||
         c == '+' || c == '.';
}

// Emits `s` as a string: double-quoted where a plain scalar would not be.
void Str(YAML::Emitter& out, const std::string& s) {
  if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
  out << s;
}

void KeyStr(YAML::Emitter& out, const char* key, const std::string& value) {
  out << YAML::Key << key << YAML::Value;
  Str(out, value);
}

template <typename T>
void KeyNum(YAML::Emitter& out, const char* key, T value) {
  out << YAML::Key << key << YAML::Value << value;
}

// maxReplicas, lowered by every hard limit: floor(budget / perReplica).
int64_t EffectiveMax(const v1::PolicySpec& spec) {
  int64_t upper = spec.max_replicas();
  for (const v1::Limit& l : spec.limits()) {
    if (l.per_replica() <= 0) continue;  // Rejected by validation.
    upper = std::min<int64_t>(
        upper, static_cast<int64_t>(std::floor(l.budget() / l.per_replica())));
  }
  return upper;
}

void Metadata(YAML::Emitter& out, const std::string& name,
              const std::string& ns) {
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  KeyStr(out, "name", name);
  KeyStr(out, "namespace", ns);
  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  KeyStr(out, "app.kubernetes.io/managed-by", "signalscaler");
  out << YAML::EndMap << YAML::EndMap;
}

void RatePolicy(YAML::Emitter& out, const char* type, int64_t value) {
  out << YAML::BeginMap;
  KeyStr(out, "type", type);
  KeyNum(out, "value", value);
  KeyNum(out, "periodSeconds", kHpaPeriodSeconds);
  out << YAML::EndMap;
}

// advanced.horizontalPodAutoscalerConfig.behavior: windows 0, tolerance 0
// (the HPA carries out every step, even one of at most 10 %) and rate
// policies that allow any step the policy decided within one HPA sync.
void NeutralHpaBehavior(YAML::Emitter& out, int64_t max_replicas) {
  out << YAML::Key << "advanced" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "horizontalPodAutoscalerConfig" << YAML::Value
      << YAML::BeginMap;
  out << YAML::Key << "behavior" << YAML::Value << YAML::BeginMap;
  for (const char* direction : {"scaleUp", "scaleDown"}) {
    out << YAML::Key << direction << YAML::Value << YAML::BeginMap;
    KeyNum(out, "stabilizationWindowSeconds", 0);
    // A Quantity (int-or-string in KEDA's CRD): the integer 0.
    KeyNum(out, "tolerance", 0);
    KeyStr(out, "selectPolicy", "Max");
    out << YAML::Key << "policies" << YAML::Value << YAML::BeginSeq;
    RatePolicy(out, "Pods", max_replicas);
    RatePolicy(out, "Percent", 100);
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
}

std::string ScaledObjectComment(const LoadedPolicy& loaded,
                                const RenderOptions& options,
                                int64_t fallback) {
  const v1::ScalingPolicy& p = loaded.policy;
  std::string text = absl::Substitute(
      "KEDA ScaledObject for the signalscaler policy $0/$1 ($2),\nrendered "
      "by `signalscaler render`. minReplicaCount and maxReplicaCount are\n"
      "copied from the policy: keep them equal to it.\n"
      "The trigger asks signalscaler for the policy's decision: GetMetrics "
      "returns\nthe decided replica count against a target of 1 with "
      "metricType AverageValue,\nso the HPA computes exactly that count. The "
      "policy's own stabilization windows\nand rate policies are the ones in "
      "force: the HPA's behavior below is made\npermissive (windows 0, any "
      "step allowed) so that it adds no second, different\nstabilization on "
      "top, and its tolerance is 0 in both directions so that it\ncarries "
      "out every step the policy decides. Kubernetes honours `tolerance` "
      "from\n1.33 as alpha (behind the HPAConfigurableTolerance feature gate) "
      "and from 1.35\nas beta, on by default. Older API servers drop the "
      "field: there the HPA's\ndefault tolerance of 0.1 swallows a step of at "
      "most 10 % (from 20 pods, 21 or\n22), which `signalscaler explain` "
      "notes.\n"
      "fallback: when signalscaler has no decision (cold start, every source "
      "failing)\nit answers UNAVAILABLE; after $3 failures KEDA holds at "
      "least $4 replica(s)\nand never scales a larger fleet down.",
      p.metadata().namespace_(), p.metadata().name(), loaded.file,
      kFallbackFailureThreshold, fallback);
  if (MinReplicas(p.spec()) == 0) {
    absl::StrAppend(&text, "\nminReplicas is 0: KEDA polls every ",
                    kScaleToZeroPollingIntervalSeconds,
                    " s,\nso that a service at zero wakes up quickly.");
  }
  if (options.trigger_type == "external-push") {
    absl::StrAppend(&text,
                    "\nexternal-push: KEDA also holds a StreamIsActive "
                    "stream, so a wake-up\nfrom zero does not wait for the "
                    "poll.");
  }
  if (!options.tls_secret.empty()) {
    absl::StrAppend(&text, "\nTLS: the CA and client certificate come from ",
                    "the Secret ", options.tls_secret,
                    "\nthrough the TriggerAuthentication ",
                    kTlsTriggerAuthenticationName, ".");
  }
  return text;
}

void ScaledObject(YAML::Emitter& out, const LoadedPolicy& loaded,
                  const RenderOptions& options) {
  const v1::ScalingPolicy& p = loaded.policy;
  const int64_t min = MinReplicas(p.spec());
  const int64_t max = p.spec().max_replicas();
  const int64_t fallback = std::max(
      min, std::min(std::max<int64_t>(min, 1), EffectiveMax(p.spec())));

  out << YAML::Comment(ScaledObjectComment(loaded, options, fallback));
  out << YAML::BeginDoc << YAML::BeginMap;
  KeyStr(out, "apiVersion", "keda.sh/v1alpha1");
  KeyStr(out, "kind", "ScaledObject");
  Metadata(out, p.metadata().name(), p.metadata().namespace_());
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;

  out << YAML::Key << "scaleTargetRef" << YAML::Value << YAML::BeginMap;
  KeyStr(out, "apiVersion", options.target_api_version);
  KeyStr(out, "kind", options.target_kind);
  KeyStr(
      out, "name",
      options.target_name.empty() ? p.metadata().name() : options.target_name);
  out << YAML::EndMap;
  if (min == 0) {
    KeyNum(out, "pollingInterval", kScaleToZeroPollingIntervalSeconds);
  }
  KeyNum(out, "minReplicaCount", min);
  KeyNum(out, "maxReplicaCount", max);

  out << YAML::Key << "fallback" << YAML::Value << YAML::BeginMap;
  KeyNum(out, "failureThreshold", kFallbackFailureThreshold);
  KeyNum(out, "replicas", fallback);
  KeyStr(out, "behavior", "currentReplicasIfHigher");
  out << YAML::EndMap;

  NeutralHpaBehavior(out, max);

  out << YAML::Key << "triggers" << YAML::Value << YAML::BeginSeq
      << YAML::BeginMap;
  KeyStr(out, "type", options.trigger_type);
  KeyStr(out, "metricType", "AverageValue");
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  KeyStr(out, "scalerAddress", options.address);
  KeyStr(out, "policy", p.metadata().name());
  if (!options.tls_secret.empty()) {
    out << YAML::Key << "enableTLS" << YAML::Value << YAML::DoubleQuoted
        << "true";
  }
  out << YAML::EndMap;
  if (!options.tls_secret.empty()) {
    out << YAML::Key << "authenticationRef" << YAML::Value << YAML::BeginMap;
    KeyStr(out, "name", kTlsTriggerAuthenticationName);
    out << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndSeq;

  out << YAML::EndMap << YAML::EndMap;
}

void TriggerAuthentication(YAML::Emitter& out, const std::string& ns,
                           const std::string& secret) {
  out << YAML::Comment(absl::StrCat(
      "TLS for the signalscaler triggers of namespace ", ns,
      ": KEDA reads the PEM\ncontents of the Secret ", secret,
      " (ca.crt, tls.crt, tls.key, as cert-manager\nwrites them). The "
      "trigger's `enableTLS: \"true\"` turns it on."));
  out << YAML::BeginDoc << YAML::BeginMap;
  KeyStr(out, "apiVersion", "keda.sh/v1alpha1");
  KeyStr(out, "kind", "TriggerAuthentication");
  Metadata(out, kTlsTriggerAuthenticationName, ns);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "secretTargetRef" << YAML::Value << YAML::BeginSeq;
  const char* const kRefs[][2] = {{"caCert", "ca.crt"},
                                  {"tlsClientCert", "tls.crt"},
                                  {"tlsClientKey", "tls.key"}};
  for (const auto& [parameter, key] : kRefs) {
    out << YAML::BeginMap;
    KeyStr(out, "parameter", parameter);
    KeyStr(out, "name", secret);
    KeyStr(out, "key", key);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndMap;
}

}  // namespace

std::string RenderScaledObjects(const std::vector<LoadedPolicy>& policies,
                                const RenderOptions& options) {
  YAML::Emitter out;
  out.SetIndent(2);
  std::set<std::string> namespaces_with_auth;
  bool first = true;
  for (const LoadedPolicy& loaded : policies) {
    if (!first) out << YAML::Newline;
    first = false;
    const std::string& ns = loaded.policy.metadata().namespace_();
    if (!options.tls_secret.empty() && namespaces_with_auth.insert(ns).second) {
      TriggerAuthentication(out, ns, options.tls_secret);
      out << YAML::Newline;
    }
    ScaledObject(out, loaded, options);
  }
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  return text;
}

namespace {

FlagSet RenderFlags() {
  FlagSet flags(
      "render",
      "Print the KEDA ScaledObject (and, with --tls-secret, the "
      "TriggerAuthentication) that uses each policy of POLICY_FILE correctly: "
      "min/max replicas copied from the policy, the trigger's `policy` "
      "metadata, a fallback, and the HPA's own stabilization neutralised so "
      "that the policy's windows are the ones in force, with the HPA's "
      "tolerance 0 so that it carries out every step. Pipe it to "
      "`kubectl apply -f -`. Exit 1 with the loader's errors if the file is "
      "invalid, 2 on a usage error.\n\n"
      "usage: signalscaler render POLICY_FILE [flags]");
  flags.Add("address", kDefaultScalerAddress,
            "the trigger's scalerAddress: HOST:PORT of signalscaler's gRPC "
            "port as KEDA reaches it");
  flags.Add("trigger", "external",
            "external (KEDA polls), or external-push (KEDA also streams "
            "IsActive for an immediate wake-up)");
  flags.Add("tls-secret", "",
            "a Secret (keys ca.crt, tls.crt, tls.key) in the policy's "
            "namespace: adds a TriggerAuthentication and enableTLS");
  flags.Add("target-api-version", "apps/v1",
            "scaleTargetRef.apiVersion of the scaled workload");
  flags.Add("target-kind", "Deployment",
            "scaleTargetRef.kind of the scaled workload");
  flags.Add("target-name", "",
            "scaleTargetRef.name (only for a file with a single policy); "
            "default: the policy's name");
  return flags;
}

// The options the parsed `flags` (of RenderFlags()) say; INVALID_ARGUMENT
// with the usage error otherwise (a --target-name with a file of several
// policies is found once the file is read).
absl::StatusOr<RenderOptions> ParseRenderOptions(const FlagSet& flags) {
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError(
        "expected one POLICY_FILE\nusage: signalscaler render POLICY_FILE "
        "[--address HOST:PORT] [--trigger external|external-push] "
        "[--tls-secret NAME]");
  }
  RenderOptions options;
  options.address = flags.Get("address");
  options.trigger_type = flags.Get("trigger");
  options.tls_secret = flags.Get("tls-secret");
  options.target_api_version = flags.Get("target-api-version");
  options.target_kind = flags.Get("target-kind");
  options.target_name = flags.Get("target-name");
  if (options.trigger_type != "external" &&
      options.trigger_type != "external-push") {
    return absl::InvalidArgumentError(
        "--trigger must be external or external-push, got \"" +
        options.trigger_type + "\"");
  }
  if (options.address.empty()) {
    return absl::InvalidArgumentError("--address is empty");
  }
  if (options.target_kind.empty() || options.target_api_version.empty()) {
    return absl::InvalidArgumentError(
        "--target-kind and --target-api-version must be set");
  }
  return options;
}

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "signalscaler render: %s\n",
               std::string(message).c_str());
  return 2;
}

}  // namespace

int RenderCommand(int argc, char** argv) {
  FlagSet flags = RenderFlags();
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    return UsageError(s.message());
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  absl::StatusOr<RenderOptions> options = ParseRenderOptions(flags);
  if (!options.ok()) return UsageError(options.status().message());

  const LoadResult r = LoadPolicies(flags.positional()[0]);
  if (!r.errors.empty()) {
    for (const PolicyError& e : r.errors) {
      std::fprintf(stderr, "%s\n", e.ToString().c_str());
    }
    std::fprintf(stderr,
                 "signalscaler render: %zu error(s); nothing rendered\n",
                 r.errors.size());
    return 1;
  }
  if (!options->target_name.empty() && r.policies.size() != 1) {
    return UsageError(
        absl::StrCat("--target-name needs a file with a single policy; ",
                     flags.positional()[0], " has ", r.policies.size()));
  }
  std::fputs(RenderScaledObjects(r.policies, *options).c_str(), stdout);
  return 0;
}

}  // namespace signalscaler
