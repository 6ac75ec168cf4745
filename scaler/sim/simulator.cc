#include "scaler/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "scaler/engine/decision.h"
#include "scaler/policy/defaults.h"
#include "scaler/sim/engine_controller.h"
#include "scaler/sim/hpa_baseline.h"
#include "scaler/sim/oracle.h"
#include "scaler/sim/signals.h"

namespace signalscaler::sim {
namespace {

std::string Seconds(int64_t us) {
  if (us % kMicrosPerSecond == 0) return absl::StrCat(us / kMicrosPerSecond);
  return absl::StrFormat("%.6f", static_cast<double>(us) / kMicrosPerSecond);
}

std::string Number(double v) { return absl::StrFormat("%.6g", v); }

// The hard range of replica counts: [min(minReplicas, upper), upper] with
// upper = min(maxReplicas, floor(budget / perReplica) per limit).
std::pair<int64_t, int64_t> Bounds(const v1::PolicySpec& spec) {
  int64_t upper = spec.max_replicas();
  for (const v1::Limit& l : spec.limits()) {
    upper = std::min<int64_t>(
        upper, static_cast<int64_t>(std::floor(l.budget() / l.per_replica())));
  }
  return {std::min<int64_t>(MinReplicas(spec), upper), upper};
}

void AppendTimelineLine(const v1::PolicySpec& spec,
                        const EngineController& ours, int64_t now_us,
                        double demand, std::string& line) {
  line.clear();
  absl::StrAppend(&line, Seconds(now_us), ",", ours.pods().desired(), ",",
                  ours.pods().ready(), ",", Number(demand));
  const std::optional<Decision>& d = ours.last();
  for (const v1::Signal& s : spec.signals()) {
    const SignalExplanation* e = nullptr;
    if (d) {
      for (const SignalExplanation& x : d->signals) {
        if (x.name == s.name()) e = &x;
      }
    }
    absl::StrAppend(&line, ",", e && e->value ? Number(*e->value) : "", ",",
                    e ? absl::StrCat(e->proposal) : "");
  }
  std::string reason =
      d ? absl::StrJoin(d->reasons, "; ",
                        [](std::string* out, const Reason& r) {
                          absl::StrAppend(out, RenderReason(r));
                        })
        : ours.last_error();
  absl::StrAppend(&line, ",\"", absl::StrReplaceAll(reason, {{"\"", "\"\""}}),
                  "\"\n");
}

uint32_t ReasonMask(const std::optional<Decision>& d) {
  uint32_t mask = 0;
  if (!d) return mask;
  for (const Reason& r : d->reasons) {
    mask |= uint32_t{1} << static_cast<int>(r.code);
  }
  return mask;
}

// What every run of a trace shares: the hard bounds, the replicas at t=0
// and the window within which a scale event reverses the previous one.
struct RunShape {
  int64_t lower = 0;
  int64_t upper = 0;
  int64_t initial = 0;
  int64_t reversal_us = 0;
};

// The replicas the cluster really ran (the trace's `actual` and
// `actual_ready` columns), figured as a run of its own: a change of the
// column is its scale event.
class ActualRun {
 public:
  ActualRun(int64_t reversal_us, const TraceRow& first)
      : pods_(Count(first.actual)),
        ready_(first.actual_ready ? Count(first.actual_ready) : pods_),
        acc_("actual", reversal_us, pods_) {}

  // Row `row` took effect at `now_us`.
  void OnRow(const TraceRow& row, int64_t now_us) {
    const int64_t pods = Count(row.actual);
    acc_.OnScale(now_us, pods_, pods);
    pods_ = pods;
    ready_ = row.actual_ready ? Count(row.actual_ready) : pods_;
  }
  int64_t ready() const { return ready_; }
  SummaryAccumulator& figures() { return acc_; }
  void Integrate(int64_t dt_us, double demand) {
    acc_.Integrate(dt_us, demand, ready_, pods_);
  }

