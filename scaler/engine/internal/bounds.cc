#include "scaler/engine/internal/bounds.h"

#include <algorithm>

#include "scaler/engine/internal/numeric.h"
#include "scaler/policy/defaults.h"

namespace signalscaler::engine_internal {

Bounds ComputeBounds(const v1::PolicySpec& spec) {
  Bounds b;
  b.min_replicas = MinReplicas(spec);
  b.max_replicas = spec.max_replicas();
  b.upper = b.max_replicas;
  for (const v1::Limit& l : spec.limits()) {
    if (l.per_replica() <= 0) continue;  // rejected by the loader
    const int64_t cap =
        std::max<int64_t>(0, FloorCount(l.budget() / l.per_replica()));
    if (cap < b.upper) {
      b.upper = cap;
      b.limit = l.name();
    }
  }
  b.lower = std::min(b.min_replicas, b.upper);
  return b;
}

int64_t Clamp(int64_t value, const Bounds& b, std::vector<Reason>& reasons) {
  const auto d = [](int64_t x) { return static_cast<double>(x); };
  if (value > b.upper) {
    if (b.limit.empty()) {
      reasons.push_back(
          Reason{ReasonCode::kClampedToMax, "", d(value), d(b.upper), 0});
    } else {
      reasons.push_back(
          Reason{ReasonCode::kCappedByLimit, b.limit, d(value), d(b.upper), 0});
    }
    return b.upper;
  }
  if (value < b.lower) {
    reasons.push_back(
        Reason{ReasonCode::kClampedToMin, "", d(value), d(b.lower), 0});
    return b.lower;
  }
  if (value < b.min_replicas) {  // == lower < minReplicas: the cap wins
    reasons.push_back(Reason{ReasonCode::kLimitBelowMin, b.limit, d(b.upper),
                             d(b.min_replicas), 0});
  }
  return value;
}

int64_t BoundDesired(const Proposals& p, int64_t current, const Bounds& b,
                     std::vector<Reason>& reasons) {
  int64_t desired = p.desired;
  if (b.min_replicas == 0 && current > 0) {
    if (p.zero_ok && desired == 0) {
      reasons.push_back(Reason{ReasonCode::kScaleToZero, "", 0, 0, 0});
    } else if (p.has_total && p.totals_quiet && !p.first_held.empty()) {
      // Only a held signal keeps the service from zero.
      reasons.push_back(Reason{ReasonCode::kHeldAboveZero, p.first_held,
                               static_cast<double>(desired), 0, 0});
    } else if (desired == 0 && !p.has_total) {
      // Nothing could wake the service again: stay at one.
      desired = 1;
      reasons.push_back(Reason{ReasonCode::kHeldAboveZero, "", 1, 0, 0});
    }
  }
  return Clamp(desired, b, reasons);
}

}  // namespace signalscaler::engine_internal
