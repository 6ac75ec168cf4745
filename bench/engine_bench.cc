// engine_bench: the cost of one Decide() (scaler/engine/engine.h) with 1, 5
// and 50 signals and full windows, with Google Benchmark.
//
// The policy: evaluated every second, signals Total / Average / Headroom in
// turn (all `push`), no replicas source (current = the last decision), the
// scale-up window 15 s with Pods 4 / Percent 100 per 60 s, the scale-down
// window 300 s with 1 pod per 60 s. "Full windows": before timing, Decide()
// runs over 3,600 s of simulated time (a service whose load swings between
// about 30 and 120 requests over 1,800 s, its CPU and spare capacity following
// from the load and the decided replicas), so the state holds the whole
// 300 s scale-down window (~300 recommendations made; runs of equal ones
// are kept as their two ends, and the `recommendations` counter shows how
// many are kept) and the scale events of the 60 s rate periods. Each timed
// iteration is the next second of that same simulation: one evaluation in
// steady state, the Decision (with its copy of the history) built and dropped.
// Building Inputs is not timed (the server's evaluator does it); updating the
// readings in place is.
//
//   engine_bench                     # all three, then the 10,000-policy figure
//   engine_bench --benchmark_repetitions=5   # any Google Benchmark flag
//
// Then it prints what 10,000 policies of 5 signals evaluated once per second
// would cost on one core, against the target of 5 %.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/text_format.h"
#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"
#include "scaler/engine/engine.h"

#ifndef SIGNALSCALER_BUILD_TYPE
#define SIGNALSCALER_BUILD_TYPE "unknown"
#endif

namespace signalscaler {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kLoadPeriod = 1800;  // s; the windows are 300 s
constexpr int kFillSeconds = 3600;    // two load periods

v1::ScalingPolicy PolicyWithSignals(int n) {
  v1::ScalingPolicy p;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        metadata { name: "bench" namespace: "bench" }
        spec {
          min_replicas: 1
          max_replicas: 100
          evaluation_interval_seconds: 1
          behavior {
            scale_up {
              stabilization_window_seconds: 15
              select_policy: Max
              policies { type: Pods value: 4 period_seconds: 60 }
              policies { type: Percent value: 100 period_seconds: 60 }
            }
            scale_down {
              stabilization_window_seconds: 300
              policies { type: Pods value: 1 period_seconds: 60 }
            }
          }
        })pb",
      &p);
  for (int j = 0; j < n; ++j) {
    v1::Signal* s = p.mutable_spec()->add_signals();
    s->set_name(absl::StrCat("s", j));
    s->mutable_source()->mutable_push();
    switch (j % 3) {
      case 0:
        s->set_type(v1::Signal::Total);
        s->set_target_per_replica(10);
        break;
      case 1:
        s->set_type(v1::Signal::Average);
        s->set_scale_up_above(0.7);
        s->set_scale_down_below(0.5);
        break;
      default:
        s->set_type(v1::Signal::Headroom);
        s->set_scale_up_below(2);
        s->set_scale_down_above(6);
        break;
    }
  }
  return p;
}

// A service under a load that swings over 30 minutes; each signal sees it with
// its own phase. Readings are updated in place (no allocation).
class Simulation {
 public:
  explicit Simulation(int signals)
      : policy_(PolicyWithSignals(signals)), now_(absl::FromUnixSeconds(1)) {
    for (int j = 0; j < signals; ++j) {
      Observation& o = inputs_.signals[absl::StrCat("s", j)];
      o.reading = Reading{0, now_};
    }
    for (int j = 0; j < signals; ++j) {
      readings_.push_back(&*inputs_.signals[absl::StrCat("s", j)].reading);
    }
  }

