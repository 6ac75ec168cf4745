#include "scaler/policy/defaults.h"

#include <algorithm>

#include <string>

#include "absl/strings/str_cat.h"

namespace signalscaler {

int64_t MinReplicas(const v1::PolicySpec& spec) {
  return spec.has_min_replicas() ? spec.min_replicas() : kDefaultMinReplicas;
}

bool IsShadow(const v1::PolicySpec& spec) {
  return spec.mode() == v1::PolicySpec::shadow;
}

absl::Duration EvaluationInterval(const v1::PolicySpec& spec) {
  return absl::Seconds(spec.has_evaluation_interval_seconds()
                           ? spec.evaluation_interval_seconds()
                           : kDefaultEvaluationIntervalSeconds);
}

absl::Duration SourceInterval(const v1::PolicySpec& spec,
                              const v1::Source& source) {
  if (source.has_interval_seconds()) {
    return absl::Seconds(source.interval_seconds());
  }
  return EvaluationInterval(spec);
}

absl::Duration StaleAfter(const v1::PolicySpec& spec,
                          const v1::Source& source) {
  return kStaleAfterIntervals * SourceInterval(spec, source);
}

Tolerances TotalTolerances(const v1::PolicySpec& spec,
                           const v1::Signal& signal) {
  if (signal.has_tolerance()) return {signal.tolerance(), signal.tolerance()};
  Tolerances t;
  const v1::ScalingRules& up = spec.behavior().scale_up();
  const v1::ScalingRules& down = spec.behavior().scale_down();
  if (up.has_tolerance()) t.up = up.tolerance();
  if (down.has_tolerance()) t.down = down.tolerance();
  return t;
}

double ActivationAbove(const v1::Signal& signal) {
  return signal.has_activation_above() ? signal.activation_above()
                                       : kDefaultActivationAbove;
}

double CapacityPerReplica(const v1::Signal& signal) {
  return signal.has_capacity_per_replica() ? signal.capacity_per_replica()
                                           : kDefaultCapacityPerReplica;
}

double SaturationFactor(const v1::Signal& signal) {
  return signal.has_saturation_factor() ? signal.saturation_factor()
                                        : kDefaultSaturationFactor;
}

absl::Duration ForecastLead(const v1::PolicySpec& spec,
                            const v1::Signal& signal) {
  if (signal.forecast().has_lead_seconds()) {
    return absl::Seconds(signal.forecast().lead_seconds());
  }
  if (spec.has_pod_startup_seconds()) {
    return absl::Seconds(spec.pod_startup_seconds());
  }
  return absl::ZeroDuration();
}

absl::Duration ForecastHistory(const v1::PolicySpec& spec,
                               const v1::Signal& signal) {
  if (signal.forecast().has_history_seconds()) {
    return absl::Seconds(signal.forecast().history_seconds());
  }
  return std::max(2 * ForecastLead(spec, signal),
                  kDefaultForecastHistoryIntervals * EvaluationInterval(spec));
}

double Target(const v1::Signal& signal) {
  switch (signal.type()) {
    case v1::Signal::Total:
      return signal.target_per_replica();
    case v1::Signal::Average:
      if (signal.has_target()) return signal.target();
      return (signal.scale_up_above() + signal.scale_down_below()) / 2;
    case v1::Signal::Headroom:
      if (signal.has_target()) return signal.target();
      return (signal.scale_up_below() + signal.scale_down_above()) / 2;
    default:
      return signal.target();
  }
}

namespace {

void AddPolicy(v1::ScalingRules& rules, v1::RatePolicy::Type type, int value,
               int period) {
  v1::RatePolicy* p = rules.add_policies();
  p->set_type(type);
  p->set_value(value);
  p->set_period_seconds(period);
}

v1::ScalingRules FillDefaults(const v1::ScalingRules& given, bool up) {
  v1::ScalingRules rules = given;
  if (!rules.has_stabilization_window_seconds()) {
    rules.set_stabilization_window_seconds(up ? 0 : 300);
  }
  if (rules.select_policy() == v1::ScalingRules::SELECT_POLICY_UNSPECIFIED) {
    rules.set_select_policy(v1::ScalingRules::Max);
  }
  if (rules.policies().empty()) {
    if (up) {
      AddPolicy(rules, v1::RatePolicy::Pods, 4, 15);
      AddPolicy(rules, v1::RatePolicy::Percent, 100, 15);
    } else {
      AddPolicy(rules, v1::RatePolicy::Percent, 100, 15);
    }
  }
  return rules;
}

}  // namespace

v1::ScalingRules EffectiveScaleUp(const v1::PolicySpec& spec) {
  return FillDefaults(spec.behavior().scale_up(), /*up=*/true);
}

v1::ScalingRules EffectiveScaleDown(const v1::PolicySpec& spec) {
  return FillDefaults(spec.behavior().scale_down(), /*up=*/false);
}

const v1::ScalingRules& EffectiveScaleRules(const v1::PolicySpec& spec, bool up,
                                            v1::ScalingRules& storage) {
  const v1::ScalingRules& given =
      up ? spec.behavior().scale_up() : spec.behavior().scale_down();
  if (given.has_stabilization_window_seconds() && !given.policies().empty()) {
    return given;
  }
  if (!given.has_stabilization_window_seconds() && given.policies().empty() &&
      given.select_policy() == v1::ScalingRules::SELECT_POLICY_UNSPECIFIED &&
      !given.has_tolerance()) {
    static const v1::ScalingRules* const kUp =
        new v1::ScalingRules(FillDefaults(v1::ScalingRules(), true));
    static const v1::ScalingRules* const kDown =
        new v1::ScalingRules(FillDefaults(v1::ScalingRules(), false));
    return up ? *kUp : *kDown;
  }
  storage = FillDefaults(given, up);
  return storage;
}

std::string MetricName(const v1::ScalingPolicy& policy) {
  return absl::StrCat("signalscaler-", policy.metadata().namespace_(), "-",
                      policy.metadata().name());
}

}  // namespace signalscaler
