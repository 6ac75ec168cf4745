// The redis Source: the length of a list (LLEN), a sorted set (ZCARD) or a
// stream (XLEN), or a stream consumer group's pending count (XPENDING
// summary) or lag (XINFO GROUPS, Redis >= 7). A missing key reads 0 (for a
// group measure, a missing stream reads 0 and a missing group is
// NOT_FOUND); a key of another type is INVALID_ARGUMENT naming it and its
// TYPE. With `notify`, Subscribe() wakes the sampler on keyspace events.
//
//   v1::RedisSource spec;  // {address: "redis:6379", list: "jobs"}
//   absl::StatusOr<std::unique_ptr<Source>> s = MakeRedisSource(spec, clock);
//   absl::StatusOr<Reading> r = (*s)->Read(clock.Now() + absl::Seconds(2));
//
// On a Redis Cluster the key is read on the node that serves its slot,
// following MOVED and ASK (client/redis_cluster.h: cluster mode is detected
// from the first redirect; a plain server sees exactly the commands above).
// With `notify`, the subscription is on the node that serves the key, and
// moves to the new node once a MOVED says the slot moved (events during a
// slot migration are seen by polling only).
//
// Errors follow Source::Read's contract; the mapping from hiredis is in
// client/redis_errors.h. After a connection loss the source backs off (100 ms
// doubling to 5 s), answering UNAVAILABLE at once until the next attempt. A
// reply over kMaxRedisReplyBytes (1 MiB, client/redis_connection.h) is
// RESOURCE_EXHAUSTED naming the command and the limit: the source stops
// reading it, drops the connection and reconnects on the next Read().
#ifndef SIGNALSCALER_SOURCES_REDIS_REDIS_SOURCE_H_
#define SIGNALSCALER_SOURCES_REDIS_REDIS_SOURCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/common/clock.h"
#include "sources/source.h"

namespace signalscaler {

// Tuning that policies do not expose; the defaults are the product's.
struct RedisSourceTuning {
  absl::Duration connect_timeout = absl::Seconds(2);  // cut by deadlines
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // serve's --credentials-root: passwordFile is confined to
  // ROOT/<namespace>/ at every connect (RedisConnectionOptions).
  std::string credentials_root;
  // serve's --allowed-source-hosts: the hosts a Redis Cluster's redirects
  // and slot map may lead the source to (RedisClusterOptions::allow_host);
  // empty: any.
  std::function<bool(absl::string_view host)> allow_host;
};

// Validates `redis` (address "host:port" or "[v6]:port", database >= 0,
// exactly one of list / sortedSet / stream, group only with stream,
// groupMeasure only with group): INVALID_ARGUMENT naming the field.
// Connects lazily, on the first Read(). `clock` must outlive the source.
absl::StatusOr<std::unique_ptr<Source>> MakeRedisSource(
    const v1::RedisSource& redis, const Clock& clock,
    const RedisSourceTuning& tuning = RedisSourceTuning());

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_REDIS_SOURCE_H_
