// `--compare oracle`: the reactive oracle, the limit of scaling that only
// reacts. It knows the trace's demand at every instant (the row's `demand`
// column, else the demand the policy's signals imply: the figure the
// simulator counts under-provisioning against) and, the moment a row takes
// effect, asks for exactly ceil(demand) replicas. Its new pods still take the
// pod model's start-up time; its removed pods go at once (starting ones
// first). So its under-provisioned replica-seconds are what any reactive
// controller loses to start-up time alone, and its total replica-seconds the
// least cost at which that is reached.
//
// Its count is clamped to the policy's hard range [min(minReplicas, upper),
// upper], upper = min(maxReplicas, floor(budget / perReplica) per limit): the
// same bounds our engine may never leave. So the oracle is the best a
// controller bound by the policy can do, and a ratio to it measures lateness
// and waste, not the policy's own caps (a demand above a limit leaves the
// oracle short too, by exactly what the limit forbids).
//
// One caveat: a demand that falls and rises again within one start-up time
// removes pods still starting that a controller which kept them would have
// had ready sooner. The oracle follows demand; it does not hoard pods
// against a rise it cannot know of.
//
//   OracleController oracle(spec, lower, upper, initial, startup_us, window);
//   // the simulator ticks it whenever a row takes effect
#ifndef SIGNALSCALER_SCALER_SIM_ORACLE_H_
#define SIGNALSCALER_SCALER_SIM_ORACLE_H_

#include <cstdint>

#include "proto/policy.pb.h"
#include "scaler/sim/controller.h"

namespace signalscaler::sim {

inline constexpr char kOracleName[] = "oracle";

// Not thread-safe.
class OracleController final : public Controller {
 public:
  // `lower` <= `upper`: the policy's hard range of replica counts.
  OracleController(const v1::PolicySpec& spec, int64_t lower, int64_t upper,
                   int64_t initial, int64_t startup_us,
                   int64_t reversal_window_us);

  int64_t next_tick_us() const override { return PodModel::kNever; }
  bool DueAt(int64_t /*now_us*/, bool new_row) const override {
    return new_row;
  }

 protected:
  int64_t Decide(const TraceRow& row, int64_t now_us) override;

 private:
  v1::PolicySpec spec_;
  int64_t lower_ = 0;
  int64_t upper_ = 0;
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_ORACLE_H_
