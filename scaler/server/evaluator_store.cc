// The Evaluator's store I/O, each in three steps: what it needs is taken
// under mu_, the store is asked without it, and the answers are applied
// under it again, skipping a state that was removed (its id) or whose lease
// was dropped (its lease_drops) meanwhile. Per tick: a heartbeat and one
// lease batch when the upkeep is due, one Load of every mirrored and newly
// acquired policy, and one SaveMany of every decision made as a holder.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/policy/defaults.h"
#include "scaler/server/evaluator.h"

namespace signalscaler {

bool Evaluator::UpkeepDue(absl::Time now) {
  if (upkeep_running_ || !leases_.Due(now)) return false;
  upkeep_running_ = true;
  return true;
}

void Evaluator::Upkeep(const PolicySnapshot& snap) {
  const absl::Time started = absl::Now();  // wall time, for the metric
  HeartbeatCall beat;
  {
    absl::MutexLock lock(&mu_);
    beat = leases_.BeginHeartbeat(clock_.Now());
  }
  beat.Exchange(store_, clock_);
  std::vector<LeaseTask> tasks;
  std::vector<InFlight> of;
  LeaseBatch batch;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    const absl::Status beaten = leases_.FinishHeartbeat(beat, now);
    if (!beaten.ok()) {
      upkeep_running_ = false;
      upkept_ = true;
      upkept_cv_.SignalAll();
      if (IsStoreOutage(beaten)) {
        EnterDegraded(beaten, now);
      } else {
        LogWarn("state store heartbeat failed",
                {{"error", std::string(beaten.message())}});
      }
      return;
    }
    status_dirty_ = true;  // members, and soon leases
    if (degraded_) LeaveDegraded(now);
    tasks.reserve(snap.policies().size());
    of.reserve(snap.policies().size());
    for (size_t i = 0; i < snap.policies().size(); ++i) {
      const PolicyKey& key = snap.keys()[i];  // made once per snapshot
      PolicyState& st = StateAt(snap, i, now);
      tasks.push_back(LeaseTask{key, st.lease, st.seen.time,
                                IntervalAt(snap, i, st), LeaseChange::kNone});
      of.push_back(InFlight{key, st.id, st.lease_drops, &snap, i});
    }
    batch = leases_.Plan(tasks, now);
    for (const auto& [key, lease] : releases_) batch.AddRelease(key, lease);
    releases_.clear();
  }
  // Every policy's lease in one batch: one round trip per 1,000 policies.
  batch.Exchange(store_, clock_);
  {
    absl::MutexLock lock(&mu_);
    upkeep_running_ = false;
    upkept_ = true;
    upkept_cv_.SignalAll();
    ApplyLeases(absl::MakeSpan(tasks), of, batch, clock_.Now());
  }
  Metrics::Get().RecordLeaseUpkeep(absl::Now() - started);
}

void Evaluator::ApplyLeases(absl::Span<LeaseTask> tasks,
                            const std::vector<InFlight>& of,
                            const LeaseBatch& batch, absl::Time now) {
  const absl::Status kept = leases_.Apply(tasks, batch, now);
  if (!kept.ok()) {
    EnterDegraded(kept, now);
    return;
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    PolicyState* st = StillThere(of[i]);
    // Removed, or its lease dropped meanwhile (a save that found it lost,
    // an outage): the next upkeep sees it as it is now.
    if (st == nullptr || st->lease_drops != of[i].lease_drops) continue;
    st->lease = std::move(tasks[i].slot);
    if (tasks[i].change == LeaseChange::kTaken) {
      Transition(*st, RoleEvent::kLeaseTaken, now);
      st->next_due = absl::InfinitePast();
    } else if (tasks[i].change == LeaseChange::kGone) {
      Transition(*st, RoleEvent::kLeaseGone, now);
    }
  }
}

