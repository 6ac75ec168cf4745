// ValidatePolicy: the semantic rules of a ScalingPolicy that its schema
// cannot express (required fields, ranges, bands, uniqueness, source kinds).
// Here the policy's identity and its spec (replica bounds, signal names,
// limits, behavior); one signal's checks are internal/validate_signal.cc's,
// one source's internal/validate_source.cc's.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "scaler/policy/defaults.h"
#include "scaler/policy/internal/validation.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

constexpr int kMaxWindowSeconds = 3600;
constexpr int kMaxRatePeriodSeconds = 1800;

bool IsSignalName(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

class Validator {
 public:
  Validator(const LoadedPolicy& loaded, std::vector<PolicyError>& errors)
      : loaded_(loaded), report_(loaded, errors) {}

  void Policy() {
    const v1::ScalingPolicy& p = loaded_.policy;
    if (p.api_version() != kPolicyApiVersion) {
      Error("apiVersion",
            p.api_version().empty()
                ? absl::StrCat("required: must be `", kPolicyApiVersion, "`")
                : absl::StrCat("unsupported apiVersion \"", p.api_version(),
                               "\": must be `", kPolicyApiVersion, "`"));
    }
    if (p.kind() != kPolicyKind) {
      Error("kind", p.kind().empty()
                        ? absl::StrCat("required: must be `", kPolicyKind, "`")
                        : absl::StrCat("unsupported kind \"", p.kind(),
                                       "\": must be `", kPolicyKind, "`"));
    }
    const v1::ObjectMeta& meta = p.metadata();
    if (meta.name().empty()) {
      Error("metadata.name",
            "required: the policy's name, which a "
            "ScaledObject names in its `policy` metadata");
    } else if (!IsDns1123Label(meta.name())) {
      Error("metadata.name", NotALabel(meta.name()));
    }
    if (!meta.namespace_().empty() && !IsDns1123Label(meta.namespace_())) {
      Error("metadata.namespace", NotALabel(meta.namespace_()));
    }
    Spec(p.spec());
  }

 private:
  static std::string NotALabel(const std::string& s) {
    return absl::StrCat(
        "\"", s,
        "\" is not a DNS-1123 label: at most 63 lowercase letters, digits "
        "and '-', starting and ending with a letter or digit");
  }

  void Error(std::string field, std::string message) {
    report_.Error(std::move(field), std::move(message));
  }
  void IntervalInRange(const std::string& field, int value, int lo, int hi) {
    report_.InRange(field, value, lo, hi);
  }
  void Positive(const std::string& field, double value,
                const std::string& what) {
    report_.Positive(field, value, what);
  }
  void Source(const v1::Source& source, const std::string& path) {
    policy_internal::ValidateSource(source, path, report_);
  }

  void Spec(const v1::PolicySpec& spec) {
    const int64_t min = MinReplicas(spec);
    if (spec.has_min_replicas() && spec.min_replicas() < 0) {
      Error("spec.minReplicas",
            absl::StrCat("must be >= 0, got ", spec.min_replicas()));
    }
    if (spec.max_replicas() < 1) {
      Error("spec.maxReplicas",
            spec.max_replicas() == 0
                ? "required: the most replicas the service may have (>= 1)"
                : absl::StrCat("must be >= 1, got ", spec.max_replicas()));
    } else if (spec.max_replicas() < min) {
      Error("spec.maxReplicas", absl::StrCat("must be >= minReplicas (", min,
                                             "), got ", spec.max_replicas()));
    }
    if (spec.has_evaluation_interval_seconds()) {
      IntervalInRange("spec.evaluationIntervalSeconds",
                      spec.evaluation_interval_seconds(), 1,
                      policy_internal::kMaxIntervalSeconds);
    }
    if (spec.signals().empty()) {
      Error("spec.signals", "at least one signal is required");
    }
    std::map<std::string, std::string> names;  // signal name -> path
    bool any_total = false;
    for (int i = 0; i < spec.signals_size(); ++i) {
      const v1::Signal& signal = spec.signals(i);
      const std::string path = absl::StrCat("spec.signals[", i, "]");
      any_total |= signal.type() == v1::Signal::Total;
      if (signal.name().empty()) {
        Error(path + ".name", "required: a name for this signal");
      } else if (!IsSignalName(signal.name())) {
        Error(path + ".name",
              absl::StrCat("\"", signal.name(),
                           "\" is not a valid signal name: use lowercase "
                           "letters, digits, '_' and '-'"));
      } else if (auto [it, inserted] = names.emplace(signal.name(), path);
                 !inserted) {
        Error(path + ".name",
              absl::StrCat("duplicate signal name `", signal.name(), "` (also ",
                           it->second, ")"));
      }
      policy_internal::ValidateSignal(spec, signal, path, report_);
    }
    if (min == 0 && !spec.signals().empty() && !any_total) {
      Error("spec.minReplicas",
            "0 (scale to zero) needs a Total signal to wake the service: "
            "Average and Headroom signals cannot, with no pods");
    }
    Limits(spec);
    if (spec.behavior().has_scale_up()) {
      Rules(spec.behavior().scale_up(), "spec.behavior.scaleUp");
    }
    if (spec.behavior().has_scale_down()) {
      Rules(spec.behavior().scale_down(), "spec.behavior.scaleDown");
    }
    if (spec.has_pod_startup_seconds()) {
      const double v = spec.pod_startup_seconds();
      if (!(v > 0 && v <= kMaxLeadSeconds)) {
        Error("spec.podStartupSeconds",
              absl::StrCat("must be within (0, ", kMaxLeadSeconds,
                           "] seconds, got ", v));
      }
    }
    if (spec.has_replicas()) {
      Source(spec.replicas(), "spec.replicas");
    } else if (IsShadow(spec)) {
      Error("spec.replicas",
            "required with `mode: shadow`: a shadow policy answers KEDA the "
            "fleet's own count, read from this source (e.g. "
            "kube_deployment_spec_replicas)");
    }
    if (spec.has_ready_replicas()) {
      Source(spec.ready_replicas(), "spec.readyReplicas");
    }
  }

  void Limits(const v1::PolicySpec& spec) {
    std::map<std::string, std::string> names;
    for (int i = 0; i < spec.limits_size(); ++i) {
      const v1::Limit& limit = spec.limits(i);
      const std::string path = absl::StrCat("spec.limits[", i, "]");
      if (limit.name().empty()) {
        Error(path + ".name", "required: a name for this limit");
      } else if (auto [it, inserted] = names.emplace(limit.name(), path);
                 !inserted) {
        Error(path + ".name",
              absl::StrCat("duplicate limit name `", limit.name(), "` (also ",
                           it->second, ")"));
      }
      Positive(path + ".budget", limit.budget(), "the total to share");
      Positive(path + ".perReplica", limit.per_replica(),
               "what one replica uses");
      if (limit.budget() > 0 && limit.per_replica() > 0) {
        const double cap = std::floor(limit.budget() / limit.per_replica());
        const int64_t min = std::max<int64_t>(1, MinReplicas(spec));
        if (cap < min) {
          Error(path,
                absl::StrCat("allows at most ", cap, " replicas, fewer than ",
                             min, " (minReplicas, or 1)"));
        }
      }
    }
  }

  void Rules(const v1::ScalingRules& rules, const std::string& path) {
    if (rules.has_tolerance()) {
      policy_internal::ValidateTolerance(path + ".tolerance", rules.tolerance(),
                                         report_);
    }
    if (rules.has_stabilization_window_seconds()) {
      IntervalInRange(path + ".stabilizationWindowSeconds",
                      rules.stabilization_window_seconds(), 0,
                      kMaxWindowSeconds);
    }
    for (int j = 0; j < rules.policies_size(); ++j) {
      const v1::RatePolicy& rate = rules.policies(j);
      const std::string at = absl::StrCat(path, ".policies[", j, "]");
      if (rate.type() == v1::RatePolicy::TYPE_UNSPECIFIED) {
        Error(at + ".type", "required: Pods or Percent");
      }
      if (rate.value() <= 0) {
        Error(at + ".value", absl::StrCat("must be > 0, got ", rate.value()));
      }
      IntervalInRange(at + ".periodSeconds", rate.period_seconds(), 1,
                      kMaxRatePeriodSeconds);
    }
  }

  const LoadedPolicy& loaded_;
  policy_internal::Reporter report_;
};

}  // namespace

void ValidatePolicy(const LoadedPolicy& loaded,
                    std::vector<PolicyError>& errors) {
  Validator(loaded, errors).Policy();
}

bool IsDns1123Label(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

}  // namespace signalscaler
