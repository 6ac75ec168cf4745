// Checks of one signal: its source, its type and the fields that type owns
// (a Total's targetPerReplica and tolerance, an Average's or a Headroom's
// band around its target, saturation), and its forecast. The checks across
// signals (names, a Total signal for scale to zero) are ValidatePolicy's.
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "scaler/policy/defaults.h"
#include "scaler/policy/internal/validation.h"

namespace signalscaler {
namespace policy_internal {
namespace {

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

// A type-specific field set on a signal of another type.
void ForeignFields(const v1::Signal& s, const std::string& path,
                   Reporter& report) {
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
      {"capacityPerReplica", s.has_capacity_per_replica(), "Headroom", 0, 0, 1},
      {"saturatesAt", s.has_saturates_at(), "Average", 0, 1, 0},
      {"saturationFactor", s.has_saturation_factor(), "Average and Headroom", 0,
       1, 1},
  };
  for (const Owned& o : owned) {
    const bool allowed = s.type() == v1::Signal::Total     ? o.total
                         : s.type() == v1::Signal::Average ? o.average
                                                           : o.headroom;
    if (o.set && !allowed) {
      report.Error(
          absl::StrCat(path, ".", o.field),
          absl::StrCat("does not apply to ", Article(s.type()),
                       TypeName(s.type()), " signal (it is a field of ",
                       o.owners, " signals)"));
    }
  }
}

// Average and Headroom: lo < hi, both required, target strictly inside.
void Band(const v1::Signal& s, const std::string& path, bool has_lo, double lo,
          const char* lo_name, bool has_hi, double hi, const char* hi_name,
          Reporter& report) {
  const std::string type = TypeName(s.type());
  if (!has_lo) {
    report.Error(
        absl::StrCat(path, ".", lo_name),
        absl::StrCat("required for ", Article(s.type()), type, " signal"));
  }
  if (!has_hi) {
    report.Error(
        absl::StrCat(path, ".", hi_name),
        absl::StrCat("required for ", Article(s.type()), type, " signal"));
  }
  if (!has_lo || !has_hi) return;
  bool bounded = true;
  for (const auto& [value, name] :
       {std::pair<double, const char*>{lo, lo_name}, {hi, hi_name}}) {
    if (!(std::abs(value) <= kMaxMagnitude)) {
      report.Error(
          absl::StrCat(path, ".", name),
          absl::StrCat("must be within +/-", kMaxMagnitude, ", got ", value));
      bounded = false;
    }
  }
  if (!bounded) return;
  if (!(lo < hi)) {
    report.Error(
        absl::StrCat(path, ".", lo_name),
        absl::StrCat("must be below ", hi_name, " (", hi, "), got ", lo));
    return;
  }
  const double target = Target(s);
  if (!(lo < target && target < hi)) {
    report.Error(
        path + ".target",
        absl::StrCat("must lie strictly inside the band (", lo_name, " ", lo,
                     ", ", hi_name, " ", hi, "), got ", target));
  }
}

// saturatesAt (Average): the ceiling the value cannot rise past, finite
// and at or above scaleUpAbove (a reading pinned there asks for more).
// saturationFactor: within [1, 10]; on an Average signal only with
// saturatesAt (without it the signal is never saturated).
void Saturation(const v1::Signal& s, const std::string& path,
                Reporter& report) {
  if (s.has_saturates_at()) {
    const double at = s.saturates_at();
    if (!(std::abs(at) <= kMaxMagnitude)) {
      report.Error(path + ".saturatesAt",
                   absl::StrCat("must be finite, within +/-", kMaxMagnitude,
                                ", got ", at));
    } else if (s.has_scale_up_above() && !(at >= s.scale_up_above())) {
      report.Error(path + ".saturatesAt",
                   absl::StrCat("must be >= scaleUpAbove (", s.scale_up_above(),
                                "): the value the signal cannot rise past, at "
                                "which more replicas are needed, got ",
                                at));
    }
  }
  if (s.has_saturation_factor()) {
    const double f = s.saturation_factor();
    if (!(f >= kMinSaturationFactor && f <= kMaxSaturationFactor)) {
      report.Error(
          path + ".saturationFactor",
          absl::StrCat("must be within [", kMinSaturationFactor, ", ",
                       kMaxSaturationFactor,
                       "] (the multiple of its ready replicas a saturated "
                       "signal proposes; 1 turns saturation off), got ",
                       f));
    } else if (s.type() == v1::Signal::Average && !s.has_saturates_at()) {
      report.Error(path + ".saturationFactor",
                   "needs saturatesAt: an Average signal is saturated only at "
                   "the ceiling it states");
    }
  }
}

// The fields of the signal's own type (which is set).
void TypeFields(const v1::Signal& s, const std::string& path,
                Reporter& report) {
  switch (s.type()) {
    case v1::Signal::Total:
      if (!s.has_target_per_replica()) {
        report.Error(path + ".targetPerReplica",
                     "required for a Total signal: the value one replica "
                     "handles (> 0)");
      } else {
        report.Positive(path + ".targetPerReplica", s.target_per_replica(),
                        "the value one replica handles");
      }
      if (s.has_tolerance()) {
        ValidateTolerance(path + ".tolerance", s.tolerance(), report);
      }
      break;
    case v1::Signal::Average:
      Band(s, path, s.has_scale_down_below(), s.scale_down_below(),
           "scaleDownBelow", s.has_scale_up_above(), s.scale_up_above(),
           "scaleUpAbove", report);
      Saturation(s, path, report);
      break;
    default:
      Band(s, path, s.has_scale_up_below(), s.scale_up_below(), "scaleUpBelow",
           s.has_scale_down_above(), s.scale_down_above(), "scaleDownAbove",
           report);
      if (s.has_capacity_per_replica()) {
        report.Positive(path + ".capacityPerReplica", s.capacity_per_replica(),
                        "the spare capacity one replica adds");
      }
      Saturation(s, path, report);
      break;
  }
}

// forecast: a lead in (0, 3600] s (its own or spec.podStartupSeconds) and
// a history of at least 4 evaluation intervals (the trend needs points).
void Forecast(const v1::PolicySpec& spec, const v1::Signal& s,
              const std::string& path, Reporter& report) {
  const v1::Forecast& f = s.forecast();
  if (f.has_lead_seconds()) {
    if (!(f.lead_seconds() > 0 && f.lead_seconds() <= kMaxLeadSeconds)) {
      report.Error(path + ".leadSeconds",
                   absl::StrCat("must be within (0, ", kMaxLeadSeconds,
                                "] seconds, got ", f.lead_seconds()));
      return;
    }
  } else if (!spec.has_pod_startup_seconds()) {
    report.Error(path + ".leadSeconds",
                 "required without spec.podStartupSeconds: how far ahead to "
                 "forecast (a new pod's start-up time)");
    return;
  }
  if (f.has_history_seconds()) {
    const absl::Duration min =
        kMinForecastHistoryIntervals * EvaluationInterval(spec);
    const double h = f.history_seconds();
    if (!(h >= absl::ToDoubleSeconds(min) && h <= kMaxForecastHistorySeconds)) {
      report.Error(
          path + ".historySeconds",
          absl::StrCat("must be within [", absl::ToDoubleSeconds(min), ", ",
                       kMaxForecastHistorySeconds, "] seconds (at least ",
                       kMinForecastHistoryIntervals,
                       " evaluation intervals, so that the trend has "
                       "points), got ",
                       h));
    }
  }
}

}  // namespace

void ValidateSignal(const v1::PolicySpec& spec, const v1::Signal& signal,
                    const std::string& path, Reporter& report) {
  if (signal.has_source()) {
    ValidateSource(signal.source(), path + ".source", report);
  } else {
    report.Error(path + ".source",
                 "required: where the signal's value is read");
  }
  switch (signal.type()) {
    case v1::Signal::Total:
    case v1::Signal::Average:
    case v1::Signal::Headroom:
      ForeignFields(signal, path, report);
      TypeFields(signal, path, report);
      break;
    default:
      report.Error(path + ".type", "required: one of Total, Average, Headroom");
      break;
  }
  if (signal.has_forecast()) {
    Forecast(spec, signal, path + ".forecast", report);
  }
}

void ValidateTolerance(const std::string& field, double value,
                       Reporter& report) {
  if (!(value >= 0) || !std::isfinite(value)) {
    report.Error(
        field, absl::StrCat("must be a ratio >= 0 (0.1 is 10 %), got ", value));
  }
}

}  // namespace policy_internal
}  // namespace signalscaler
