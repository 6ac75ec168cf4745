// The Lua scripts of the Redis StateStore: each step that must be atomic on
// the server (check a lease, then write) is one script. KEYS of a script are
// always in one hash slot (the policy's `{<ns>/<name>}` tag), so they also
// run on a Redis Cluster. A lease's value is "<epoch> <replica>".
//
//   RedisScript acquire(kAcquireScript);
//   absl::StatusOr<RedisReplyPtr> r =
//       acquire.Run(connection, {lease_key, epoch_key}, {...}, deadline, key);
//   // Or many runs, one round trip per 1,000:
//   std::vector<PipelinedCall> calls = {acquire.Call(keys, args, key), ...};
//   auto replies = RunPipelined(connection, absl::MakeSpan(calls), d, clock);
#ifndef SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_SCRIPTS_H_
#define SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_SCRIPTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "scaler/common/clock.h"
#include "scaler/state/state_store.h"
#include "sources/redis/client/redis_cluster.h"
#include "sources/redis/client/redis_connection.h"

namespace signalscaler::state_internal {

// KEYS: lease, epoch. ARGV: replica, lease TTL ms, epoch TTL ms.
// A free lease is granted under the next epoch; ours is renewed (same
// epoch); another's is left alone. Returns the lease in force afterwards.
inline constexpr char kAcquireScript[] = R"lua(
local held = redis.call('GET', KEYS[1])
if not held then
  local epoch = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  local lease = string.format('%d %s', epoch, ARGV[1])
  redis.call('SET', KEYS[1], lease, 'PX', ARGV[2])
  return lease
end
local space = string.find(held, ' ', 1, true)
if space and string.sub(held, space + 1) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return held
)lua";

// KEYS: lease, state. ARGV: our lease value, record, record TTL ms,
// channel, "<ns>/<name>". Writes and announces the record only while our
// lease is in force. Returns {1, lease} when saved, {0, lease or ""} not.
inline constexpr char kSaveScript[] = R"lua(
local held = redis.call('GET', KEYS[1])
if held ~= ARGV[1] then
  return {0, held or ''}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, held}
)lua";

// KEYS: lease. ARGV: our lease value. Deletes it only if still ours.
inline constexpr char kReleaseScript[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

// KEYS: replicas. ARGV: replica, TTL ms. Scores are expiry times on the
// server's clock (TIME), so replicas' own clocks do not matter. Returns the
// members still alive.
inline constexpr char kHeartbeatScript[] = R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
)lua";

// A lease as its value in Redis, and back (valid_until is left alone).
std::string LeaseValue(const Lease& lease);
bool ParseLeaseValue(absl::string_view value, Lease& lease);

class RedisScript;

// One command of a pipeline (RunPipelined): a script's run (see
// RedisScript::Call), or a plain command (`script` null, `argv` whole).
struct PipelinedCall {
  RedisScript* script = nullptr;
  // A script's: two slots RunPipelined fills ("EVALSHA", sha or "EVAL",
  // body), the number of keys, the keys, the arguments.
  std::vector<std::string> argv;
  std::string key;  // named in error messages
};

// One of the scripts above, run by its SHA (EVALSHA) once SCRIPT LOAD told
// it, and by EVAL when the server has forgotten it (NOSCRIPT: a restart,
// SCRIPT FLUSH) or an ACL refuses SCRIPT LOAD. Thread-compatible: callers
// serialize it as they do the connection.
class RedisScript {
 public:
  explicit RedisScript(const char* body) : body_(body) {}

  // Runs the script with `keys` and `args` on `connection`. The reply is
  // never an error reply: those become statuses (RedisErrorToStatus).
  // `key` names the key in error messages.
  absl::StatusOr<RedisReplyPtr> Run(RedisCluster& connection,
                                    const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args,
                                    absl::Time deadline,
                                    const std::string& key);

  // A run of this script as one command of a pipeline.
  PipelinedCall Call(const std::vector<std::string>& keys,
                     std::vector<std::string> args, std::string key);
  // For RunPipelined: SCRIPT LOAD unless the SHA is known (or SCRIPT LOAD
  // is refused), and a call's first two slots: EVALSHA and the SHA, or EVAL
  // and the body when `eval` or no SHA is known.
  absl::Status Prepare(RedisCluster& connection, absl::Time deadline,
                       const std::string& key);
  void Address(std::vector<std::string>& argv, bool eval) const;
  // SCRIPT LOAD of this script.
  std::vector<std::string> LoadCommand() const;

 private:
  const char* const body_;
  std::string sha_;         // from SCRIPT LOAD; empty until then
  bool eval_only_ = false;  // SCRIPT LOAD refused by an ACL (NOPERM)
};

// Commands sent before their replies are read, at most (and at most
// kPipelineBytes of arguments): one round trip each.
inline constexpr size_t kPipelineCalls = 1000;
inline constexpr size_t kPipelineBytes = size_t{4} << 20;

// Runs `calls` on `connection` in order: each chunk (kPipelineCalls) sent
// whole, then its replies read, so one round trip per chunk (on a Redis
// Cluster, per chunk and node: RedisCluster::Pipeline groups the calls by
// their keys' nodes, in order within each node, and opens every node's
// group with the chunk's SCRIPT LOADs). The scripts
// are SCRIPT LOADed first if need be, and again at the head of every chunk
// (in the same round trip), so that a server that forgot one meanwhile (a
// restart, SCRIPT FLUSH) learns it before the chunk's calls run. Should one
// still answer NOSCRIPT, every call from that one on runs again, scripts by
// EVAL: one more round trip, and the calls after it that had run run twice
// (they must be safe to). The replies, in the calls' order:
// each the reply, or (an error reply) its status from RedisErrorToStatus. Fails
// as a whole, as RedisConnection::Command does, on a transport failure or when
// `deadline` (on `clock`) passes; the connection is then dropped if replies
// were still due. On a cluster, that is when no node answered: the calls of
// a node that failed while others answered have its failure as their status.
// The calls' argv may be changed (their first two slots).
absl::StatusOr<std::vector<absl::StatusOr<RedisReplyPtr>>> RunPipelined(
    RedisCluster& connection, absl::Span<PipelinedCall> calls,
    absl::Time deadline, const Clock& clock);

}  // namespace signalscaler::state_internal

#endif  // SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_SCRIPTS_H_
