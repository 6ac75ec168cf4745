#include "scaler/sim/oracle.h"

#include <algorithm>
#include <cmath>

#include "scaler/sim/signals.h"

namespace signalscaler::sim {

OracleController::OracleController(const v1::PolicySpec& spec, int64_t lower,
                                   int64_t upper, int64_t initial,
                                   int64_t startup_us,
                                   int64_t reversal_window_us)
    : Controller(kOracleName, /*period_us=*/1, initial, startup_us,
                 reversal_window_us),
      spec_(spec),
      lower_(lower),
      upper_(upper) {}

int64_t OracleController::Decide(const TraceRow& row, int64_t /*now_us*/) {
  // Clamp as a double first: a demand far above the bounds cannot overflow.
  const double needed = std::ceil(RowDemand(spec_, row));
  return std::clamp(static_cast<int64_t>(
                        std::clamp(needed, 0.0, static_cast<double>(upper_))),
                    lower_, upper_);
}

}  // namespace signalscaler::sim
