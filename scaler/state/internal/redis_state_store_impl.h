// The Redis StateStore's class, for its two files: redis_state_store.cc
// (one policy per call, and Load) and internal/redis_state_batch.cc (the
// calls that do many at once: UpkeepLeases, SaveMany, Announce). Everyone
// else makes one with MakeRedisStateStore (redis_state_store.h).
#ifndef SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_STATE_STORE_IMPL_H_
#define SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_STATE_STORE_IMPL_H_

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "scaler/common/clock.h"
#include "scaler/state/internal/redis_scripts.h"
#include "scaler/state/internal/save_watcher.h"
#include "scaler/state/internal/served_sets.h"
#include "scaler/state/internal/shared_redis_connection.h"
#include "scaler/state/redis_state_store.h"
#include "scaler/state/state_store.h"
#include "sources/redis/client/redis_cluster.h"
#include "sources/redis/client/redis_connection.h"

namespace signalscaler::state_internal {

// "<what>: <message>", same code: every error says which call it was.
absl::Status Context(const absl::Status& status, absl::string_view what);
// A TTL as whole milliseconds (rounded up), as PX and PEXPIRE take them;
// INVALID_ARGUMENT naming `what` unless positive and finite.
absl::StatusOr<std::string> TtlMs(absl::Duration ttl, absl::string_view what);

class RedisStateStoreImpl final : public StateStore {
 public:
  RedisStateStoreImpl(RedisStateStoreOptions options, const Clock& clock);

  absl::string_view kind() const override { return "redis"; }
  bool shared() const override { return true; }

  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey> keys, absl::Time deadline) override;
  absl::Status Save(const PolicyKey& key, const PolicyRecord& record,
                    const Lease& lease, absl::Duration ttl,
                    absl::Time deadline) override;
  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                       const std::string& replica,
                                       absl::Duration ttl,
                                       absl::Time deadline) override;
  absl::Status Release(const PolicyKey& key, const Lease& lease,
                       absl::Time deadline) override;
  absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration ttl,
      absl::Time deadline) override;
  absl::StatusOr<std::vector<LeaseOutcome>> UpkeepLeases(
      absl::Span<const LeaseRequest> requests, const std::string& replica,
      absl::Duration ttl, absl::Time deadline) override;
  absl::StatusOr<std::vector<absl::Status>> SaveMany(
      absl::Span<const SaveRequest> requests, absl::Duration ttl,
      absl::Time deadline) override;
  absl::StatusOr<std::vector<LiveReplica>> Announce(
      const std::string& replica, std::shared_ptr<const std::string> serves,
      absl::Duration ttl, absl::Time deadline) override;
  void Watch(std::function<void(const PolicyKey&)> on_saved) override;

 private:
  // The save script's reply: OK, or FAILED_PRECONDITION saying who holds
  // the lease now.
  absl::Status SaveOutcome(const redisReply& r, const PolicyKey& key,
                           const Lease& lease, const std::string& name,
                           const std::string& what) const;
  // The acquire script's reply: the lease in force, ours until `sent + ttl`.
  absl::StatusOr<Lease> LeaseOutcomeOf(const redisReply& r,
                                       const std::string& replica,
                                       absl::Time sent, absl::Duration ttl,
                                       const std::string& name,
                                       const std::string& what) const;
  // The heartbeat script's reply: the members alive, sorted.
  absl::StatusOr<std::vector<std::string>> MembersOf(
      const redisReply& r, const std::string& what) const;
  // The records of `keys` by pipelined GETs (all sent, then all read; on a
  // cluster, per node), appended to `out`.
  absl::Status LoadPipelined(RedisCluster& connection,
                             absl::Span<const PolicyKey> keys,
                             absl::Time deadline,
                             std::vector<std::optional<PolicyRecord>>& out);
  // One GET reply of a Load: the record, nullopt, or a failure of the call.
  absl::StatusOr<std::optional<PolicyRecord>> RecordFrom(
      const redisReply& reply, const PolicyKey& key, const std::string& name);
  void WarnOnce(const PolicyKey& key, const std::string& name,
                const absl::Status& why);
  absl::Status Unexpected(absl::string_view what, const std::string& key,
                          absl::string_view reply) const {
    return absl::InternalError(
        absl::StrCat(what, ": redis ", shared_.server(), ": EVALSHA \"", key,
                     "\": unexpected reply (", reply, ")"));
  }

  const RedisStateStoreOptions options_;
  const Clock& clock_;

  SharedRedisConnection shared_;
  // Used only while holding a turn of `shared_`:
  RedisScript acquire_{kAcquireScript};
  RedisScript save_{kSaveScript};
  RedisScript release_{kReleaseScript};
  RedisScript heartbeat_{kHeartbeatScript};
  std::set<PolicyKey> warned_;  // undecodable records already logged
  ServedSets served_;

  const std::string replicas_key_;
  const std::string channel_;
  SaveWatcher watcher_;  // last: stops first
};

}  // namespace signalscaler::state_internal

#endif  // SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_STATE_STORE_IMPL_H_
