// Step 3 of "Decision (normative)": minReplicas, maxReplicas, hard limits and
// scale to zero.
#ifndef SIGNALSCALER_SCALER_ENGINE_INTERNAL_BOUNDS_H_
#define SIGNALSCALER_SCALER_ENGINE_INTERNAL_BOUNDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"
#include "scaler/engine/internal/proposals.h"

namespace signalscaler::engine_internal {

struct Bounds {
  int64_t min_replicas = 0;  // as configured
  int64_t max_replicas = 0;  // as configured
  // The range every decision lies in: lower = min(minReplicas, upper), since
  // a hard cap is never crossed, not even to honour minReplicas.
  int64_t lower = 0;
  int64_t upper = 0;
  std::string limit;  // the limit that sets `upper`, empty if maxReplicas
};
Bounds ComputeBounds(const v1::PolicySpec& spec);

// Brings `value` into [lower, upper], appending the reason if it moved.
int64_t Clamp(int64_t value, const Bounds& b, std::vector<Reason>& reasons);

// Desired after bounds: scale to zero when allowed, never to zero when no
// Total signal could wake the service again, then Clamp. `current` is the
// count the proposals started from.
int64_t BoundDesired(const Proposals& p, int64_t current, const Bounds& b,
                     std::vector<Reason>& reasons);

}  // namespace signalscaler::engine_internal

#endif  // SIGNALSCALER_SCALER_ENGINE_INTERNAL_BOUNDS_H_
