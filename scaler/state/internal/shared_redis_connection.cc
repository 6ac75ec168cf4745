#include "scaler/state/internal/shared_redis_connection.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace signalscaler::state_internal {

absl::StatusOr<SharedRedisConnection::Turn> SharedRedisConnection::Take(
    absl::Time deadline, absl::string_view what) {
  absl::MutexLock lock(&mu_);
  while (busy_) {
    const absl::Duration left = deadline - clock_.Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, ": redis ", server(),
          ": the connection was busy with other calls until the deadline"));
    }
    // In steps: the deadline is on `clock_`, the wait on the steady clock.
    free_.WaitWithTimeout(&mu_,
                          std::min(absl::Ceil(left, absl::Milliseconds(1)),
                                   absl::Milliseconds(100)));
  }
  busy_ = true;
  return Turn(this);
}

void SharedRedisConnection::Give() {
  {
    absl::MutexLock lock(&mu_);
    busy_ = false;
  }
  free_.Signal();
}

}  // namespace signalscaler::state_internal
