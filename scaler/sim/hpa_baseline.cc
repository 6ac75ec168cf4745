#include "scaler/sim/hpa_baseline.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "scaler/policy/defaults.h"
#include "scaler/sim/signals.h"

namespace signalscaler::sim {
namespace {

constexpr double kTolerance = 0.1;
constexpr int64_t kUpPods = 4;
constexpr double kUpPercent = 100;
constexpr int64_t kUpPeriodUs = 15 * kMicrosPerSecond;
constexpr int64_t kDownWindowUs = 300 * kMicrosPerSecond;
constexpr double kDownPercent = 100;
constexpr int64_t kDownPeriodUs = 15 * kMicrosPerSecond;
constexpr int64_t kKedaPollingUs = 30 * kMicrosPerSecond;
constexpr int64_t kKedaCooldownUs = 300 * kMicrosPerSecond;

int64_t Ceil(double x) { return static_cast<int64_t>(std::ceil(x - 1e-9)); }

// Kubernetes' replica_calculator.go Tolerances.isWithin, at the HPA's
// default 0.1 both ways: (1 - down) <= ratio <= (1 + up).
bool IsWithin(double ratio) {
  return 1.0 - kTolerance <= ratio && ratio <= 1.0 + kTolerance;
}

// The policy's CPU signal: an Average named "cpu", else the first Average
// whose name contains "cpu".
int FindCpuSignal(const v1::PolicySpec& spec) {
  int found = -1;
  for (int i = 0; i < spec.signals_size(); ++i) {
    const v1::Signal& s = spec.signals(i);
    if (s.type() != v1::Signal::Average) continue;
    const std::string name = absl::AsciiStrToLower(s.name());
    if (name == "cpu") return i;
    if (found < 0 && absl::StrContains(name, "cpu")) found = i;
  }
  return found;
}

}  // namespace

absl::StatusOr<HpaConfig> ParseBaseline(const v1::ScalingPolicy& policy,
                                        const std::string& spelling) {
  const v1::PolicySpec& spec = policy.spec();
  HpaConfig c;
  c.min_replicas = std::max<int64_t>(1, MinReplicas(spec));
  c.max_replicas = std::max<int64_t>(c.min_replicas, spec.max_replicas());
  absl::string_view rest = spelling;
  if (absl::ConsumePrefix(&rest, "hpa-cpu")) {
    const int cpu = FindCpuSignal(spec);
    if (cpu < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--compare ", spelling,
          ": the policy has no CPU signal (an Average signal whose name "
          "contains \"cpu\")"));
    }
    double target = Target(spec.signals(cpu));
    if (!rest.empty()) {
      if (!absl::ConsumePrefix(&rest, ":")) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--compare ", spelling, ": expected hpa-cpu or hpa-cpu:TARGET"));
      }
      const bool percent = absl::ConsumeSuffix(&rest, "%");
      if (!absl::SimpleAtod(rest, &target) || !(target > 0) ||
          !std::isfinite(target)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--compare ", spelling,
            ": TARGET must be a number > 0 in the signal's units (0.5) or a "
            "percentage (50%)"));
      }
      if (percent) target /= 100;
    }
    HpaMetric m;
    m.kind = HpaMetric::Kind::kResource;
    m.signal = cpu;
    m.target = target;
    c.metrics.push_back(m);
    c.name = spelling;
    c.notes.push_back(absl::StrCat(c.name, ": the HPA on signal ",
                                   spec.signals(cpu).name(), " alone, target ",
                                   target));
    return c;
  }
  if (spelling != "keda-default") {
    return absl::InvalidArgumentError(
        absl::StrCat("--compare ", spelling,
                     ": unknown baseline; expected hpa-cpu[:TARGET], "
                     "keda-default or oracle"));
  }
  c.name = "keda-default";
  for (int i = 0; i < spec.signals_size(); ++i) {
    const v1::Signal& s = spec.signals(i);
    HpaMetric m;
    m.signal = i;
    m.target = Target(s);
    if (s.type() == v1::Signal::Total) {
      m.kind = HpaMetric::Kind::kExternal;
      m.activation = ActivationAbove(s);
      c.keda_scale_to_zero = MinReplicas(spec) == 0;
    } else if (s.type() == v1::Signal::Average) {
      m.kind = HpaMetric::Kind::kResource;
    } else {
      c.notes.push_back(
          absl::StrCat("keda-default: signal ", s.name(),
                       " (Headroom) has no HPA equivalent and is left out"));
      continue;
    }
    c.metrics.push_back(m);
  }
  if (c.metrics.empty()) {
    return absl::InvalidArgumentError(
        "--compare keda-default: the policy has no signal the HPA can "
        "express (Headroom signals have no HPA equivalent)");
  }
  return c;
}

