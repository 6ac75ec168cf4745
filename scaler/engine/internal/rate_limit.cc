#include "scaler/engine/internal/rate_limit.h"

#include <algorithm>

#include "scaler/engine/internal/numeric.h"

namespace signalscaler::engine_internal {
namespace {

using Wide = __int128;  // start * (100 + percent) may exceed 64 bits

int64_t FloorDiv(Wide n, Wide d) {
  Wide q = n / d;
  if ((n % d != 0) && ((n < 0) != (d < 0))) --q;
  return static_cast<int64_t>(std::clamp<Wide>(q, -kMaxCount, kMaxCount));
}
int64_t CeilDiv(Wide n, Wide d) { return -FloorDiv(-n, d); }

// Net change (replicas added minus replicas removed) over the events strictly
// newer than now - period. Kubernetes counts both directions when it works
// out a period's start (calculateScaleUpLimitWithScalingRules and
// calculateScaleDownLimitWithBehaviors: current - added + removed).
int64_t NetChangeInPeriod(const std::deque<ScaleEvent>& events, int32_t period,
                          absl::Time now) {
  const absl::Time cutoff = now - absl::Seconds(period);
  int64_t sum = 0;
  for (const ScaleEvent& e : events) {
    if (e.time > cutoff) sum += e.to - e.from;
  }
  return sum;
}

RateLimit Limit(int64_t base, const std::deque<ScaleEvent>& events,
                const v1::ScalingRules& rules, absl::Time now, bool up) {
  RateLimit out;
  if (rules.select_policy() == v1::ScalingRules::Disabled) {
    out.disabled = true;
    out.limit = base;
    return out;
  }
  // Max selects the biggest change: the highest limit up, the lowest down.
  const bool biggest = rules.select_policy() != v1::ScalingRules::Min;
  const bool want_high = (up == biggest);
  bool first = true;
  for (const v1::RatePolicy& p : rules.policies()) {
    const int64_t start =
        base - NetChangeInPeriod(events, p.period_seconds(), now);
    int64_t proposed = start;
    if (p.type() == v1::RatePolicy::Pods) {
      proposed = up ? start + p.value() : start - p.value();
    } else if (p.type() == v1::RatePolicy::Percent) {
      // Up, a Percent policy measures from at least one replica: a percentage
      // of 0 is 0, and would hold a service woken from zero there for good.
      // The HPA never meets it (KEDA does 0 -> 1, the HPA goes on from 1).
      proposed = up ? CeilDiv(Wide{std::max<int64_t>(start, 1)} *
                                  (100 + Wide{p.value()}),
                              100)
                    : FloorDiv(Wide{start} * (100 - Wide{p.value()}), 100);
    }
    if (first || (want_high ? proposed > out.limit : proposed < out.limit)) {
      out.limit = proposed;
      out.period_seconds = p.period_seconds();
      first = false;
    }
  }
  if (first) out.limit = up ? kMaxCount : 0;  // no policy: no limit
  return out;
}

}  // namespace

RateLimit ScaleUpLimit(int64_t base, const std::deque<ScaleEvent>& events,
                       const v1::ScalingRules& rules, absl::Time now) {
  return Limit(base, events, rules, now, /*up=*/true);
}

RateLimit ScaleDownLimit(int64_t base, const std::deque<ScaleEvent>& events,
                         const v1::ScalingRules& rules, absl::Time now) {
  return Limit(base, events, rules, now, /*up=*/false);
}

int64_t ApplyRateLimits(int64_t current, int64_t base, int64_t wanted,
                        const std::deque<ScaleEvent>& events,
                        const v1::ScalingRules& up,
                        const v1::ScalingRules& down, absl::Time now,
                        std::vector<Reason>& reasons) {
  const auto d = [](int64_t x) { return static_cast<double>(x); };
  if (wanted > current) {
    const RateLimit r = ScaleUpLimit(base, events, up, now);
    if (r.disabled) {
      reasons.push_back(
          Reason{ReasonCode::kScalingDisabled, "up", d(wanted), d(current), 0});
      return current;
    }
    // Spent in this period: no further scale-up until events expire.
    const int64_t limit = std::max(r.limit, current);
    if (wanted > limit) {
      reasons.push_back(Reason{ReasonCode::kRateLimitedUp, "", d(wanted),
                               d(limit), d(r.period_seconds)});
      return limit;
    }
  } else if (wanted < current) {
    const RateLimit r = ScaleDownLimit(base, events, down, now);
    if (r.disabled) {
      reasons.push_back(Reason{ReasonCode::kScalingDisabled, "down", d(wanted),
                               d(current), 0});
      return current;
    }
    const int64_t limit = std::min(r.limit, current);
    if (wanted < limit) {
      reasons.push_back(Reason{ReasonCode::kRateLimitedDown, "", d(wanted),
                               d(limit), d(r.period_seconds)});
      return limit;
    }
  }
  return wanted;
}

void RecordScaleEvent(std::deque<ScaleEvent>& events, int64_t from, int64_t to,
                      const v1::ScalingRules& up, const v1::ScalingRules& down,
                      absl::Time now) {
  int32_t longest = 0;
  for (const auto* rules : {&up, &down}) {
    for (const v1::RatePolicy& p : rules->policies()) {
      longest = std::max(longest, p.period_seconds());
    }
  }
  const absl::Time cutoff = now - absl::Seconds(longest);
  while (!events.empty() && events.front().time <= cutoff) events.pop_front();
  if (from != to) events.push_back(ScaleEvent{now, from, to});
}

}  // namespace signalscaler::engine_internal
