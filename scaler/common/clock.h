// Every layer's notion of time: an injected Clock (the engine takes `now`
// from one). The server uses SystemClock; tests and the simulator use
// ManualClock.
//
//   ManualClock clock(absl::FromUnixSeconds(1000));
//   clock.Advance(absl::Seconds(15));
#ifndef SIGNALSCALER_SCALER_COMMON_CLOCK_H_
#define SIGNALSCALER_SCALER_COMMON_CLOCK_H_

#include <mutex>
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace signalscaler {

// Thread-safe in every implementation.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Set(absl::Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_CLOCK_H_
