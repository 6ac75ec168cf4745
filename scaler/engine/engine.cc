// Decide(): the steps of "Decision (normative)" in order. Each step lives in
// internal/ (proposals, bounds, stabilization, rate_limit); this file decides
// `current`, guards restart safety and keeps EngineState.
#include "scaler/engine/engine.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "scaler/engine/internal/bounds.h"
#include "scaler/engine/internal/numeric.h"
#include "scaler/engine/internal/proposals.h"
#include "scaler/engine/internal/rate_limit.h"
#include "scaler/engine/internal/stabilization.h"
#include "scaler/policy/defaults.h"

namespace signalscaler {
namespace {

using engine_internal::Bounds;
using engine_internal::Classified;
using engine_internal::Classify;

bool AnySignalHasReading(const v1::PolicySpec& spec, const Inputs& inputs) {
  for (const v1::Signal& s : spec.signals()) {
    const auto it = inputs.signals.find(s.name());
    if (it != inputs.signals.end() && it->second.reading) return true;
  }
  return false;
}

// A count read from an optional replicas source, when usable at `now`.
std::optional<int64_t> ReadCount(const v1::PolicySpec& spec,
                                 const v1::Source& source,
                                 const std::optional<Observation>& obs,
                                 absl::Time now, SignalState* state) {
  const Classified c =
      Classify(obs ? &*obs : nullptr, StaleAfter(spec, source), now);
  if (state != nullptr) *state = c.state;
  if (c.state != SignalState::kOk) return std::nullopt;
  return engine_internal::RoundCount(c.reading->value);
}

}  // namespace

absl::StatusOr<Decision> Decide(const v1::ScalingPolicy& policy,
                                const Inputs& inputs, EngineState& state,
                                absl::Time now) {
  const v1::PolicySpec& spec = policy.spec();
  const bool has_reading = AnySignalHasReading(spec, inputs);
  if (!has_reading && !state.ever_had_reading) {
    return absl::UnavailableError(
        absl::StrCat("no signal of policy ", policy.metadata().namespace_(),
                     "/", policy.metadata().name(), " has a reading yet"));
  }
  if (has_reading) state.ever_had_reading = true;

  Decision d;
  d.time = now;
  std::vector<Reason>& reasons = d.reasons;
  const auto num = [](int64_t x) { return static_cast<double>(x); };
  const Bounds bounds = engine_internal::ComputeBounds(spec);
  d.max_replicas = bounds.upper;

  // `current`: the replicas source, else the last decision, else unknown.
  std::optional<int64_t> current;
  if (spec.has_replicas()) {
    SignalState st = SignalState::kMissing;
    current = ReadCount(spec, spec.replicas(), inputs.replicas, now, &st);
    if (current) {
      reasons.push_back(
          Reason{ReasonCode::kCurrentFromSource, "", num(*current), 0, 0});
    } else if (state.last_decision) {
      current = state.last_decision;
      reasons.push_back(Reason{ReasonCode::kReplicasUnusable, "", num(*current),
                               static_cast<double>(st), 0});
    }
  } else {
    current = state.last_decision;
  }
  std::optional<int64_t> ready;
  if (spec.has_ready_replicas()) {
    ready = ReadCount(spec, spec.ready_replicas(), inputs.ready_replicas, now,
                      nullptr);
  }

  // 1-2. Proposals, combined by max. Without a current count they start
  // from the lower bound (a first decision ever), or, where a history may
  // have been lost, from the upper bound: the fleet may run anywhere up to
  // it, and every proposal grows with the count it starts from (an Average
  // in its band proposes it, a held signal holds it), so none is then below
  // what the true count would propose.
  const bool blind = !current && state.history_unknown;
  engine_internal::ProposalInput in;
  in.current = current.value_or(blind ? bounds.upper : bounds.lower);
  in.ready = ready;
  if (current) in.load_history = &state.load_history;
  in.zero_allowed = bounds.min_replicas == 0;
  in.now = now;
  engine_internal::Proposals p = engine_internal::Propose(spec, inputs, in);
  d.signals = std::move(p.signals);
  d.winner = p.winner;
  reasons.insert(reasons.end(), p.reasons.begin(), p.reasons.end());

  // 3. Bounds and scale to zero.
  d.desired = engine_internal::BoundDesired(p, in.current, bounds, reasons);

  v1::ScalingRules up_storage;
  v1::ScalingRules down_storage;
  const v1::ScalingRules& up = EffectiveScaleRules(spec, true, up_storage);
  const v1::ScalingRules& down = EffectiveScaleRules(spec, false, down_storage);
  const absl::Duration up_window =
      absl::Seconds(up.stabilization_window_seconds());
  const absl::Duration down_window =
      absl::Seconds(down.stabilization_window_seconds());

  if (!current) {
    // Neither a current count nor a history: the fleet may run more than
    // `desired` (a restart without a store, or a deployment older than its
    // policy), and answering `desired` would be a scale-down no window
    // allowed. Answer nothing (KEDA's fallback and the HPA hold) until a
    // full scale-down window of its own has been seen (its proposals start
    // from the upper bound, see above), unless a Total signal's fresh
    // reading asks for the bound: no count can be above it.
    double seen_seconds = 0;
    if (blind) {
      if (!state.blind_since) state.blind_since = now;
      const absl::Duration seen = now - *state.blind_since;
      // A Total signal's fresh reading asking for the upper bound is a
      // spike answered at once: no count can be above the bound.
      bool spike = false;
      for (int i = 0; i < spec.signals_size(); ++i) {
        spike |= spec.signals(i).type() == v1::Signal::Total &&
                 d.signals[i].state == SignalState::kOk &&
                 d.signals[i].proposal >= bounds.upper;
      }
      if (!spike && seen < down_window) {
        engine_internal::Stabilize(state.recommendations, d.desired, d.desired,
                                   up_window, down_window, now);
        return absl::UnavailableError(absl::StrCat(
            "policy ", policy.metadata().namespace_(), "/",
            policy.metadata().name(),
            " knows neither the current replica count nor its history: no "
            "answer before a full scale-down window (",
            absl::FormatDuration(down_window), ") has been seen, ",
            absl::FormatDuration(down_window - seen),
            " left (a replicas source, or a shared state store, ends the "
            "wait)"));
      }
      seen_seconds = absl::ToDoubleSeconds(seen);
      state.blind_since.reset();
    }
    // The highest recommendation of the window seen (none without the wait)
    // is what a full window allows: start there.
    int64_t start = d.desired;
    for (const Recommendation& r : state.recommendations) {
      if (r.time > now - down_window) start = std::max(start, r.replicas);
    }
    current = start;
    reasons.push_back(
        Reason{ReasonCode::kFirstDecision, "", num(start), seen_seconds, 0});
  } else if (state.recommendations.empty() || !state.last_decision) {
    // Restart with no history (or with only the recommendations made while
    // no count was known): no scale-down before a full down window.
    const int64_t seed = std::clamp(*current, bounds.lower, bounds.upper);
    state.recommendations.push_back(Recommendation{now, seed});
    reasons.push_back(Reason{ReasonCode::kRestartSeeded, "", num(seed), 0, 0});
  }
  d.current = *current;

  // 4. Stabilization envelope (always records the recommendation).
  const engine_internal::Envelope env = engine_internal::Stabilize(
      state.recommendations, d.current, d.desired, up_window, down_window, now);

  int64_t result = env.result;
  if (d.current > bounds.upper || d.current < bounds.lower) {
    // As the HPA: a count outside the bounds goes straight back to them,
    // windows and rates notwithstanding (a hard cap is never crossed).
    result = std::clamp(d.current, bounds.lower, bounds.upper);
    reasons.push_back(Reason{ReasonCode::kCurrentOutOfRange, "", num(d.current),
                             num(result), 0});
  } else {
    if (result < d.desired) {
      reasons.push_back(Reason{ReasonCode::kUpWindow, "", num(d.desired),
                               num(result), absl::ToDoubleSeconds(up_window)});
    } else if (result > d.desired) {
      reasons.push_back(Reason{ReasonCode::kDownWindow, "", num(d.desired),
                               num(result),
                               absl::ToDoubleSeconds(down_window)});
    }
    // 5. Rate policies over the events since each period began. The events
    // chain our decisions, so the period starts from the last one.
    const int64_t base = state.last_decision.value_or(d.current);
    result = engine_internal::ApplyRateLimits(
        d.current, base, result, state.scale_events, up, down, now, reasons);
    result = engine_internal::Clamp(result, bounds, reasons);
  }

  // KEDA hands the number to an HPA; with its default tolerance of 0.1 the
  // HPA makes no step of 10 % or less (ratio in [0.9, 1.1], ends included).
  if (result != d.current && d.current > 0 &&
      10 * std::abs(result - d.current) <= d.current) {
    reasons.push_back(
        Reason{ReasonCode::kSmallStep, "", num(d.current), num(result), 0});
  }

  // 6. Keep the state.
  engine_internal::RecordScaleEvent(state.scale_events,
                                    state.last_decision.value_or(d.current),
                                    result, up, down, now);
  state.last_decision = result;
  d.replicas = result;
  return d;
}

DecisionHistory HistoryAsOf(const EngineState& state, absl::Time decided) {
  DecisionHistory h;
  for (const Recommendation& r : state.recommendations) {
    if (r.time <= decided) h.recommendations.push_back(r);
  }
  for (const ScaleEvent& e : state.scale_events) {
    if (e.time <= decided) h.scale_events.push_back(e);
  }
  return h;
}

std::vector<SignalExplanation> ExplainSignals(const v1::ScalingPolicy& policy,
                                              const Inputs& inputs,
                                              absl::Time now) {
  const v1::PolicySpec& spec = policy.spec();
  std::vector<SignalExplanation> out;
  out.reserve(spec.signals_size());
  for (const v1::Signal& s : spec.signals()) {
    const auto it = inputs.signals.find(s.name());
    const Classified c =
        Classify(it == inputs.signals.end() ? nullptr : &it->second,
                 StaleAfter(spec, s.source()), now);
    SignalExplanation e;
    e.name = s.name();
    e.state = c.state;
    e.message = c.message;
    e.age = c.age;
    if (c.reading) e.value = c.reading->value;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace signalscaler
