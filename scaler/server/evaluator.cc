// The Evaluator's schedule and its dispatch on each policy's role; the store
// I/O (upkeep, loads, saves) is in evaluator_store.cc.
#include "scaler/server/evaluator.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/engine/engine.h"
#include "scaler/policy/defaults.h"
#include "scaler/server/internal/decision_step.h"
#include "scaler/server/internal/ticker.h"

namespace signalscaler {
namespace {

// Policies evaluated per hold of mu_ in a tick: a push waits for at most
// one slice of computing, never for a whole tick.
constexpr size_t kSlice = 256;

}  // namespace

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
      ticker_(std::make_unique<Ticker>()),
      loader_(std::make_unique<Ticker>()) {
  status_.kind = std::string(store_.kind());
  store_.Watch([this](const PolicyKey& key) {
    {
      absl::MutexLock lock(&saved_mu_);
      saved_.insert(key);
    }
    if (loading_.load()) {
      loader_->Wake();
    } else {
      ticker_->Wake();
    }
  });
  board_.SetHistorySource([this](const PolicyKey& key, absl::Time decided) {
    return History(key, decided);
  });
}

Evaluator::~Evaluator() {
  Stop();
  store_.Watch(nullptr);
  board_.SetHistorySource(nullptr);
}

DecisionHistory Evaluator::History(const PolicyKey& key,
                                   absl::Time decided) const {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(key);
  if (it == states_.end()) return {};
  const PolicyState& st = it->second;
  DecisionHistory h = HistoryAsOf(st.history.engine, decided);
  if (st.published_shared) {
    h.recommendations.clear();
    for (const Recommendation& r : st.shared_window) {
      if (r.time <= decided) h.recommendations.push_back(r);
    }
  }
  return h;
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
    ++st.lease_drops;
    status_dirty_ = true;
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
    it->second.id = ++next_id_;
    it->second.lease.first_seen = now;
    it->second.refs = PublishRefsOf(board_, key);
    // While degraded every policy is decided locally, a new one too.
    if (degraded_) it->second.role.role = Role::kLocal;
  }
  return it->second;
}

Evaluator::PolicyState& Evaluator::StateAt(const PolicySnapshot& snap, size_t i,
                                           absl::Time now) {
  if (&snap == last_snapshot_.get()) return *slots_[i];
  return StateOf(snap.keys()[i], now);
}

absl::Duration Evaluator::IntervalAt(const PolicySnapshot& snap, size_t i,
                                     const PolicyState& st) const {
  if (&snap == last_snapshot_.get()) return st.interval;
  return EvaluationInterval(snap.policies()[i].policy.spec());
}

Evaluator::PolicyState* Evaluator::StillThere(const InFlight& of) {
  if (of.snap != nullptr && of.snap == last_snapshot_.get() &&
      of.index < slots_.size()) {
    // (Another snapshot may have been made at a freed one's address: the
    // id tells, and a mismatch looks the key up.)
    PolicyState* st = slots_[of.index];
    if (st->id == of.id) return st;
  }
  auto it = states_.find(of.key);
  if (it == states_.end() || it->second.id != of.id) return nullptr;
  return &it->second;
}

Evaluator::InFlight Evaluator::Mark(const PolicyKey& key, PolicyState& st) {
  st.in_flight = true;
  return InFlight{key, st.id, st.lease_drops};
}

void Evaluator::Publish(const PolicyKey& key, PolicyState& st,
                        std::shared_ptr<const Decision> d,
                        absl::string_view by) {
  st.published_shared = by != options_.replica_id;
  if (!st.published_shared) {
    st.shared_window.clear();
    st.shared_window.shrink_to_fit();
  }
  PublishDecision(board_, key, std::move(d), by, by == options_.replica_id,
                  st.published, st.shadow, st.tally, &st.refs);
}

std::shared_ptr<const Decision> Evaluator::Run(const LoadedPolicy& loaded,
                                               const PolicyKey& key,
                                               PolicyState& st,
                                               absl::Time now) {
  if (!options_.wait_without_history) {
    st.history.engine.history_unknown = false;
  }
  std::shared_ptr<const Decision> d =
      DecideOrExplain(observer_, board_, loaded, key, st.history.engine, now);
  if (d == nullptr) return nullptr;
  if (st.history.since == absl::InfinitePast()) st.history.since = now;
  return d;
}

