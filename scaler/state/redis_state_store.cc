// MakeRedisStateStore(): leases, fenced saves and membership as Lua scripts
// (internal/redis_scripts.h) on one shared connection
// (internal/shared_redis_connection.h), records through state_codec.h,
// saves watched by internal/save_watcher.h. The class is in
// internal/redis_state_store_impl.h; this file has its calls for one policy
// and Load, internal/redis_state_batch.cc those that do many at once.
#include "scaler/state/redis_state_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scaler/common/log.h"
#include "scaler/common/status_macros.h"
#include "scaler/state/internal/redis_state_store_impl.h"
#include "scaler/state/state_codec.h"
#include "sources/redis/client/redis_cluster.h"
#include "sources/redis/client/redis_connection.h"
#include "sources/redis/client/redis_errors.h"
#include "sources/redis/client/redis_reply.h"
#include "sources/redis/client/redis_subscriber.h"

namespace signalscaler::state_internal {
namespace {

// GETs sent before their replies are read, per round trip of a Load.
constexpr size_t kPipelineDepth = 256;

RedisConnectionOptions ConnectionOptions(const RedisStateStoreOptions& o) {
  RedisConnectionOptions c;
  c.host = o.host;
  c.port = o.port;
  c.database = o.database;
  c.password_file = o.password_file;
  c.connect_timeout = o.connect_timeout;
  c.initial_backoff = o.initial_backoff;
  c.max_backoff = o.max_backoff;
  return c;
}

RedisSubscriberOptions WatcherOptions(const RedisStateStoreOptions& o,
                                      const std::string& channel) {
  RedisSubscriberOptions options;
  options.connection = ConnectionOptions(o);
  options.channel = channel;
  options.poll_interval = o.watch_poll_interval;
  options.setup_timeout = o.watch_setup_timeout;
  options.ping_interval = o.watch_ping_interval;
  return options;
}

}  // namespace

absl::Status Context(const absl::Status& status, absl::string_view what) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(what, ": ", status.message()));
}

absl::StatusOr<std::string> TtlMs(absl::Duration ttl, absl::string_view what) {
  if (ttl <= absl::ZeroDuration() || ttl == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ttl must be positive and finite, not ",
                     absl::FormatDuration(ttl)));
  }
  return absl::StrCat(
      absl::ToInt64Milliseconds(absl::Ceil(ttl, absl::Milliseconds(1))));
}

