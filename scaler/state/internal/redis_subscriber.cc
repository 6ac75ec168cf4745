#include "scaler/state/internal/redis_subscriber.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "scaler/common/log.h"
#include "scaler/common/status_macros.h"
#include "sources/redis/redis_errors.h"

namespace signalscaler::state_internal {
namespace {

absl::string_view Str(const redisReply& r) {
  return r.str == nullptr ? absl::string_view()
                          : absl::string_view(r.str, r.len);
}

// A pub/sub push: ["message", channel, payload], ["subscribe", channel, n],
// ["pong", ""]: an array whose first element is `word`.
bool IsPush(const redisReply& r, absl::string_view word, size_t elements) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements < elements || r.elements == 0) {
    return false;
  }
  for (size_t i = 0; i < elements; ++i) {
    if (r.element[i]->type != REDIS_REPLY_STRING) return false;
  }
  return absl::EqualsIgnoreCase(Str(*r.element[0]), word);
}

}  // namespace

RedisSubscriber::RedisSubscriber(
    RedisSubscriberOptions options, const Clock& clock,
    std::function<void(absl::string_view)> on_message)
    : options_(std::move(options)),
      clock_(clock),
      on_message_(std::move(on_message)),
      connection_(options_.connection, clock) {}

RedisSubscriber::~RedisSubscriber() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RedisSubscriber::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Run(); });
}

void RedisSubscriber::WaitFor(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(d),
               [this] { return stop_.load(); });
}

void RedisSubscriber::Run() {
  bool failing = false;  // log a failure once, and the recovery once
  while (!stop_) {
    absl::Status status = SetUp();
    if (status.ok()) {
      subscribed_ = true;
      if (failing) {
        LogInfo(
            "redis state store: watching saves again",
            {{"server", connection_.server()}, {"channel", options_.channel}});
      }
      failing = false;
      status = Listen();
      subscribed_ = false;
    }
    if (stop_) break;
    if (!failing) {
      LogWarn(
          "redis state store: cannot watch saves (keeps trying; "
          "replicas refresh at their next poll meanwhile)",
          {{"server", connection_.server()},
           {"channel", options_.channel},
           {"error", std::string(status.message())}});
      failing = true;
    }
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
  RETURN_IF_ERROR(connection_.Send({"SUBSCRIBE", options_.channel}, deadline));
  while (!stop_) {
    if (clock_.Now() >= deadline) {
      const absl::Status late = absl::DeadlineExceededError(
          absl::StrCat("redis ", connection_.server(), ": SUBSCRIBE \"",
                       options_.channel, "\" not confirmed in time"));
      connection_.Disconnect();
      return late;
    }
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     connection_.NextReply(options_.poll_interval));
    if (reply == nullptr) continue;
    if (reply->type == REDIS_REPLY_ERROR) {
      const absl::Status status = RedisErrorToStatus(
          RedisCall{connection_.server(), "SUBSCRIBE", options_.channel},
          FailureFromReply(*reply));
      connection_.Fail(status);
      return status;
    }
    if (IsPush(*reply, "subscribe", 2)) return absl::OkStatus();
  }
  return absl::CancelledError("stopping");
}

absl::Status RedisSubscriber::Listen() {
  absl::Time last_data = absl::Now();
  bool ping_sent = false;
  while (!stop_) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     connection_.NextReply(options_.poll_interval));
    if (reply == nullptr) {
      if (absl::Now() - last_data < options_.ping_interval) continue;
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
      last_data = absl::Now();
      continue;
    }
    last_data = absl::Now();
    ping_sent = false;
    if (IsPush(*reply, "message", 3) &&
        Str(*reply->element[1]) == options_.channel) {
      on_message_(Str(*reply->element[2]));
    }
  }
  return absl::OkStatus();
}

}  // namespace signalscaler::state_internal
