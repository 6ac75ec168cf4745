#include "scaler/sim/engine_controller.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "scaler/engine/engine.h"
#include "scaler/policy/defaults.h"
#include "scaler/sim/signals.h"

namespace signalscaler::sim {
namespace {

Observation Fresh(double value, absl::Time now) {
  Observation o;
  o.reading = Reading{value, now};
  return o;
}

}  // namespace

EngineController::EngineController(const v1::ScalingPolicy& policy,
                                   int64_t tick_us, int64_t initial,
                                   int64_t startup_us,
                                   int64_t reversal_window_us)
    : Controller(kOurName, tick_us, initial, startup_us, reversal_window_us),
      policy_(policy) {
  v1::PolicySpec& spec = *policy_.mutable_spec();
  if (!spec.has_ready_replicas()) spec.mutable_ready_replicas()->mutable_push();
  for (const v1::Signal& s : spec.signals()) {
    interval_us_.push_back(std::max<int64_t>(
        1, absl::ToInt64Microseconds(SourceInterval(spec, s.source()))));
    next_sample_us_.push_back(0);
  }
  state_.last_decision = initial;
}

int64_t EngineController::Decide(const TraceRow& row, int64_t now_us) {
  const v1::PolicySpec& spec = policy_.spec();
  const absl::Time now = absl::UnixEpoch() + absl::Microseconds(now_us);
  const int64_t ready = pods().ready();
  for (int i = 0; i < spec.signals_size(); ++i) {
    if (now_us < next_sample_us_[i]) continue;
    next_sample_us_[i] = (now_us / interval_us_[i] + 1) * interval_us_[i];
    const v1::Signal& s = spec.signals(i);
    Observation& o = inputs_.signals[s.name()];
    if (std::optional<double> v = SignalValue(s, row.values[i], ready)) {
      o = Fresh(*v, now);
    } else {
      o.error = absl::UnavailableError("no ready pod to measure");
    }
  }
  if (spec.has_replicas()) {
    inputs_.replicas = Fresh(static_cast<double>(pods().desired()), now);
  }
  inputs_.ready_replicas = Fresh(static_cast<double>(ready), now);
  absl::StatusOr<signalscaler::Decision> d =
      signalscaler::Decide(policy_, inputs_, state_, now);
  if (!d.ok()) {
    last_.reset();
    last_error_ = std::string(d.status().message());
    return pods().desired();
  }
  last_ = *std::move(d);
  return last_->replicas;
}

}  // namespace signalscaler::sim
