// One Redis client that several threads use, one call at a time: a
// RedisCluster (sources/redis/client/redis_cluster.h), so a Redis Cluster
// works as one server does (each command on the node of its key's slot,
// MOVED and ASK followed; a plain server sees exactly the commands sent). A
// call waits for its turn, but never past its own deadline: a call stuck on
// a paused server does not make the others overrun theirs.
//
//   SharedRedisConnection shared(options, clock);
//   absl::StatusOr<SharedRedisConnection::Turn> turn =
//       shared.Take(deadline, "load the state of ns/name");
//   if (turn.ok()) turn->connection().Command({"GET", key}, deadline, key);
//
// Thread-safe; what a caller guards with its turn is up to it.
#ifndef SIGNALSCALER_SCALER_STATE_INTERNAL_SHARED_REDIS_CONNECTION_H_
#define SIGNALSCALER_SCALER_STATE_INTERNAL_SHARED_REDIS_CONNECTION_H_

#include <cstddef>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "scaler/state/state_codec.h"
#include "sources/redis/client/redis_cluster.h"
#include "sources/redis/client/redis_connection.h"

namespace signalscaler::state_internal {

// The bound on one reply the state store reads (RedisConnectionOptions::
// max_reply_bytes; the source's 1 MiB would refuse legal records). Its
// largest legal reply is a GET of a whole PolicyRecord, which the codec
// refuses past kMaxStateRecordBytes; the 64 KiB on top are room for hiredis'
// object. A larger reply is refused while it is read (RESOURCE_EXHAUSTED),
// before it is in memory, and the connection is dropped.
inline constexpr size_t kMaxStateReplyBytes =
    kMaxStateRecordBytes + (size_t{64} << 10);

class SharedRedisConnection {
 public:
  // `clock` must outlive it; deadlines are on its time line. `options` are
  // the seed's and every cluster node's. Replies are bounded by
  // kMaxStateReplyBytes, whatever `options` say.
  SharedRedisConnection(RedisConnectionOptions options, const Clock& clock)
      : clock_(clock), connection_(WithStateBound(std::move(options)), clock) {}

  // The connection, for as long as it lives.
  class Turn {
   public:
    Turn(Turn&& other) noexcept : owner_(other.owner_) {
      other.owner_ = nullptr;
    }
    Turn& operator=(Turn&&) = delete;
    ~Turn() {
      if (owner_ != nullptr) owner_->Give();
    }
    RedisCluster& connection() const { return owner_->connection_; }

   private:
    friend class SharedRedisConnection;
    explicit Turn(SharedRedisConnection* owner) : owner_(owner) {}
    SharedRedisConnection* owner_;
  };

  // Waits for the connection until `deadline`: DEADLINE_EXCEEDED naming
  // `what` and the server when other calls keep it that long.
  absl::StatusOr<Turn> Take(absl::Time deadline, absl::string_view what);

  // "host:port" of the seed (the address given).
  const std::string& server() const { return connection_.server(); }

 private:
  void Give();
  static RedisClusterOptions WithStateBound(RedisConnectionOptions o) {
    RedisClusterOptions cluster;
    cluster.connection = std::move(o);
    cluster.connection.max_reply_bytes = kMaxStateReplyBytes;
    return cluster;
  }

  const Clock& clock_;
  absl::Mutex mu_;
  absl::CondVar free_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  RedisCluster connection_;  // used by the holder of the turn only
};

}  // namespace signalscaler::state_internal

#endif  // SIGNALSCALER_SCALER_STATE_INTERNAL_SHARED_REDIS_CONNECTION_H_
