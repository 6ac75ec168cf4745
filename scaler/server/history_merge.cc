#include "scaler/server/history_merge.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <utility>

namespace signalscaler {
namespace {

// The union of two histories ordered by time, without exact duplicates.
template <typename T, typename Same>
std::deque<T> Union(const std::deque<T>& a, const std::deque<T>& b, Same same) {
  std::deque<T> out;
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out),
             [](const T& x, const T& y) { return x.time < y.time; });
  out.erase(std::unique(out.begin(), out.end(), same), out.end());
  return out;
}

EngineState Merge(const EngineState& local, const EngineState& shared,
                  absl::Time shared_last) {
  const absl::Time local_last = local.recommendations.empty()
                                    ? absl::InfinitePast()
                                    : local.recommendations.back().time;
  EngineState merged;
  merged.recommendations =
      Union(local.recommendations, shared.recommendations,
            [](const Recommendation& x, const Recommendation& y) {
              return x.time == y.time && x.replicas == y.replicas;
            });
  merged.scale_events =
      Union(local.scale_events, shared.scale_events,
            [](const ScaleEvent& x, const ScaleEvent& y) {
              return x.time == y.time && x.from == y.from && x.to == y.to;
            });
  merged.last_decision =
      local_last >= shared_last ? local.last_decision : shared.last_decision;
  merged.ever_had_reading = local.ever_had_reading || shared.ever_had_reading;
  // Forecast points: per signal, both sides' readings ordered by time
  // (readings are facts, whoever recorded them), the newest kMaxLoadPoints.
  merged.load_history = shared.load_history;
  for (const LoadHistory& mine : local.load_history) {
    auto it = std::find_if(
        merged.load_history.begin(), merged.load_history.end(),
        [&mine](const LoadHistory& h) { return h.signal == mine.signal; });
    if (it == merged.load_history.end()) {
      merged.load_history.push_back(mine);
      continue;
    }
    it->points = Union(mine.points, it->points,
                       [](const LoadPoint& x, const LoadPoint& y) {
                         return x.time == y.time;
                       });
  }
  for (LoadHistory& h : merged.load_history) {
    while (h.points.size() > kMaxLoadPoints) h.points.pop_front();
  }
  return merged;
}

}  // namespace

LocalHistory SyncWithShared(LocalHistory local,
                            std::optional<PolicyRecord> shared,
                            bool store_is_shared) {
  if (!shared.has_value()) {
    // A shared store that answers holds every history within its TTL: none
    // for this policy means none was lost (a new policy).
    if (store_is_shared) local.engine.history_unknown = false;
    return local;
  }
  if (!local.unshared) {
    local.engine = std::move(shared->engine);
    local.since = shared->history_since;
    return local;
  }
  const absl::Time shared_last =
      shared->decision ? shared->decision->time : absl::InfinitePast();
  local.engine = Merge(local.engine, shared->engine, shared_last);
  local.since = std::min(local.since, shared->history_since);
  return local;
}

LocalHistory RestartLocally(LocalHistory old, std::optional<int64_t> published,
                            absl::Time now) {
  LocalHistory local;
  local.engine.history_unknown = true;
  // No recommendation: Decide() seeds the window with the current count
  // (the replicas source's, else this last decision), as after a restart.
  local.engine.last_decision =
      published.has_value() ? published : old.engine.last_decision;
  local.engine.ever_had_reading =
      old.engine.ever_had_reading || local.engine.last_decision.has_value();
  local.engine.scale_events = std::move(old.engine.scale_events);
  // So are the forecast's readings: a forecast raises proposals only, and
  // the outage does not make them less true.
  local.engine.load_history = std::move(old.engine.load_history);
  local.since = now;
  local.unshared = true;
  return local;
}

bool IsNewer(const PolicyRecord& shared, const SharedMark& seen) {
  return shared.sequence > seen.sequence ||
         (shared.decision != nullptr && shared.decision->time > seen.time);
}

bool ReplacesLocalAnswers(const PolicyRecord& shared,
                          std::optional<absl::Time> fresh_after) {
  return shared.decision != nullptr &&
         (!fresh_after.has_value() || shared.decision->time > *fresh_after);
}

void AdoptSharedDecision(LocalHistory& local, const PolicyRecord& shared) {
  local.engine.last_decision = shared.decision->replicas;
  local.engine.ever_had_reading = true;
  local.engine.scale_events = shared.engine.scale_events;
}

PolicyRecord RecordToSave(const LocalHistory& local,
                          std::shared_ptr<const Decision> decision,
                          uint64_t sequence, std::string evaluated_by,
                          uint64_t epoch) {
  PolicyRecord record;
  record.engine = local.engine;
  record.decision = std::move(decision);
  record.history_since = local.since;
  record.sequence = sequence;
  record.evaluated_by = std::move(evaluated_by);
  record.epoch = epoch;
  return record;
}

}  // namespace signalscaler
