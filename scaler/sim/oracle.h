// `--compare oracle`: the reactive oracle, the limit of scaling that only
// reacts. It knows the trace's demand at every instant (the row's `demand`
// column, else the demand the policy's signals imply: the figure the
// simulator counts under-provisioning against) and decides the moment a row
// takes effect, with no tick, window or sampling delay:
//
//   - Up: when demand needs more than it has, it asks for exactly ceil(demand)
//     at once. Its new pods take the pod model's start-up time: each new
//     replica is one start-up time late, the lateness no reactive controller
//     escapes.
//   - Down: when demand needs fewer, it removes at once (starting pods first,
//     as the pod model does) every pod that demand will not need again within
//     one start-up time, and keeps the others. Removing a whole pod needed
//     again after a gap of g seconds saves g replica-seconds and, for a
//     controller that starts no pod before demand asks, leaves the service
//     short of it for a start-up time S while its replacement starts: for
//     g < S that trade loses, for g >= S it does not (against a fractional
//     demand, 12.1, the shortfall is the fraction's, so this is a rule of
//     thumb there, not an optimum). Keeping through a short
//     dip is what a controller that follows demand at once would otherwise
//     pay for twice (a noisy plateau of 12-13 replicas made the plain "exactly
//     ceil(demand), always" rule 6x shorter of pods than the HPA, at every
//     flicker a new pod's start-up time). This one look at the next S seconds
//     only removes pods; it never starts one early.
//
// So its under-provisioned replica-seconds are the start-up lateness of every
// rise, which a reactive controller (one that never starts a pod before
// demand asks for it) holding only the pods demand asks for cannot beat. One
// that holds more, as the HPA's utilization targets do, can: the cost ratio
// shows what it paid for that; and so can one that starts pods early, which
// is what a forecast does. Among reactive controllers its total
// replica-seconds are about the least cost at which that under-provisioning
// is reached: a pod is paid for only while demand needs it, or while keeping
// it is cheaper than its replacement's lateness.
//
// Its count is clamped to the policy's hard range [min(minReplicas, upper),
// upper], upper = min(maxReplicas, floor(budget / perReplica) per limit): the
// same bounds our engine may never leave. So the oracle is the best a
// reactive controller bound by the policy can do, and a ratio to it measures
// lateness and waste, not the policy's own caps (a demand above a limit leaves
// the oracle short too, by exactly what the limit forbids).
//
//   OracleController oracle(spec, lower, upper, initial, startup_us, window);
//   oracle.Foresee(row);  // every row, at least S ahead of its decisions
//   // the simulator ticks it whenever a row takes effect
#ifndef SIGNALSCALER_SCALER_SIM_ORACLE_H_
#define SIGNALSCALER_SCALER_SIM_ORACLE_H_

#include <cstdint>
#include <deque>

#include "proto/policy.pb.h"
#include "scaler/sim/controller.h"

namespace signalscaler::sim {

inline constexpr char kOracleName[] = "oracle";

// Not thread-safe. Memory: one entry per row of the next start-up time.
class OracleController final : public Controller {
 public:
  // `lower` <= `upper`: the policy's hard range of replica counts.
  OracleController(const v1::PolicySpec& spec, int64_t lower, int64_t upper,
                   int64_t initial, int64_t startup_us,
                   int64_t reversal_window_us);

  // The rows after the one in effect, in order, each before the oracle
  // decides at any instant within one start-up time before it.
  void Foresee(const TraceRow& row);

  int64_t next_tick_us() const override { return PodModel::kNever; }
  bool DueAt(int64_t /*now_us*/, bool new_row) const override {
    return new_row;
  }

 protected:
  int64_t Decide(const TraceRow& row, int64_t now_us) override;

 private:
  struct Need {
    int64_t t_us = 0;
    int64_t replicas = 0;
  };
  // ceil(demand of `row`), within [lower_, upper_].
  int64_t Needed(const TraceRow& row) const;

  v1::PolicySpec spec_;
  int64_t lower_ = 0;
  int64_t upper_ = 0;
  int64_t startup_us_ = 0;
  std::deque<Need> ahead_;  // foreseen rows, ascending
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_ORACLE_H_
