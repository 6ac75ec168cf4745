// The StateStore that every replica shares: one Redis server, a Redis
// Cluster (each command goes to the node of its key's slot, MOVED and ASK
// followed: sources/redis/client/redis_cluster.h; every script's keys share
// one slot, and PUBLISH reaches the subscriber on any node), or a proxy in
// front of a cluster. Per policy, three keys in one hash slot:
//
//   <prefix>:{<ns>/<name>}:state   the PolicyRecord (state_codec.h), PX ttl
//   <prefix>:{<ns>/<name>}:lease   "<epoch> <replica>", PX lease ttl
//   <prefix>:{<ns>/<name>}:epoch   the last epoch granted (INCR), long TTL
//
// plus `<prefix>:replicas` (a sorted set: replica -> expiry in the server's
// milliseconds), what each replica serves (`<prefix>:served`, a hash:
// replica -> digest, and `<prefix>:served:<digest>`, one copy per distinct
// set: internal/served_sets.h) and the channel `<prefix>:saved`
// ("<ns>/<name>" per save). Leases, fenced saves, releases and heartbeats
// are each one Lua script (EVALSHA, falling back to EVAL after NOSCRIPT), so
// each is atomic on the server; heartbeats use the server's TIME, so
// replicas' clocks do not matter. The calls for many policies at once
// (UpkeepLeases, SaveMany) pipeline their scripts: one round trip per 1,000.
//
//   RedisStateStoreOptions options;
//   options.host = "redis";
//   absl::StatusOr<std::unique_ptr<StateStore>> store =
//       MakeRedisStateStore(options, clock);
//
// Connects lazily (AUTH and SELECT as RedisConnection does, the password
// re-read from its file on every connect), backs off after failures, and
// bounds every call by its deadline, including the wait for the connection
// that concurrent calls share. Errors name the server, the command and the
// policy (never the password): UNAVAILABLE, DEADLINE_EXCEEDED,
// UNAUTHENTICATED, FAILED_PRECONDITION (a lost lease; an unreadable password
// file), INTERNAL (an unexpected reply). Thread-safe.
#ifndef SIGNALSCALER_SCALER_STATE_REDIS_STATE_STORE_H_
#define SIGNALSCALER_SCALER_STATE_REDIS_STATE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "scaler/state/state_store.h"

namespace signalscaler {

struct RedisStateStoreOptions {
  std::string host;  // required: a name or an IP address (no brackets)
  int port = 6379;
  int database = 0;           // SELECTed after connecting unless 0
  std::string password_file;  // empty: no AUTH
  // Every key and the channel start with "<key_prefix>:". Non-empty, without
  // braces (they would break the per-policy hash tags) or whitespace.
  std::string key_prefix = "signalscaler";
  // Upper bound of one connect; a call's deadline may cut it shorter.
  absl::Duration connect_timeout = absl::Seconds(2);
  // After a failed connect or a lost connection, calls fail at once with
  // UNAVAILABLE for a backoff doubling from `initial_backoff` to
  // `max_backoff`; a successful connect resets it.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // TTL of a policy's epoch counter, refreshed by every acquisition and
  // renewal: longer than any record lives, so epochs of a policy that is
  // still evaluated never start again at 1.
  absl::Duration epoch_ttl = absl::Hours(24 * 30);
  // Watch(): how long one read of the subscription waits (the bound on how
  // late a destructor notices it must stop), the bound of one connect +
  // SUBSCRIBE, and the silence after which a PING checks the connection.
  absl::Duration watch_poll_interval = absl::Milliseconds(100);
  absl::Duration watch_setup_timeout = absl::Seconds(1);
  absl::Duration watch_ping_interval = absl::Seconds(15);
};

// INVALID_ARGUMENT naming the field when `options` are unusable. Does not
// connect. `clock` must outlive the store; deadlines are on its time line.
absl::StatusOr<std::unique_ptr<StateStore>> MakeRedisStateStore(
    RedisStateStoreOptions options, const Clock& clock);

// What MakeRedisStateStore checks (e.g. to validate flags early).
absl::Status ValidateRedisStateStoreOptions(
    const RedisStateStoreOptions& options);

// The keys of one policy and the shared ones, as the store names them (for
// tests and operators' tooling).
struct RedisStateKeys {
  std::string state;
  std::string lease;
  std::string epoch;
};
RedisStateKeys RedisKeysOf(const std::string& prefix, const PolicyKey& key);
std::string RedisReplicasKey(const std::string& prefix);
std::string RedisSavedChannel(const std::string& prefix);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_STATE_REDIS_STATE_STORE_H_
