#include "scaler/server/lease_keeper.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "scaler/common/log.h"

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
    if (best.empty() || score > best_score ||
        (score == best_score && r < best)) {
      best = r;
      best_score = score;
    }
  }
  return best;
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

absl::Status LeaseKeeper::Heartbeat(absl::Time now) {
  next_upkeep_ = now + lease_period_ * 0.2;
  absl::StatusOr<std::vector<std::string>> members =
      store_.Heartbeat(replica_id_, LeaseTtl(), Deadline());
  if (!members.ok()) return members.status();
  members_ = *std::move(members);
  absl::flat_hash_map<std::string, absl::Time> since;
  for (const std::string& m : members_) {
    auto it = member_since_.find(m);
    since[m] = it == member_since_.end() ? now : it->second;
  }
  member_since_ = std::move(since);
  return absl::OkStatus();
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

absl::StatusOr<LeaseChange> LeaseKeeper::Upkeep(const PolicyKey& key,
                                                LeaseSlot& slot,
                                                absl::Time last_shared,
                                                absl::Duration interval,
                                                absl::Time now) {
  const std::string preferred = PreferredReplica(key, members_);
  bool orphan = false;
  if (preferred != replica_id_) {
    if (Holds(slot, now)) {
      if (ShouldHandOver(slot, preferred, now)) {
        const absl::Status released =
            store_.Release(key, *slot.lease, Deadline());
        if (IsStoreOutage(released)) return released;
        LogDebug("lease handed over",
                 {{"policy", key.ToString()}, {"to", preferred}});
        slot.lease.reset();
        return LeaseChange::kGone;
      }
    } else {
      orphan = IsOrphan(slot, last_shared, interval, now);
      if (!orphan) return LeaseChange::kNone;
    }
  }
  return AcquireOrRenew(key, slot, orphan, now);
}

absl::StatusOr<LeaseChange> LeaseKeeper::AcquireOrRenew(const PolicyKey& key,
                                                        LeaseSlot& slot,
                                                        bool orphan,
                                                        absl::Time now) {
  absl::StatusOr<Lease> lease =
      store_.AcquireOrRenew(key, replica_id_, LeaseTtl(), Deadline());
  if (!lease.ok()) {
    if (IsStoreOutage(lease.status())) return lease.status();
    LogWarn("cannot acquire a lease",
            {{"policy", key.ToString()},
             {"error", std::string(lease.status().message())}});
    return LeaseChange::kNone;
  }
  if (lease->holder != replica_id_) {
    if (!slot.lease.has_value()) return LeaseChange::kNone;
    slot.lease.reset();
    return LeaseChange::kGone;
  }
  const bool taken =
      !slot.lease.has_value() || slot.lease->epoch != lease->epoch;
  if (taken) {
    LogDebug("lease acquired", {{"policy", key.ToString()},
                                {"epoch", absl::StrCat(lease->epoch)},
                                {"orphan", orphan ? "true" : "false"}});
    if (orphan) slot.orphan_taken = now;
  }
  slot.lease = *std::move(lease);
  return taken ? LeaseChange::kTaken : LeaseChange::kNone;
}

void LeaseKeeper::Release(const PolicyKey& key, const LeaseSlot& slot,
                          absl::Time now) {
  if (!Holds(slot, now)) return;
  store_.Release(key, *slot.lease, Deadline())
      .IgnoreError();  // the lease expires by itself anyway
}

}  // namespace signalscaler
