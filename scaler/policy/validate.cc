// ValidatePolicy: the semantic rules of a ScalingPolicy that its schema
// cannot express (required fields, ranges, bands, uniqueness, source kinds).
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

const char* TypeName(v1::Signal::Type type) {
  switch (type) {
    case v1::Signal::Total:
      return "Total";
    case v1::Signal::Average:
      return "Average";
    case v1::Signal::Headroom:
      return "Headroom";
    default:
      return "unspecified";
  }
}

const char* Article(v1::Signal::Type type) {
  return type == v1::Signal::Average ? "an " : "a ";
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
      Signal(signal, path);
      if (signal.has_forecast()) Forecast(spec, signal, path + ".forecast");
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
    if (spec.has_replicas()) Source(spec.replicas(), "spec.replicas");
    if (spec.has_ready_replicas()) {
      Source(spec.ready_replicas(), "spec.readyReplicas");
    }
  }

  void Signal(const v1::Signal& s, const std::string& path) {
    if (s.has_source()) {
      Source(s.source(), path + ".source");
    } else {
      Error(path + ".source", "required: where the signal's value is read");
    }
    // Which type each type-specific field belongs to.
    struct Owned {
      const char* field;
      bool set;
      const char* owners;
      bool total, average, headroom;
    };
    const Owned owned[] = {
        {"targetPerReplica", s.has_target_per_replica(), "Total", 1, 0, 0},
        {"tolerance", s.has_tolerance(), "Total", 1, 0, 0},
        {"activationAbove", s.has_activation_above(), "Total", 1, 0, 0},
        {"target", s.has_target(), "Average and Headroom", 0, 1, 1},
        {"scaleUpAbove", s.has_scale_up_above(), "Average", 0, 1, 0},
        {"scaleDownBelow", s.has_scale_down_below(), "Average", 0, 1, 0},
        {"scaleUpBelow", s.has_scale_up_below(), "Headroom", 0, 0, 1},
        {"scaleDownAbove", s.has_scale_down_above(), "Headroom", 0, 0, 1},
        {"capacityPerReplica", s.has_capacity_per_replica(), "Headroom", 0, 0,
         1},
        {"saturatesAt", s.has_saturates_at(), "Average", 0, 1, 0},
        {"saturationFactor", s.has_saturation_factor(), "Average and Headroom",
         0, 1, 1},
    };
    switch (s.type()) {
      case v1::Signal::Total:
      case v1::Signal::Average:
      case v1::Signal::Headroom:
        break;
      default:
        Error(path + ".type", "required: one of Total, Average, Headroom");
        return;
    }
    for (const Owned& o : owned) {
      const bool allowed = s.type() == v1::Signal::Total     ? o.total
                           : s.type() == v1::Signal::Average ? o.average
                                                             : o.headroom;
      if (o.set && !allowed) {
        Error(absl::StrCat(path, ".", o.field),
              absl::StrCat("does not apply to ", Article(s.type()),
                           TypeName(s.type()), " signal (it is a field of ",
                           o.owners, " signals)"));
      }
    }
    switch (s.type()) {
      case v1::Signal::Total:
        if (!s.has_target_per_replica()) {
          Error(path + ".targetPerReplica",
                "required for a Total signal: the value one replica handles "
                "(> 0)");
        } else {
          Positive(path + ".targetPerReplica", s.target_per_replica(),
                   "the value one replica handles");
        }
        if (s.has_tolerance()) Tolerance(path + ".tolerance", s.tolerance());
        break;
      case v1::Signal::Average:
        Band(s, path, s.has_scale_down_below(), s.scale_down_below(),
             "scaleDownBelow", s.has_scale_up_above(), s.scale_up_above(),
             "scaleUpAbove");
        Saturation(s, path);
        break;
      default:
        Band(s, path, s.has_scale_up_below(), s.scale_up_below(),
             "scaleUpBelow", s.has_scale_down_above(), s.scale_down_above(),
             "scaleDownAbove");
        if (s.has_capacity_per_replica()) {
          Positive(path + ".capacityPerReplica", s.capacity_per_replica(),
                   "the spare capacity one replica adds");
        }
        Saturation(s, path);
        break;
    }
  }

  // forecast: a lead in (0, 3600] s (its own or spec.podStartupSeconds) and
  // a history of at least 4 evaluation intervals (the trend needs points).
  void Forecast(const v1::PolicySpec& spec, const v1::Signal& s,
                const std::string& path) {
    const v1::Forecast& f = s.forecast();
    if (f.has_lead_seconds()) {
      if (!(f.lead_seconds() > 0 && f.lead_seconds() <= kMaxLeadSeconds)) {
        Error(path + ".leadSeconds",
              absl::StrCat("must be within (0, ", kMaxLeadSeconds,
                           "] seconds, got ", f.lead_seconds()));
        return;
      }
    } else if (!spec.has_pod_startup_seconds()) {
      Error(path + ".leadSeconds",
            "required without spec.podStartupSeconds: how far ahead to "
            "forecast (a new pod's start-up time)");
      return;
    }
    if (f.has_history_seconds()) {
      const absl::Duration min =
          kMinForecastHistoryIntervals * EvaluationInterval(spec);
      const double h = f.history_seconds();
      if (!(h >= absl::ToDoubleSeconds(min) &&
            h <= kMaxForecastHistorySeconds)) {
        Error(path + ".historySeconds",
              absl::StrCat("must be within [", absl::ToDoubleSeconds(min), ", ",
                           kMaxForecastHistorySeconds, "] seconds (at least ",
                           kMinForecastHistoryIntervals,
                           " evaluation intervals, so that the trend has "
                           "points), got ",
                           h));
      }
    }
  }

  // saturatesAt (Average): the ceiling the value cannot rise past, finite
  // and at or above scaleUpAbove (a reading pinned there asks for more).
  // saturationFactor: within [1, 10]; on an Average signal only with
  // saturatesAt (without it the signal is never saturated).
  void Saturation(const v1::Signal& s, const std::string& path) {
    if (s.has_saturates_at()) {
      const double at = s.saturates_at();
      if (!(std::abs(at) <= policy_internal::kMaxMagnitude)) {
        Error(path + ".saturatesAt",
              absl::StrCat("must be finite, within +/-",
                           policy_internal::kMaxMagnitude, ", got ", at));
      } else if (s.has_scale_up_above() && !(at >= s.scale_up_above())) {
        Error(path + ".saturatesAt",
              absl::StrCat("must be >= scaleUpAbove (", s.scale_up_above(),
                           "): the value the signal cannot rise past, at "
                           "which more replicas are needed, got ",
                           at));
      }
    }
    if (s.has_saturation_factor()) {
      const double f = s.saturation_factor();
      if (!(f >= kMinSaturationFactor && f <= kMaxSaturationFactor)) {
        Error(path + ".saturationFactor",
              absl::StrCat("must be within [", kMinSaturationFactor, ", ",
                           kMaxSaturationFactor,
                           "] (the multiple of its ready replicas a saturated "
                           "signal proposes; 1 turns saturation off), got ",
                           f));
      } else if (s.type() == v1::Signal::Average && !s.has_saturates_at()) {
        Error(path + ".saturationFactor",
              "needs saturatesAt: an Average signal is saturated only at the "
              "ceiling it states");
      }
    }
  }

  // Average and Headroom: lo < hi, both required, target strictly inside.
  void Band(const v1::Signal& s, const std::string& path, bool has_lo,
            double lo, const char* lo_name, bool has_hi, double hi,
            const char* hi_name) {
    const std::string type = TypeName(s.type());
    if (!has_lo) {
      Error(absl::StrCat(path, ".", lo_name),
            absl::StrCat("required for ", Article(s.type()), type, " signal"));
    }
    if (!has_hi) {
      Error(absl::StrCat(path, ".", hi_name),
            absl::StrCat("required for ", Article(s.type()), type, " signal"));
    }
    if (!has_lo || !has_hi) return;
    bool bounded = true;
    for (const auto& [value, name] :
         {std::pair<double, const char*>{lo, lo_name}, {hi, hi_name}}) {
      if (!(std::abs(value) <= policy_internal::kMaxMagnitude)) {
        Error(absl::StrCat(path, ".", name),
              absl::StrCat("must be within +/-", policy_internal::kMaxMagnitude,
                           ", got ", value));
        bounded = false;
      }
    }
    if (!bounded) return;
    if (!(lo < hi)) {
      Error(absl::StrCat(path, ".", lo_name),
            absl::StrCat("must be below ", hi_name, " (", hi, "), got ", lo));
      return;
    }
    const double target = Target(s);
    if (!(lo < target && target < hi)) {
      Error(path + ".target",
            absl::StrCat("must lie strictly inside the band (", lo_name, " ",
                         lo, ", ", hi_name, " ", hi, "), got ", target));
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

  // As Kubernetes validates behavior.scaleUp/scaleDown.tolerance: a
  // non-negative ratio (finite here). 1 and above are accepted as there: a
  // down tolerance >= 1 keeps a Total signal from ever proposing a scale-down
  // (scale to zero still applies), an up tolerance of 1 lets the fleet run at
  // twice its stated per-replica target before it scales up.
  void Tolerance(const std::string& field, double value) {
    if (!(value >= 0) || !std::isfinite(value)) {
      Error(field,
            absl::StrCat("must be a ratio >= 0 (0.1 is 10 %), got ", value));
    }
  }

  void Rules(const v1::ScalingRules& rules, const std::string& path) {
    if (rules.has_tolerance()) {
      Tolerance(path + ".tolerance", rules.tolerance());
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