RedisStateStoreImpl::RedisStateStoreImpl(RedisStateStoreOptions options,
                                         const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      shared_(ConnectionOptions(options_), clock),
      served_(options_.key_prefix),
      replicas_key_(RedisReplicasKey(options_.key_prefix)),
      channel_(RedisSavedChannel(options_.key_prefix)),
      watcher_(WatcherOptions(options_, channel_), shared_.server(), clock) {}

void RedisStateStoreImpl::WarnOnce(const PolicyKey& key,
                                   const std::string& name,
                                   const absl::Status& why) {
  if (!warned_.insert(key).second) return;
  LogWarn(
      "redis state store: ignoring a state record that cannot be read "
      "(the policy starts a new history)",
      {{"policy", key.ToString()},
       {"key", name},
       {"server", shared_.server()},
       {"error", std::string(why.message())}});
}

absl::StatusOr<std::optional<PolicyRecord>> RedisStateStoreImpl::RecordFrom(
    const redisReply& reply, const PolicyKey& key, const std::string& name) {
  if (reply.type == REDIS_REPLY_NIL) {
    warned_.erase(key);
    return std::optional<PolicyRecord>();
  }
  if (reply.type == REDIS_REPLY_ERROR) {
    const absl::Status status = RedisErrorToStatus(
        RedisCall{shared_.server(), "GET", name}, FailureFromReply(reply));
    if (!absl::IsInvalidArgument(status)) return status;  // not WRONGTYPE
    WarnOnce(key, name, status);
    return std::optional<PolicyRecord>();
  }
  if (reply.type != REDIS_REPLY_STRING) {
    return absl::InternalError(absl::StrCat(
        "redis ", shared_.server(), ": GET \"", name, "\": unexpected reply"));
  }
  absl::StatusOr<PolicyRecord> record = DecodeRecord(ReplyText(reply));
  if (!record.ok()) {
    WarnOnce(key, name, record.status());
    return std::optional<PolicyRecord>();
  }
  warned_.erase(key);
  return std::optional<PolicyRecord>(*std::move(record));
}

absl::StatusOr<std::vector<std::optional<PolicyRecord>>>
RedisStateStoreImpl::Load(absl::Span<const PolicyKey> keys,
                          absl::Time deadline) {
  std::vector<std::optional<PolicyRecord>> out;
  if (keys.empty()) return out;
  out.reserve(keys.size());
  const std::string what = absl::StrCat(
      "load the state of ", keys[0].ToString(),
      keys.size() > 1 ? absl::StrCat(" and ", keys.size() - 1, " more") : "");
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  RedisCluster& connection = turn.connection();
  // The first GET on its own: Command() reconnects once if the server
  // closed an idle connection. The others are pipelined behind it.
  const std::string name = RedisKeysOf(options_.key_prefix, keys[0]).state;
  absl::StatusOr<RedisReplyPtr> reply =
      connection.Command({"GET", name}, deadline, name);
  if (!reply.ok()) return Context(reply.status(), what);
  absl::StatusOr<std::optional<PolicyRecord>> record =
      RecordFrom(**reply, keys[0], name);
  if (!record.ok()) return Context(record.status(), what);
  out.push_back(*std::move(record));
  for (size_t begin = 1; begin < keys.size(); begin += kPipelineDepth) {
    const size_t end = std::min(keys.size(), begin + kPipelineDepth);
    RETURN_IF_ERROR(LoadPipelined(connection, keys.subspan(begin, end - begin),
                                  deadline, out));
  }
  return out;
}

absl::Status RedisStateStoreImpl::LoadPipelined(
    RedisCluster& connection, absl::Span<const PolicyKey> keys,
    absl::Time deadline, std::vector<std::optional<PolicyRecord>>& out) {
  std::vector<RedisCommand> gets;
  gets.reserve(keys.size());
  for (const PolicyKey& key : keys) {
    std::string name = RedisKeysOf(options_.key_prefix, key).state;
    gets.push_back({{"GET", name}, name});
  }
  // One round trip per node (a plain server is one node).
  std::vector<absl::StatusOr<RedisReplyPtr>> replies =
      connection.Pipeline(gets, deadline);
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string what =
        absl::StrCat("load the state of ", keys[i].ToString());
    if (!replies[i].ok()) return Context(replies[i].status(), what);
    absl::StatusOr<std::optional<PolicyRecord>> record =
        RecordFrom(**replies[i], keys[i], gets[i].key);
    if (!record.ok()) return Context(record.status(), what);
    out.push_back(*std::move(record));
  }
  return absl::OkStatus();
}

absl::Status RedisStateStoreImpl::SaveOutcome(const redisReply& r,
                                              const PolicyKey& key,
                                              const Lease& lease,
                                              const std::string& name,
                                              const std::string& what) const {
  if (r.type != REDIS_REPLY_ARRAY || r.elements != 2 ||
      r.element[0]->type != REDIS_REPLY_INTEGER ||
      r.element[1]->type != REDIS_REPLY_STRING) {
    return Unexpected(what, name, "not [saved, lease]");
  }
  if (r.element[0]->integer == 1) return absl::OkStatus();
  Lease held;
  const absl::string_view value = ReplyText(*r.element[1]);
  std::string now = "held under a malformed value";
  if (value.empty()) {
    now = "no replica holds it";
  } else if (ParseLeaseValue(value, held)) {
    now = absl::StrCat("held by ", held.holder, " (epoch ", held.epoch, ")");
  }
  return absl::FailedPreconditionError(
      absl::StrCat("lease of ", key.ToString(), " lost: ", now, "; ",
                   lease.holder, " under epoch ", lease.epoch,
                   " may not save (redis ", shared_.server(), ")"));
}

absl::StatusOr<Lease> RedisStateStoreImpl::LeaseOutcomeOf(
    const redisReply& r, const std::string& replica, absl::Time sent,
    absl::Duration ttl, const std::string& name,
    const std::string& what) const {
  Lease lease;
  if (r.type != REDIS_REPLY_STRING || !ParseLeaseValue(ReplyText(r), lease)) {
    return Unexpected(what, name, "not \"<epoch> <replica>\"");
  }
  lease.valid_until =
      lease.holder == replica ? sent + ttl : absl::InfinitePast();
  return lease;
}