 private:
  static int64_t Count(const std::optional<double>& v) {
    return v ? std::llround(*v) : 0;
  }
  int64_t pods_;
  int64_t ready_;
  SummaryAccumulator acc_;
};

// The controllers of a run: ours first (into `ours`), then the baselines of
// options.compare in order (the oracle into `oracle`).
absl::StatusOr<std::vector<std::unique_ptr<Controller>>> MakeControllers(
    const v1::ScalingPolicy& policy, const SimOptions& options,
    const RunShape& shape, SimResult& result, EngineController*& ours,
    OracleController*& oracle) {
  const v1::PolicySpec& spec = policy.spec();
  std::vector<std::unique_ptr<Controller>> controllers;
  auto ours_owned = std::make_unique<EngineController>(
      policy, result.tick_us, shape.initial, options.pod_startup_us,
      shape.reversal_us);
  ours = ours_owned.get();
  controllers.push_back(std::move(ours_owned));
  oracle = nullptr;
  for (const std::string& spelling : options.compare) {
    if (spelling == kOracleName) {
      if (oracle != nullptr) {
        return absl::InvalidArgumentError("--compare oracle: given twice");
      }
      auto owned = std::make_unique<OracleController>(
          spec, shape.lower, shape.upper, shape.initial, options.pod_startup_us,
          shape.reversal_us);
      oracle = owned.get();
      controllers.push_back(std::move(owned));
      continue;
    }
    absl::StatusOr<HpaConfig> config = ParseBaseline(policy, spelling);
    if (!config.ok()) return config.status();
    for (const std::string& n : config->notes) result.notes.push_back(n);
    const int64_t floor = config->keda_scale_to_zero ? 0 : config->min_replicas;
    const int64_t start =
        std::clamp(shape.initial, floor, config->max_replicas);
    controllers.push_back(std::make_unique<HpaController>(
        policy, *std::move(config), start, options.pod_startup_us,
        shape.reversal_us));
  }
  return controllers;
}

// The shape of a run of `spec` whose first row is `first`: the bounds, the
// replicas at t=0 (--initial-replicas, else the row's `actual` within the
// bounds, else the lower bound) and the reversal window.
absl::StatusOr<RunShape> ShapeOf(const v1::PolicySpec& spec,
                                 const SimOptions& options,
                                 const TraceRow& first) {
  RunShape shape;
  std::tie(shape.lower, shape.upper) = Bounds(spec);
  shape.initial = options.initial_replicas.value_or(
      first.actual ? std::clamp<int64_t>(std::llround(*first.actual),
                                         shape.lower, shape.upper)
                   : shape.lower);
  if (shape.initial < shape.lower || shape.initial > shape.upper) {
    return absl::InvalidArgumentError(
        absl::StrCat("--initial-replicas must lie within the policy's bounds [",
                     shape.lower, ", ", shape.upper, "], got ", shape.initial));
  }
  shape.reversal_us =
      int64_t{EffectiveScaleDown(spec).stabilization_window_seconds()} *
      kMicrosPerSecond;
  return shape;
}

// The notes on the trace's columns, the oracle and the actual run.
void AddNotes(const TraceReader& trace, bool oracle, const RunShape& shape,
              SimResult& result) {
  for (const std::string& c : trace.ignored_columns()) {
    result.notes.push_back(absl::StrCat(
        "trace: column ", c, " is no signal of the policy: ignored"));
  }
  if (oracle) {
    result.notes.push_back(
        absl::StrCat("oracle: follows the ",
                     trace.has_demand() ? "trace's demand column"
                                        : "demand the signals imply",
                     " at once, within [", shape.lower, ", ", shape.upper,
                     "]; its new pods take the pod start-up time, and it "
                     "keeps the pods demand needs again within that time"));
  }
  if (trace.has_actual()) {
    result.notes.push_back(
        "actual: the replicas the cluster ran (the trace's actual column; "
        "ready: its actual_ready column, else actual)");
  }
}

// The rows after the one in effect: at least one (unless the trace has
// ended), and with an oracle every row of the next `lookahead_us` (it looks
// a start-up time ahead before it removes a pod), each shown to it once.
class RowsAhead {
 public:
  RowsAhead(TraceReader& trace, OracleController* oracle, int64_t lookahead_us)
      : trace_(trace), oracle_(oracle), lookahead_us_(lookahead_us) {}

