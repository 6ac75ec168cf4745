// memory_bench: the RSS of `signalscaler serve` with 10,000 policies loaded
// and their windows full, read from /proc/PID/status (VmRSS, VmHWM).
//
// The policies (bench_util.h): 5 `push` signals each, evaluated every
// second, scale-down window --window-seconds (default 300, the HPA's), rate
// periods of 60 s. The run:
//   1. serve starts with the policies: RSS "loaded" (no value, no decision);
//   2. one value per signal is pushed (50,000 pushes): every policy decides
//      4 replicas, once a second from then on;
//   3. it waits a full window (a window of W seconds at one evaluation per
//      second holds W recommendations), sampling RSS, the server's CPU and
//      policy 0's history (Explain) as it goes;
//   4. 60 s before the end, new values are pushed (a scale-up of every
//      policy), so that the rate periods hold scale events too;
//   5. at the end: RSS and high-water mark, against 256 MiB.
// It also prints the server's CPU while it only evaluates (between steps 2
// and 4, no gRPC traffic): the whole evaluation path (inputs, Decide,
// metrics, publishing), to set beside engine_bench's Decide()-only figure.
//
//   memory_bench [--policies=10000] [--signals=5] [--window-seconds=300]
//                [--serve-flag=FLAG]...   (extra flags for serve)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/scaler_process.h"

