// The Redis state store's watch of saves: one RedisSubscriber on the store's
// "saved" channel, and the watcher it calls with each saved policy's key.
//
//   SaveWatcher watcher(subscriber_options, "host:port", clock);
//   watcher.Set([](const PolicyKey& key) { ... });  // starts the subscriber
//   watcher.Set(nullptr);                            // no more calls
//
// Thread-safe. Set() returns only once the watcher it replaces has returned
// (and it is never called again), except when called from inside the
// watcher, which may replace itself.
#ifndef SIGNALSCALER_SCALER_STATE_INTERNAL_SAVE_WATCHER_H_
#define SIGNALSCALER_SCALER_STATE_INTERNAL_SAVE_WATCHER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "scaler/common/clock.h"
#include "scaler/policy/policy_key.h"
#include "sources/redis/client/redis_subscriber.h"

namespace signalscaler::state_internal {

class SaveWatcher {
 public:
  using OnSaved = std::function<void(const PolicyKey&)>;

  // `options.channel` is the channel saves are published on ("<ns>/<name>"
  // messages); the subscriber starts with the first non-null watcher.
  // `server` ("host:port") is for log lines.
  SaveWatcher(RedisSubscriberOptions options, std::string server,
              const Clock& clock);
  // Stops the subscriber (joins its thread).
  ~SaveWatcher();
  SaveWatcher(const SaveWatcher&) = delete;
  SaveWatcher& operator=(const SaveWatcher&) = delete;

  void Set(OnSaved on_saved) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void SetLocked(OnSaved on_saved) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnMessage(absl::string_view message) ABSL_LOCKS_EXCLUDED(mu_);
  // OnMessage, and a warning when watching fails (once, until it works
  // again, which is logged once too).
  RedisSubscriberHooks Hooks();

  const RedisSubscriberOptions options_;
  const std::string server_;
  const Clock& clock_;
  // Held while the watcher runs.
  absl::Mutex mu_;
  OnSaved on_saved_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RedisSubscriber> subscriber_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signalscaler::state_internal

#endif  // SIGNALSCALER_SCALER_STATE_INTERNAL_SAVE_WATCHER_H_