bool Evaluator::RunStoreWork(const PolicySnapshot& snap, StoreWork& work) {
  if (!work.mirrors.empty() || !work.acquired.empty()) {
    std::vector<PolicyKey> keys;
    keys.reserve(work.mirrors.size() + work.acquired.size());
    for (const InFlight& f : work.mirrors) keys.push_back(f.key);
    for (const InFlight& f : work.acquired) keys.push_back(f.key);
    absl::StatusOr<std::vector<std::optional<PolicyRecord>>> records =
        store_.Load(keys, Deadline());
    absl::MutexLock lock(&mu_);
    ApplyLoads(snap, work, std::move(records), clock_.Now());
  }
  if (work.saves.empty()) return work.again;
  std::vector<SaveRequest> requests;
  requests.reserve(work.saves.size());
  for (const PendingSave& s : work.saves) {
    requests.push_back(SaveRequest{s.of.key, &s.record, s.lease});
  }
  const absl::StatusOr<std::vector<absl::Status>> saved =
      store_.SaveMany(requests, options_.record_ttl, Deadline());
  absl::MutexLock lock(&mu_);
  ApplySaves(work, saved, clock_.Now());
  return work.again;
}

void Evaluator::ApplyLoads(
    const PolicySnapshot& snap, StoreWork& work,
    absl::StatusOr<std::vector<std::optional<PolicyRecord>>> records,
    absl::Time now) {
  if (!records.ok()) {
    for (const InFlight& f : work.acquired) {
      // Not decided by the holder this time: its last decision stays.
      if (PolicyState* st = StillThere(f)) Land(*st, work);
    }
    if (!IsStoreOutage(records.status())) {
      LogWarn("cannot load shared decisions",
              {{"error", std::string(records.status().message())}});
      return;  // the last decisions keep being answered
    }
    // Decisions made before the outage was known are answered first, so
    // that the local history restarts from them.
    for (PendingSave& s : work.saves) PublishUnsaved(s, work);
    work.saves.clear();
    EnterDegraded(records.status(), now);
    for (const std::vector<InFlight>* list : {&work.mirrors, &work.acquired}) {
      for (const InFlight& f : *list) {
        PolicyState* st = StillThere(f);
        const LoadedPolicy* loaded = snap.Find(f.key);
        if (st != nullptr && loaded != nullptr) {
          Evaluate(*loaded, f.key, *st, now, work);  // kLocal: no store I/O
        }
      }
    }
    return;
  }
  for (size_t i = 0; i < work.mirrors.size(); ++i) {
    ApplyMirrored(snap, work.mirrors[i], (*records)[i], now, work);
  }
  for (size_t i = 0; i < work.acquired.size(); ++i) {
    ApplySynced(snap, work.acquired[i],
                std::move((*records)[work.mirrors.size() + i]), now, work);
  }
}

void Evaluator::ApplyMirrored(const PolicySnapshot& snap, const InFlight& of,
                              const std::optional<PolicyRecord>& rec,
                              absl::Time now, StoreWork& work) {
  PolicyState* st = StillThere(of);
  if (st == nullptr) return;
  const Role acting = Acting(*st, now);
  if (acting != Role::kMirror && acting != Role::kLocalUntilFresh) return;
  if (rec.has_value() && ReplacesLocalAnswers(*rec, st->role.fresh_after)) {
    Transition(*st, RoleEvent::kFreshShared, now);
    if (IsNewer(*rec, st->seen)) {
      st->seen = SharedMark{rec->sequence, rec->decision->time};
      AdoptSharedDecision(st->history, *rec);
      st->shared_window.assign(rec->engine.recommendations.begin(),
                               rec->engine.recommendations.end());
      Publish(of.key, *st, rec->decision, rec->evaluated_by);
    }
  } else if (st->role.fresh_after.has_value()) {
    // Local answers until the store holds a decision made after it came
    // back.
    const LoadedPolicy* loaded = snap.Find(of.key);
    if (loaded != nullptr) Evaluate(*loaded, of.key, *st, now, work);
  }
}

