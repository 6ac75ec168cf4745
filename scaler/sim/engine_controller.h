// signalscaler's own engine in the simulation: the real Decide() with a
// simulated clock, fed the readings the trace gives. Each signal is sampled
// at multiples of its source interval (the reading is the trace's value at
// that tick); the replicas source, if the policy has one, reads the desired
// count; a readyReplicas source is always given the pod model's ready count,
// so that Average and Headroom proposals use ready pods (DESIGN.md).
#ifndef SIGNALSCALER_SCALER_SIM_ENGINE_CONTROLLER_H_
#define SIGNALSCALER_SCALER_SIM_ENGINE_CONTROLLER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"
#include "scaler/sim/controller.h"

namespace signalscaler::sim {

inline constexpr char kOurName[] = "signalscaler";

class EngineController final : public Controller {
 public:
  // `policy` must have passed the loader's validation.
  EngineController(const v1::ScalingPolicy& policy, int64_t tick_us,
                   int64_t initial, int64_t startup_us,
                   int64_t reversal_window_us);

  // The decision of the last tick, or nullopt if the engine had none
  // (UNAVAILABLE: no signal has had a reading yet); then last_error() says
  // why and the count stays.
  const std::optional<Decision>& last() const { return last_; }
  const std::string& last_error() const { return last_error_; }

 protected:
  int64_t Decide(const TraceRow& row, int64_t now_us) override;

 private:
  v1::ScalingPolicy policy_;
  EngineState state_;
  Inputs inputs_;
  std::vector<int64_t> interval_us_;     // per signal
  std::vector<int64_t> next_sample_us_;  // per signal
  std::optional<Decision> last_;
  std::string last_error_;
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_ENGINE_CONTROLLER_H_