  // One evaluation, one second after the previous one. False on error.
  bool Step() {
    now_ += absl::Seconds(1);
    const double t = absl::ToDoubleSeconds(now_ - absl::UnixEpoch());
    // The service runs the decided replicas (8 before the first decision).
    const double pods = static_cast<double>(state_.last_decision.value_or(8));
    for (size_t j = 0; j < readings_.size(); ++j) {
      const double load = 75 + 45 * std::sin(2 * kPi * t / kLoadPeriod +
                                             0.05 * static_cast<double>(j));
      Reading& r = *readings_[j];
      r.sample_time = now_;
      switch (j % 3) {
        case 0:  // requests in flight
          r.value = load;
          break;
        case 1:  // CPU: 10 requests use one pod's CPU request
          r.value = load / (10 * pods);
          break;
        default:  // spare slots: 12 per pod
          r.value = 12 * pods - load;
          break;
      }
    }
    absl::StatusOr<Decision> d = Decide(policy_, inputs_, state_, now_);
    if (!d.ok()) return false;
    benchmark::DoNotOptimize(d->replicas);
    return true;
  }

  const EngineState& state() const { return state_; }

 private:
  const v1::ScalingPolicy policy_;
  Inputs inputs_;
  std::vector<Reading*> readings_;
  EngineState state_;
  absl::Time now_;
};

void BM_Decide(benchmark::State& state) {
  Simulation sim(static_cast<int>(state.range(0)));
  for (int i = 0; i < kFillSeconds; ++i) {
    if (!sim.Step()) {
      state.SkipWithError("Decide failed while filling the windows");
      return;
    }
  }
  // The history Decide() saw, on average over the timed evaluations.
  size_t recommendations = 0;
  size_t scale_events = 0;
  for (auto _ : state) {
    if (!sim.Step()) {
      state.SkipWithError("Decide failed");
      return;
    }
    recommendations += sim.state().recommendations.size();
    scale_events += sim.state().scale_events.size();
  }
  state.counters["recommendations"] = benchmark::Counter(
      static_cast<double>(recommendations), benchmark::Counter::kAvgIterations);
  state.counters["scale_events"] = benchmark::Counter(
      static_cast<double>(scale_events), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_Decide)->ArgName("signals")->Arg(1)->Arg(5)->Arg(50)->Unit(
    benchmark::kMicrosecond);

// The console output, plus the CPU time per iteration of each run.
class Capture final : public benchmark::ConsoleReporter {
 public:
  // Colors only on a terminal (--benchmark_color does not reach a reporter
  // of one's own).
  Capture() : ConsoleReporter(::isatty(1) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      // Prefer the median when repetitions give aggregates.
      if (!r.aggregate_name.empty() && r.aggregate_name != "median") continue;
      cpu_us_[r.run_name.str()] = r.GetAdjustedCPUTime();
    }
  }
  double CpuMicros(const std::string& name) const {
    auto it = cpu_us_.find(name);
    return it == cpu_us_.end() ? -1 : it->second;
  }

 private:
  std::map<std::string, double> cpu_us_;
};

}  // namespace
}  // namespace signalscaler

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  std::printf("engine_bench: one Decide() with full windows (build: %s)\n",
              SIGNALSCALER_BUILD_TYPE);
  signalscaler::Capture capture;
  benchmark::RunSpecifiedBenchmarks(&capture);
  benchmark::Shutdown();

  const double us = capture.CpuMicros("BM_Decide/signals:5");
  if (us < 0) return 0;  // filtered out
  // 10,000 evaluations per second, each `us` of CPU.
  const double core_percent = 10000 * us / 1e6 * 100;
  std::printf(
      "\n10,000 policies x 5 signals, each evaluated once per second: "
      "%.0f ms of CPU per second = %.2f %% of one core\n"
      "  target < 5 %%: %.2f of the budget, %s\n"
      "  (Decide() alone; the server's evaluator adds gathering the inputs, "
      "metrics and publishing: see memory_bench's CPU figure)\n",
      10000 * us / 1e3, core_percent, core_percent / 5,
      core_percent < 5
          ? "met"
          : absl::StrCat("MISSED by ", core_percent - 5, " points").c_str());
  return 0;
}
