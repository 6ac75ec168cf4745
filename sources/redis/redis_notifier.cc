#include "sources/redis/redis_notifier.h"

#include <hiredis/hiredis.h>

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "scaler/common/status_macros.h"
#include "sources/redis/client/redis_reply.h"

namespace signalscaler {
namespace {

constexpr absl::string_view kAllClasses = "g$lshzxetd";  // what 'A' means

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

namespace {

RedisSubscriberOptions SubscriberOptions(const RedisNotifierOptions& o) {
  RedisSubscriberOptions options;
  options.connection = o.connection;
  options.channel = EscapeGlob(
      absl::StrCat("__keyspace@", o.connection.database, "__:", o.key));
  options.pattern = true;
  options.poll_interval = o.poll_interval;
  options.setup_timeout = o.setup_timeout;
  options.ping_interval = o.ping_interval;
  return options;
}

}  // namespace

RedisKeyspaceNotifier::RedisKeyspaceNotifier(RedisNotifierOptions options,
                                             const Clock& clock,
                                             std::function<void()> on_change)
    : options_(std::move(options)),
      subscriber_(SubscriberOptions(options_), clock, [&] {
        RedisSubscriberHooks hooks;
        hooks.on_message = [on_change](absl::string_view, absl::string_view) {
          on_change();
        };
        hooks.prepare = [this](RedisConnection& connection,
                               absl::Time deadline) {
          return EnsureEventsEnabled(connection, deadline);
        };
        hooks.on_subscribed = [on_change,
                               first = options_.changed_on_first_subscription](
                                  const absl::Status&, bool again) {
          // Events may have been missed meanwhile.
          if (again || first) on_change();
        };
        return hooks;
      }()) {}

absl::Status RedisKeyspaceNotifier::Start() {
  if (!subscriber_.Start()) {
    return absl::FailedPreconditionError("the notifier is already started");
  }
  const absl::Duration bound =
      options_.setup_timeout * 4 + options_.connection.connect_timeout;
  std::optional<absl::Status> first = subscriber_.WaitForFirstAttempt(bound);
  if (!first.has_value()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "redis ", subscriber_.server(),
        ": keyspace subscription still being set up (keeps trying)"));
  }
  return *first;
}

void RedisKeyspaceNotifier::StartInBackground() { subscriber_.Start(); }

absl::Status RedisKeyspaceNotifier::EnsureEventsEnabled(
    RedisConnection& connection, absl::Time deadline) const {
  const std::string needed = absl::StrCat("K", options_.classes);
  const std::string advice = absl::StrCat(
      "; keyspace events arrive only if the server's notify-keyspace-events "
      "already include \"",
      needed, "\" (until then changes are seen by polling only)");
  ASSIGN_OR_RETURN(RedisReplyPtr got,
                   connection.Command(
                       {"CONFIG", "GET", "notify-keyspace-events"}, deadline));
  if (got->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis ", connection.server(),
                     ": CONFIG GET notify-keyspace-events refused (",
                     ReplyText(*got), ")", advice));
  }
  if (got->type != REDIS_REPLY_ARRAY || got->elements < 2 ||
      got->element[1]->type != REDIS_REPLY_STRING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "redis ", connection.server(),
        ": unexpected answer to CONFIG GET notify-keyspace-events", advice));
  }
  const std::optional<std::string> merged =
      MergeNotifyFlags(ReplyText(*got->element[1]), needed);
  if (!merged.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      RedisReplyPtr set,
      connection.Command({"CONFIG", "SET", "notify-keyspace-events", *merged},
                         deadline));
  if (set->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(absl::StrCat(
        "redis ", connection.server(), ": CONFIG SET notify-keyspace-events ",
        *merged, " refused (", ReplyText(*set), ")", advice));
  }
  return absl::OkStatus();
}

}  // namespace signalscaler
