#include "sources/redis/redis_notifier.h"

#include <hiredis/hiredis.h>

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "scaler/common/status_macros.h"
#include "sources/redis/redis_errors.h"

namespace signalscaler {
namespace {

constexpr absl::string_view kAllClasses = "g$lshzxetd";  // what 'A' means

absl::string_view Str(const redisReply& r) {
  return r.str == nullptr ? absl::string_view()
                          : absl::string_view(r.str, r.len);
}

bool IsArrayStartingWith(const redisReply& r, absl::string_view word,
                         size_t min_elements) {
  return r.type == REDIS_REPLY_ARRAY && r.elements >= min_elements &&
         r.element[0]->type == REDIS_REPLY_STRING &&
         absl::EqualsIgnoreCase(Str(*r.element[0]), word);
}

}  // namespace

std::string EscapeGlob(absl::string_view channel) {
  std::string out;
  for (char c : channel) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

std::optional<std::string> MergeNotifyFlags(absl::string_view current,
                                            absl::string_view needed) {
  const bool all = absl::StrContains(current, 'A');
  std::string merged(current);
  for (char c : needed) {
    if (absl::StrContains(merged, c)) continue;
    if (all && absl::StrContains(kAllClasses, c)) continue;
    merged.push_back(c);
  }
  if (merged.size() == current.size()) return std::nullopt;
  return merged;
}

RedisKeyspaceNotifier::RedisKeyspaceNotifier(RedisNotifierOptions options,
                                             const Clock& clock,
                                             std::function<void()> on_change)
    : options_(std::move(options)),
      clock_(clock),
      on_change_(std::move(on_change)),
      pattern_(EscapeGlob(absl::StrCat(
          "__keyspace@", options_.connection.database, "__:", options_.key))),
      connection_(options_.connection, clock) {}

RedisKeyspaceNotifier::~RedisKeyspaceNotifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status RedisKeyspaceNotifier::Start() {
  std::unique_lock<std::mutex> lock(mu_);
  if (thread_.joinable()) {
    return absl::FailedPreconditionError("the notifier is already started");
  }
  thread_ = std::thread([this] { Run(); });
  const absl::Duration bound =
      options_.setup_timeout * 4 + options_.connection.connect_timeout;
  if (!cv_.wait_for(lock, absl::ToChronoMilliseconds(bound),
                    [this] { return first_.has_value(); })) {
    return absl::DeadlineExceededError(absl::StrCat(
        "redis ", connection_.server(),
        ": keyspace subscription still being set up (keeps trying)"));
  }
  return *first_;
}

void RedisKeyspaceNotifier::Report(const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.has_value()) return;
    first_ = status;
  }
  cv_.notify_all();
}

void RedisKeyspaceNotifier::WaitFor(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(d),
               [this] { return stop_.load(); });
}

void RedisKeyspaceNotifier::Run() {
  bool subscribed_before = false;
  while (!stop_) {
    const absl::Status setup = SetUp();
    const bool subscribed = setup.ok() || absl::IsFailedPrecondition(setup);
    Report(setup);
    if (subscribed) {
      // Events may have been missed while the connection was down.
      if (subscribed_before) on_change_();
      subscribed_before = true;
      Listen().IgnoreError();  // lost or stopping: the loop decides
    }
    if (stop_) break;
    // Backs off as the connection says, but never spins.
    const absl::Duration wait = std::max(connection_.retry_at() - clock_.Now(),
                                         options_.connection.initial_backoff);
    WaitFor(std::min(wait, options_.connection.max_backoff));
  }
  connection_.Disconnect();
}

absl::Status RedisKeyspaceNotifier::SetUp() {
  connection_.Disconnect();  // a fresh connection: no stale subscription
  const absl::Time deadline = clock_.Now() + options_.setup_timeout;
  const absl::Status events = EnsureEventsEnabled(deadline);
  if (!events.ok() && !absl::IsFailedPrecondition(events)) return events;
  RETURN_IF_ERROR(connection_.Send({"PSUBSCRIBE", pattern_}, deadline));
  while (!stop_) {
    if (clock_.Now() >= deadline) {
      connection_.Disconnect();
      return absl::DeadlineExceededError(absl::StrCat(
          "redis ", connection_.server(), ": PSUBSCRIBE not confirmed"));
    }
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     connection_.NextReply(options_.poll_interval));
    if (reply == nullptr) continue;
    if (reply->type == REDIS_REPLY_ERROR) {
      const absl::Status status = RedisErrorToStatus(
          RedisCall{connection_.server(), "PSUBSCRIBE", options_.key},
          FailureFromReply(*reply));
      connection_.Fail(status);
      return status;
    }
    if (IsArrayStartingWith(*reply, "psubscribe", 1)) return events;
  }
  return absl::CancelledError("stopping");
}

absl::Status RedisKeyspaceNotifier::EnsureEventsEnabled(absl::Time deadline) {
  const std::string needed = absl::StrCat("K", options_.classes);
  const std::string advice = absl::StrCat(
      "; keyspace events arrive only if the server's notify-keyspace-events "
      "already include \"",
      needed, "\" (until then changes are seen by polling only)");
  ASSIGN_OR_RETURN(RedisReplyPtr got,
                   connection_.Command(
                       {"CONFIG", "GET", "notify-keyspace-events"}, deadline));
  if (got->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis ", connection_.server(),
                     ": CONFIG GET notify-keyspace-events refused (", Str(*got),
                     ")", advice));
  }
  if (got->type != REDIS_REPLY_ARRAY || got->elements < 2 ||
      got->element[1]->type != REDIS_REPLY_STRING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "redis ", connection_.server(),
        ": unexpected answer to CONFIG GET notify-keyspace-events", advice));
  }
  const std::optional<std::string> merged =
      MergeNotifyFlags(Str(*got->element[1]), needed);
  if (!merged.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      RedisReplyPtr set,
      connection_.Command({"CONFIG", "SET", "notify-keyspace-events", *merged},
                          deadline));
  if (set->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(absl::StrCat(
        "redis ", connection_.server(), ": CONFIG SET notify-keyspace-events ",
        *merged, " refused (", Str(*set), ")", advice));
  }
  return absl::OkStatus();
}

absl::Status RedisKeyspaceNotifier::Listen() {
  absl::Time last_data = absl::Now();
  bool ping_sent = false;
  while (!stop_) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     connection_.NextReply(options_.poll_interval));
    if (reply == nullptr) {
      if (absl::Now() - last_data < options_.ping_interval) continue;
      if (ping_sent) {
        const absl::Status silent = absl::UnavailableError(
            absl::StrCat("redis ", connection_.server(),
                         ": no answer to PING on the keyspace subscription"));
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
    if (IsArrayStartingWith(*reply, "pmessage", 4)) on_change_();
  }
  return absl::OkStatus();
}

}  // namespace signalscaler
