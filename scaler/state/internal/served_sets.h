// What the replicas sharing a Redis state store announce they serve
// (StateStore::Announce), beside their heartbeats:
//
//   <prefix>:served            a hash: replica -> digest of what it serves
//   <prefix>:served:<digest>   what it serves (the bytes announced), PX
//                              kServedTtl, set again by a replica announcing
//                              it once kServedTtl / 2 has passed
//
// Replicas that serve the same policies share one copy; a replica reads a
// copy only for a digest it has not seen yet, so an announcement costs three
// small commands in the heartbeat's round trip. Each command touches one key
// (they also run on a Redis Cluster).
//
//   ServedSets served("signalscaler");
//   served.AppendCalls("pod-a", serves, now, calls);  // after the heartbeat
//   ... RunPipelined(connection, calls, ...) ...
//   absl::StatusOr<std::vector<LiveReplica>> alive =
//       served.Resolve(connection, members, replies, deadline, clock);
//
// Thread-compatible: the store uses it while holding its connection's turn.
#ifndef SIGNALSCALER_SCALER_STATE_INTERNAL_SERVED_SETS_H_
#define SIGNALSCALER_SCALER_STATE_INTERNAL_SERVED_SETS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "scaler/common/clock.h"
#include "scaler/state/internal/redis_scripts.h"
#include "scaler/state/state_store.h"
#include "sources/redis/client/redis_connection.h"

namespace signalscaler::state_internal {

inline constexpr absl::Duration kServedTtl = absl::Minutes(10);

// A stable digest of `bytes` (FNV-1a 64, hex): the same in every process.
std::string ServedDigest(absl::string_view bytes);

class ServedSets {
 public:
  explicit ServedSets(const std::string& prefix);

  // Appends this replica's announcement (nothing when `serves` is null) and
  // the read of every replica's digest to `calls`; returns how many.
  size_t AppendCalls(const std::string& replica,
                     const std::shared_ptr<const std::string>& serves,
                     absl::Time now, std::vector<PipelinedCall>& calls);

  // Every member of `members` (the heartbeat's answer, sorted) with what it
  // serves, from the replies of AppendCalls' commands; reads the copies of
  // digests not seen before (one more round trip) and forgets digests no
  // member announces any more. A failed announcement or read is logged and
  // leaves `serves` null (unknown: taken to serve everything); only a
  // failure of the connection fails the call.
  absl::StatusOr<std::vector<LiveReplica>> Resolve(
      RedisCluster& connection, const std::vector<std::string>& members,
      absl::Span<absl::StatusOr<RedisReplyPtr>> replies, absl::Time deadline,
      const Clock& clock);

 private:
  // A failed announcement or read, logged once until one succeeds.
  void Warn(absl::string_view what, const absl::Status& why);

  const std::string hash_key_;     // <prefix>:served
  const std::string copy_prefix_;  // <prefix>:served:
  // What this replica announced last, its digest, and when it last wrote
  // the copy.
  std::string replica_;
  std::shared_ptr<const std::string> mine_;
  std::string mine_digest_;
  absl::Time written_ = absl::InfinitePast();
  // What the last AppendCalls added before the read of the digests.
  bool announced_ = false;
  bool writing_ = false;
  absl::Time writing_at_ = absl::InfinitePast();
  bool warned_ = false;
  // The copies read (or announced) so far, by digest.
  absl::flat_hash_map<std::string, std::shared_ptr<const std::string>> copies_;
};

}  // namespace signalscaler::state_internal

#endif  // SIGNALSCALER_SCALER_STATE_INTERNAL_SERVED_SETS_H_
