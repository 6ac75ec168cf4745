#include "scaler/sim/oracle.h"

#include <algorithm>
#include <cmath>
#include <optional>

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
      upper_(upper),
      startup_us_(startup_us) {}

int64_t OracleController::Needed(const TraceRow& row) const {
  // Clamp as a double first: a demand far above the bounds cannot overflow.
  const double needed = std::clamp(std::ceil(RowDemand(spec_, row)), 0.0,
                                   static_cast<double>(upper_));
  return std::clamp(static_cast<int64_t>(needed), lower_, upper_);
}

void OracleController::Foresee(const TraceRow& row) {
  ahead_.push_back(Need{row.t_us, Needed(row)});
}

int64_t OracleController::Decide(const TraceRow& row, int64_t now_us) {
  // The row in effect was foreseen (unless it is the first): its need is
  // known.
  std::optional<int64_t> known;
  while (!ahead_.empty() && ahead_.front().t_us <= now_us) {
    if (ahead_.front().t_us == row.t_us) known = ahead_.front().replicas;
    ahead_.pop_front();
  }
  const int64_t needed = known ? *known : Needed(row);
  const int64_t current = pods().desired();
  if (needed >= current) return needed;
  // Keep what demand needs again within one start-up time.
  int64_t keep = needed;
  for (const Need& n : ahead_) {
    if (n.t_us >= now_us + startup_us_) break;
    keep = std::max(keep, n.replicas);
  }
  return std::min(current, keep);
}

}  // namespace signalscaler::sim
