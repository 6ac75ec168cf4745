// RedisStateStoreImpl's calls that do many at once (state_store.h): one
// pipeline of script runs for many policies' leases or saves
// (RunPipelined: one round trip per 1,000), and the heartbeat with what this
// replica serves (internal/served_sets.h).
#include <hiredis/hiredis.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scaler/common/status_macros.h"
#include "scaler/state/internal/redis_state_store_impl.h"
#include "scaler/state/state_codec.h"
#include "sources/redis/client/redis_reply.h"

namespace signalscaler::state_internal {

absl::StatusOr<std::vector<LeaseOutcome>> RedisStateStoreImpl::UpkeepLeases(
    absl::Span<const LeaseRequest> requests, const std::string& replica,
    absl::Duration ttl, absl::Time deadline) {
  std::vector<LeaseOutcome> out(requests.size());
  if (requests.empty()) return out;
  const std::string what = absl::StrCat("upkeep of ", requests.size(),
                                        " leases by replica ", replica);
  ASSIGN_OR_RETURN(const std::string ttl_ms, TtlMs(ttl, what));
  if (replica.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty replica id"));
  }
  ASSIGN_OR_RETURN(const std::string epoch_ttl_ms,
                   TtlMs(std::max(options_.epoch_ttl, ttl), what));
  std::vector<PipelinedCall> calls;
  calls.reserve(requests.size());
  for (const LeaseRequest& r : requests) {
    const RedisStateKeys names = RedisKeysOf(options_.key_prefix, r.key);
    if (r.release.has_value()) {
      calls.push_back(
          release_.Call({names.lease}, {LeaseValue(*r.release)}, names.lease));
    } else {
      calls.push_back(acquire_.Call({names.lease, names.epoch},
                                    {replica, ttl_ms, epoch_ttl_ms},
                                    names.lease));
    }
  }
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  const absl::Time sent = clock_.Now();
  auto replies =
      RunPipelined(turn.connection(), absl::MakeSpan(calls), deadline, clock_);
  if (!replies.ok()) return Context(replies.status(), what);
  for (size_t i = 0; i < requests.size(); ++i) {
    const LeaseRequest& r = requests[i];
    const std::string one = absl::StrCat(r.release ? "release" : "acquire",
                                         " the lease of ", r.key.ToString());
    const absl::StatusOr<RedisReplyPtr>& reply = (*replies)[i];
    if (!reply.ok()) {
      out[i].status = Context(reply.status(), one);
    } else if (r.release.has_value()) {
      if ((*reply)->type != REDIS_REPLY_INTEGER) {
        out[i].status = Unexpected(one, calls[i].key, "not an integer");
      }
    } else {
      absl::StatusOr<Lease> lease =
          LeaseOutcomeOf(**reply, replica, sent, ttl, calls[i].key, one);
      if (lease.ok()) {
        out[i].lease = *std::move(lease);
      } else {
        out[i].status = lease.status();
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<absl::Status>> RedisStateStoreImpl::SaveMany(
    absl::Span<const SaveRequest> requests, absl::Duration ttl,
    absl::Time deadline) {
  std::vector<absl::Status> out(requests.size());
  if (requests.empty()) return out;
  const std::string what =
      absl::StrCat("save the states of ", requests.size(), " policies");
  ASSIGN_OR_RETURN(const std::string ttl_ms, TtlMs(ttl, what));
  std::vector<PipelinedCall> calls;
  std::vector<size_t> sent;  // requests with a call, in order
  for (size_t i = 0; i < requests.size(); ++i) {
    const SaveRequest& r = requests[i];
    if (r.lease.holder.empty()) {
      out[i] = absl::InvalidArgumentError(
          absl::StrCat("save the state of ", r.key.ToString(),
                       ": a lease without a holder"));
      continue;
    }
    const RedisStateKeys names = RedisKeysOf(options_.key_prefix, r.key);
    calls.push_back(save_.Call({names.lease, names.state},
                               {LeaseValue(r.lease), EncodeRecord(*r.record),
                                ttl_ms, channel_, r.key.ToString()},
                               names.state));
    sent.push_back(i);
  }
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  auto replies =
      RunPipelined(turn.connection(), absl::MakeSpan(calls), deadline, clock_);
  if (!replies.ok()) return Context(replies.status(), what);
  for (size_t j = 0; j < sent.size(); ++j) {
    const SaveRequest& r = requests[sent[j]];
    const std::string one =
        absl::StrCat("save the state of ", r.key.ToString());
    const absl::StatusOr<RedisReplyPtr>& reply = (*replies)[j];
    out[sent[j]] = reply.ok()
                       ? SaveOutcome(**reply, r.key, r.lease, calls[j].key, one)
                       : Context(reply.status(), one);
  }
  return out;
}

absl::StatusOr<std::vector<LiveReplica>> RedisStateStoreImpl::Announce(
    const std::string& replica, std::shared_ptr<const std::string> serves,
    absl::Duration ttl, absl::Time deadline) {
  const std::string what = absl::StrCat("heartbeat of replica ", replica);
  ASSIGN_OR_RETURN(const std::string ttl_ms, TtlMs(ttl, what));
  if (replica.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty replica id"));
  }
  ASSIGN_OR_RETURN(SharedRedisConnection::Turn turn,
                   shared_.Take(deadline, what));
  RedisCluster& connection = turn.connection();
  // The heartbeat on its own first: Command() reconnects once if the server
  // closed an idle connection. The announcement follows in one round trip.
  absl::StatusOr<RedisReplyPtr> beat = heartbeat_.Run(
      connection, {replicas_key_}, {replica, ttl_ms}, deadline, replicas_key_);
  if (!beat.ok()) return Context(beat.status(), what);
  ASSIGN_OR_RETURN(std::vector<std::string> members, MembersOf(**beat, what));
  std::vector<PipelinedCall> calls;
  served_.AppendCalls(replica, serves, clock_.Now(), calls);
  auto replies =
      RunPipelined(connection, absl::MakeSpan(calls), deadline, clock_);
  if (!replies.ok()) return Context(replies.status(), what);
  absl::StatusOr<std::vector<LiveReplica>> alive = served_.Resolve(
      connection, members, absl::MakeSpan(*replies), deadline, clock_);
  if (!alive.ok()) return Context(alive.status(), what);
  return alive;
}

}  // namespace signalscaler::state_internal
