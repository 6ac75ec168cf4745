// The decision engine: a pure function of (policy, inputs, state, now) that
// implements "Decision (normative)" in DESIGN.md. No I/O, no clock of its own:
// the caller passes `now` from an injected Clock. The server's evaluator, the
// simulator and the tests all run this one function.
//
//   EngineState state;
//   absl::StatusOr<Decision> d = Decide(policy, inputs, state, clock.Now());
//   if (d.ok()) answer_keda(d->replicas);
#ifndef SIGNALSCALER_SCALER_ENGINE_ENGINE_H_
#define SIGNALSCALER_SCALER_ENGINE_ENGINE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"

namespace signalscaler {

// Decides the replica count for `policy` (already validated by the loader) at
// `now`, updating `state` (history of recommendations and scale events, last
// decision). Returns UNAVAILABLE, leaving `state` unchanged, when no signal has
// ever had a reading; and, when `state.history_unknown`, UNAVAILABLE while it
// knows neither a current count (no usable replicas source, no last
// decision) nor a history, until a full scale-down window has been seen
// (recording recommendations meanwhile) or the bounded desired count is the
// upper bound. Deterministic: the same
// arguments give the same result.
absl::StatusOr<Decision> Decide(const v1::ScalingPolicy& policy,
                                const Inputs& inputs, EngineState& state,
                                absl::Time now);

// Every signal of `policy` with its state, value, age and message (the last
// error, "no reading yet", ...) at `now`, in policy order; proposal 0. What
// explain shows while Decide() has no decision, so that a source that never
// worked (a wrong password, an unreachable address) says why from its first
// attempt on.
std::vector<SignalExplanation> ExplainSignals(const v1::ScalingPolicy& policy,
                                              const Inputs& inputs,
                                              absl::Time now);

// The history a decision made at `decided` looked at, from the state Decide()
// left then or since: its entries up to `decided` (a later decision's are
// left out; one made later may have dropped an entry at the window's old
// end, which the decision at `decided` still saw).
DecisionHistory HistoryAsOf(const EngineState& state, absl::Time decided);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_ENGINE_ENGINE_H_
