#include "scaler/server/internal/decision_step.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/engine/engine.h"
#include "scaler/server/policy_registry.h"

namespace signalscaler {
namespace {

// Takes d's fleet count into `t` and integrates the interval since the
// last shadow decision published here (made here or mirrored: `explain`
// shows the totals on every replica); returns the replica-seconds added
// (short, excess).
std::pair<double, double> Tally(const Decision& d, bool shadow,
                                ShadowTally& t) {
  for (const Reason& r : d.reasons) {
    if (r.code == ReasonCode::kCurrentFromSource) t.view.fleet = d.current;
  }
  t.view.shadow = shadow;
  t.view.mode_shadow = shadow;
  std::pair<double, double> added = {0, 0};
  if (!shadow) {
    t.last = absl::InfinitePast();  // an interval not in shadow
    return added;
  }
  if (t.last_fleet && t.last != absl::InfinitePast() && d.time > t.last) {
    // The previous decision and fleet count held until now.
    const double seconds = absl::ToDoubleSeconds(d.time - t.last);
    const int64_t gap = t.last_decision - *t.last_fleet;
    if (gap > 0) added.first = static_cast<double>(gap) * seconds;
    if (gap < 0) added.second = static_cast<double>(-gap) * seconds;
    t.view.short_replica_seconds += added.first;
    t.view.excess_replica_seconds += added.second;
  }
  if (d.time > t.last) {
    t.last = d.time;
    t.last_decision = d.replicas;
    t.last_fleet = t.view.fleet;
  }
  return added;
}

}  // namespace

std::shared_ptr<const Decision> DecideOrExplain(
    const Observer& observer, DecisionBoard& board, const LoadedPolicy& loaded,
    const PolicyKey& key, EngineState& engine, absl::Time now) {
  const Inputs inputs = observer.ObservePolicy(key, loaded.policy.spec());
  absl::StatusOr<Decision> d = Decide(loaded.policy, inputs, engine, now);
  if (!d.ok()) {
    board.SetUnavailable(key, d.status(),
                         ExplainSignals(loaded.policy, inputs, now));
    LogDebug("no decision", {{"policy", key.ToString()},
                             {"reason", std::string(d.status().message())}});
    return nullptr;
  }
  return std::make_shared<const Decision>(*std::move(d));
}

PublishRefs PublishRefsOf(DecisionBoard& board, const PolicyKey& key) {
  return PublishRefs{board.Ref(key),
                     Metrics::Get().PolicyRowOf(key.ns, key.name)};
}

void PublishDecision(DecisionBoard& board, const PolicyKey& key,
                     std::shared_ptr<const Decision> d, absl::string_view by,
                     bool here, int64_t& published, bool shadow,
                     ShadowTally& tally, const PublishRefs* refs) {
  const bool changed = published != d->replicas;
  absl::InlinedVector<Metrics::SignalSample, 8> samples;
  samples.reserve(d->signals.size());
  for (const SignalExplanation& s : d->signals) {
    Metrics::SignalSample m;
    m.name = s.name;
    m.has_value = s.value.has_value();
    m.value = s.value.value_or(0);
    m.proposal = s.proposal;
    m.held = s.state != SignalState::kOk;
    samples.push_back(std::move(m));
  }
  std::vector<std::string> change_reasons;
  if (changed && here && published >= 0) {
    for (const Reason& r : d->reasons) {
      change_reasons.push_back(ReasonCodeName(r.code));
    }
  }
  const auto [short_delta, excess_delta] = Tally(*d, shadow, tally);
  // Counted by the replica that made the decision only (a fleet's sum
  // counts each interval once).
  const Metrics::ShadowSample shadow_sample = {shadow, here ? short_delta : 0,
                                               here ? excess_delta : 0};
  if (refs != nullptr) {
    Metrics::Get().RecordDecision(refs->series, d->replicas, d->current,
                                  d->max_replicas, samples, change_reasons,
                                  shadow_sample);
  } else {
    Metrics::Get().RecordDecision(key.ns, key.name, d->replicas, d->current,
                                  d->max_replicas, samples, change_reasons,
                                  shadow_sample);
  }
  if (changed) {
    LogFields fields = {{"policy", key.ToString()},
                        {"from", published >= 0 ? absl::StrCat(published)
                                                : std::string("none")},
                        {"to", absl::StrCat(d->replicas)},
                        {"explanation", d->Summary()}};
    if (!here) fields.push_back({"decided_by", std::string(by)});
    if (here) {
      LogInfo("decision changed", fields);
    } else {
      LogDebug("decision changed", fields);
    }
  }
  published = d->replicas;
  if (refs != nullptr) {
    board.Publish(refs->board, std::move(d), tally.view);
  } else {
    board.Publish(key, std::move(d), tally.view);
  }
}

}  // namespace signalscaler
