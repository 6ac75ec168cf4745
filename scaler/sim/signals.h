// What a trace column means for each signal type (see trace.h):
//   Total     the signal's value itself (requests in flight, queue depth);
//   Average   the service-wide load in replica units: value = column / ready;
//   Headroom  the capacity in use: spare = max(0, ready x capacity - column).
// Average and Headroom readings come from ready pods only: with no ready pod
// there is no reading.
#ifndef SIGNALSCALER_SCALER_SIM_SIGNALS_H_
#define SIGNALSCALER_SCALER_SIM_SIGNALS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "proto/policy.pb.h"
#include "scaler/sim/trace.h"

namespace signalscaler::sim {

// The reading `signal` gives for trace value `column` with `ready` pods, or
// nullopt when there is none (no ready pod for Average and Headroom).
std::optional<double> SignalValue(const v1::Signal& signal, double column,
                                  int64_t ready);

// The smallest replica count (all ready) at which `signal` does not ask for
// more, for trace value `column`.
int64_t SignalDemand(const v1::PolicySpec& spec, const v1::Signal& signal,
                     double column);

// The demand of a trace row without a `demand` column: the max of
// SignalDemand over the policy's signals (`values` in policy order).
int64_t PolicyDemand(const v1::PolicySpec& spec,
                     const std::vector<double>& values);

// The replicas row `row` needs: its `demand` column, else PolicyDemand. The
// figure under-provisioning is counted against, and the oracle's target.
double RowDemand(const v1::PolicySpec& spec, const TraceRow& row);

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_SIGNALS_H_
