#include "sources/redis/client/redis_subscriber.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "scaler/common/status_macros.h"
#include "sources/redis/client/redis_errors.h"
#include "sources/redis/client/redis_reply.h"

namespace signalscaler {

RedisSubscriber::RedisSubscriber(RedisSubscriberOptions options,
                                 const Clock& clock, RedisSubscriberHooks hooks)
    : options_(std::move(options)),
      clock_(clock),
      hooks_(std::move(hooks)),
      command_(options_.pattern ? "PSUBSCRIBE" : "SUBSCRIBE"),
      ack_(options_.pattern ? "psubscribe" : "subscribe"),
      connection_(options_.connection, clock) {}

RedisSubscriber::~RedisSubscriber() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

bool RedisSubscriber::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stop_) return false;
  thread_ = std::thread([this] { Run(); });
  return true;
}

std::optional<absl::Status> RedisSubscriber::WaitForFirstAttempt(
    absl::Duration bound) {
  absl::MutexLock lock(&mu_);
  const absl::Time due = absl::Now() + bound;
  while (!first_.has_value() && !cv_.WaitWithDeadline(&mu_, due)) {
  }
  return first_;
}

void RedisSubscriber::Report(const absl::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (first_.has_value()) return;
    first_ = status;
  }
  cv_.SignalAll();
}

void RedisSubscriber::WaitFor(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  const absl::Time due = absl::Now() + d;
  while (!stop_.load() && !cv_.WaitWithDeadline(&mu_, due)) {
  }
}

void RedisSubscriber::Run() {
  bool subscribed_before = false;
  while (!stop_) {
    absl::Status status = SetUp();
    const bool subscribed = status.ok() || absl::IsFailedPrecondition(status);
    subscribed_ = subscribed;  // before Report: subscribed() agrees with it
    if (!stop_) Report(status);
    if (subscribed) {
      if (hooks_.on_subscribed) hooks_.on_subscribed(status, subscribed_before);
      subscribed_before = true;
      status = Listen();  // lost or stopping: the loop decides
      subscribed_ = false;
    }
    if (stop_) break;
    if (hooks_.on_failure) hooks_.on_failure(status);
    // Backs off as the connection says, but never spins.
    const absl::Duration wait = std::max(connection_.retry_at() - clock_.Now(),
                                         options_.connection.initial_backoff);
    WaitFor(std::min(wait, options_.connection.max_backoff));
  }
  connection_.Disconnect();
}

absl::Status RedisSubscriber::SetUp() {
  connection_.Disconnect();  // a fresh connection: no stale subscription
  const absl::Time deadline = clock_.Now() + options_.setup_timeout;
  absl::Status prepared = absl::OkStatus();
  if (hooks_.prepare) {
    prepared = hooks_.prepare(connection_, deadline);
    if (!prepared.ok() && !absl::IsFailedPrecondition(prepared)) {
      return prepared;
    }
  }
  RETURN_IF_ERROR(connection_.Send({command_, options_.channel}, deadline));
  while (!stop_) {
    if (clock_.Now() >= deadline) {
      const absl::Status late = absl::DeadlineExceededError(
          absl::StrCat("redis ", connection_.server(), ": ", command_, " \"",
                       options_.channel, "\" not confirmed in time"));
      connection_.Disconnect();
      return late;
    }
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     connection_.NextReply(options_.poll_interval));
    if (reply == nullptr) continue;
    if (reply->type == REDIS_REPLY_ERROR) {
      const absl::Status status = RedisErrorToStatus(
          RedisCall{connection_.server(), command_, options_.channel},
          FailureFromReply(*reply));
      connection_.Fail(status);
      return status;
    }
    if (IsPush(*reply, ack_, 2)) return prepared;
  }
  return absl::CancelledError("stopping");
}

absl::Status RedisSubscriber::Listen() {
  absl::Time last_data = clock_.Now();
  bool ping_sent = false;
  while (!stop_) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     connection_.NextReply(options_.poll_interval));
    if (reply == nullptr) {
      if (clock_.Now() - last_data < options_.ping_interval) continue;
      if (ping_sent) {
        const absl::Status silent = absl::UnavailableError(
            absl::StrCat("redis ", connection_.server(), ": no answer to PING",
                         " on the subscription to \"", options_.channel, "\""));
        connection_.Fail(silent);
        return silent;
      }
      RETURN_IF_ERROR(
          connection_.Send({"PING"}, clock_.Now() + options_.setup_timeout));
      ping_sent = true;
      last_data = clock_.Now();
      continue;
    }
    last_data = clock_.Now();
    ping_sent = false;
    // ["message", channel, payload] or
    // ["pmessage", pattern, channel, payload].
    const size_t at = options_.pattern ? 1 : 0;
    if (IsPush(*reply, options_.pattern ? "pmessage" : "message", at + 3) &&
        ReplyText(*reply->element[1]) == options_.channel) {
      hooks_.on_message(ReplyText(*reply->element[at + 1]),
                        ReplyText(*reply->element[at + 2]));
    }
  }
  return absl::OkStatus();
}

}  // namespace signalscaler
