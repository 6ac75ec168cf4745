#include "scaler/engine/decision.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace signalscaler {

const char* SignalStateName(SignalState state) {
  switch (state) {
    case SignalState::kOk:
      return "ok";
    case SignalState::kStale:
      return "stale";
    case SignalState::kMissing:
      return "missing";
    case SignalState::kError:
      return "error";
    case SignalState::kInvalid:
      return "invalid";
  }
  return "unknown";
}

const char* ReasonCodeName(ReasonCode code) {
  switch (code) {
    case ReasonCode::kSignalWon:
      return "signal_won";
    case ReasonCode::kSignalHeld:
      return "signal_held";
    case ReasonCode::kWithinBand:
      return "within_band";
    case ReasonCode::kClampedToMin:
      return "clamped_to_min";
    case ReasonCode::kClampedToMax:
      return "clamped_to_max";
    case ReasonCode::kCappedByLimit:
      return "capped_by_limit";
    case ReasonCode::kScaleToZero:
      return "scale_to_zero";
    case ReasonCode::kWokeFromZero:
      return "woke_from_zero";
    case ReasonCode::kHeldAboveZero:
      return "held_above_zero";
    case ReasonCode::kUpWindow:
      return "up_window";
    case ReasonCode::kDownWindow:
      return "down_window";
    case ReasonCode::kRestartSeeded:
      return "restart_seeded";
    case ReasonCode::kRateLimitedUp:
      return "rate_limited_up";
    case ReasonCode::kRateLimitedDown:
      return "rate_limited_down";
    case ReasonCode::kScalingDisabled:
      return "scaling_disabled";
    case ReasonCode::kCurrentFromSource:
      return "current_from_source";
    case ReasonCode::kFirstDecision:
      return "first_decision";
    case ReasonCode::kReplicasUnusable:
      return "replicas_unusable";
    case ReasonCode::kLimitBelowMin:
      return "limit_below_min";
    case ReasonCode::kCurrentOutOfRange:
      return "current_out_of_range";
    case ReasonCode::kSmallStep:
      return "small_step";
    case ReasonCode::kSaturatedNoSpare:
      return "saturated_no_spare";
    case ReasonCode::kSaturatedAtCeiling:
      return "saturated_at_ceiling";
    case ReasonCode::kForecast:
      return "forecast";
  }
  return "unknown";
}

namespace {

// Replica counts and seconds print as integers, values with up to 6
// significant digits ("0.55", "120").
std::string Num(double v) { return absl::StrCat(v); }

const char* StateOf(double b) {
  const int i = static_cast<int>(b);
  if (i < 0 || i > static_cast<int>(SignalState::kInvalid)) return "unknown";
  return SignalStateName(static_cast<SignalState>(i));
}

}  // namespace

std::string RenderReason(const Reason& r) {
  switch (r.code) {
    case ReasonCode::kSignalWon:
      return absl::StrCat(r.subject, " won (p=", Num(r.a), ")");
    case ReasonCode::kSignalHeld:
      return absl::StrCat(r.subject, " held at ", Num(r.a), " (", StateOf(r.b),
                          ")");
    case ReasonCode::kWithinBand:
      return absl::StrCat(r.subject, " within tolerance (v=", Num(r.a),
                          "): ", Num(r.c), " kept instead of ", Num(r.b));
    case ReasonCode::kClampedToMin:
      return absl::StrCat("raised ", Num(r.a), " to minReplicas ", Num(r.b));
    case ReasonCode::kClampedToMax:
      return absl::StrCat("lowered ", Num(r.a), " to maxReplicas ", Num(r.b));
    case ReasonCode::kCappedByLimit:
      return absl::StrCat("limit ", r.subject, " caps ", Num(r.a), " at ",
                          Num(r.b));
    case ReasonCode::kScaleToZero:
      return "every Total signal at or below its activation: scale to zero";
    case ReasonCode::kWokeFromZero:
      return absl::StrCat(r.subject, " woke from zero (v=", Num(r.a),
                          " > activation ", Num(r.b), ")");
    case ReasonCode::kHeldAboveZero:
      if (r.subject.empty()) {
        return absl::StrCat(
            "kept at ", Num(r.a),
            ", not zero: no Total signal could wake the service again");
      }
      return absl::StrCat("kept at ", Num(r.a), ", not zero: ", r.subject,
                          " is held");
    case ReasonCode::kUpWindow:
      return absl::StrCat("scale-up window (", Num(r.c), "s) holds at ",
                          Num(r.b), " instead of ", Num(r.a));
    case ReasonCode::kDownWindow:
      return absl::StrCat("scale-down window (", Num(r.c), "s) holds at ",
                          Num(r.b), " instead of ", Num(r.a));
    case ReasonCode::kRestartSeeded:
      return absl::StrCat("no history: current ", Num(r.a),
                          " seeded into the scale-down window");
    case ReasonCode::kRateLimitedUp:
      return absl::StrCat("scale-up rate allows ", Num(r.b), " not ", Num(r.a),
                          " (period ", Num(r.c), "s)");
    case ReasonCode::kRateLimitedDown:
      return absl::StrCat("scale-down rate allows ", Num(r.b), " not ",
                          Num(r.a), " (period ", Num(r.c), "s)");
    case ReasonCode::kScalingDisabled:
      return absl::StrCat("scale-", r.subject, " disabled: kept ", Num(r.b),
                          " not ", Num(r.a));
    case ReasonCode::kCurrentFromSource:
      return absl::StrCat("current ", Num(r.a), " from the replicas source");
    case ReasonCode::kFirstDecision:
      if (r.b > 0) {
        return absl::StrCat(
            "first decision: no current count known, start "
            "at the highest of ",
            Num(r.b), "s of recommendations, ", Num(r.a));
      }
      return absl::StrCat("first decision: no current count known, start at ",
                          Num(r.a));
    case ReasonCode::kReplicasUnusable:
      return absl::StrCat("replicas source ", StateOf(r.b),
                          ": current is the last decision ", Num(r.a));
    case ReasonCode::kLimitBelowMin:
      return absl::StrCat("limit ", r.subject, " caps at ", Num(r.a),
                          ", below minReplicas ", Num(r.b),
                          ": the hard cap wins");
    case ReasonCode::kCurrentOutOfRange:
      return absl::StrCat("current ", Num(r.a), " outside bounds: brought to ",
                          Num(r.b));
    case ReasonCode::kSmallStep:
      return absl::StrCat(
          "step ", Num(r.a), " -> ", Num(r.b),
          " is within 10 %: carried out only where the HPA's tolerance is 0 "
          "(behavior.scaleUp/scaleDown.tolerance, Kubernetes >= 1.33)");
    case ReasonCode::kSaturatedNoSpare:
      return absl::StrCat(r.subject, " saturated (", Num(r.a), " spare): x",
                          Num(r.c));
    case ReasonCode::kSaturatedAtCeiling:
      return absl::StrCat(r.subject, " saturated (", Num(r.a),
                          " >= saturatesAt ", Num(r.b), "): x", Num(r.c));
    case ReasonCode::kForecast:
      return absl::StrCat("forecast: ", r.subject, " ", Num(r.a), " in ",
                          Num(r.b), " s -> ", Num(r.c));
  }
  return ReasonCodeName(r.code);
}

std::string Decision::Summary() const {
  std::string out = absl::StrCat(current, " -> ", replicas);
  if (!reasons.empty()) {
    absl::StrAppend(
        &out, ": ",
        absl::StrJoin(reasons, "; ", [](std::string* o, const Reason& r) {
          o->append(RenderReason(r));
        }));
  }
  return out;
}

}  // namespace signalscaler