HpaController::HpaController(const v1::ScalingPolicy& policy, HpaConfig config,
                             int64_t initial, int64_t startup_us,
                             int64_t reversal_window_us)
    : Controller(config.name, kHpaSyncSeconds * kMicrosPerSecond, initial,
                 startup_us, reversal_window_us),
      policy_(policy),
      config_(std::move(config)) {
  // A steady state before the trace: the down window holds `initial`.
  recommendations_.push_back(Timed{0, initial});
}

std::optional<int64_t> HpaController::MetricReplicas(
    const HpaMetric& m, const TraceRow& row) const {
  const double column = row.values[m.signal];
  const int64_t current = pods().desired();
  const int64_t ready = pods().ready();
  if (m.kind == HpaMetric::Kind::kExternal) {
    if (current <= 0) return std::nullopt;
    const double ratio = column / (m.target * current);
    if (IsWithin(ratio)) return current;
    return Ceil(column / m.target);
  }
  if (ready <= 0) return std::nullopt;  // no ready pod: no metrics
  const double ratio = column / ready / m.target;
  if (current > ready && ratio > 1) {
    // Scale-up with pods still starting: they count as using nothing.
    const double ratio2 = column / (static_cast<double>(current) * m.target);
    if (IsWithin(ratio2) || ratio2 < 1) return current;
    return std::max(current, Ceil(ratio2 * current));
  }
  if (IsWithin(ratio)) return current;
  return Ceil(ratio * ready);
}

int64_t HpaController::Normalize(int64_t current, int64_t desired,
                                 int64_t now_us) {
  // Stabilization (up window 0: the up recommendation is `desired`).
  int64_t down = desired;
  while (!recommendations_.empty() &&
         recommendations_.front().t_us <= now_us - kDownWindowUs) {
    recommendations_.pop_front();
  }
  for (const Timed& r : recommendations_) down = std::max(down, r.value);
  recommendations_.push_back(Timed{now_us, desired});
  int64_t rec = std::max(current, desired);
  rec = std::min(rec, down);

  // Rate policies over the events of each period.
  const auto within = [&](std::deque<Timed>& events, int64_t period_us) {
    while (!events.empty() && events.front().t_us <= now_us - period_us) {
      events.pop_front();
    }
    int64_t sum = 0;
    for (const Timed& e : events) sum += e.value;
    return sum;
  };
  if (rec > current) {
    const int64_t start = current - within(up_events_, kUpPeriodUs) +
                          within(down_events_, kUpPeriodUs);
    int64_t limit = std::max(start + kUpPods, Ceil(static_cast<double>(start) *
                                                   (1 + kUpPercent / 100)));
    limit = std::max(limit, current);
    rec = std::min({rec, limit, config_.max_replicas});
  } else if (rec < current) {
    const int64_t start = current - within(up_events_, kDownPeriodUs) +
                          within(down_events_, kDownPeriodUs);
    int64_t limit = static_cast<int64_t>(static_cast<double>(start) *
                                         (1 - kDownPercent / 100));
    limit = std::min(limit, current);
    rec = std::max({rec, limit, config_.min_replicas});
  }
  if (rec > current) up_events_.push_back(Timed{now_us, rec - current});
  if (rec < current) down_events_.push_back(Timed{now_us, current - rec});
  return rec;
}

bool HpaController::KedaActive(const TraceRow& row) const {
  for (const HpaMetric& m : config_.metrics) {
    if (m.kind == HpaMetric::Kind::kExternal &&
        row.values[m.signal] > m.activation) {
      return true;
    }
  }
  return false;
}

int64_t HpaController::Decide(const TraceRow& row, int64_t now_us) {
  const int64_t current = pods().desired();
  if (config_.keda_scale_to_zero && now_us % kKedaPollingUs == 0) {
    if (KedaActive(row)) {
      last_active_us_ = now_us;
      if (current == 0) return 1;
    } else if (current > 0 && now_us - last_active_us_ >= kKedaCooldownUs) {
      return 0;
    }
  }
  if (current == 0) return 0;  // the HPA is idle at zero
  std::optional<int64_t> desired;
  for (const HpaMetric& m : config_.metrics) {
    if (std::optional<int64_t> n = MetricReplicas(m, row)) {
      desired = std::max(desired.value_or(0), *n);
    }
  }
  if (!desired) return current;  // every metric failed: no change
  return Normalize(current, *desired, now_us);
}

}  // namespace signalscaler::sim
