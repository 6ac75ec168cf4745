#include "scaler/server/evaluator.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/engine/engine.h"
#include "scaler/policy/defaults.h"

namespace signalscaler {
namespace {

// FNV-1a, then a splitmix64 finalizer: stable across processes and builds
// (absl::Hash is salted per process, so replicas would disagree).
uint64_t StableHash(absl::string_view a, absl::string_view b) {
  uint64_t h = 1469598103934665603ULL;
  const auto mix = [&h](absl::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(a);
  mix(absl::string_view("\0", 1));
  mix(b);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

// The union of two histories ordered by time, without exact duplicates.
template <typename T, typename Same>
std::deque<T> Union(const std::deque<T>& a, const std::deque<T>& b, Same same) {
  std::deque<T> out;
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out),
             [](const T& x, const T& y) { return x.time < y.time; });
  out.erase(std::unique(out.begin(), out.end(), same), out.end());
  return out;
}

// An error that means the store as a whole cannot be used now (the replica
// then runs degraded), as opposed to one about a single call or record.
bool Outage(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsUnauthenticated(s);
}

}  // namespace

std::string PreferredReplica(const PolicyKey& key,
                             const std::vector<std::string>& replicas) {
  const std::string name = key.ToString();
  std::string best;
  uint64_t best_score = 0;
  for (const std::string& r : replicas) {
    const uint64_t score = StableHash(name, r);
    if (best.empty() || score > best_score ||
        (score == best_score && r < best)) {
      best = r;
      best_score = score;
    }
  }
  return best;
}

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
      store_(options_.store != nullptr ? *options_.store : *own_store_) {
  store_.Watch([this](const PolicyKey& key) {
    {
      std::lock_guard<std::mutex> lock(saved_mu_);
      saved_.insert(key);
    }
    {
      std::lock_guard<std::mutex> lock(run_mu_);
      wake_ = true;
    }
    run_cv_.notify_all();
  });
}

Evaluator::~Evaluator() {
  Stop();
  store_.Watch(nullptr);
}

Inputs Evaluator::Gather(const LoadedPolicy& loaded) const {
  const PolicyKey key = KeyOf(loaded.policy);
  const v1::PolicySpec& spec = loaded.policy.spec();
  Inputs in;
  for (const v1::Signal& s : spec.signals()) {
    in.signals[s.name()] = observer_.Observe(key, s.name(), s.source());
  }
  if (spec.has_replicas()) {
    in.replicas = observer_.Observe(key, kReplicasSignal, spec.replicas());
  }
  if (spec.has_ready_replicas()) {
    in.ready_replicas =
        observer_.Observe(key, kReadyReplicasSignal, spec.ready_replicas());
  }
  return in;
}

bool Evaluator::Holds(const PolicyState& st, absl::Time now) const {
  return st.lease.has_value() && st.lease->holder == options_.replica_id &&
         now < st.lease->valid_until;
}

void Evaluator::Publish(const PolicyKey& key, PolicyState& st,
                        std::shared_ptr<const Decision> d,
                        absl::string_view by) {
  const bool here = by == options_.replica_id;
  const bool changed = st.published != d->replicas;
  std::vector<Metrics::SignalSample> samples;
  for (const SignalExplanation& s : d->signals) {
    Metrics::SignalSample m;
    m.name = s.name;
    m.has_value = s.value.has_value();
    m.value = s.value.value_or(0);
    m.proposal = s.proposal;
    m.held = s.state != SignalState::kOk;
    samples.push_back(std::move(m));
  }
  // Changes are counted (and logged at info) by the replica that made the
  // decision only, so that a fleet's sum counts each once.
  std::vector<std::string> change_reasons;
  if (changed && here && st.published >= 0) {
    for (const Reason& r : d->reasons) {
      change_reasons.push_back(ReasonCodeName(r.code));
    }
  }
  Metrics::Get().RecordDecision(key.ns, key.name, d->replicas, d->current,
                                d->max_replicas, samples, change_reasons);
  if (changed) {
    LogFields fields = {{"policy", key.ToString()},
                        {"from", st.published >= 0 ? absl::StrCat(st.published)
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
  st.published = d->replicas;
  board_.Publish(key, std::move(d));
}

std::shared_ptr<const Decision> Evaluator::Run(const LoadedPolicy& loaded,
                                               PolicyState& st,
                                               absl::Time now) {
  if (!options_.wait_without_history) st.engine.history_unknown = false;
  const Inputs inputs = Gather(loaded);
  absl::StatusOr<Decision> d = Decide(loaded.policy, inputs, st.engine, now);
  if (!d.ok()) {
    const PolicyKey key = KeyOf(loaded.policy);
    board_.SetUnavailable(key, d.status(),
                          ExplainSignals(loaded.policy, inputs, now));
    LogDebug("no decision", {{"policy", key.ToString()},
                             {"reason", std::string(d.status().message())}});
    return nullptr;
  }
  if (st.history_since == absl::InfinitePast()) st.history_since = now;
  return std::make_shared<const Decision>(*std::move(d));
}

void Evaluator::Evaluate(const LoadedPolicy& loaded, PolicyState& st,
                         absl::Time now) {
  // Locally while the store is out of reach, and (not holding the lease)
  // until a fresh shared decision exists after it came back.
  if (degraded_ || (st.local_until_fresh && !Holds(st, now))) {
    if (std::shared_ptr<const Decision> d = Run(loaded, st, now)) {
      Publish(KeyOf(loaded.policy), st, std::move(d), options_.replica_id);
      st.evaluated_locally = true;
    }
    return;
  }
  EvaluateAsHolder(loaded, st, now);
}

void Evaluator::EvaluateAsHolder(const LoadedPolicy& loaded, PolicyState& st,
                                 absl::Time now) {
  const PolicyKey key = KeyOf(loaded.policy);
  if (!st.synced) {
    const PolicyKey keys[] = {key};
    absl::StatusOr<std::vector<std::optional<PolicyRecord>>> loaded_records =
        store_.Load(keys, Deadline());
    if (!loaded_records.ok()) {
      if (!Outage(loaded_records.status())) {
        LogWarn("cannot load the shared state of a policy",
                {{"policy", key.ToString()},
                 {"error", std::string(loaded_records.status().message())}});
        return;  // its last decision keeps being answered
      }
      EnterDegraded(loaded_records.status(), now);
      Evaluate(loaded, st, now);
      return;
    }
    std::optional<PolicyRecord>& rec = loaded_records->front();
    if (rec.has_value()) {
      if (!st.evaluated_locally) {
        st.engine = std::move(rec->engine);
        st.history_since = rec->history_since;
      } else {
        // Decisions made here while the store was out of reach: keep both
        // histories, and the newer last decision.
        const absl::Time local_last =
            st.engine.recommendations.empty()
                ? absl::InfinitePast()
                : st.engine.recommendations.back().time;
        const absl::Time shared_last =
            rec->decision ? rec->decision->time : absl::InfinitePast();
        EngineState merged;
        merged.recommendations =
            Union(st.engine.recommendations, rec->engine.recommendations,
                  [](const Recommendation& x, const Recommendation& y) {
                    return x.time == y.time && x.replicas == y.replicas;
                  });
        merged.scale_events =
            Union(st.engine.scale_events, rec->engine.scale_events,
                  [](const ScaleEvent& x, const ScaleEvent& y) {
                    return x.time == y.time && x.from == y.from && x.to == y.to;
                  });
        merged.last_decision = local_last >= shared_last
                                   ? st.engine.last_decision
                                   : rec->engine.last_decision;
        merged.ever_had_reading =
            st.engine.ever_had_reading || rec->engine.ever_had_reading;
        st.engine = std::move(merged);
        st.history_since = std::min(st.history_since, rec->history_since);
      }
      st.sequence = std::max(st.sequence, rec->sequence);
    } else if (store_.shared()) {
      // A shared store that answers holds every history within its TTL:
      // none for this policy means none was lost (a new policy).
      st.engine.history_unknown = false;
    }
    st.synced = true;
  }

  std::shared_ptr<const Decision> shared = Run(loaded, st, now);
  if (shared == nullptr) return;

  if (!store_.shared() && members_.size() <= 1) {
    // One replica on a store of this process: nobody else reads the record
    // and it does not outlive the process, so saving it would only keep a
    // third copy of every window (hundreds of MB at 10,000 policies).
    st.sequence += 1;
    st.shared_time = now;
    st.evaluated_locally = false;
    st.local_until_fresh = false;
    Publish(key, st, std::move(shared), options_.replica_id);
    return;
  }
  PolicyRecord record;
  record.engine = st.engine;
  record.decision = shared;
  record.history_since = st.history_since;
  record.sequence = st.sequence + 1;
  record.evaluated_by = options_.replica_id;
  record.epoch = st.lease->epoch;
  const absl::Status saved =
      store_.Save(key, record, *st.lease, options_.record_ttl, Deadline());
  if (saved.ok()) {
    st.sequence = record.sequence;
    st.shared_time = now;
    st.evaluated_locally = false;
    st.local_until_fresh = false;
    Publish(key, st, std::move(shared), options_.replica_id);
    return;
  }
  if (absl::IsFailedPrecondition(saved)) {
    // Another replica holds the lease now: its decisions are the ones to
    // answer with; this one is dropped and the policy mirrored at once.
    LogWarn("lease lost", {{"policy", key.ToString()},
                           {"error", std::string(saved.message())}});
    st.lease.reset();
    st.synced = false;
    st.next_due = absl::InfinitePast();
    return;
  }
  // Unreachable: KEDA still gets this decision, then the replica goes on
  // locally.
  Publish(key, st, std::move(shared), options_.replica_id);
  st.evaluated_locally = true;
  if (Outage(saved)) {
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
    if (!Outage(records.status())) {
      LogWarn("cannot load shared decisions",
              {{"error", std::string(records.status().message())}});
      return;  // the last decisions keep being answered
    }
    EnterDegraded(records.status(), now);
    for (const PolicyKey& key : keys) {
      const LoadedPolicy* loaded = snap.Find(key);
      if (loaded != nullptr) Evaluate(*loaded, states_[key], now);
    }
    return;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    PolicyState& st = states_[keys[i]];
    std::optional<PolicyRecord>& rec = (*records)[i];
    const bool fresh =
        rec.has_value() && rec->decision != nullptr &&
        (!st.local_until_fresh || rec->decision->time > st.local_since);
    if (fresh) {
      st.local_until_fresh = false;
      // Never back: only a later decision (or a new lineage after the
      // record expired) replaces what this replica answers.
      if (rec->sequence > st.sequence || rec->decision->time > st.shared_time) {
        st.sequence = rec->sequence;
        st.shared_time = rec->decision->time;
        st.engine.last_decision = rec->decision->replicas;
        st.engine.ever_had_reading = true;
        st.engine.scale_events = rec->engine.scale_events;
        Publish(keys[i], st, rec->decision, rec->evaluated_by);
      }
    } else if (st.local_until_fresh) {
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
  for (auto& [key, st] : states_) {
    // A history restarts here: Decide() seeds its scale-down window with the
    // current count (the last decision known), so nothing scales down until
    // a whole window of local recommendations exists.
    EngineState local = UnknownHistory();
    local.last_decision = st.published >= 0
                              ? std::optional<int64_t>(st.published)
                              : st.engine.last_decision;
    local.ever_had_reading =
        st.engine.ever_had_reading || local.last_decision.has_value();
    // No recommendation: Decide() seeds the window with the current count
    // (the replicas source's, else this last decision), as after a restart.
    // Rate periods go on: the events are facts, whoever recorded them.
    local.scale_events = std::move(st.engine.scale_events);
    st.engine = std::move(local);
    st.history_since = now;
    st.lease.reset();
    st.synced = false;
    st.evaluated_locally = true;
    st.local_until_fresh = false;
  }
}

void Evaluator::LeaveDegraded(absl::Time now) {
  degraded_ = false;
  degraded_why_.clear();
  LogInfo("state store reachable again: shared decisions resume",
          {{"store", std::string(store_.kind())},
           {"after", absl::FormatDuration(now - degraded_since_)}});
  for (auto& [key, st] : states_) {
    // Answer with local decisions until the holder saved one made from
    // now on (its history then holds ours): no jump back to the decision
    // saved before the outage.
    st.local_until_fresh = true;
    st.local_since = now;
  }
}

void Evaluator::Housekeep(const PolicySnapshot& snap, absl::Time now) {
  next_housekeeping_ = now + HousekeepEvery();
  absl::StatusOr<std::vector<std::string>> members =
      store_.Heartbeat(options_.replica_id, LeaseTtl(), Deadline());
  if (!members.ok()) {
    if (Outage(members.status())) {
      EnterDegraded(members.status(), now);
    } else {
      LogWarn("state store heartbeat failed",
              {{"error", std::string(members.status().message())}});
    }
    return;
  }
  if (degraded_) LeaveDegraded(now);
  members_ = *std::move(members);
  absl::flat_hash_map<std::string, absl::Time> since;
  for (const std::string& m : members_) {
    auto it = member_since_.find(m);
    since[m] = it == member_since_.end() ? now : it->second;
  }
  member_since_ = std::move(since);

  for (const LoadedPolicy& loaded : snap.policies()) {
    const PolicyKey key = KeyOf(loaded.policy);
    PolicyState& st = states_[key];
    if (st.first_seen == absl::InfinitePast()) st.first_seen = now;
    const std::string preferred = PreferredReplica(key, members_);
    bool orphan = false;
    if (preferred != options_.replica_id) {
      if (Holds(st, now)) {
        // Spread: hand the lease to its preferred replica once that one has
        // been alive a whole lease period (not to one flapping), unless this
        // replica took the policy as an orphan lately.
        const bool stable =
            member_since_[preferred] + options_.lease_period <= now;
        const bool took_lately =
            st.orphan_taken + 5 * options_.lease_period > now;
        if (stable && !took_lately) {
          const absl::Status released =
              store_.Release(key, *st.lease, Deadline());
          if (Outage(released)) {
            EnterDegraded(released, now);
            return;
          }
          LogDebug("lease handed over",
                   {{"policy", key.ToString()}, {"to", preferred}});
          st.lease.reset();
          st.synced = false;
          continue;
        }
      } else {
        // Nobody decided for a while although the policy has been served
        // here a lease period (its preferred replica may not have loaded
        // it yet): take it.
        const absl::Duration stale_after =
            options_.lease_period +
            2 * EvaluationInterval(loaded.policy.spec());
        orphan = now - st.first_seen >= options_.lease_period &&
                 (st.shared_time == absl::InfinitePast() ||
                  now - st.shared_time > stale_after);
        if (!orphan) continue;
      }
    }
    absl::StatusOr<Lease> lease =
        store_.AcquireOrRenew(key, options_.replica_id, LeaseTtl(), Deadline());
    if (!lease.ok()) {
      if (Outage(lease.status())) {
        EnterDegraded(lease.status(), now);
        return;
      }
      LogWarn("cannot acquire a lease",
              {{"policy", key.ToString()},
               {"error", std::string(lease.status().message())}});
      continue;
    }
    if (lease->holder == options_.replica_id) {
      if (!st.lease.has_value() || st.lease->epoch != lease->epoch) {
        LogDebug("lease acquired", {{"policy", key.ToString()},
                                    {"epoch", absl::StrCat(lease->epoch)},
                                    {"orphan", orphan ? "true" : "false"}});
        st.synced = false;
        st.next_due = absl::InfinitePast();
        if (orphan) st.orphan_taken = now;
      }
      st.lease = *std::move(lease);
    } else if (st.lease.has_value()) {
      st.lease.reset();
      st.synced = false;
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
    if (!degraded_ && Holds(it->second, now)) {
      store_.Release(it->first, *it->second.lease, Deadline())
          .IgnoreError();  // the lease expires by itself anyway
    }
    Metrics::Get().ForgetPolicy(it->first.ns, it->first.name);
    states_.erase(it++);
  }
}

void Evaluator::EvaluateDue() {
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  const absl::Time now = clock_.Now();
  absl::flat_hash_set<PolicyKey> saved;
  {
    std::lock_guard<std::mutex> lock(saved_mu_);
    saved.swap(saved_);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (snap != last_snapshot_) {
    // New policies (a reload): only then are specs compared and removed
    // policies forgotten, not on every tick.
    absl::flat_hash_set<PolicyKey> live;
    for (const LoadedPolicy& loaded : snap->policies()) {
      const PolicyKey key = KeyOf(loaded.policy);
      live.insert(key);
      PolicyState& st = states_[key];
      if (st.first_seen == absl::InfinitePast()) st.first_seen = now;
      std::string fingerprint = loaded.policy.spec().SerializeAsString();
      if (fingerprint != st.fingerprint) {
        // A changed spec (reload) is evaluated at once; its history is
        // kept: it is about the service's replicas, which did not change.
        st.fingerprint = std::move(fingerprint);
        st.next_due = absl::InfinitePast();
      }
    }
    ForgetRemoved(live, now);
    board_.RetainOnly(live);
    last_snapshot_ = snap;
  }
  // Another replica saved a decision of a policy mirrored here: load it now
  // rather than at the next interval.
  for (const PolicyKey& key : saved) {
    auto it = states_.find(key);
    if (it != states_.end() && !Holds(it->second, now)) {
      it->second.next_due = absl::InfinitePast();
    }
  }
  if (now >= next_housekeeping_) Housekeep(*snap, now);

  std::vector<PolicyKey> mirrored;
  for (const LoadedPolicy& loaded : snap->policies()) {
    const PolicyKey key = KeyOf(loaded.policy);
    PolicyState& st = states_[key];
    if (now < st.next_due) continue;
    st.next_due = now + EvaluationInterval(loaded.policy.spec());
    if (degraded_ || Holds(st, now)) {
      Evaluate(loaded, st, now);
    } else {
      mirrored.push_back(key);
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
  std::lock_guard<std::mutex> lock(mu_);
  if (now >= next_housekeeping_) Housekeep(*snap, now);
  PolicyState& st = states_[key];
  if (st.first_seen == absl::InfinitePast()) st.first_seen = now;
  if (degraded_ || st.local_until_fresh || Holds(st, now)) {
    Evaluate(*loaded, st, now);
  }
  // Otherwise another replica evaluates it, and this one mirrors it.
  return absl::OkStatus();
}

void Evaluator::ExportStatus() {
  StateStatus s;
  const absl::Time now = clock_.Now();
  for (const auto& [key, st] : states_) {
    if (Holds(st, now)) ++s.leases_held;
  }
  Metrics::Get().SetStateStatus(store_.kind(), degraded_, s.leases_held,
                                members_.size());
}

StateStatus Evaluator::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  StateStatus s;
  s.kind = std::string(store_.kind());
  s.degraded = degraded_;
  s.why = degraded_why_;
  s.replicas_alive = members_.size();
  const absl::Time now = clock_.Now();
  for (const auto& [key, st] : states_) {
    if (Holds(st, now)) ++s.leases_held;
  }
  return s;
}

bool Evaluator::HoldsLease(const PolicyKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(key);
  return it != states_.end() && Holds(it->second, clock_.Now());
}

void Evaluator::Start(absl::Duration tick) {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (thread_ != nullptr) return;
    stopping_ = false;
  }
  thread_ = std::make_unique<std::thread>([this, tick] {
    while (true) {
      EvaluateDue();
      std::unique_lock<std::mutex> lock(run_mu_);
      if (run_cv_.wait_for(lock, absl::ToChronoNanoseconds(tick),
                           [this] { return stopping_ || wake_; })) {
        if (stopping_) return;
        // Woken by saves elsewhere: let a burst of them gather (50 ms) so
        // that a busy fleet does not make this loop spin.
        if (run_cv_.wait_for(lock, std::chrono::milliseconds(50),
                             [this] { return stopping_; })) {
          return;
        }
      }
      wake_ = false;
    }
  });
}

void Evaluator::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (thread_ == nullptr) return;
    stopping_ = true;
  }
  run_cv_.notify_all();
  thread_->join();
  thread_.reset();
}

}  // namespace signalscaler
