#include "scaler/server/internal/ticker.h"

#include <utility>

namespace signalscaler {

void Ticker::Start(absl::Duration tick, std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_ != nullptr) return;
    stopping_ = false;
  }
  thread_ = std::make_unique<std::thread>([this, tick, fn = std::move(fn)] {
    while (true) {
      fn();
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, absl::ToChronoNanoseconds(tick),
                       [this] { return stopping_ || wake_; })) {
        if (stopping_) return;
        // Woken: let a burst of wakes gather so that a busy caller does not
        // make this loop spin.
        if (cv_.wait_for(lock, absl::ToChronoNanoseconds(kGather),
                         [this] { return stopping_; })) {
          return;
        }
      }
      wake_ = false;
    }
  });
}

void Ticker::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Ticker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_ == nullptr) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_->join();
  thread_.reset();
}

}  // namespace signalscaler
