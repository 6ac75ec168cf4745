#include "scaler/server/internal/ticker.h"

#include <utility>

namespace signalscaler {

void Ticker::Start(absl::Duration tick, std::function<void()> fn,
                   absl::Duration gather) {
  {
    absl::MutexLock lock(&mu_);
    if (thread_ != nullptr) return;
    stopping_ = false;
  }
  thread_ =
      std::make_unique<std::thread>([this, tick, gather, fn = std::move(fn)] {
        while (true) {
          fn();
          absl::MutexLock lock(&mu_);
          const absl::Time due = absl::Now() + tick;
          while (!stopping_ && !wake_ && !cv_.WaitWithDeadline(&mu_, due)) {
          }
          if (stopping_) return;
          if (wake_) {
            // Woken: let a burst of wakes gather so that a busy caller does not
            // make this loop spin.
            const absl::Time gathered = absl::Now() + gather;
            while (!stopping_ && !cv_.WaitWithDeadline(&mu_, gathered)) {
            }
            if (stopping_) return;
          }
          wake_ = false;
        }
      });
}

void Ticker::Wake() {
  {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  }
  cv_.SignalAll();
}

void Ticker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (thread_ == nullptr) return;
    stopping_ = true;
  }
  cv_.SignalAll();
  thread_->join();
  thread_.reset();
}

}  // namespace signalscaler