absl::StatusOr<std::vector<std::string>> RedisStateStoreImpl::MembersOf(
    const redisReply& r, const std::string& what) const {
  if (r.type != REDIS_REPLY_ARRAY) {
    return Unexpected(what, replicas_key_, "not an array");
  }
  std::vector<std::string> alive;
  for (size_t i = 0; i < r.elements; ++i) {
    if (r.element[i]->type != REDIS_REPLY_STRING) {
      return Unexpected(what, replicas_key_, "not a member");
    }
    alive.emplace_back(ReplyText(*r.element[i]));
  }
  std::sort(alive.begin(), alive.end());
  return alive;
}

absl::Status RedisStateStoreImpl::Save(const PolicyKey& key,
                                       const PolicyRecord& record,
                                       const Lease& lease, absl::Duration ttl,
                                       absl::Time deadline) {
  const std::string what = absl::StrCat("save the state of ", key.ToString());
  ASSIGN_OR_RETURN(const std::string ttl_ms, TtlMs(ttl, what));
  if (lease.holder.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": a lease without a holder"));
  }
  const std::string blob = EncodeRecord(record);
  const RedisStateKeys names = RedisKeysOf(options_.key_prefix, key);
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  absl::StatusOr<RedisReplyPtr> reply =
      save_.Run(turn.connection(), {names.lease, names.state},
                {LeaseValue(lease), blob, ttl_ms, channel_, key.ToString()},
                deadline, names.state);
  if (!reply.ok()) return Context(reply.status(), what);
  return SaveOutcome(**reply, key, lease, names.state, what);
}

absl::StatusOr<Lease> RedisStateStoreImpl::AcquireOrRenew(
    const PolicyKey& key, const std::string& replica, absl::Duration ttl,
    absl::Time deadline) {
  const std::string what =
      absl::StrCat("acquire the lease of ", key.ToString());
  ASSIGN_OR_RETURN(const std::string ttl_ms, TtlMs(ttl, what));
  if (replica.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty replica id"));
  }
  ASSIGN_OR_RETURN(const std::string epoch_ttl_ms,
                   TtlMs(std::max(options_.epoch_ttl, ttl), what));
  const RedisStateKeys names = RedisKeysOf(options_.key_prefix, key);
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  const absl::Time sent = clock_.Now();
  absl::StatusOr<RedisReplyPtr> reply =
      acquire_.Run(turn.connection(), {names.lease, names.epoch},
                   {replica, ttl_ms, epoch_ttl_ms}, deadline, names.lease);
  if (!reply.ok()) return Context(reply.status(), what);
  return LeaseOutcomeOf(**reply, replica, sent, ttl, names.lease, what);
}

absl::Status RedisStateStoreImpl::Release(const PolicyKey& key,
                                          const Lease& lease,
                                          absl::Time deadline) {
  const std::string what =
      absl::StrCat("release the lease of ", key.ToString());
  const RedisStateKeys names = RedisKeysOf(options_.key_prefix, key);
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  absl::StatusOr<RedisReplyPtr> reply =
      release_.Run(turn.connection(), {names.lease}, {LeaseValue(lease)},
                   deadline, names.lease);
  if (!reply.ok()) return Context(reply.status(), what);
  if ((*reply)->type != REDIS_REPLY_INTEGER) {
    return Unexpected(what, names.lease, "not an integer");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RedisStateStoreImpl::Heartbeat(
    const std::string& replica, absl::Duration ttl, absl::Time deadline) {
  const std::string what = absl::StrCat("heartbeat of replica ", replica);
  ASSIGN_OR_RETURN(const std::string ttl_ms, TtlMs(ttl, what));
  if (replica.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty replica id"));
  }
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  absl::StatusOr<RedisReplyPtr> reply =
      heartbeat_.Run(turn.connection(), {replicas_key_}, {replica, ttl_ms},
                     deadline, replicas_key_);
  if (!reply.ok()) return Context(reply.status(), what);
  return MembersOf(**reply, what);
}

void RedisStateStoreImpl::Watch(
    std::function<void(const PolicyKey&)> on_saved) {
  watcher_.Set(std::move(on_saved));
}

}  // namespace signalscaler::state_internal

namespace signalscaler {

absl::StatusOr<std::unique_ptr<StateStore>> MakeRedisStateStore(
    RedisStateStoreOptions options, const Clock& clock) {
  RETURN_IF_ERROR(ValidateRedisStateStoreOptions(options));
  return std::unique_ptr<StateStore>(
      new state_internal::RedisStateStoreImpl(std::move(options), clock));
}

}  // namespace signalscaler