namespace signalscaler::bench {
namespace {

constexpr double kTargetMiB = 256;
constexpr double kTargetCpuPercent = 5;
constexpr int kEventSeconds = 60;  // the rate periods, before the end

struct Options {
  int policies = 10000;
  int signals = 5;
  int window_seconds = 300;
  // Appended to serve's flags (--serve-flag=--policy-reload-seconds=60).
  std::vector<std::string> serve_flags;
};

struct Sample {
  double elapsed_s = 0;
  Memory memory;
  double cpu_s = 0;
};

std::optional<Sample> Take(pid_t pid, absl::Time start) {
  std::optional<Memory> m = ReadMemory(pid);
  if (!m.has_value()) return std::nullopt;
  Sample s;
  s.elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);
  s.memory = *m;
  s.cpu_s = ProcessCpuSeconds(pid);
  return s;
}

int Fail(const std::string& why, const testing::ScalerProcess* serve) {
  return FailWithLog("memory_bench", why,
                     serve != nullptr && serve->process
                         ? serve->process->Output()
                         : std::string());
}

// Policy 0's history as Explain shows it: "N recommendations, M events".
std::string History(testing::KedaClient& keda, const PushPolicySet& set) {
  absl::StatusOr<admin::v1::PolicyDecision> d =
      keda.Explain(set.Namespace(0), set.Name(0));
  if (!d.ok()) return d.status().ToString();
  return absl::StrFormat("%d recommendations, %d scale events, %d replicas",
                         d->recommendations_size(), d->scale_events_size(),
                         d->replicas());
}

int Run(const Options& o) {
  std::printf(
      "memory_bench: RSS of signalscaler serve with its windows full\n"
      "  machine: %s\n  build: %s%s\n"
      "  %d policies x %d push signals, evaluated every second, scale-down "
      "window %d s, rate periods 60 s\n",
      MachineLine().c_str(), BuildType().c_str(),
      OptimizedBuild() ? "" : " (NOT optimized)", o.policies, o.signals,
      o.window_seconds);
  for (const std::string& f : o.serve_flags) {
    std::printf("  serve flag: %s\n", f.c_str());
  }
  PushPolicySet set;
  set.policies = o.policies;
  set.signals = o.signals;
  set.evaluation_interval_seconds = 1;
  set.scale_down_window_seconds = o.window_seconds;
  const std::string dir = WritePolicies(set);
  const absl::Time start = absl::Now();
  testing::ScalerProcess serve =
      testing::StartServe(ServeFlags(set, dir, o.serve_flags));
  if (serve.port == 0) return Fail("signalscaler serve did not start", &serve);
  const pid_t pid = serve.process->pid();
  testing::KedaClient keda(serve.address());
  // The port is logged once the policies are in force.
  std::optional<Sample> loaded = Take(pid, start);
  if (!loaded) return Fail("serve exited", &serve);
  std::printf("  %6.0f s  loaded, no value yet:       RSS %6.1f MiB\n",
              loaded->elapsed_s, loaded->memory.rss_mib);

  if (absl::Status s = PushAll(serve.address(), set, 1); !s.ok()) {
    return Fail(s.ToString(), &serve);
  }
  std::optional<Sample> pushed = Take(pid, start);
  if (!pushed) return Fail("serve exited", &serve);
  std::printf(
      "  %6.0f s  %d values pushed:       RSS %6.1f MiB  (policy 0: %s)\n",
      pushed->elapsed_s, o.policies * o.signals, pushed->memory.rss_mib,
      History(keda, set).c_str());
  std::fflush(stdout);

  // Steady evaluation until the window is full, then the scale-up values
  // and the rate periods.
  const absl::Time filled = absl::Now() + absl::Seconds(o.window_seconds);
  const absl::Time end = filled + absl::Seconds(kEventSeconds);
  const absl::Duration every =
      absl::Seconds(std::max(5, std::min(30, o.window_seconds / 10)));
  Sample steady_from = *pushed;
  // The CPU figure starts once the first seconds' catch-up is over.
  std::optional<Sample> cpu_from;
  std::optional<Sample> cpu_to;
  Sample last = *pushed;
  bool pushed_again = false;
  while (absl::Now() < end) {
    absl::SleepFor(std::min(every, end - absl::Now()));
    std::optional<Sample> s = Take(pid, start);
    if (!s) return Fail("serve exited", &serve);
    if (!cpu_from && s->elapsed_s - steady_from.elapsed_s >= 10) cpu_from = *s;
    std::printf(
        "  %6.0f s  evaluating:                RSS %6.1f MiB  CPU %5.1f %%  "
        "(policy 0: %s)\n",
        s->elapsed_s, s->memory.rss_mib,
        100 * (s->cpu_s - last.cpu_s) / (s->elapsed_s - last.elapsed_s),
        History(keda, set).c_str());
    std::fflush(stdout);
    last = *s;
    if (!pushed_again && absl::Now() >= filled) {
      cpu_to = *s;
      if (absl::Status st = PushAll(serve.address(), set, 2); !st.ok()) {
        return Fail(st.ToString(), &serve);
      }
      pushed_again = true;
      std::printf("  %6.0f s  scale-up values pushed\n",
                  absl::ToDoubleSeconds(absl::Now() - start));
    }
  }
  std::optional<Sample> final_sample = Take(pid, start);
  if (!final_sample) return Fail("serve exited", &serve);
  const Memory& m = final_sample->memory;
  std::printf(
      "\n  windows full (%d s of recommendations at 1 s, scale events of the "
      "last 60 s; policy 0: %s)\n",
      o.window_seconds, History(keda, set).c_str());
  std::printf(
      "  RSS %.1f MiB, high-water mark %.1f MiB (loaded without values: %.1f "
      "MiB; %.1f KiB per policy beyond it)\n",
      m.rss_mib, m.hwm_mib, loaded->memory.rss_mib,
      (m.rss_mib - loaded->memory.rss_mib) * 1024 / o.policies);
  const double worst = std::max(m.rss_mib, m.hwm_mib);
  std::printf(
      "  target < %.0f MiB: %.2f of it, %s\n", kTargetMiB, worst / kTargetMiB,
      worst < kTargetMiB
          ? "met"
          : absl::StrFormat("MISSED by %.1f MiB", worst - kTargetMiB).c_str());
  if (cpu_from && cpu_to && cpu_to->elapsed_s > cpu_from->elapsed_s) {
    const double cpu = 100 * (cpu_to->cpu_s - cpu_from->cpu_s) /
                       (cpu_to->elapsed_s - cpu_from->elapsed_s);
    std::printf(
        "\n  server CPU while evaluating %d policies x %d signals every "
        "second (no gRPC traffic, %.0f s): %.2f %% of one core\n"
        "  against the engine target of %.0f %%: %.2f of it, %s\n",
        o.policies, o.signals, cpu_to->elapsed_s - cpu_from->elapsed_s, cpu,
        kTargetCpuPercent, cpu / kTargetCpuPercent,
        cpu < kTargetCpuPercent
            ? "met"
            : absl::StrFormat("MISSED by %.1f points", cpu - kTargetCpuPercent)
                  .c_str());
  }
  RemoveTree(dir);
  return 0;
}

}  // namespace
}  // namespace signalscaler::bench

int main(int argc, char** argv) {
  signalscaler::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    using signalscaler::bench::IntFlag;
    if (IntFlag(arg, "policies", 1, &o.policies) ||
        IntFlag(arg, "signals", 1, &o.signals) ||
        IntFlag(arg, "window-seconds", 0, &o.window_seconds)) {
      continue;
    }
    if (arg.rfind("--serve-flag=", 0) == 0) {
      o.serve_flags.push_back(arg.substr(13));
      continue;
    }
    std::fprintf(stderr,
                 "usage: memory_bench [--policies=10000] [--signals=5] "
                 "[--window-seconds=300] [--serve-flag=FLAG]...\n");
    return arg == "--help" || arg == "-h" ? 0 : 2;
  }
  signalscaler::bench::UseThisBuild();
  return signalscaler::bench::Run(o);
}