void Evaluator::ApplySynced(const PolicySnapshot& snap, const InFlight& of,
                            std::optional<PolicyRecord> rec, absl::Time now,
                            StoreWork& work) {
  PolicyState* st = StillThere(of);
  if (st == nullptr) return;
  Land(*st, work);
  const LoadedPolicy* loaded = snap.Find(of.key);
  if (loaded == nullptr || st->lease_drops != of.lease_drops ||
      st->role.role != Role::kAcquired) {
    st->next_due = absl::InfinitePast();  // as it is now, at the next tick
    return;
  }
  if (rec) st->seen.sequence = std::max(st->seen.sequence, rec->sequence);
  st->history =
      SyncWithShared(std::move(st->history), std::move(rec), store_.shared());
  Transition(*st, RoleEvent::kSynced, now);
  if (std::shared_ptr<const Decision> d = Run(*loaded, of.key, *st, now)) {
    SaveLater(of.key, *st, std::move(d), now, work);
  }
}

void Evaluator::SaveLater(const PolicyKey& key, PolicyState& st,
                          std::shared_ptr<const Decision> d, absl::Time now,
                          StoreWork& work) {
  if (!store_.shared() && leases_.members().size() <= 1) {
    // One replica on a store of this process: nobody else reads the record
    // and it does not outlive the process, so saving it would only keep a
    // third copy of every window (hundreds of MB at 10,000 policies).
    st.seen = SharedMark{st.seen.sequence + 1, now};
    Transition(st, RoleEvent::kSaved, now);
    Publish(key, st, std::move(d), options_.replica_id);
    return;
  }
  PendingSave save;
  save.of = Mark(key, st);
  save.record = RecordToSave(st.history, d, st.seen.sequence + 1,
                             options_.replica_id, st.lease.lease->epoch);
  save.lease = *st.lease.lease;
  save.decision = std::move(d);
  work.saves.push_back(std::move(save));
}

void Evaluator::Land(PolicyState& st, StoreWork& work) {
  st.in_flight = false;
  if (!st.again) return;
  st.again = false;
  st.next_due = absl::InfinitePast();
  work.again = true;
}

void Evaluator::PublishUnsaved(PendingSave& save, StoreWork& work) {
  PolicyState* st = StillThere(save.of);
  if (st == nullptr) return;
  Land(*st, work);
  Publish(save.of.key, *st, std::move(save.decision), options_.replica_id);
  st->history.unshared = true;
}

void Evaluator::ApplySaves(
    StoreWork& work, const absl::StatusOr<std::vector<absl::Status>>& saved,
    absl::Time now) {
  absl::Status outage;
  for (size_t i = 0; i < work.saves.size(); ++i) {
    PendingSave& s = work.saves[i];
    PolicyState* st = StillThere(s.of);
    if (st == nullptr) continue;
    const absl::Status& result = saved.ok() ? (*saved)[i] : saved.status();
    if (result.ok()) {
      Land(*st, work);
      if (st->lease_drops == s.of.lease_drops) {
        st->seen = SharedMark{s.record.sequence, now};
        Transition(*st, RoleEvent::kSaved, now);
      } else {
        // Its lease was dropped meanwhile (an outage): answered, while the
        // history goes on as the drop made it.
        st->seen.sequence = std::max(st->seen.sequence, s.record.sequence);
      }
      Publish(s.of.key, *st, std::move(s.decision), options_.replica_id);
    } else if (absl::IsFailedPrecondition(result)) {
      // Another replica holds the lease now: its decisions are the ones to
      // answer with; this one is dropped and the policy mirrored at once.
      Land(*st, work);
      LogWarn("lease lost", {{"policy", s.of.key.ToString()},
                             {"error", std::string(result.message())}});
      if (st->lease_drops == s.of.lease_drops) {
        Transition(*st, RoleEvent::kLeaseGone, now);
      }
      st->next_due = absl::InfinitePast();
    } else {
      // Unreachable: KEDA still gets this decision, then the replica goes
      // on locally.
      PublishUnsaved(s, work);
      if (IsStoreOutage(result)) {
        outage = result;
      } else {
        LogWarn("cannot save a decision",
                {{"policy", s.of.key.ToString()},
                 {"error", std::string(result.message())}});
      }
    }
  }
  if (!outage.ok()) EnterDegraded(outage, now);
}

}  // namespace signalscaler
