// A Redis client that also speaks to a Redis Cluster, on RedisConnection:
// it sends each command to the node that serves its key's hash slot
// (internal/key_slot.h), follows MOVED and ASK redirects, and keeps the
// cluster's slot map. One connection per node, each with the same options
// (password file, credentials root, timeouts, reply bound).
//
//   RedisClusterOptions options;
//   options.connection = {.host = "redis", .port = 6379};
//   RedisCluster redis(options, clock);
//   absl::StatusOr<RedisReplyPtr> r =
//       redis.Command({"LLEN", "jobs"}, deadline, "jobs");
//
// Cluster mode is detected, never configured: until a server answers MOVED
// or ASK, every command goes to the address given (the seed), exactly as a
// RedisConnection would send it, so a plain server, a Sentinel-managed
// master or a proxy in front of a cluster see what they always saw. The
// first redirect switches to cluster mode for the client's lifetime:
//
// - MOVED: the slot is served by another node from now on. The client
//   records it for that slot at once, retries there, and loads the whole
//   map (CLUSTER SLOTS) at the start of its next command, at most once per
//   `refresh_interval` (a MOVED in between updates its own slot only).
// - ASK: this command only (a slot being migrated): ASKING, then the
//   command on the node named; the map is left alone.
// - A node that cannot be reached (UNAVAILABLE) makes the map stale too: a
//   failover may have moved its slots to a promoted replica. The reload asks
//   the seed first, then the nodes the map names.
// - At most `max_redirects` redirects per command, then UNAVAILABLE naming
//   the key and the nodes it was sent to. A redirect to a host that
//   `allow_host` refuses is PERMISSION_DENIED naming the node: the server
//   cannot make the client connect where a policy could not.
//
// Every error comes from the one translation (redis_errors.h). Reads go to
// masters only (replicas are never read); TLS is not supported. The
// database must be 0 on a cluster (SELECT is refused there).
//
// Thread-compatible: one thread at a time.
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_CLUSTER_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_CLUSTER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "sources/redis/client/internal/slot_map.h"
#include "sources/redis/client/redis_connection.h"
#include "sources/redis/client/redis_errors.h"

namespace signalscaler {

struct RedisClusterOptions {
  // The seed (the address the user gave), and the options of every node's
  // connection, whose host and port are the node's.
  RedisConnectionOptions connection;
  // Redirects one command may follow; then UNAVAILABLE.
  int max_redirects = 5;
  // Connections kept to nodes other than the seed; a new one closes the
  // least recently used. A cluster of N masters needs N - 1 (at most).
  size_t max_node_connections = 16;
  // At most one CLUSTER SLOTS per this long.
  absl::Duration refresh_interval = absl::Seconds(1);
  // The hosts a redirect or the slot map may send the client to (serve's
  // --allowed-source-hosts for a redis source); empty: any. The seed is
  // always allowed (its policy was checked when it was loaded).
  std::function<bool(absl::string_view host)> allow_host;
};

class RedisCluster {
 public:
  // `clock` must outlive it; deadlines are on its time line. Does not
  // connect.
  RedisCluster(RedisClusterOptions options, const Clock& clock);
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // RedisConnection::Command() on the node that serves `key`'s slot (the
  // seed when there is no key, or in plain mode), following redirects. The
  // reply MAY be an error reply, never a MOVED or ASK. `key` also names the
  // key in error messages; a command on several keys must be routed by one
  // that shares their slot (a hash tag).
  absl::StatusOr<RedisReplyPtr> Command(const std::vector<std::string>& argv,
                                        absl::Time deadline,
                                        absl::string_view key = "");

  // The commands grouped by node, each group one RedisConnection::Pipeline
  // (one round trip per node, one node after the other, in the order the
  // groups are first met), then each redirected command followed on its
  // own. One result per command, in their order: a reply (MAY be an error
  // reply, never MOVED or ASK), or why its node's batch failed (every
  // command of a group that failed has the same status). `prelude` is sent
  // at the head of every group (e.g. SCRIPT LOAD, so that every node knows
  // the scripts its group runs); its replies are read and dropped. Every
  // group shares `deadline`.
  std::vector<absl::StatusOr<RedisReplyPtr>> Pipeline(
      const std::vector<RedisCommand>& commands, absl::Time deadline,
      const std::vector<std::vector<std::string>>& prelude = {});

  // True once a server redirected a command.
  bool cluster_mode() const { return cluster_; }
  // The connection options of the node last known to serve `key`'s slot:
  // the seed's in plain mode or while the slot is unknown (for a subscriber
  // that must be on that node: keyspace events are per node).
  RedisConnectionOptions NodeOptionsFor(absl::string_view key) const;
  // "host:port" of the node last known to serve `key`'s slot (the seed's
  // in plain mode), for messages and tests.
  std::string NodeFor(absl::string_view key) const;
  // The seed's "host:port", for messages.
  const std::string& server() const { return seed_.server(); }
  // Drops every connection (no backoff).
  void Disconnect();

 private:
  struct NodeConnection;

  // The node `key` is routed to (the seed in plain mode).
  redis_internal::RedisNode RouteOf(absl::string_view key) const;
  // The connection to `node` (made if needed); PERMISSION_DENIED when
  // allow_host refuses it. Valid until the next call of ConnectionTo.
  // `call` names the command and the node that sent the client there.
  absl::StatusOr<RedisConnection*> ConnectionTo(
      const redis_internal::RedisNode& node, const RedisCall& call);
  // `reply` came from `from`; follows it while it is MOVED or ASK.
  absl::StatusOr<RedisReplyPtr> FollowRedirects(
      const std::vector<std::string>& argv, absl::Time deadline,
      absl::string_view key, redis_internal::RedisNode from,
      RedisReplyPtr reply);
  // What a node's failure means for the map.
  void NoteFailure(const absl::Status& status);
  // Reloads the map if it is stale and a reload is due (best effort: a
  // failed reload leaves the map, and redirects keep it right).
  void MaybeRefresh(absl::Time deadline);
  bool RefreshFrom(const redis_internal::RedisNode& node, absl::Time deadline);

  const RedisClusterOptions options_;
  const Clock& clock_;
  const redis_internal::RedisNode seed_node_;
  RedisConnection seed_;
  std::vector<std::unique_ptr<NodeConnection>> nodes_;  // other than the seed
  uint64_t uses_ = 0;  // a tick per use: the least recently used goes
  redis_internal::SlotMap map_;
  bool cluster_ = false;
  bool stale_ = false;  // the map should be reloaded
  // Who to ask first for it (the node a MOVED named: it answers).
  std::optional<redis_internal::RedisNode> refresh_from_;
  absl::Time next_refresh_ = absl::InfinitePast();
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_CLUSTER_H_
