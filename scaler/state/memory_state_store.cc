// MakeMemoryStateStore(): the StateStore of one process. With one replica
// (the embedded default) its leases are always this replica's; several
// evaluators of one process (tests, the simulator) may share it and then see
// the same lease, fencing and membership semantics as with Redis, on the
// store's Clock.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "scaler/state/state_store.h"

namespace signalscaler {
namespace {

class MemoryStateStore final : public StateStore {
 public:
  explicit MemoryStateStore(const Clock& clock) : clock_(clock) {}

  absl::string_view kind() const override { return "memory"; }
  bool shared() const override { return false; }

  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey> keys, absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    std::vector<std::optional<PolicyRecord>> out;
    out.reserve(keys.size());
    for (const PolicyKey& key : keys) {
      auto it = records_.find(key);
      if (it == records_.end() || it->second.expires <= now) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(it->second.record);
      }
    }
    return out;
  }

  absl::Status Save(const PolicyKey& key, const PolicyRecord& record,
                    const Lease& lease, absl::Duration ttl,
                    absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    return SaveLocked(key, record, lease, ttl, clock_.Now());
  }

  absl::StatusOr<std::vector<absl::Status>> SaveMany(
      absl::Span<const SaveRequest> requests, absl::Duration ttl,
      absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    std::vector<absl::Status> out;
    out.reserve(requests.size());
    for (const SaveRequest& r : requests) {
      out.push_back(SaveLocked(r.key, *r.record, r.lease, ttl, now));
    }
    return out;
  }

  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                       const std::string& replica,
                                       absl::Duration ttl,
                                       absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    return AcquireLocked(key, replica, ttl, clock_.Now());
  }

  absl::Status Release(const PolicyKey& key, const Lease& lease,
                       absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    ReleaseLocked(key, lease, clock_.Now());
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<LeaseOutcome>> UpkeepLeases(
      absl::Span<const LeaseRequest> requests, const std::string& replica,
      absl::Duration ttl, absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    std::vector<LeaseOutcome> out(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      if (requests[i].release.has_value()) {
        ReleaseLocked(requests[i].key, *requests[i].release, now);
      } else {
        out[i].lease = AcquireLocked(requests[i].key, replica, ttl, now);
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration ttl,
      absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> alive;
    for (const auto& [id, member] : BeatLocked(replica, ttl, clock_.Now())) {
      alive.push_back(id);
    }
    return alive;  // a std::map: sorted
  }

  absl::StatusOr<std::vector<LiveReplica>> Announce(
      const std::string& replica, std::shared_ptr<const std::string> serves,
      absl::Duration ttl, absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    const std::map<std::string, Member>& members =
        BeatLocked(replica, ttl, clock_.Now());
    // One copy per distinct announcement.
    if (serves != nullptr) {
      for (const auto& [id, member] : members) {
        if (member.serves != nullptr && *member.serves == *serves) {
          serves = member.serves;
          break;
        }
      }
    }
    members_[replica].serves = std::move(serves);
    std::vector<LiveReplica> alive;
    for (const auto& [id, member] : members) {
      alive.push_back(LiveReplica{id, member.serves});
    }
    return alive;
  }

  void Watch(std::function<void(const PolicyKey&)> /*on_saved*/) override {
    // Readers in this process poll; a notification is only an optimization.
  }

 private:
  struct Held {
    std::string holder;
    uint64_t epoch = 0;
    absl::Time expires;
  };
  struct Stored {
    PolicyRecord record;
    absl::Time expires;
  };
  struct Member {
    absl::Time expires;
    std::shared_ptr<const std::string> serves;  // as last announced
  };

  absl::Status SaveLocked(const PolicyKey& key, const PolicyRecord& record,
                          const Lease& lease, absl::Duration ttl,
                          absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Held* held = Current(key, now);
    if (held == nullptr || held->holder != lease.holder ||
        held->epoch != lease.epoch) {
      return absl::FailedPreconditionError(
          absl::StrCat("lease of ", key.ToString(), " lost: held by ",
                       held == nullptr ? std::string("nobody") : held->holder));
    }
    records_[key] = Stored{record, now + ttl};
    return absl::OkStatus();
  }

  Lease AcquireLocked(const PolicyKey& key, const std::string& replica,
                      absl::Duration ttl, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Held* current = Current(key, now);
    Lease out;
    if (current != nullptr && current->holder != replica) {
      out.holder = current->holder;
      out.epoch = current->epoch;
      return out;  // valid_until stays in the past: not ours
    }
    Held& held = leases_[key];
    if (current == nullptr) {
      held.holder = replica;
      held.epoch = ++epochs_[key];
    }
    held.expires = now + ttl;
    out.holder = held.holder;
    out.epoch = held.epoch;
    out.valid_until = held.expires;
    return out;
  }

  void ReleaseLocked(const PolicyKey& key, const Lease& lease, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Held* held = Current(key, now);
    if (held != nullptr && held->holder == lease.holder &&
        held->epoch == lease.epoch) {
      leases_.erase(key);
    }
  }

  // `replica` alive until now + ttl; the members still alive.
  const std::map<std::string, Member>& BeatLocked(const std::string& replica,
                                                  absl::Duration ttl,
                                                  absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    members_[replica].expires = now + ttl;
    for (auto it = members_.begin(); it != members_.end();) {
      if (it->second.expires <= now) {
        it = members_.erase(it);
      } else {
        ++it;
      }
    }
    return members_;
  }

  // The lease in force at `now`, or null.
  const Held* Current(const PolicyKey& key, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = leases_.find(key);
    if (it == leases_.end() || it->second.expires <= now) return nullptr;
    return &it->second;
  }

  const Clock& clock_;
  absl::Mutex mu_;
  // Hashed: the upkeep of 10,000 leases every 2 s compared keys' strings
  // some 14 times per lookup in ordered maps.
  absl::flat_hash_map<PolicyKey, Stored> records_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<PolicyKey, Held> leases_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<PolicyKey, uint64_t> epochs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Member> members_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<StateStore> MakeMemoryStateStore(const Clock& clock) {
  return std::make_unique<MemoryStateStore>(clock);
}

}  // namespace signalscaler
