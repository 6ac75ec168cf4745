// MakeMemoryStateStore(): the StateStore of one process. With one replica
// (the embedded default) its leases are always this replica's; several
// evaluators of one process (tests, the simulator) may share it and then see
// the same lease, fencing and membership semantics as with Redis, on the
// store's Clock.
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
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
    const absl::Time now = clock_.Now();
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

  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                       const std::string& replica,
                                       absl::Duration ttl,
                                       absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
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

  absl::Status Release(const PolicyKey& key, const Lease& lease,
                       absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    const Held* held = Current(key, clock_.Now());
    if (held != nullptr && held->holder == lease.holder &&
        held->epoch == lease.epoch) {
      leases_.erase(key);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration ttl,
      absl::Time /*deadline*/) override {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    members_[replica] = now + ttl;
    std::vector<std::string> alive;
    for (auto it = members_.begin(); it != members_.end();) {
      if (it->second <= now) {
        it = members_.erase(it);
      } else {
        alive.push_back(it->first);
        ++it;
      }
    }
    return alive;  // a std::map: sorted
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

  // The lease in force at `now`, or null.
  const Held* Current(const PolicyKey& key, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = leases_.find(key);
    if (it == leases_.end() || it->second.expires <= now) return nullptr;
    return &it->second;
  }

  const Clock& clock_;
  absl::Mutex mu_;
  std::map<PolicyKey, Stored> records_ ABSL_GUARDED_BY(mu_);
  std::map<PolicyKey, Held> leases_ ABSL_GUARDED_BY(mu_);
  std::map<PolicyKey, uint64_t> epochs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> members_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<StateStore> MakeMemoryStateStore(const Clock& clock) {
  return std::make_unique<MemoryStateStore>(clock);
}

}  // namespace signalscaler
