// Which node of a Redis Cluster serves which hash slot, as the client last
// learnt it: from a CLUSTER SLOTS reply (the whole map) or a MOVED reply
// (one slot). Kept as ranges of slots, a handful on a healthy cluster (one
// per master, plus what a resharding split off), never a 16384-entry table:
// every redis source has a map of its own.
//
//   SlotMap map;
//   map.Replace(*ParseClusterSlots(*reply, "10.0.0.1"));
//   const RedisNode* node = map.NodeOf(KeySlot("jobs"));  // nullptr: unknown
//   if (auto r = ParseRedirect("MOVED 9631 10.0.0.2:6379")) map.Set(...);
//
// Internal to the Redis client (redis_cluster.h). Keeps hiredis out (its
// reply type is declared only). Thread-compatible.
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_SLOT_MAP_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_SLOT_MAP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct redisReply;

namespace signalscaler::redis_internal {

// One node's address, as the cluster names it (an IP address as a rule; a
// name when the cluster announces host names).
struct RedisNode {
  std::string host;  // no brackets around an IPv6 address
  int port = 0;
  // "host:port", as RedisConnection::server() says it.
  std::string Address() const;
  bool operator==(const RedisNode& o) const {
    return port == o.port && host == o.host;
  }
  bool operator!=(const RedisNode& o) const { return !(*this == o); }
};

// A MOVED or ASK error reply: "MOVED <slot> <host>:<port>". The host may be
// empty (Redis 7 says so when the node does not know its endpoint): the
// answering node's own host is then meant.
struct RedisRedirect {
  bool ask = false;  // ASK: this command only; MOVED: the slot moved
  int slot = 0;
  RedisNode node;
};
// nullopt unless `error_reply` is a well-formed MOVED or ASK.
std::optional<RedisRedirect> ParseRedirect(absl::string_view error_reply);

struct SlotRange {
  int first = 0;  // inclusive
  int last = 0;   // inclusive
  RedisNode node;
};

// A CLUSTER SLOTS reply's ranges and their masters (replicas are not read).
// An empty host stands for `asked_host` (the node that answered); a range
// whose master's endpoint is unknown ("?") is left out. INTERNAL when the
// reply is not a CLUSTER SLOTS answer (naming `server`).
absl::StatusOr<std::vector<SlotRange>> ParseClusterSlots(
    const redisReply& reply, absl::string_view asked_host,
    absl::string_view server);

class SlotMap {
 public:
  // The node last known to serve `slot`, or nullptr. Valid until the next
  // change of the map.
  const RedisNode* NodeOf(int slot) const;
  // `slot` is served by `node` now (a MOVED).
  void Set(int slot, const RedisNode& node);
  // The whole map (a CLUSTER SLOTS). A range that overlaps an earlier one
  // (by first slot) keeps only what the earlier does not cover.
  void Replace(const std::vector<SlotRange>& ranges);
  bool empty() const { return ranges_.empty(); }
  // Every node the map names, each once.
  const std::vector<RedisNode>& nodes() const { return nodes_; }
  // How many ranges it holds (for tests).
  size_t range_count() const { return ranges_.size(); }

 private:
  struct Range {
    uint16_t first;
    uint16_t last;
    uint16_t node;  // index in nodes_
  };
  uint16_t IndexOf(const RedisNode& node);
  void DropUnusedNodes();

  std::vector<Range> ranges_;  // sorted by first, disjoint
  std::vector<RedisNode> nodes_;
};

}  // namespace signalscaler::redis_internal

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_SLOT_MAP_H_
