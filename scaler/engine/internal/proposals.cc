#include "scaler/engine/internal/proposals.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "scaler/engine/internal/forecast.h"
#include "scaler/engine/internal/numeric.h"
#include "scaler/policy/defaults.h"

namespace signalscaler::engine_internal {
namespace {

// The proposal of one signal whose reading is usable, and the reasons it
// leaves (within band, woke from zero).
struct Proposal {
  int64_t replicas = 0;
  std::optional<Reason> reason;
};

// Total: p = ceil(v / t); inside the tolerance band
// 1 - down <= v / (t * current) <= 1 + up (ends included, as KEP-4951)
// p = current; at zero only a value above the activation wakes the service.
Proposal ProposeTotal(const v1::PolicySpec& spec, const v1::Signal& s, double v,
                      int64_t current) {
  const double t = Target(s);
  const int64_t raw = CeilCount(v / t);
  if (current == 0) {
    const double activation = ActivationAbove(s);
    if (v <= activation) return {0, std::nullopt};
    return {std::max<int64_t>(1, raw),
            Reason{ReasonCode::kWokeFromZero, s.name(), v, activation, 0}};
  }
  const double ratio = v / (t * static_cast<double>(current));
  const Tolerances tol = TotalTolerances(spec, s);
  if (ratio >= 1 - tol.down - kRelativeEpsilon &&
      ratio <= 1 + tol.up + kRelativeEpsilon) {
    std::optional<Reason> why;
    if (raw != current) {
      why = Reason{ReasonCode::kWithinBand, s.name(), v,
                   static_cast<double>(raw), static_cast<double>(current)};
    }
    return {current, why};
  }
  return {raw, std::nullopt};
}

// A saturated reading (a Headroom at 0 spare, an Average at or above its
// saturatesAt) cannot show how far demand is past capacity: one more
// replica may be needed, or twenty. The formula's step is then only a lower
// bound. While it still asks for more than current, the proposal multiplies
// the ready replicas, all of them busy: max(formula, ceil(f * max(n, 1))),
// max(n, 1) because no pod ready yet (x2 of 0) would propose nothing. Once
// the pods on the way cover the formula's step, it waits for them at
// current (the deficit is unknown, not absent: never fewer): they show, when
// ready, whether the reading leaves saturation or another round is needed.
// Pods still starting are never multiplied (n, not current).
int64_t SaturatedProposal(double factor, int64_t formula, int64_t current,
                          int64_t n) {
  if (formula <= current) return current;
  const double ready = static_cast<double>(std::max<int64_t>(n, 1));
  return std::max(formula, CeilCount(factor * ready));
}

// Average: proportional outside the band (as the HPA), with at least one
// more replica when at or above scaleUpAbove. `n` is the ready count (or
// current when unknown); a scale-up proposal never goes below current.
Proposal ProposeAverage(const v1::Signal& s, double v, int64_t current,
                        int64_t n, bool saturation = true) {
  // Cannot wake a service that has no pods (a reading of no pods is never
  // saturated either: a Total signal wakes it).
  if (current == 0) return {0, std::nullopt};
  const double t = Target(s);
  const double scaled = static_cast<double>(n) * v / t;
  int64_t p = current;
  if (v >= s.scale_up_above()) {
    p = std::max(current, std::max(n + 1, CeilCount(scaled)));
  } else if (v <= s.scale_down_below()) {
    p = std::min(current, std::max<int64_t>(0, CeilCount(scaled)));
  }
  const double f = SaturationFactor(s);
  if (saturation && s.has_saturates_at() && f > 1 && v >= s.saturates_at()) {
    const int64_t q = SaturatedProposal(f, p, current, n);
    std::optional<Reason> why;
    if (q > current) {
      why = Reason{ReasonCode::kSaturatedAtCeiling, s.name(), v,
                   s.saturates_at(), f};
    }
    return {q, why};
  }
  return {p, std::nullopt};
}

// Headroom: spare capacity s; pods still starting (current - ready) count as
// spare they will bring. Saturated when the reading itself is 0 spare.
Proposal ProposeHeadroom(const v1::Signal& s, double reading, int64_t current,
                         int64_t n, bool saturation = true) {
  if (current == 0) return {0, std::nullopt};  // as ProposeAverage
  const double t = Target(s);
  const double c = CapacityPerReplica(s);
  const double spare = reading + static_cast<double>(current - n) * c;
  int64_t p = current;
  if (spare <= s.scale_up_below()) {
    p = current + CeilCount((t - spare) / c);
  } else if (spare >= s.scale_down_above()) {
    p = std::max<int64_t>(0, current - FloorCount((spare - t) / c));
  }
  const double f = SaturationFactor(s);
  if (saturation && f > 1 && reading <= 0) {
    const int64_t q = SaturatedProposal(f, p, current, n);
    std::optional<Reason> why;
    if (q > current) {
      why = Reason{ReasonCode::kSaturatedNoSpare, s.name(), reading, 0, f};
    }
    return {q, why};
  }
  return {p, std::nullopt};
}

// A signal's load (forecast.h): what its readings add up to whatever the
// replica count, so that a trend survives the scaling it causes. A Total's
// value; an Average's value times the ready pods; a Headroom's capacity in
// use (ready pods' capacity minus the spare read).
double LoadOf(const v1::Signal& s, double v, int64_t n) {
  switch (s.type()) {
    case v1::Signal::Average:
      return v * static_cast<double>(n);
    case v1::Signal::Headroom:
      return static_cast<double>(n) * CapacityPerReplica(s) - v;
    default:
      return v;
  }
}

// The reading that `load` amounts to with `n` ready pods (LoadOf's inverse).
double ValueOfLoad(const v1::Signal& s, double load, int64_t n) {
  switch (s.type()) {
    case v1::Signal::Average:
      return load / static_cast<double>(n);
    case v1::Signal::Headroom:
      return static_cast<double>(n) * CapacityPerReplica(s) - load;
    default:
      return load;
  }
}

LoadHistory& HistoryOf(std::vector<LoadHistory>& histories,
                       const std::string& signal) {
  for (LoadHistory& h : histories) {
    if (h.signal == signal) return h;
  }
  histories.push_back(LoadHistory{signal, {}});
  return histories.back();
}

// Records the load of a signal with a forecast whose reading is usable, and
// proposes on the load projected one lead ahead, with the signal's own
// formula (never its saturation rule: a projection is not a reading that
// cannot show the deficit). 0 when the forecast is off; the reason is set
// only when it asks for more than `reactive`.
int64_t ForecastProposal(const v1::PolicySpec& spec, const v1::Signal& s,
                         const Reading& r, const ProposalInput& in, int64_t n,
                         int64_t reactive, std::optional<Reason>& why) {
  const absl::Duration history = ForecastHistory(spec, s);
  const absl::Duration lead = ForecastLead(spec, s);
  LoadHistory& h = HistoryOf(*in.load_history, s.name());
  // An Average or Headroom reading of no ready pod says nothing of load.
  if (s.type() == v1::Signal::Total || n > 0) {
    RememberLoad(h.points, r.sample_time, LoadOf(s, r.value, n), in.now,
                 history);
  }
  if (in.current == 0 || n == 0) return 0;  // waking stays reactive
  const std::optional<Trend> trend =
      ProjectLoad(h.points, in.now, lead, history);
  if (!trend) return 0;
  const double v = ValueOfLoad(s, trend->projected, n);
  int64_t p = 0;
  switch (s.type()) {
    case v1::Signal::Total:
      p = ProposeTotal(spec, s, v, in.current).replicas;
      break;
    case v1::Signal::Average:
      p = ProposeAverage(s, v, in.current, n, /*saturation=*/false).replicas;
      break;
    case v1::Signal::Headroom:
      p = ProposeHeadroom(s, v, in.current, n, /*saturation=*/false).replicas;
      break;
    default:
      return 0;
  }
  if (p > reactive) {
    why = Reason{ReasonCode::kForecast, s.name(), v,
                 absl::ToDoubleSeconds(lead), static_cast<double>(p)};
  }
  return p;
}

}  // namespace

Classified Classify(const Observation* obs, absl::Duration stale_after,
                    absl::Time now) {
  Classified c;
  if (obs == nullptr) {
    c.message = "no observation";
    return c;
  }
  c.reading = obs->reading;
  if (c.reading) c.age = now - c.reading->sample_time;
  if (!obs->error.ok()) {
    c.state = SignalState::kError;
    c.message = obs->error.ToString();
  } else if (!c.reading) {
    c.message = "no reading yet";
  } else if (!(c.reading->value >= 0) || !std::isfinite(c.reading->value)) {
    // Every signal and count measures an amount: requests, queue items,
    // spare workers, a utilization. A negative or non-finite reading is a
    // broken exporter or pusher, never a reason to scale down.
    c.state = SignalState::kInvalid;
    c.message = absl::StrCat("invalid reading ", c.reading->value,
                             ": a negative or non-finite value is held");
  } else if (c.age > stale_after) {
    c.state = SignalState::kStale;
    c.message =
        absl::StrCat("reading is ", absl::FormatDuration(c.age),
                     " old, stale after ", absl::FormatDuration(stale_after));
  } else {
    c.state = SignalState::kOk;
  }
  return c;
}

Proposals Propose(const v1::PolicySpec& spec, const Inputs& inputs,
                  const ProposalInput& in) {
  Proposals out;
  const int64_t n =
      in.ready ? std::clamp<int64_t>(*in.ready, 0, in.current) : in.current;

  // Pass 1: what each signal's observation amounts to.
  std::vector<Classified> seen;
  seen.reserve(spec.signals_size());
  for (const v1::Signal& s : spec.signals()) {
    const auto it = inputs.signals.find(s.name());
    seen.push_back(Classify(it == inputs.signals.end() ? nullptr : &it->second,
                            StaleAfter(spec, s.source()), in.now));
    const Classified& c = seen.back();
    const bool ok = c.state == SignalState::kOk;
    if (!ok && out.first_held.empty()) out.first_held = s.name();
    if (s.type() == v1::Signal::Total) {
      out.has_total = true;
      if (ok && c.reading->value > ActivationAbove(s)) {
        out.totals_quiet = false;
      }
    }
  }
  out.zero_ok = in.zero_allowed && out.has_total && out.totals_quiet &&
                out.first_held.empty();

  // Pass 2: proposals, combined by max.
  out.signals.reserve(spec.signals_size());
  bool winner_ok = false;
  bool have_any = false;
  for (int i = 0; i < spec.signals_size(); ++i) {
    const v1::Signal& s = spec.signals(i);
    const Classified& c = seen[i];
    SignalExplanation e;
    e.name = s.name();
    e.state = c.state;
    e.message = c.message;
    e.age = c.age;
    if (c.reading) e.value = c.reading->value;

    if (c.state != SignalState::kOk) {
      e.proposal = in.current;
      out.reasons.push_back(Reason{ReasonCode::kSignalHeld, s.name(),
                                   static_cast<double>(in.current),
                                   static_cast<double>(c.state), 0});
    } else {
      const double v = c.reading->value;
      switch (s.type()) {
        case v1::Signal::Total: {
          if (out.zero_ok) {
            e.proposal = 0;
            break;
          }
          Proposal p = ProposeTotal(spec, s, v, in.current);
          e.proposal = p.replicas;
          if (p.reason) out.reasons.push_back(*p.reason);
          break;
        }
        case v1::Signal::Average:
        case v1::Signal::Headroom: {
          const bool down_zone = s.type() == v1::Signal::Average
                                     ? v <= s.scale_down_below()
                                     : v >= s.scale_down_above();
          if (out.zero_ok && down_zone) {
            e.proposal = 0;
            break;
          }
          Proposal p = s.type() == v1::Signal::Average
                           ? ProposeAverage(s, v, in.current, n)
                           : ProposeHeadroom(s, v, in.current, n);
          e.proposal = p.replicas;
          if (p.reason) out.reasons.push_back(*p.reason);
          break;
        }
        default:  // rejected by the loader; never acted upon
          e.proposal = in.current;
          e.message = "unknown signal type";
          break;
      }
      // A forecast only ever raises the proposal (never at zero, nor while
      // the service goes to zero).
      if (s.has_forecast() && in.load_history != nullptr && !out.zero_ok) {
        std::optional<Reason> why;
        const int64_t f =
            ForecastProposal(spec, s, *c.reading, in, n, e.proposal, why);
        if (why) {
          e.proposal = f;
          out.reasons.push_back(*why);
        }
      }
    }
    // The max wins; on a tie a signal with a usable reading is named.
    const bool ok = c.state == SignalState::kOk;
    if (!have_any || e.proposal > out.desired ||
        (e.proposal == out.desired && ok && !winner_ok)) {
      out.desired = e.proposal;
      out.winner = s.name();
      winner_ok = ok;
      have_any = true;
    }
    out.signals.push_back(std::move(e));
  }
  if (have_any) {
    out.reasons.push_back(Reason{ReasonCode::kSignalWon, out.winner,
                                 static_cast<double>(out.desired), 0, 0});
  }
  if (in.load_history != nullptr) {
    // The histories of signals that no longer forecast go.
    std::vector<LoadHistory>& histories = *in.load_history;
    histories.erase(
        std::remove_if(histories.begin(), histories.end(),
                       [&spec](const LoadHistory& h) {
                         for (const v1::Signal& s : spec.signals()) {
                           if (s.name() == h.signal) return !s.has_forecast();
                         }
                         return true;
                       }),
        histories.end());
  }
  return out;
}

}  // namespace signalscaler::engine_internal
