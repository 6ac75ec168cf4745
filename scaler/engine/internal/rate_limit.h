// Step 5 of "Decision (normative)": Kubernetes' scaling policies
// (pkg/controller/podautoscaler/horizontal.go,
// calculateScaleUpLimitWithScalingRules and
// calculateScaleDownLimitWithBehaviors). An event counts in a period when it
// is strictly newer than now - period.
#ifndef SIGNALSCALER_SCALER_ENGINE_INTERNAL_RATE_LIMIT_H_
#define SIGNALSCALER_SCALER_ENGINE_INTERNAL_RATE_LIMIT_H_

#include <cstdint>
#include <deque>

#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"

namespace signalscaler::engine_internal {

struct RateLimit {
  bool disabled = false;  // selectPolicy Disabled
  int64_t limit = 0;      // the highest (up) or lowest (down) count allowed
  int32_t period_seconds = 0;  // period of the policy that set `limit`
};

// `base` is the count the recorded events lead to (the last decision); a
// policy's period started at base - added + removed, the events of both
// directions inside that period counted (as Kubernetes does). Up, a Percent
// policy measures from max(start, 1), so that no rate policy holds a service
// woken from zero at 0.
RateLimit ScaleUpLimit(int64_t base, const std::deque<ScaleEvent>& events,
                       const v1::ScalingRules& rules, absl::Time now);
RateLimit ScaleDownLimit(int64_t base, const std::deque<ScaleEvent>& events,
                         const v1::ScalingRules& rules, absl::Time now);

// Limits the move from `current` to `wanted`, appending a reason when it
// cuts the number.
int64_t ApplyRateLimits(int64_t current, int64_t base, int64_t wanted,
                        const std::deque<ScaleEvent>& events,
                        const v1::ScalingRules& up,
                        const v1::ScalingRules& down, absl::Time now,
                        std::vector<Reason>& reasons);

// Records a change (from != to) and drops events older than the longest
// period of either direction.
void RecordScaleEvent(std::deque<ScaleEvent>& events, int64_t from, int64_t to,
                      const v1::ScalingRules& up, const v1::ScalingRules& down,
                      absl::Time now);

}  // namespace signalscaler::engine_internal

#endif  // SIGNALSCALER_SCALER_ENGINE_INTERNAL_RATE_LIMIT_H_