void Evaluator::Evaluate(const LoadedPolicy& loaded, const PolicyKey& key,
                         PolicyState& st, absl::Time now, StoreWork& work) {
  // From the spec decided with (a push may come before the tick that
  // matches a reloaded snapshot): streams read the mode from the board.
  st.shadow = IsShadow(loaded.policy.spec());
  const Role acting = Acting(st, now);
  if (acting == Role::kLocal || acting == Role::kLocalUntilFresh) {
    EvaluateLocally(loaded, key, st, now);
  } else if (HoldsLeaseRole(acting)) {
    EvaluateAsHolder(loaded, key, st, now, work);
  }  // else a mirror: another replica decides, its record is loaded
}

void Evaluator::EvaluateLocally(const LoadedPolicy& loaded,
                                const PolicyKey& key, PolicyState& st,
                                absl::Time now) {
  if (std::shared_ptr<const Decision> d = Run(loaded, key, st, now)) {
    Publish(key, st, std::move(d), options_.replica_id);
    st.history.unshared = true;
  }
}

void Evaluator::EvaluateAsHolder(const LoadedPolicy& loaded,
                                 const PolicyKey& key, PolicyState& st,
                                 absl::Time now, StoreWork& work) {
  if (st.role.role == Role::kAcquired) {
    // The shared record first (ApplySynced merges, then decides).
    work.acquired.push_back(Mark(key, st));
    return;
  }
  std::shared_ptr<const Decision> d = Run(loaded, key, st, now);
  if (d != nullptr) SaveLater(key, st, std::move(d), now, work);
}

void Evaluator::EnterDegraded(const absl::Status& why, absl::Time now) {
  degraded_why_ = std::string(why.message());
  status_dirty_ = true;
  if (degraded_) return;
  degraded_ = true;
  degraded_since_ = now;
  releases_.clear();  // they expire by themselves
  LogWarn(
      "state store unreachable: evaluating locally, no scale-down "
      "before a full scale-down window of local history",
      {{"store", std::string(store_.kind())}, {"error", degraded_why_}});
  for (auto& [key, st] : states_) Transition(st, RoleEvent::kStoreDown, now);
}

void Evaluator::LeaveDegraded(absl::Time now) {
  degraded_ = false;
  degraded_why_.clear();
  status_dirty_ = true;
  LogInfo("state store reachable again: shared decisions resume",
          {{"store", std::string(store_.kind())},
           {"after", absl::FormatDuration(now - degraded_since_)}});
  // Local answers until the holder saved a decision made from now on (its
  // history then holds ours): no jump back to the decision saved before the
  // outage.
  for (auto& [key, st] : states_) Transition(st, RoleEvent::kStoreBack, now);
}

void Evaluator::ForgetRemoved(const absl::flat_hash_set<PolicyKey>& live,
                              absl::Time now) {
  for (auto it = states_.begin(); it != states_.end();) {
    if (live.contains(it->first)) {
      ++it;
      continue;
    }
    if (!degraded_ && leases_.Holds(it->second.lease, now)) {
      // Given up with the next upkeep (best effort: it expires anyway).
      releases_.emplace_back(it->first, *it->second.lease.lease);
    }
    Metrics::Get().ForgetPolicy(it->first.ns, it->first.name);
    states_.erase(it++);
    status_dirty_ = true;
  }
}

