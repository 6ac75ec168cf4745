#include "scaler/server/evaluator.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/policy/defaults.h"
#include "scaler/server/internal/decision_step.h"
#include "scaler/server/internal/ticker.h"

namespace signalscaler {

Evaluator::Evaluator(const PolicyRegistry& registry, const Observer& observer,
                     DecisionBoard& board, const Clock& clock,
                     EvaluatorOptions options)
    : registry_(registry),
      observer_(observer),
      board_(board),
      clock_(clock),
      options_(std::move(options)),
      own_store_(options_.store == nullptr ? MakeMemoryStateStore(clock)
                                           : nullptr),
      store_(options_.store != nullptr ? *options_.store : *own_store_),
      leases_(store_, clock_, options_.replica_id, options_.lease_period,
              options_.store_timeout),
      ticker_(std::make_unique<Ticker>()) {
  store_.Watch([this](const PolicyKey& key) {
    {
      absl::MutexLock lock(&saved_mu_);
      saved_.insert(key);
    }
    ticker_->Wake();
  });
}

Evaluator::~Evaluator() {
  Stop();
  store_.Watch(nullptr);
}

void Evaluator::Transition(PolicyState& st, RoleEvent event, absl::Time now) {
  st.role = NextRole(st.role, event, now);
  if (event == RoleEvent::kStoreDown) {
    std::optional<int64_t> published;
    if (st.published >= 0) published = st.published;
    st.history = RestartLocally(std::move(st.history), published, now);
  }
  if (event == RoleEvent::kStoreDown || event == RoleEvent::kLeaseGone) {
    st.lease.lease.reset();  // only kAcquired and kHolder hold one
  }
  if (event == RoleEvent::kSaved) st.history.unshared = false;
}

Role Evaluator::Acting(const PolicyState& st, absl::Time now) const {
  return ActingRole(st.role, leases_.Holds(st.lease, now));
}

Evaluator::PolicyState& Evaluator::StateOf(const PolicyKey& key,
                                           absl::Time now) {
  auto [it, added] = states_.try_emplace(key);
  if (added) {
    it->second.lease.first_seen = now;
    // While degraded every policy is decided locally, a new one too.
    if (degraded_) it->second.role.role = Role::kLocal;
  }
  return it->second;
}

void Evaluator::Publish(const PolicyKey& key, PolicyState& st,
                        std::shared_ptr<const Decision> d,
                        absl::string_view by) {
  PublishDecision(board_, key, std::move(d), by, by == options_.replica_id,
                  st.published);
}

std::shared_ptr<const Decision> Evaluator::Run(const LoadedPolicy& loaded,
                                               PolicyState& st,
                                               absl::Time now) {
  if (!options_.wait_without_history) {
    st.history.engine.history_unknown = false;
  }
  std::shared_ptr<const Decision> d =
      DecideOrExplain(observer_, board_, loaded, st.history.engine, now);
  if (d == nullptr) return nullptr;
  if (st.history.since == absl::InfinitePast()) st.history.since = now;
  return d;
}

void Evaluator::Evaluate(const LoadedPolicy& loaded, PolicyState& st,
                         absl::Time now) {
  const Role acting = Acting(st, now);
  if (acting == Role::kLocal || acting == Role::kLocalUntilFresh) {
    EvaluateLocally(loaded, st, now);
  } else if (HoldsLeaseRole(acting)) {
    EvaluateAsHolder(loaded, st, now);
  }  // else a mirror: another replica decides, Mirror() loads its decision
}

void Evaluator::EvaluateLocally(const LoadedPolicy& loaded, PolicyState& st,
                                absl::Time now) {
  if (std::shared_ptr<const Decision> d = Run(loaded, st, now)) {
    Publish(KeyOf(loaded.policy), st, std::move(d), options_.replica_id);
    st.history.unshared = true;
  }
}

void Evaluator::EvaluateAsHolder(const LoadedPolicy& loaded, PolicyState& st,
                                 absl::Time now) {
  if (st.role.role == Role::kAcquired && !Sync(loaded, st, now)) return;
  std::shared_ptr<const Decision> d = Run(loaded, st, now);
  if (d != nullptr) SaveAndPublish(KeyOf(loaded.policy), st, std::move(d), now);
}

bool Evaluator::Sync(const LoadedPolicy& loaded, PolicyState& st,
                     absl::Time now) {
  const PolicyKey keys[] = {KeyOf(loaded.policy)};
  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> records =
      store_.Load(keys, Deadline());
  if (!records.ok()) {
    if (IsStoreOutage(records.status())) {
      EnterDegraded(records.status(), now);
      EvaluateLocally(loaded, st, now);
    } else {
      LogWarn("cannot load the shared state of a policy",
              {{"policy", keys[0].ToString()},
               {"error", std::string(records.status().message())}});
    }
    return false;  // its last decision keeps being answered
  }
  std::optional<PolicyRecord>& rec = records->front();
  if (rec) st.seen.sequence = std::max(st.seen.sequence, rec->sequence);
  st.history =
      SyncWithShared(std::move(st.history), std::move(rec), store_.shared());
  Transition(st, RoleEvent::kSynced, now);
  return true;
}

void Evaluator::SaveAndPublish(const PolicyKey& key, PolicyState& st,
                               std::shared_ptr<const Decision> d,
                               absl::Time now) {
  const auto saved_as = [&](uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    st.seen = SharedMark{seq, now};
    Transition(st, RoleEvent::kSaved, now);
    Publish(key, st, std::move(d), options_.replica_id);
  };
  if (!store_.shared() && leases_.members().size() <= 1) {
    // One replica on a store of this process: nobody else reads the record
    // and it does not outlive the process, so saving it would only keep a
    // third copy of every window (hundreds of MB at 10,000 policies).
    saved_as(st.seen.sequence + 1);
    return;
  }
  const PolicyRecord record =
      RecordToSave(st.history, d, st.seen.sequence + 1, options_.replica_id,
                   st.lease.lease->epoch);
  const absl::Status saved = store_.Save(key, record, *st.lease.lease,
                                         options_.record_ttl, Deadline());
  if (saved.ok()) {
    saved_as(record.sequence);
    return;
  }
  if (absl::IsFailedPrecondition(saved)) {
    // Another replica holds the lease now: its decisions are the ones to
    // answer with; this one is dropped and the policy mirrored at once.
    LogWarn("lease lost", {{"policy", key.ToString()},
                           {"error", std::string(saved.message())}});
    Transition(st, RoleEvent::kLeaseGone, now);
    st.next_due = absl::InfinitePast();
    return;
  }
  // Unreachable: KEDA still gets this decision, then the replica goes on
  // locally.
  Publish(key, st, std::move(d), options_.replica_id);
  st.history.unshared = true;
  if (IsStoreOutage(saved)) {
    EnterDegraded(saved, now);
  } else {
    LogWarn(
        "cannot save a decision",
        {{"policy", key.ToString()}, {"error", std::string(saved.message())}});
  }
}

void Evaluator::Mirror(const PolicySnapshot& snap,
                       const std::vector<PolicyKey>& keys, absl::Time now) {
  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> records =
      store_.Load(keys, Deadline());
  if (!records.ok()) {
    if (!IsStoreOutage(records.status())) {
      LogWarn("cannot load shared decisions",
              {{"error", std::string(records.status().message())}});
      return;  // the last decisions keep being answered
    }
    EnterDegraded(records.status(), now);
    for (const PolicyKey& key : keys) {
      const LoadedPolicy* loaded = snap.Find(key);
      if (loaded != nullptr) Evaluate(*loaded, StateOf(key, now), now);
    }
    return;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    PolicyState& st = StateOf(keys[i], now);
    const std::optional<PolicyRecord>& rec = (*records)[i];
    if (rec.has_value() && ReplacesLocalAnswers(*rec, st.role.fresh_after)) {
      Transition(st, RoleEvent::kFreshShared, now);
      if (IsNewer(*rec, st.seen)) {
        st.seen = SharedMark{rec->sequence, rec->decision->time};
        AdoptSharedDecision(st.history, *rec);
        Publish(keys[i], st, rec->decision, rec->evaluated_by);
      }
    } else if (st.role.fresh_after.has_value()) {
      // Local answers until the store holds a decision made after it came
      // back.
      const LoadedPolicy* loaded = snap.Find(keys[i]);
      if (loaded != nullptr) Evaluate(*loaded, st, now);
    }
  }
}

void Evaluator::EnterDegraded(const absl::Status& why, absl::Time now) {
  degraded_why_ = std::string(why.message());
  if (degraded_) return;
  degraded_ = true;
  degraded_since_ = now;
  LogWarn(
      "state store unreachable: evaluating locally, no scale-down "
      "before a full scale-down window of local history",
      {{"store", std::string(store_.kind())}, {"error", degraded_why_}});
  for (auto& [key, st] : states_) Transition(st, RoleEvent::kStoreDown, now);
}

void Evaluator::LeaveDegraded(absl::Time now) {
  degraded_ = false;
  degraded_why_.clear();
  LogInfo("state store reachable again: shared decisions resume",
          {{"store", std::string(store_.kind())},
           {"after", absl::FormatDuration(now - degraded_since_)}});
  // Local answers until the holder saved a decision made from now on (its
  // history then holds ours): no jump back to the decision saved before the
  // outage.
  for (auto& [key, st] : states_) Transition(st, RoleEvent::kStoreBack, now);
}

void Evaluator::Housekeep(const PolicySnapshot& snap, absl::Time now) {
  const absl::Status beat = leases_.Heartbeat(now);
  if (!beat.ok()) {
    if (IsStoreOutage(beat)) {
      EnterDegraded(beat, now);
    } else {
      LogWarn("state store heartbeat failed",
              {{"error", std::string(beat.message())}});
    }
    return;
  }
  if (degraded_) LeaveDegraded(now);
  // Every policy's lease in one batch: one round trip per 1,000 policies.
  std::vector<LeaseTask> tasks;
  std::vector<PolicyState*> states;
  tasks.reserve(snap.policies().size());
  states.reserve(snap.policies().size());
  for (const LoadedPolicy& loaded : snap.policies()) {
    const PolicyKey key = KeyOf(loaded.policy);
    PolicyState& st = StateOf(key, now);
    tasks.push_back(LeaseTask{key, st.lease, st.seen.time,
                              EvaluationInterval(loaded.policy.spec()),
                              LeaseChange::kNone});
    states.push_back(&st);
  }
  const absl::Status kept = leases_.UpkeepAll(absl::MakeSpan(tasks), now);
  if (!kept.ok()) {
    EnterDegraded(kept, now);
    return;
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    PolicyState& st = *states[i];
    st.lease = std::move(tasks[i].slot);
    if (tasks[i].change == LeaseChange::kTaken) {
      Transition(st, RoleEvent::kLeaseTaken, now);
      st.next_due = absl::InfinitePast();
    } else if (tasks[i].change == LeaseChange::kGone) {
      Transition(st, RoleEvent::kLeaseGone, now);
    }
  }
}

void Evaluator::ForgetRemoved(const absl::flat_hash_set<PolicyKey>& live,
                              absl::Time now) {
  for (auto it = states_.begin(); it != states_.end();) {
    if (live.contains(it->first)) {
      ++it;
      continue;
    }
    if (!degraded_ && leases_.Holds(it->second.lease, now)) {
      // Best effort: the lease expires by itself anyway.
      store_.Release(it->first, *it->second.lease.lease, Deadline())
          .IgnoreError();
    }
    Metrics::Get().ForgetPolicy(it->first.ns, it->first.name);
    states_.erase(it++);
  }
}

void Evaluator::MatchSnapshot(const std::shared_ptr<const PolicySnapshot>& snap,
                              absl::Time now) {
  absl::flat_hash_set<PolicyKey> live;
  for (const LoadedPolicy& loaded : snap->policies()) {
    const PolicyKey key = KeyOf(loaded.policy);
    live.insert(key);
    PolicyState& st = StateOf(key, now);
    std::string fingerprint = loaded.policy.spec().SerializeAsString();
    if (fingerprint != st.fingerprint) {
      // A changed spec (reload) is evaluated at once; its history is kept:
      // it is about the service's replicas, which did not change.
      st.fingerprint = std::move(fingerprint);
      st.next_due = absl::InfinitePast();
    }
  }
  ForgetRemoved(live, now);
  board_.RetainOnly(live);
  last_snapshot_ = snap;
}

void Evaluator::EvaluateDue() {
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  const absl::Time now = clock_.Now();
  absl::flat_hash_set<PolicyKey> saved;
  {
    absl::MutexLock lock(&saved_mu_);
    saved.swap(saved_);
  }
  absl::MutexLock lock(&mu_);
  // New policies (a reload): only then are specs compared and removed
  // policies forgotten, not on every tick.
  if (snap != last_snapshot_) MatchSnapshot(snap, now);
  // Another replica saved a decision of a policy mirrored here: load it now
  // rather than at the next interval.
  for (const PolicyKey& key : saved) {
    auto it = states_.find(key);
    if (it != states_.end() && !leases_.Holds(it->second.lease, now)) {
      it->second.next_due = absl::InfinitePast();
    }
  }
  if (leases_.Due(now)) Housekeep(*snap, now);

  std::vector<PolicyKey> mirrored;
  for (const LoadedPolicy& loaded : snap->policies()) {
    const PolicyKey key = KeyOf(loaded.policy);
    PolicyState& st = StateOf(key, now);
    if (now < st.next_due) continue;
    st.next_due = now + EvaluationInterval(loaded.policy.spec());
    const Role acting = Acting(st, now);
    if (acting == Role::kMirror || acting == Role::kLocalUntilFresh) {
      mirrored.push_back(key);  // loads first: a fresh shared decision wins
    } else {
      Evaluate(loaded, st, now);
    }
  }
  if (!mirrored.empty()) Mirror(*snap, mirrored, now);
  ExportStatus();
}

absl::Status Evaluator::EvaluateNow(const PolicyKey& key) {
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  const LoadedPolicy* loaded = snap->Find(key);
  if (loaded == nullptr) {
    return absl::NotFoundError(absl::StrCat("no policy ", key.ToString()));
  }
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (leases_.Due(now)) Housekeep(*snap, now);
  PolicyState& st = StateOf(key, now);
  Evaluate(*loaded, st, now);  // a no-op for a mirror: another one decides
  return absl::OkStatus();
}

StateStatus Evaluator::StatusLocked() const {
  StateStatus s;
  s.kind = std::string(store_.kind());
  s.degraded = degraded_;
  s.why = degraded_why_;
  s.replicas_alive = leases_.members().size();
  const absl::Time now = clock_.Now();
  for (const auto& [key, st] : states_) {
    if (leases_.Holds(st.lease, now)) ++s.leases_held;
  }
  return s;
}

void Evaluator::ExportStatus() {
  const StateStatus s = StatusLocked();
  Metrics::Get().SetStateStatus(s.kind, s.degraded, s.leases_held,
                                s.replicas_alive);
}

StateStatus Evaluator::Status() const {
  absl::MutexLock lock(&mu_);
  return StatusLocked();
}

bool Evaluator::HoldsLease(const PolicyKey& key) const {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(key);
  return it != states_.end() && leases_.Holds(it->second.lease, clock_.Now());
}

void Evaluator::Start(absl::Duration tick) {
  ticker_->Start(tick, [this] { EvaluateDue(); });
}

void Evaluator::Stop() { ticker_->Stop(); }

}  // namespace signalscaler
