#include "scaler/server/lease_keeper.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "scaler/common/log.h"

namespace signalscaler {
namespace {

// FNV-1a, then a splitmix64 finalizer: stable across processes and builds
// (absl::Hash is salted per process, so replicas would disagree).
uint64_t Fnv(uint64_t h, absl::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}
uint64_t Finish(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}
constexpr uint64_t kFnvBasis = 1469598103934665603ULL;

uint64_t StableHash(absl::string_view a, absl::string_view b) {
  return Finish(Fnv(Fnv(Fnv(kFnvBasis, a), absl::string_view("\0", 1)), b));
}

// A policy's id ("ns/name") as announced sets hold it.
uint64_t PolicyHash(absl::string_view name) {
  return Finish(Fnv(kFnvBasis, name));
}

// Fnv over key.ToString() ("ns/name"), without making that string: the
// state PolicyHash and StableHash(key.ToString(), r) both start from.
uint64_t FnvOfId(const PolicyKey& key) {
  return Fnv(Fnv(Fnv(kFnvBasis, key.ns), "/"), key.name);
}

// Whether `r` (score `score`) beats the best so far.
bool Better(const std::string& r, uint64_t score, const std::string& best,
            uint64_t best_score) {
  return best.empty() || score > best_score ||
         (score == best_score && r < best);
}

}  // namespace

bool IsStoreOutage(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsUnauthenticated(s);
}

std::string PreferredReplica(const PolicyKey& key,
                             const std::vector<std::string>& replicas) {
  const std::string name = key.ToString();
  std::string best;
  uint64_t best_score = 0;
  for (const std::string& r : replicas) {
    const uint64_t score = StableHash(name, r);
    if (Better(r, score, best, best_score)) {
      best = r;
      best_score = score;
    }
  }
  return best;
}

void HeartbeatCall::Exchange(StateStore& store, const Clock& clock) {
  members_ = store.Announce(replica_, serves_, ttl_, clock.Now() + timeout_);
}

void LeaseBatch::AddRelease(const PolicyKey& key, const Lease& lease) {
  requests_.push_back(LeaseRequest{key, lease});
  task_.push_back(kNoTask);
  orphan_.push_back(false);
}

void LeaseBatch::Exchange(StateStore& store, const Clock& clock) {
  if (requests_.empty()) {
    outcomes_ = std::vector<LeaseOutcome>();
    return;
  }
  outcomes_ =
      store.UpkeepLeases(requests_, replica_, ttl_, clock.Now() + timeout_);
}

LeaseKeeper::LeaseKeeper(StateStore& store, const Clock& clock,
                         std::string replica_id, absl::Duration lease_period,
                         absl::Duration store_timeout)
    : store_(store),
      clock_(clock),
      replica_id_(std::move(replica_id)),
      lease_period_(lease_period),
      store_timeout_(store_timeout) {}

bool LeaseKeeper::Holds(const LeaseSlot& slot, absl::Time now) const {
  return slot.lease.has_value() && slot.lease->holder == replica_id_ &&
         now < slot.lease->valid_until;
}

void LeaseKeeper::SetServed(const std::vector<PolicyKey>& keys) {
  std::vector<std::string> names;
  names.reserve(keys.size());
  for (const PolicyKey& k : keys) names.push_back(k.ToString());
  std::sort(names.begin(), names.end());
  std::string bytes;
  for (const std::string& n : names) absl::StrAppend(&bytes, n, "\n");
  if (serves_ != nullptr && *serves_ == bytes) return;
  auto own = std::make_shared<ServedIndex>();
  for (const std::string& n : names) own->insert(PolicyHash(n));
  own_ = std::move(own);
  serves_ = std::make_shared<const std::string>(std::move(bytes));
}

HeartbeatCall LeaseKeeper::BeginHeartbeat(absl::Time now) {
  next_upkeep_ = now + lease_period_ * 0.2;
  HeartbeatCall call;
  call.replica_ = replica_id_;
  call.serves_ = serves_;
  call.ttl_ = LeaseTtl();
  call.timeout_ = store_timeout_;
  return call;
}

absl::Status LeaseKeeper::FinishHeartbeat(HeartbeatCall& call, absl::Time now) {
  if (!call.members_.ok()) return call.members_.status();
  std::vector<std::string> members;
  absl::flat_hash_map<std::string, absl::Time> since;
  absl::flat_hash_map<std::string, Known> known;
  for (LiveReplica& m : *call.members_) {
    auto it = member_since_.find(m.id);
    since[m.id] = it == member_since_.end() ? now : it->second;
    if (m.serves != nullptr && m.id != replica_id_) {
      Known& k = known[m.id];
      auto old = known_.find(m.id);
      if (old != known_.end() && old->second.bytes != nullptr &&
          (old->second.bytes == m.serves || *old->second.bytes == *m.serves)) {
        k = std::move(old->second);
      } else {
        auto index = std::make_shared<ServedIndex>();
        for (absl::string_view line :
             absl::StrSplit(*m.serves, '\n', absl::SkipEmpty())) {
          index->insert(PolicyHash(line));
        }
        k.index = std::move(index);
      }
      k.bytes = std::move(m.serves);
    }
    members.push_back(std::move(m.id));
  }
  members_ = std::move(members);
  member_since_ = std::move(since);
  known_ = std::move(known);
  return absl::OkStatus();
}

absl::Status LeaseKeeper::Heartbeat(absl::Time now) {
  HeartbeatCall call = BeginHeartbeat(now);
  call.Exchange(store_, clock_);
  return FinishHeartbeat(call, now);
}

const std::string* LeaseKeeper::PreferredOf(const PolicyKey& key) const {
  // As PolicyHash(id) and StableHash(id, r) for id = key.ToString().
  const uint64_t id_state = FnvOfId(key);
  const uint64_t hash = Finish(id_state);
  const uint64_t with_separator = Fnv(id_state, absl::string_view("\0", 1));
  const std::string* best = nullptr;
  uint64_t best_score = 0;
  for (const std::string& r : members_) {
    const ServedIndex* serves = nullptr;  // null: every policy
    if (r == replica_id_) {
      serves = own_.get();
    } else if (auto k = known_.find(r); k != known_.end()) {
      serves = k->second.index.get();
    }
    if (serves != nullptr && !serves->contains(hash)) {
      continue;  // it does not serve this policy
    }
    const uint64_t score = Finish(Fnv(with_separator, r));
    // As Better(): the highest score, the lower name on a tie.
    if (best == nullptr || score > best_score ||
        (score == best_score && r < *best)) {
      best = &r;
      best_score = score;
    }
  }
  return best;
}

std::string LeaseKeeper::Preferred(const PolicyKey& key) const {
  const std::string* preferred = PreferredOf(key);
  return preferred == nullptr ? std::string() : *preferred;
}

bool LeaseKeeper::ShouldHandOver(const LeaseSlot& slot,
                                 const std::string& preferred,
                                 absl::Time now) const {
  // Once the preferred replica has been alive a whole lease period (not to
  // one flapping), unless this replica took the policy as an orphan lately.
  auto it = member_since_.find(preferred);
  const absl::Time since = it == member_since_.end() ? now : it->second;
  const bool stable = since + lease_period_ <= now;
  const bool took_lately = slot.orphan_taken + 5 * lease_period_ > now;
  return stable && !took_lately;
}

bool LeaseKeeper::IsOrphan(const LeaseSlot& slot, absl::Time last_shared,
                           absl::Duration interval, absl::Time now) const {
  // Nobody decided for a while although the policy has been served here a
  // lease period (its preferred replica may not have loaded it yet).
  const absl::Duration stale_after = lease_period_ + 2 * interval;
  return now - slot.first_seen >= lease_period_ &&
         (last_shared == absl::InfinitePast() ||
          now - last_shared > stale_after);
}

LeaseBatch LeaseKeeper::Plan(absl::Span<const LeaseTask> tasks,
                             absl::Time now) const {
  LeaseBatch batch;
  batch.replica_ = replica_id_;
  batch.ttl_ = LeaseTtl();
  batch.timeout_ = store_timeout_;
  batch.requests_.reserve(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const LeaseTask& t = tasks[i];
    const std::string* preferred = PreferredOf(t.key);
    bool orphan = false;
    if (preferred == nullptr || *preferred != replica_id_) {
      if (Holds(t.slot, now)) {
        if (preferred != nullptr && ShouldHandOver(t.slot, *preferred, now)) {
          batch.requests_.push_back(LeaseRequest{t.key, *t.slot.lease});
          batch.task_.push_back(i);
          batch.orphan_.push_back(false);
          continue;
        }
      } else {
        orphan = IsOrphan(t.slot, t.last_shared, t.interval, now);
        if (!orphan) continue;
      }
    }
    batch.requests_.push_back(LeaseRequest{t.key, std::nullopt});
    batch.task_.push_back(i);
    batch.orphan_.push_back(orphan);
  }
  return batch;
}

LeaseChange LeaseKeeper::Acquired(LeaseTask& task, const Lease& lease,
                                  bool orphan, absl::Time now) const {
  LeaseSlot& slot = task.slot;
  if (lease.holder != replica_id_) {
    if (!slot.lease.has_value()) return LeaseChange::kNone;
    slot.lease.reset();
    return LeaseChange::kGone;
  }
  const bool taken =
      !slot.lease.has_value() || slot.lease->epoch != lease.epoch;
  if (taken) {
    LogDebug("lease acquired", {{"policy", task.key.ToString()},
                                {"epoch", absl::StrCat(lease.epoch)},
                                {"orphan", orphan ? "true" : "false"}});
    if (orphan) slot.orphan_taken = now;
  }
  slot.lease = lease;
  return taken ? LeaseChange::kTaken : LeaseChange::kNone;
}

absl::Status LeaseKeeper::Apply(absl::Span<LeaseTask> tasks,
                                const LeaseBatch& batch, absl::Time now) {
  for (LeaseTask& t : tasks) t.change = LeaseChange::kNone;
  if (!batch.outcomes_.ok()) {
    if (IsStoreOutage(batch.outcomes_.status()))
      return batch.outcomes_.status();
    LogWarn("cannot keep the leases",
            {{"error", std::string(batch.outcomes_.status().message())}});
    return absl::OkStatus();
  }
  const std::vector<LeaseOutcome>& outcomes = *batch.outcomes_;
  for (const LeaseOutcome& o : outcomes) {
    if (IsStoreOutage(o.status)) return o.status;
  }
  for (size_t j = 0; j < outcomes.size() && j < batch.requests_.size(); ++j) {
    if (batch.task_[j] == LeaseBatch::kNoTask) continue;  // a removed one's
    LeaseTask& t = tasks[batch.task_[j]];
    const LeaseOutcome& o = outcomes[j];
    if (batch.requests_[j].release.has_value()) {
      // Handed over (a failed release expires by itself).
      LogDebug("lease handed over",
               {{"policy", t.key.ToString()}, {"to", Preferred(t.key)}});
      t.slot.lease.reset();
      t.change = LeaseChange::kGone;
    } else if (!o.status.ok()) {
      LogWarn("cannot acquire a lease",
              {{"policy", t.key.ToString()},
               {"error", std::string(o.status.message())}});
    } else {
      t.change = Acquired(t, o.lease, batch.orphan_[j], now);
    }
  }
  return absl::OkStatus();
}

absl::Status LeaseKeeper::UpkeepAll(absl::Span<LeaseTask> tasks,
                                    absl::Time now) {
  LeaseBatch batch = Plan(tasks, now);
  batch.Exchange(store_, clock_);
  return Apply(tasks, batch, now);
}

absl::StatusOr<LeaseChange> LeaseKeeper::Upkeep(const PolicyKey& key,
                                                LeaseSlot& slot,
                                                absl::Time last_shared,
                                                absl::Duration interval,
                                                absl::Time now) {
  LeaseTask task{key, slot, last_shared, interval, LeaseChange::kNone};
  const absl::Status s = UpkeepAll(absl::MakeSpan(&task, 1), now);
  if (!s.ok()) return s;
  slot = std::move(task.slot);
  return task.change;
}

}  // namespace signalscaler
