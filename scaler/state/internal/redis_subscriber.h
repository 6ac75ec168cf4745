// One Redis pub/sub channel, read by a thread of its own on a connection of
// its own: SUBSCRIBE, then `on_message(payload)` for every message, PING
// after a silence to find a dead connection, and a fresh connection and
// SUBSCRIBE after every failure (with the connection's backoff). The same
// loop as sources/redis/redis_notifier.h, for a plain channel.
//
//   RedisSubscriber sub(options, clock, [](absl::string_view m) { ... });
//   sub.Start();  // returns at once; the thread keeps (re)subscribing
//
// Thread-safe; `on_message` is called from the subscriber's thread, never
// after the destructor returns (which stops the thread within about one
// `poll_interval`).
#ifndef SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_SUBSCRIBER_H_
#define SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_SUBSCRIBER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "sources/redis/redis_connection.h"

namespace signalscaler::state_internal {

struct RedisSubscriberOptions {
  RedisConnectionOptions connection;
  std::string channel;
  // How long one read waits: the bound on how late a stop is noticed.
  absl::Duration poll_interval = absl::Milliseconds(100);
  // Bound of one connect + SUBSCRIBE attempt.
  absl::Duration setup_timeout = absl::Seconds(1);
  // A PING after this much silence; no answer within it again: reconnect.
  absl::Duration ping_interval = absl::Seconds(15);
};

class RedisSubscriber {
 public:
  RedisSubscriber(RedisSubscriberOptions options, const Clock& clock,
                  std::function<void(absl::string_view)> on_message);
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  void Start();  // once; later calls do nothing
  // True while subscribed (for tests: a message published before is lost).
  bool subscribed() const { return subscribed_; }

 private:
  void Run();
  absl::Status SetUp();   // connect and SUBSCRIBE
  absl::Status Listen();  // until the connection is lost or stop
  void WaitFor(absl::Duration d);

  const RedisSubscriberOptions options_;
  const Clock& clock_;
  const std::function<void(absl::string_view)> on_message_;
  RedisConnection connection_;  // used by the thread only
  std::atomic<bool> stop_{false};
  std::atomic<bool> subscribed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;  // started under mu_
};

}  // namespace signalscaler::state_internal

#endif  // SIGNALSCALER_SCALER_STATE_INTERNAL_REDIS_SUBSCRIBER_H_