  // Reads rows until one is at or after now + the lookahead.
  absl::Status Fill(int64_t now_us) {
    while (!at_end_ &&
           (rows_.empty() || rows_.back().t_us < now_us + lookahead_us_)) {
      absl::StatusOr<bool> read = trace_.Next(spare_);
      if (!read.ok()) return read.status();
      if (!*read) {
        at_end_ = true;
        break;
      }
      if (oracle_ != nullptr) oracle_->Foresee(spare_);
      rows_.push_back(std::move(spare_));
    }
    return absl::OkStatus();
  }
  bool empty() const { return rows_.empty(); }
  const TraceRow& front() const { return rows_.front(); }
  // The next row into `cur` (whose buffers are kept for reuse).
  void Advance(TraceRow& cur) {
    std::swap(cur, rows_.front());
    spare_ = std::move(rows_.front());
    rows_.pop_front();
  }

 private:
  TraceReader& trace_;
  OracleController* oracle_;
  const int64_t lookahead_us_;
  std::deque<TraceRow> rows_;
  TraceRow spare_;  // a row's buffers, reused
  bool at_end_ = false;
};

// The report's series: the demand, each controller's, then the actual run's.
std::vector<std::string> SeriesOf(
    const std::vector<std::unique_ptr<Controller>>& controllers, bool actual) {
  std::vector<std::string> series = {"demand"};
  for (const auto& c : controllers) series.push_back(c->name());
  if (actual) series.push_back("actual");
  return series;
}

// Every run's figures over [now_us, t_us), with `demand` and the pods
// constant; the report's series too (`values`: demand, each controller's
// ready pods, then the actual run's).
void Integrate(const std::vector<std::unique_ptr<Controller>>& controllers,
               std::optional<ActualRun>& actual, double demand, int64_t now_us,
               int64_t t_us, std::vector<double>& values,
               ReportRecorder* report) {
  for (size_t i = 0; i < controllers.size(); ++i) {
    PodModel& pods = controllers[i]->pods();
    controllers[i]->figures().Integrate(t_us - now_us, demand, pods.ready(),
                                        pods.desired());
    values[i + 1] = static_cast<double>(pods.ready());
  }
  if (actual) {
    actual->Integrate(t_us - now_us, demand);
    values.back() = static_cast<double>(actual->ready());
  }
  values[0] = demand;
  if (report != nullptr) report->Record(now_us, t_us, values);
}

// Where our decisions go: the timeline and the report's markers.
struct Outputs {
  const v1::PolicySpec& spec;
  std::ostream* timeline;
  ReportRecorder* report;
  std::string line;

