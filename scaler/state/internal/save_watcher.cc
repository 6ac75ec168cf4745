#include "scaler/state/internal/save_watcher.h"

#include <string>
#include <utility>

#include "scaler/common/log.h"

namespace signalscaler::state_internal {
namespace {

// The watcher this thread is running (a watcher may call Set() of its own
// SaveWatcher without waiting for itself).
thread_local const SaveWatcher* running_watcher_of = nullptr;

}  // namespace

SaveWatcher::SaveWatcher(RedisSubscriberOptions options, std::string server,
                         const Clock& clock)
    : options_(std::move(options)), server_(std::move(server)), clock_(clock) {}

SaveWatcher::~SaveWatcher() {
  std::unique_ptr<RedisSubscriber> subscriber;
  {
    absl::MutexLock lock(&mu_);
    on_saved_ = nullptr;
    subscriber = std::move(subscriber_);
  }
  subscriber.reset();  // joins its thread (outside mu_, which it takes)
}

void SaveWatcher::Set(OnSaved on_saved) {
  if (running_watcher_of == this) {
    // From inside the watcher: OnMessage holds mu_ on this thread.
    mu_.AssertHeld();
    SetLocked(std::move(on_saved));
    return;
  }
  absl::MutexLock lock(&mu_);
  SetLocked(std::move(on_saved));
}

void SaveWatcher::SetLocked(OnSaved on_saved) {
  on_saved_ = std::move(on_saved);
  if (subscriber_ != nullptr || on_saved_ == nullptr) return;
  subscriber_ = std::make_unique<RedisSubscriber>(options_, clock_, Hooks());
  subscriber_->Start();
}

RedisSubscriberHooks SaveWatcher::Hooks() {
  // Touched by the subscriber's thread only.
  auto failing = std::make_shared<bool>(false);
  const std::string server = server_;
  const std::string channel = options_.channel;
  RedisSubscriberHooks hooks;
  hooks.on_message = [this](absl::string_view, absl::string_view message) {
    OnMessage(message);
  };
  hooks.on_subscribed = [failing, server, channel](const absl::Status&, bool) {
    if (*failing) {
      LogInfo("redis state store: watching saves again",
              {{"server", server}, {"channel", channel}});
    }
    *failing = false;
  };
  hooks.on_failure = [failing, server, channel](const absl::Status& why) {
    if (*failing) return;
    LogWarn(
        "redis state store: cannot watch saves (keeps trying; "
        "replicas refresh at their next poll meanwhile)",
        {{"server", server},
         {"channel", channel},
         {"error", std::string(why.message())}});
    *failing = true;
  };
  return hooks;
}

void SaveWatcher::OnMessage(absl::string_view message) {
  const size_t slash = message.find('/');
  if (slash == absl::string_view::npos) return;  // not ours
  const PolicyKey key{std::string(message.substr(0, slash)),
                      std::string(message.substr(slash + 1))};
  absl::MutexLock lock(&mu_);
  if (on_saved_ == nullptr) return;
  // A copy: the watcher may replace itself while it runs.
  const OnSaved call = on_saved_;
  running_watcher_of = this;
  call(key);
  running_watcher_of = nullptr;
}

}  // namespace signalscaler::state_internal
