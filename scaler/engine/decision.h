// What the engine reads (Observations), keeps (EngineState) and produces
// (Decision, with the Reasons that explain it). Plain data, no I/O.
#ifndef SIGNALSCALER_SCALER_ENGINE_DECISION_H_
#define SIGNALSCALER_SCALER_ENGINE_DECISION_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace signalscaler {

// One sampled value and when it was measured.
struct Reading {
  double value = 0;
  absl::Time sample_time;
};

// What is known of one signal (or of the replicas sources) at evaluation
// time: the last good reading, and the error of the latest attempt if it
// failed (OK when the latest attempt succeeded or none was made yet).
struct Observation {
  std::optional<Reading> reading;
  absl::Status error;
};

// Everything the engine reads for one evaluation. A signal absent from
// `signals` is missing (it holds).
struct Inputs {
  absl::flat_hash_map<std::string, Observation> signals;
  std::optional<Observation> replicas;        // spec.replicas, if configured
  std::optional<Observation> ready_replicas;  // spec.readyReplicas
};

// kInvalid: the latest reading is not a count of anything (negative, NaN or
// infinite); it holds like an error.
enum class SignalState { kOk, kStale, kMissing, kError, kInvalid };
const char* SignalStateName(SignalState state);  // "ok", "stale", ...

struct SignalExplanation {
  std::string name;
  SignalState state = SignalState::kMissing;
  std::optional<double> value;
  absl::Duration age = absl::ZeroDuration();
  int64_t proposal = 0;
  std::string message;  // why it holds (error text, stale age), else empty
};

// A step that changed or limited the number. Rendered to text in one place
// (RenderReason); `code` is a bounded set, fit for metric labels.
enum class ReasonCode {
  kSignalWon,          // subject: signal; a: proposal
  kSignalHeld,         // subject: signal; a: current; b: SignalState number
  kWithinBand,         // subject: signal; a: value; b: ceil(v/t); c: current
  kClampedToMin,       // a: desired, b: minReplicas
  kClampedToMax,       // a: desired, b: maxReplicas
  kCappedByLimit,      // subject: limit; a: desired, b: cap
  kScaleToZero,        // every Total signal at or below its activation
  kWokeFromZero,       // subject: signal; a: value, b: activationAbove
  kHeldAboveZero,      // minReplicas 0 but a signal keeps the service up;
                       // subject: the held signal, or empty when the policy
                       // has no Total signal (Average/Headroom cannot wake
                       // it again); a: replicas kept
  kUpWindow,           // a: desired, b: result, c: window seconds
  kDownWindow,         // a: desired, b: result, c: window seconds
  kRestartSeeded,      // a: current seeded into the scale-down window
  kRateLimitedUp,      // a: wanted, b: allowed, c: period seconds
  kRateLimitedDown,    // a: wanted, b: allowed, c: period seconds
  kScalingDisabled,    // subject: "up" | "down"; a: wanted, b: kept
  kCurrentFromSource,  // a: current replicas read from spec.replicas
  // Added with the engine (append only: values above are stable).
  kFirstDecision,      // a: the count started from; b: seconds of
                       // recommendations seen before it (a full down
                       // window, or 0); no current count and no history
  kReplicasUnusable,   // a: current (last decision); b: SignalState number
  kLimitBelowMin,      // subject: limit; a: cap, b: minReplicas (cap wins)
  kCurrentOutOfRange,  // a: current, b: the bound it was brought back to
  kSmallStep,          // a: current, b: decided; |b - a| <= 10 % of a: an
                       // HPA with its default tolerance 0.1 swallows it
  // Saturation (a reading that cannot show the deficit): the signal
  // proposed max(formula, current, ceil(factor * max(ready, 1))).
  kSaturatedNoSpare,    // subject: Headroom signal; a: spare (0); c: factor
  kSaturatedAtCeiling,  // subject: Average signal; a: value, b: saturatesAt,
                        // c: factor
  // A forecast raised the signal's proposal: subject: signal; a: the value
  // projected (in the signal's own unit), b: lead seconds, c: the proposal
  // on it.
  kForecast,
};
const char* ReasonCodeName(ReasonCode code);  // stable snake_case identifier

struct Reason {
  ReasonCode code;
  std::string subject;  // a signal, limit or direction name, or empty
  double a = 0;
  double b = 0;
  double c = 0;
};
std::string RenderReason(const Reason& reason);

// Per-policy memory across evaluations (kept by a StateStore).
struct Recommendation {
  absl::Time time;
  int64_t replicas = 0;
};
struct ScaleEvent {
  absl::Time time;
  int64_t from = 0;
  int64_t to = 0;
};

struct Decision {
  int64_t replicas = 0;      // the answer given to KEDA
  int64_t current = 0;       // the count the decision started from
  int64_t desired = 0;       // after combination and bounds, before windows
  int64_t max_replicas = 0;  // the effective max: maxReplicas and limits
  absl::Time time;
  std::string winner;  // the signal whose proposal was the max
  std::vector<SignalExplanation> signals;
  std::vector<Reason> reasons;
  // The history the windows and rate policies looked at is the state's
  // (EngineState below) as Decide() leaves it: HistoryAsOf() (engine.h)
  // copies it when `explain` asks, not with every decision (300 entries at
  // a 1 s interval and a 300 s window: their copy, and its free, were 10 %
  // of the evaluation's CPU at 10,000 policies).

  bool active() const { return replicas > 0; }
  // One line for logs: "3 -> 5: requests won (p=5); ...".
  std::string Summary() const;
};

// A decision's history, for `explain`: recommendations inside the longest
// window, scale events inside the longest period.
struct DecisionHistory {
  std::vector<Recommendation> recommendations;
  std::vector<ScaleEvent> scale_events;
};

// A signal's load at one time, for its forecast (internal/forecast.h): a
// Total's value, an Average's value times the ready pods, a Headroom's
// capacity in use.
struct LoadPoint {
  absl::Time time;
  double load = 0;
};
// The most points a LoadHistory keeps (one per 1/64 of its history).
inline constexpr size_t kMaxLoadPoints = 64;
struct LoadHistory {
  std::string signal;
  std::deque<LoadPoint> points;  // in time order, inside its history
};

// Per-policy memory across evaluations (kept by a StateStore).
struct EngineState {
  std::deque<Recommendation> recommendations;  // inside the longest window
  std::deque<ScaleEvent> scale_events;         // inside the longest period
  std::optional<int64_t> last_decision;
  bool ever_had_reading = false;
  // One per signal with a forecast, in no particular order.
  std::vector<LoadHistory> load_history;
  // Set by a caller that may have lost a history it cannot see (the server:
  // a process start, a state store out of reach). Then, with neither a
  // current count nor a last decision, Decide() answers UNAVAILABLE until it
  // has seen a full scale-down window of its own (from `blind_since`).
  // Unset (the simulator, a test), the first decision is the desired count.
  // Neither is stored.
  bool history_unknown = false;
  std::optional<absl::Time> blind_since;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_ENGINE_DECISION_H_