  // Ours decided at `now_us`, from `before` desired pods.
  void OnTick(const EngineController& ours, int64_t now_us, double demand,
              int64_t before) {
    if (timeline != nullptr) {
      AppendTimelineLine(spec, ours, now_us, demand, line);
      *timeline << line;
    }
    if (report != nullptr) {
      const int64_t after = ours.pods().desired();
      report->Mark(now_us, (after > before) - (after < before),
                   ReasonMask(ours.last()));
    }
  }
};

}  // namespace

std::vector<std::string> SignalNames(const v1::ScalingPolicy& policy) {
  std::vector<std::string> names;
  for (const v1::Signal& s : policy.spec().signals()) names.push_back(s.name());
  return names;
}

std::string TimelineHeader(const v1::ScalingPolicy& policy) {
  std::string h = "t,decision,ready,demand";
  for (const v1::Signal& s : policy.spec().signals()) {
    absl::StrAppend(&h, ",", s.name(), "_value,", s.name(), "_proposal");
  }
  absl::StrAppend(&h, ",reason\n");
  return h;
}

absl::StatusOr<SimResult> Simulate(const v1::ScalingPolicy& policy,
                                   const SimOptions& options,
                                   TraceReader& trace, std::ostream* timeline) {
  const v1::PolicySpec& spec = policy.spec();
  SimResult result;
  if (options.pod_startup_us < 0) {
    return absl::InvalidArgumentError("--pod-startup-seconds must be >= 0");
  }
  result.tick_us = options.tick_us.value_or(
      absl::ToInt64Microseconds(EvaluationInterval(spec)));
  if (result.tick_us <= 0) {
    return absl::InvalidArgumentError("--tick-seconds must be > 0");
  }
  if (absl::Status s = trace.ReadHeader(); !s.ok()) return s;
  TraceRow cur;
  absl::StatusOr<bool> more = trace.Next(cur);
  if (!more.ok()) return more.status();
  if (!*more) return absl::InvalidArgumentError("the trace has no rows");
  absl::StatusOr<RunShape> shape = ShapeOf(spec, options, cur);
  if (!shape.ok()) return shape.status();
  result.initial_replicas = shape->initial;
  EngineController* ours = nullptr;
  OracleController* oracle = nullptr;
  absl::StatusOr<std::vector<std::unique_ptr<Controller>>> made =
      MakeControllers(policy, options, *shape, result, ours, oracle);
  if (!made.ok()) return made.status();
  std::vector<std::unique_ptr<Controller>> controllers = *std::move(made);
  AddNotes(trace, oracle != nullptr, *shape, result);
  std::optional<ActualRun> actual;
  if (trace.has_actual()) actual.emplace(shape->reversal_us, cur);
  RowsAhead ahead(trace, oracle,
                  oracle != nullptr ? options.pod_startup_us : int64_t{0});
  if (absl::Status s = ahead.Fill(0); !s.ok()) return s;
  double demand = RowDemand(spec, cur);
  bool new_row = true;  // row `cur` took effect at `now`

  const std::vector<std::string> series =
      SeriesOf(controllers, actual.has_value());
  if (options.record_report) {
    result.report = std::make_unique<ReportRecorder>(series);
  }
  Outputs out{spec, timeline, result.report.get(), ""};
  std::vector<double> values(series.size());
  if (timeline != nullptr) *timeline << TimelineHeader(policy);

  int64_t now = 0;
  while (true) {
    // The instant `now`: row `cur` is in effect.
    for (const auto& c : controllers) c->pods().AdvanceTo(now);
    for (const auto& c : controllers) {
      if (!c->DueAt(now, new_row)) continue;
      const int64_t before = c->pods().desired();
      c->Tick(cur, now);
      if (c.get() == ours) out.OnTick(*ours, now, demand, before);
    }
    new_row = false;
    if (ahead.empty() && now >= cur.t_us) break;
    // The next instant: a row, a tick or a pod becoming ready.
    int64_t t = ahead.empty() ? cur.t_us : ahead.front().t_us;
    for (const auto& c : controllers) {
      t = std::min({t, c->next_tick_us(), c->pods().NextReady()});
    }
    Integrate(controllers, actual, demand, now, t, values, result.report.get());
    now = t;
    if (!ahead.empty() && ahead.front().t_us == now) {
      ahead.Advance(cur);
      demand = RowDemand(spec, cur);
      if (actual) actual->OnRow(cur, now);
      new_row = true;
      if (absl::Status s = ahead.Fill(now); !s.ok()) return s;
    }
  }
  if (timeline != nullptr) timeline->flush();
  result.duration_us = cur.t_us;
  result.rows = trace.rows();
  for (const auto& c : controllers) {
    result.runs.push_back(c->figures().summary());
    result.runs.back().oracle = c.get() == oracle;
  }
  if (actual) result.runs.push_back(actual->figures().summary());
  return result;
}

}  // namespace signalscaler::sim
