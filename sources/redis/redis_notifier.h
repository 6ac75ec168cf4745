// Keyspace notifications for one key: a RedisSubscriber
// (sources/redis/client/redis_subscriber.h) PSUBSCRIBEd to
// `__keyspace@<db>__:<key>`, whose thread calls `on_change` on every event
// (and after every resubscription, since events may have been missed) so
// that the sampler re-reads at once. Before
// subscribing (and again after every reconnect, since a restarted server
// forgets a CONFIG SET) it makes sure that the server's
// notify-keyspace-events include K and the classes the key needs, asking
// CONFIG SET only when they are missing.
//
//   RedisKeyspaceNotifier notifier(options, clock, [&] { sampler.Wake(); });
//   absl::Status first = notifier.Start();  // the thread runs regardless
//
// Thread-safe; `on_change` is called from the notifier's thread, never after
// the destructor returns.
#ifndef SIGNALSCALER_SOURCES_REDIS_REDIS_NOTIFIER_H_
#define SIGNALSCALER_SOURCES_REDIS_REDIS_NOTIFIER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "sources/redis/client/redis_connection.h"
#include "sources/redis/client/redis_subscriber.h"

namespace signalscaler {

struct RedisNotifierOptions {
  RedisConnectionOptions connection;
  std::string key;
  // notify-keyspace-events classes the key's changes need, beyond K: e.g.
  // "lgx" for a list (list commands, DEL/RENAME/EXPIRE, expiry).
  std::string classes;
  // How long one read waits: the bound on how late a stop is noticed.
  absl::Duration poll_interval = absl::Milliseconds(200);
  // Bound of one connect + CONFIG + PSUBSCRIBE attempt.
  absl::Duration setup_timeout = absl::Seconds(1);
  // A PING after this much silence; no answer within it again: reconnect.
  absl::Duration ping_interval = absl::Seconds(15);
  // Also call `on_change` once the first subscription is made (a notifier
  // that replaces another, on a cluster node that now serves the key: events
  // were missed in between).
  bool changed_on_first_subscription = false;
};

// The pattern matching exactly `channel`: glob characters escaped.
std::string EscapeGlob(absl::string_view channel);
// The notify-keyspace-events flags to set so that `current` also covers
// `needed` (classes plus K), or nullopt when it already does ('A' stands
// for "g$lshzxetd").
std::optional<std::string> MergeNotifyFlags(absl::string_view current,
                                            absl::string_view needed);

class RedisKeyspaceNotifier {
 public:
  RedisKeyspaceNotifier(RedisNotifierOptions options, const Clock& clock,
                        std::function<void()> on_change);
  ~RedisKeyspaceNotifier() = default;  // stops the thread promptly, joins it
  RedisKeyspaceNotifier(const RedisKeyspaceNotifier&) = delete;
  RedisKeyspaceNotifier& operator=(const RedisKeyspaceNotifier&) = delete;

  // Starts the thread (once) and returns the outcome of its first attempt:
  // OK when subscribed with the events enabled; FAILED_PRECONDITION when
  // subscribed but CONFIG was refused (events arrive only if the server was
  // configured otherwise); or why it could not subscribe yet. In every case
  // the thread keeps (re)trying until destroyed.
  absl::Status Start();
  // Starts the thread (once) and returns at once.
  void StartInBackground();
  // "host:port" of the server it subscribes on.
  const std::string& server() const { return subscriber_.server(); }

 private:
  // The subscriber's prepare step: CONFIG GET, and SET if needed.
  absl::Status EnsureEventsEnabled(RedisConnection& connection,
                                   absl::Time deadline) const;

  const RedisNotifierOptions options_;
  RedisSubscriber subscriber_;  // the thread; last, so destroyed first
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_REDIS_NOTIFIER_H_
