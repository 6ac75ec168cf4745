// One Redis pub/sub subscription, read by a thread of its own on a
// connection of its own: SUBSCRIBE to a channel (or PSUBSCRIBE to a
// pattern), then `on_message(channel, payload)` for every message, a PING
// after a silence to find a dead connection, and a fresh connection and
// subscription after every failure (with the connection's backoff). The one
// such loop: the Redis StateStore watches saves with it, the redis Source's
// keyspace notifier (sources/redis/redis_notifier.h) watches a key with it.
//
//   RedisSubscriberHooks hooks;
//   hooks.on_message = [](absl::string_view channel, absl::string_view m) {};
//   RedisSubscriber sub(options, clock, std::move(hooks));
//   sub.Start();  // returns at once; the thread keeps (re)subscribing
//
// Every time (deadlines, the PING's silence, the backoff) is on the injected
// Clock; only the waits themselves are in real time (one read waits at most
// `poll_interval`).
//
// Thread-safe; the hooks are called from the subscriber's thread, never
// after the destructor returns (which stops the thread within about one
// `poll_interval`).
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_SUBSCRIBER_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_SUBSCRIBER_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "sources/redis/client/redis_connection.h"

namespace signalscaler {

struct RedisSubscriberOptions {
  RedisConnectionOptions connection;
  // The channel to SUBSCRIBE to or, with `pattern`, the glob pattern to
  // PSUBSCRIBE to (EscapeGlob makes one that matches one channel only).
  std::string channel;
  bool pattern = false;
  // How long one read waits: the bound on how late a stop is noticed.
  absl::Duration poll_interval = absl::Milliseconds(100);
  // Bound of one connect + prepare + subscribe attempt.
  absl::Duration setup_timeout = absl::Seconds(1);
  // A PING after this much silence; no answer within it again: reconnect.
  absl::Duration ping_interval = absl::Seconds(15);
};

struct RedisSubscriberHooks {
  // Required. Every message on the subscription: the channel it was
  // published to and its payload.
  std::function<void(absl::string_view channel, absl::string_view payload)>
      on_message;
  // Optional. Run on every fresh connection before it subscribes (the
  // keyspace notifier makes sure that the server sends the events). OK or
  // FAILED_PRECONDITION: subscribe, and that is the attempt's outcome; any
  // other error fails the attempt.
  std::function<absl::Status(RedisConnection& connection, absl::Time deadline)>
      prepare;
  // Optional. After every successful subscribe, with its outcome (OK, or
  // prepare's FAILED_PRECONDITION). `again`: not the first subscription, so
  // messages published while it was down were missed.
  std::function<void(const absl::Status& outcome, bool again)> on_subscribed;
  // Optional. An attempt failed, or the subscription was lost, and why
  // (never called for a stop).
  std::function<void(const absl::Status& why)> on_failure;
};

class RedisSubscriber {
 public:
  // `clock` must outlive the subscriber.
  RedisSubscriber(RedisSubscriberOptions options, const Clock& clock,
                  RedisSubscriberHooks hooks);
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  // Starts the thread; returns at once. False (and does nothing) if it was
  // already started.
  bool Start();
  // The outcome of the first attempt (as prepare and the subscription made
  // it: OK, FAILED_PRECONDITION, or why it could not subscribe), waiting for
  // it up to `bound` of real time; nullopt if there is none yet. The thread
  // keeps (re)trying whatever it was.
  std::optional<absl::Status> WaitForFirstAttempt(absl::Duration bound);
  // True while subscribed (for tests: a message published before is lost).
  bool subscribed() const { return subscribed_; }
  // "host:port", for messages.
  const std::string& server() const { return connection_.server(); }

 private:
  void Run();
  absl::Status SetUp();   // connect, prepare, subscribe; OK or degraded
  absl::Status Listen();  // until the connection is lost or stop
  void Report(const absl::Status& status);
  void WaitFor(absl::Duration d);

  const RedisSubscriberOptions options_;
  const Clock& clock_;
  const RedisSubscriberHooks hooks_;
  const std::string command_;   // "SUBSCRIBE" or "PSUBSCRIBE"
  const std::string ack_;       // "subscribe" or "psubscribe"
  RedisConnection connection_;  // used by the thread only
  std::atomic<bool> stop_{false};
  std::atomic<bool> subscribed_{false};
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::optional<absl::Status> first_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // started under mu_
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_SUBSCRIBER_H_
