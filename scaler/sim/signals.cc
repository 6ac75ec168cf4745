#include "scaler/sim/signals.h"

#include <algorithm>
#include <cmath>

#include "scaler/policy/defaults.h"

namespace signalscaler::sim {
namespace {

// Counts beyond this are not worth simulating (and keep the loops finite).
constexpr int64_t kMaxDemand = int64_t{1} << 30;

int64_t Bounded(double x) {
  if (!(x > 0)) return 0;
  return static_cast<int64_t>(std::min(x, static_cast<double>(kMaxDemand)));
}

// The smallest n >= 1 with `asks(n)` false, starting the search at `guess`.
template <typename AsksForMore>
int64_t SmallestEnough(int64_t guess, AsksForMore asks) {
  int64_t n = std::clamp<int64_t>(guess, 1, kMaxDemand);
  while (n < kMaxDemand && asks(n)) ++n;
  while (n > 1 && !asks(n - 1)) --n;
  return n;
}

}  // namespace

std::optional<double> SignalValue(const v1::Signal& signal, double column,
                                  int64_t ready) {
  switch (signal.type()) {
    case v1::Signal::Average:
      if (ready <= 0) return std::nullopt;
      return column / static_cast<double>(ready);
    case v1::Signal::Headroom:
      if (ready <= 0) return std::nullopt;
      return std::max(
          0.0,
          static_cast<double>(ready) * CapacityPerReplica(signal) - column);
    default:
      return column;
  }
}

int64_t SignalDemand(const v1::PolicySpec& spec, const v1::Signal& signal,
                     double column) {
  switch (signal.type()) {
    case v1::Signal::Average: {
      // Asks for more at n when column / n >= scaleUpAbove.
      if (column <= 0) return 0;
      const double up = signal.scale_up_above();
      return SmallestEnough(Bounded(column / up),
                            [&](int64_t n) { return column / n >= up; });
    }
    case v1::Signal::Headroom: {
      // Asks for more at n when its spare, n x c - column, is <= scaleUpBelow.
      const double c = CapacityPerReplica(signal);
      const double below = signal.scale_up_below();
      return SmallestEnough(Bounded((column + below) / c), [&](int64_t n) {
        return std::max(0.0, n * c - column) <= below;
      });
    }
    default: {
      // Total: quiet at or below its activation; else it asks for more at n
      // while v / (t n) is above the band and ceil(v / t) > n.
      if (column <= ActivationAbove(signal)) return 0;
      const double t = Target(signal);
      const double upper = 1 + TotalTolerances(spec, signal).up;
      return SmallestEnough(Bounded(column / t), [&](int64_t n) {
        return column / (t * n) > upper && std::ceil(column / t) > n;
      });
    }
  }
}

int64_t PolicyDemand(const v1::PolicySpec& spec,
                     const std::vector<double>& values) {
  int64_t demand = 0;
  for (int i = 0; i < spec.signals_size(); ++i) {
    demand = std::max(demand, SignalDemand(spec, spec.signals(i), values[i]));
  }
  return demand;
}

double RowDemand(const v1::PolicySpec& spec, const TraceRow& row) {
  return row.demand.value_or(
      static_cast<double>(PolicyDemand(spec, row.values)));
}

}  // namespace signalscaler::sim
