// Every layer's notion of time: an injected Clock (the engine takes `now`
// from one). The server uses SystemClock; tests and the simulator use
// ManualClock.
//
//   ManualClock clock(absl::FromUnixSeconds(1000));
//   clock.Advance(absl::Seconds(15));
#ifndef SIGNALSCALER_SCALER_COMMON_CLOCK_H_
#define SIGNALSCALER_SCALER_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_CLOCK_H_
