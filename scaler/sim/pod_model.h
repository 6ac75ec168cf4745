// The simulator's pods: a decision sets the desired count; new pods become
// ready `startup` after they were asked for; removed pods go at once, pods
// still starting first (as the ReplicaSet controller deletes unready pods
// first), then ready ones.
//
//   PodModel pods(/*initial=*/2, /*startup_us=*/30 * kMicrosPerSecond);
//   pods.SetDesired(5, now_us);   // 3 pods start, ready at now + 30 s
//   pods.AdvanceTo(now_us + 30 * kMicrosPerSecond);  // ready() == 5
#ifndef SIGNALSCALER_SCALER_SIM_POD_MODEL_H_
#define SIGNALSCALER_SCALER_SIM_POD_MODEL_H_

#include <cstdint>
#include <deque>
#include <limits>

namespace signalscaler::sim {

// Not thread-safe. Memory: one entry per pod still starting.
class PodModel {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // `initial` pods, all ready.
  PodModel(int64_t initial, int64_t startup_us)
      : ready_(initial), startup_us_(startup_us) {}

  int64_t desired() const { return ready_ + starting(); }
  int64_t ready() const { return ready_; }
  int64_t starting() const { return static_cast<int64_t>(starting_.size()); }
  // When the next starting pod becomes ready, or kNever.
  int64_t NextReady() const {
    return starting_.empty() ? kNever : starting_.front();
  }

  // Pods whose startup has finished by `t_us` become ready.
  void AdvanceTo(int64_t t_us) {
    while (!starting_.empty() && starting_.front() <= t_us) {
      starting_.pop_front();
      ++ready_;
    }
  }

  void SetDesired(int64_t n, int64_t now_us) {
    if (n < 0) n = 0;
    while (desired() < n) starting_.push_back(now_us + startup_us_);
    while (desired() > n) {
      if (!starting_.empty()) {
        starting_.pop_back();  // the newest starting pod
      } else {
        --ready_;
      }
    }
    AdvanceTo(now_us);  // a startup of 0 makes pods ready at once
  }

 private:
  int64_t ready_ = 0;
  int64_t startup_us_ = 0;
  std::deque<int64_t> starting_;  // ready times, ascending
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_POD_MODEL_H_
