// A controller of the simulation: something that decides a replica count at
// its own ticks (signalscaler's engine, or a baseline HPA) or whenever a row
// of the trace takes effect (the oracle), with its own pods and its own
// figures.
#ifndef SIGNALSCALER_SCALER_SIM_CONTROLLER_H_
#define SIGNALSCALER_SCALER_SIM_CONTROLLER_H_

#include <cstdint>
#include <string>
#include <utility>

#include "scaler/sim/pod_model.h"
#include "scaler/sim/summary.h"
#include "scaler/sim/trace.h"

namespace signalscaler::sim {

// Not thread-safe.
class Controller {
 public:
  Controller(std::string name, int64_t period_us, int64_t initial,
             int64_t startup_us, int64_t reversal_window_us)
      : name_(name),
        period_us_(period_us),
        pods_(initial, startup_us),
        acc_(std::move(name), reversal_window_us, initial) {}
  virtual ~Controller() = default;

  const std::string& name() const { return name_; }
  PodModel& pods() { return pods_; }
  const PodModel& pods() const { return pods_; }
  SummaryAccumulator& figures() { return acc_; }
  // When it decides next without a new row; PodModel::kNever for one that
  // decides on rows only.
  virtual int64_t next_tick_us() const { return ticks_ * period_us_; }
  // Whether it decides at `now_us`; `new_row` when a row took effect then.
  virtual bool DueAt(int64_t now_us, bool new_row) const {
    (void)new_row;
    return next_tick_us() == now_us;
  }

  // Decides at `now_us` (when DueAt) from the row in effect, and
  // applies the decision to the pods.
  void Tick(const TraceRow& row, int64_t now_us) {
    const int64_t from = pods_.desired();
    const int64_t to = Decide(row, now_us);
    if (to != from) {
      pods_.SetDesired(to, now_us);
      acc_.OnScale(now_us, from, to);
    }
    ++ticks_;
  }

 protected:
  // The new desired count; pods() is the state before it.
  virtual int64_t Decide(const TraceRow& row, int64_t now_us) = 0;

 private:
  std::string name_;
  int64_t period_us_ = 0;
  int64_t ticks_ = 0;
  PodModel pods_;
  SummaryAccumulator acc_;
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_CONTROLLER_H_