void Evaluator::MatchSnapshot(const std::shared_ptr<const PolicySnapshot>& snap,
                              absl::Time now) {
  absl::flat_hash_set<PolicyKey> live;
  std::vector<PolicyKey> served;
  served.reserve(snap->policies().size());
  std::vector<PolicyState*> slots;
  slots.reserve(snap->policies().size());
  for (size_t i = 0; i < snap->policies().size(); ++i) {
    const LoadedPolicy& loaded = snap->policies()[i];
    const PolicyKey& key = snap->keys()[i];
    live.insert(key);
    served.push_back(key);
    PolicyState& st = StateOf(key, now);
    slots.push_back(&st);
    // A change of mode is a changed spec like any other: the history (the
    // windows) is kept, so the first active decision is the shadow's...
    st.interval = EvaluationInterval(loaded.policy.spec());
    const bool shadow = IsShadow(loaded.policy.spec());
    if (st.shadow && !shadow && st.tally.view.fleet.has_value()) {
      // ...unless the policy's rate limits forbid that step from what the
      // fleet runs: they count from the fleet's count, not from the
      // shadow's own decisions, which the fleet never followed.
      st.history.engine.last_decision = *st.tally.view.fleet;
      st.history.engine.scale_events.clear();
    }
    if (shadow != st.shadow) {
      st.shadow = shadow;
      // KEDA's stream answers follow the mode now in force, not the one
      // the last decision was published under.
      board_.SetShadow(key, shadow);
    }
    std::string fingerprint = loaded.policy.spec().SerializeAsString();
    if (fingerprint != st.fingerprint) {
      // A changed spec (reload) is evaluated at once; its history is kept:
      // it is about the service's replicas, which did not change.
      st.fingerprint = std::move(fingerprint);
      st.next_due = absl::InfinitePast();
    }
  }
  // Other replicas prefer this one only for the policies it serves.
  leases_.SetServed(served);
  ForgetRemoved(live, now);
  board_.RetainOnly(live);
  last_snapshot_ = snap;
  slots_ = std::move(slots);
}

size_t Evaluator::CollectDue(const PolicySnapshot& snap, size_t begin,
                             StoreWork& work) {
  const std::vector<LoadedPolicy>& policies = snap.policies();
  const size_t end = std::min(policies.size(), begin + kSlice);
  absl::MutexLock lock(&mu_);
  // Read under the lock: decisions of a policy are made in time order, a
  // push's and a tick's alike.
  const absl::Time now = clock_.Now();
  for (size_t i = begin; i < end; ++i) {
    const LoadedPolicy& loaded = policies[i];
    const PolicyKey& key = snap.keys()[i];
    PolicyState& st = StateAt(snap, i, now);
    if (now < st.next_due || st.in_flight) continue;
    st.next_due = now + IntervalAt(snap, i, st);
    const Role acting = Acting(st, now);
    if (acting == Role::kMirror || acting == Role::kLocalUntilFresh) {
      // Loads first: a fresh shared decision wins.
      work.mirrors.push_back(InFlight{key, st.id, st.lease_drops, &snap, i});
    } else {
      Evaluate(loaded, key, st, now, work);
    }
  }
  return end;
}

void Evaluator::EvaluateDue() {
  absl::MutexLock tick(&tick_mu_);
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  const absl::Time now = clock_.Now();
  absl::flat_hash_set<PolicyKey> saved;
  if (!loading_.load()) {  // else LoadSaved's, at once
    absl::MutexLock lock(&saved_mu_);
    saved.swap(saved_);
  }
  bool upkeep = false;
  {
    absl::MutexLock lock(&mu_);
    // New policies (a reload): only then are specs compared and removed
    // policies forgotten, not on every tick.
    if (snap != last_snapshot_) MatchSnapshot(snap, now);
    // Another replica saved a decision of a policy mirrored here: load it
    // now rather than at the next interval.
    for (const PolicyKey& key : saved) {
      auto it = states_.find(key);
      if (it != states_.end() && !leases_.Holds(it->second.lease, now)) {
        it->second.next_due = absl::InfinitePast();
      }
    }
    upkeep = UpkeepDue(now);
  }
  if (upkeep) Upkeep(*snap);
  StoreWork work;
  for (size_t next = 0; next < snap->policies().size();) {
    next = CollectDue(*snap, next, work);
  }
  const bool again = RunStoreWork(*snap, work);
  {
    absl::MutexLock lock(&mu_);
    ExportStatus();
  }
  if (again) ticker_->Wake();
}

