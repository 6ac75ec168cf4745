// MakeMemoryStateStore(): the one-replica StateStore, a map in this process.
#include <map>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "scaler/state/state_store.h"

namespace signalscaler {
namespace {

class MemoryStateStore final : public StateStore {
 public:
  absl::string_view kind() const override { return "memory"; }
  bool shared() const override { return false; }

  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey> keys, absl::Time /*deadline*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::optional<PolicyRecord>> out;
    out.reserve(keys.size());
    for (const PolicyKey& key : keys) {
      auto it = records_.find(key);
      if (it == records_.end()) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(it->second);
      }
    }
    return out;
  }

  absl::Status Save(const PolicyKey& key, const PolicyRecord& record,
                    const Lease& lease, absl::Duration /*ttl*/,
                    absl::Time /*deadline*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leases_.find(key);
    if (it == leases_.end() || it->second.holder != lease.holder ||
        it->second.epoch != lease.epoch) {
      return absl::FailedPreconditionError(
          absl::StrCat("lease of ", key.ToString(), " lost"));
    }
    records_[key] = record;
    return absl::OkStatus();
  }

  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                       const std::string& replica,
                                       absl::Duration /*ttl*/,
                                       absl::Time /*deadline*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    Lease& lease = leases_[key];
    if (lease.holder != replica) {
      lease.holder = replica;
      lease.epoch = ++epochs_[key];
    }
    // No other replica can take it: it never runs out.
    lease.valid_until = absl::InfiniteFuture();
    return lease;
  }

  absl::Status Release(const PolicyKey& key, const Lease& lease,
                       absl::Time /*deadline*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leases_.find(key);
    if (it != leases_.end() && it->second.holder == lease.holder &&
        it->second.epoch == lease.epoch) {
      leases_.erase(it);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration /*ttl*/,
      absl::Time /*deadline*/) override {
    return std::vector<std::string>{replica};
  }

  void Watch(std::function<void(const PolicyKey&)> /*on_saved*/) override {
    // Nobody else saves: nothing to tell.
  }

 private:
  std::mutex mu_;
  std::map<PolicyKey, PolicyRecord> records_ ABSL_GUARDED_BY(mu_);
  std::map<PolicyKey, Lease> leases_ ABSL_GUARDED_BY(mu_);
  std::map<PolicyKey, uint64_t> epochs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<StateStore> MakeMemoryStateStore() {
  return std::make_unique<MemoryStateStore>();
}

}  // namespace signalscaler