absl::Status Evaluator::EvaluateNow(const PolicyKey& key) {
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  const LoadedPolicy* loaded = snap->Find(key);
  if (loaded == nullptr) {
    return absl::NotFoundError(absl::StrCat("no policy ", key.ToString()));
  }
  bool upkeep = false;
  {
    absl::MutexLock lock(&mu_);
    // No tick thread (tests, embedded uses): this call keeps the leases.
    if (!ticking_) {
      mu_.Await(absl::Condition(
          +[](bool* running) { return !*running; }, &upkeep_running_));
      upkeep = UpkeepDue(clock_.Now());
    } else if (!upkept_) {
      // Just started: until the tick thread's first upkeep, no lease is
      // held and the push would be evaluated as a mirror's (not at all).
      // Wait for it, at most one store call's time.
      const absl::Time until = absl::Now() + options_.store_timeout;
      while (!upkept_ && !upkept_cv_.WaitWithDeadline(&mu_, until)) {
      }
    }
  }
  if (upkeep) Upkeep(*snap);
  StoreWork work;
  bool later = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();  // under the lock: in time order
    PolicyState& st = StateOf(key, now);
    if (st.in_flight) {
      st.again = true;  // right after the evaluation in flight
      later = true;
    } else {
      Evaluate(*loaded, key, st, now, work);  // a no-op for a mirror
    }
  }
  if (later) {
    ticker_->Wake();
    return absl::OkStatus();
  }
  const bool again = RunStoreWork(*snap, work);
  {
    absl::MutexLock lock(&mu_);
    ExportStatus();
  }
  if (again) ticker_->Wake();
  return absl::OkStatus();
}

void Evaluator::ExportStatus() {
  // Leases change at an upkeep or a transition, which mark it: Status()
  // compares their times with the clock itself.
  if (!status_dirty_) return;
  StateStatus s;
  s.kind = std::string(store_.kind());
  s.degraded = degraded_;
  s.why = degraded_why_;
  s.replicas_alive = leases_.members().size();
  const absl::Time now = clock_.Now();
  std::vector<absl::Time> held;
  for (const auto& [key, st] : states_) {
    if (leases_.Holds(st.lease, now)) {
      held.push_back(st.lease.lease->valid_until);
    }
  }
  s.leases_held = held.size();
  status_dirty_ = false;
  Metrics::Get().SetStateStatus(s.kind, s.degraded, s.leases_held,
                                s.replicas_alive);
  absl::MutexLock lock(&status_mu_);
  status_ = std::move(s);
  held_until_ = std::move(held);
}

StateStatus Evaluator::Status() const {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&status_mu_);
  StateStatus s = status_;
  s.leases_held = 0;
  for (const absl::Time until : held_until_) s.leases_held += now < until;
  return s;
}

bool Evaluator::HoldsLease(const PolicyKey& key) const {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(key);
  return it != states_.end() && leases_.Holds(it->second.lease, clock_.Now());
}

void Evaluator::Start(absl::Duration tick) {
  {
    absl::MutexLock lock(&mu_);
    ticking_ = true;
  }
  // Before the loader starts (its first call takes what came before): a
  // notification from now on is the loader's, not a tick's.
  loading_.store(true);
  ticker_->Start(tick, [this] { EvaluateDue(); });
  // A holder saves a tick's decisions in one batch: their notifications
  // come together, and a short gathering makes one load of them.
  loader_->Start(
      absl::Seconds(1), [this] { LoadSaved(); }, absl::Milliseconds(2));
}

void Evaluator::Stop() {
  loading_.store(false);
  loader_->Stop();
  ticker_->Stop();
  absl::MutexLock lock(&mu_);
  ticking_ = false;
}

void Evaluator::Wake() { ticker_->Wake(); }

void Evaluator::LoadSaved() {
  absl::flat_hash_set<PolicyKey> saved;
  {
    absl::MutexLock lock(&saved_mu_);
    saved.swap(saved_);
  }
  if (saved.empty()) return;
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  StoreWork work;
  bool deferred = false;  // to the next tick: woken now
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (const PolicyKey& key : saved) {
      auto it = states_.find(key);
      if (it == states_.end()) continue;
      PolicyState& st = it->second;
      const Role acting = Acting(st, now);
      if (acting != Role::kMirror && acting != Role::kLocalUntilFresh) {
        continue;  // this replica decides it
      }
      if (st.in_flight) {
        st.next_due = absl::InfinitePast();  // the next tick loads it
        deferred = true;
        continue;
      }
      work.mirrors.push_back(InFlight{key, st.id, st.lease_drops});
    }
  }
  if (deferred) ticker_->Wake();
  if (work.mirrors.empty()) return;
  // A tick's load of the same policy may run meanwhile: whichever comes
  // second adopts its record only if it is newer (ApplyMirrored). A load
  // that finds the store out of reach enters the degraded mode from here,
  // as a push's save can (EvaluateNow).
  const bool again = RunStoreWork(*snap, work);
  {
    absl::MutexLock lock(&mu_);
    ExportStatus();
  }
  if (again) ticker_->Wake();
}

}  // namespace signalscaler
