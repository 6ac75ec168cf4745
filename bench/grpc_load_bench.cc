// grpc_load_bench: signalscaler's ExternalScaler under KEDA's call mix,
// against a null ExternalScaler (bench/null_scaler.cc, constants from
// memory): the floor on this machine.
//
// Starts both as child processes: `signalscaler serve` with N generated
// policies (one `push` signal each, in 20 namespaces) fed one value each
// through the admin API so that every policy has a decision, and
// null_scaler. Then, for each round, loads one server while the other is
// stopped (SIGSTOP: an idle server's timers would steal CPU from the
// measured one), then the other, alternating which goes first. Prints
// calls/s and p50/p90/p99/p99.9 latency per server and round, with the CPU
// used by the server, by this client and by the rest of the machine (a
// shared machine's noise), the medians over the rounds, and the ratios
// against issue 17's targets (at least 90 % of the null server's calls/s
// and p99 within 1.5x of its p99, the median of the per-round ratios;
// server CPU per call within 1.10x of null's, likewise, printed also as
// the ratio of the two servers' medians and less each server's idle CPU:
// signalscaler evaluates every policy each second whether or not KEDA
// calls).
//
//   grpc_load_bench [--policies=10000] [--concurrency=64] [--duration=10]
//                   [--warmup=2] [--rounds=5] [--client-threads=1]
//                   [--serve-flag=FLAG]...   (extra flags for serve)
//
// Exit status: 0 when every call succeeded (targets met or not), 1 on any
// failed call or setup error.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "bench/grpc_load.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::bench {
namespace {

struct Options {
  int policies = 10000;
  int concurrency = 64;
  int duration_s = 10;
  int warmup_s = 2;
  int rounds = 5;
  int client_threads = 1;
  // Appended to serve's flags (--serve-flag=--policy-reload-seconds=60).
  std::vector<std::string> serve_flags;
};

struct Measured {
  LoadResult load;
  double server_cpu = 0;  // cores used by the server while timed
  double client_cpu = 0;  // by this process
  double other_cpu = 0;   // by every other process of the machine
  // Cores used by the server just before, with no calls: its background
  // work (signalscaler evaluates every policy each second; null_scaler
  // does nothing).
  double idle_cpu = 0;
};

struct Server {
  std::string name;
  std::string address;
  testing::Subprocess* process = nullptr;
  std::vector<Measured> runs;
};

// NaN if any is NaN (sorting NaNs is undefined).
double Median(std::vector<double> v) {
  for (double x : v) {
    if (std::isnan(x)) return x;
  }
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// `cores` of the server's over the timed interval, per successful call, in
// microseconds.
double PerCallUs(const Measured& m, double cores) {
  return m.load.calls == 0
             ? 0
             : 1e6 * cores * m.load.seconds / static_cast<double>(m.load.calls);
}

// Server CPU per successful call: what the server spends on a call, less
// sensitive to a shared machine than calls/s.
double CpuPerCallUs(const Measured& m) { return PerCallUs(m, m.server_cpu); }

// The same, less the server's idle background work: what answering costs.
double CallOnlyCpuPerCallUs(const Measured& m) {
  return PerCallUs(m, std::max(0.0, m.server_cpu - m.idle_cpu));
}

// Issue 17's targets.
constexpr double kThroughputTarget = 0.90;  // of null's calls/s, at least
constexpr double kP99Target = 1.5;          // of null's p99, at most
constexpr double kCpuPerCallTarget = 1.10;  // of null's CPU per call, at most

// Idle CPU is sampled over this long before each round's load
// (/proc's CPU times count in 10 ms ticks: +-0.003 core).
constexpr absl::Duration kIdleSample = absl::Seconds(3);

std::string Figures(const Measured& m) {
  const std::vector<double>& l = m.load.latency_us;
  return absl::StrFormat(
      "%7.0f calls/s  p50 %5.0f  p90 %5.0f  p99 %5.0f  p99.9 %5.0f us  "
      "server %4.1f us CPU/call (%4.1f less idle); cores: server %.2f "
      "(idle %.3f) client %.2f others %.2f; errors %d",
      m.load.calls_per_second(), Percentile(l, 50), Percentile(l, 90),
      Percentile(l, 99), Percentile(l, 99.9), CpuPerCallUs(m),
      CallOnlyCpuPerCallUs(m), m.server_cpu, m.idle_cpu, m.client_cpu,
      m.other_cpu, m.load.error_count());
}

std::optional<Measured> Measure(Server& s, Server& other,
                                const std::vector<LoadTarget>& targets,
                                const Options& o) {
  other.process->Signal(SIGSTOP);
  s.process->Signal(SIGCONT);
  // A resumed server catches up (signalscaler evaluates every policy
  // whose interval passed while it was stopped) before its idle CPU is
  // sampled.
  absl::SleepFor(absl::Milliseconds(1500));
  const pid_t pid = s.process->pid();
  const double idle0 = ProcessCpuSeconds(pid);
  absl::SleepFor(kIdleSample);
  const double idle1 = ProcessCpuSeconds(pid);
  LoadOptions lo;
  lo.concurrency = o.concurrency;
  lo.client_threads = o.client_threads;
  lo.warmup = absl::Seconds(o.warmup_s);
  lo.duration = absl::Seconds(o.duration_s);
  double server0 = 0, client0 = 0, all0 = 0;
  double server1 = 0, client1 = 0, all1 = 0;
  lo.on_measure_start = [&] {
    server0 = ProcessCpuSeconds(pid);
    client0 = SelfCpuSeconds();
    all0 = MachineBusySeconds();
  };
  lo.on_measure_end = [&] {
    server1 = ProcessCpuSeconds(pid);
    client1 = SelfCpuSeconds();
    all1 = MachineBusySeconds();
  };
  absl::StatusOr<LoadResult> r = RunLoad(s.address, targets, lo);
  other.process->Signal(SIGCONT);
  if (!r.ok()) {
    std::fprintf(stderr, "grpc_load_bench: %s: %s\n", s.name.c_str(),
                 r.status().ToString().c_str());
    return std::nullopt;
  }
  if (std::min({idle0, idle1, server0, server1}) < 0) {
    std::fprintf(stderr, "grpc_load_bench: cannot read %s's CPU time\n",
                 s.name.c_str());
    return std::nullopt;
  }
  Measured m;
  m.load = *std::move(r);
  m.idle_cpu = (idle1 - idle0) / absl::ToDoubleSeconds(kIdleSample);
  m.server_cpu = (server1 - server0) / o.duration_s;
  m.client_cpu = (client1 - client0) / o.duration_s;
  m.other_cpu =
      std::max(0.0, (all1 - all0) / o.duration_s - m.server_cpu - m.client_cpu);
  return m;
}

int Run(const Options& o) {
  std::printf(
      "grpc_load_bench: KEDA's call mix (GetMetricSpec, GetMetrics, IsActive "
      "1:1:1 per evaluation)\n"
      "  machine: %s\n  build: %s%s\n"
      "  %d policies (1 push signal each, 20 namespaces), %d concurrent "
      "calls on one channel, %d client thread(s)\n"
      "  %d round(s) of %d s warm-up + %d s timed per server, the other "
      "server stopped meanwhile\n",
      MachineLine().c_str(), BuildType().c_str(),
      OptimizedBuild() ? "" : " (NOT optimized: figures are not meaningful)",
      o.policies, o.concurrency, o.client_threads, o.rounds, o.warmup_s,
      o.duration_s);

  for (const std::string& f : o.serve_flags) {
    std::printf("  serve flag: %s\n", f.c_str());
  }
  PushPolicySet set;
  set.policies = o.policies;
  set.signals = 1;
  const std::string dir = WritePolicies(set);
  testing::ScalerProcess serve =
      testing::StartServe(ServeFlags(set, dir, o.serve_flags));
  if (serve.port == 0) {
    std::fprintf(stderr, "grpc_load_bench: signalscaler serve did not start\n");
    if (serve.process) {
      std::fprintf(stderr, "%s", serve.process->Output().c_str());
    }
    return 1;
  }
  const absl::Time push_start = absl::Now();
  if (absl::Status s = PushAll(serve.address(), set, 1); !s.ok()) {
    std::fprintf(stderr, "grpc_load_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<LoadTarget> targets;
  for (int i = 0; i < o.policies; ++i) {
    targets.push_back(LoadTarget{
        set.Namespace(i), set.Name(i),
        absl::StrCat("signalscaler-", set.Namespace(i), "-", set.Name(i))});
  }
  if (absl::Status s = CheckTargets(serve.address(), targets); !s.ok()) {
    std::fprintf(stderr, "grpc_load_bench: signalscaler is not ready: %s\n",
                 s.ToString().c_str());
    return 1;
  }
  std::printf(
      "  setup: %d values pushed, every policy answers GetMetrics (%.1f s)\n",
      o.policies, absl::ToDoubleSeconds(absl::Now() - push_start));

  const std::string null_log_dir = testing::MakeTempDir();
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> null_process =
      testing::Subprocess::Start(
          {BuildDir() + "/bench/null_scaler", "--listen=127.0.0.1:0"},
          null_log_dir + "/null_scaler.log");
  if (!null_process.ok()) {
    std::fprintf(stderr, "grpc_load_bench: %s\n",
                 null_process.status().ToString().c_str());
    return 1;
  }
  std::optional<std::string> port =
      (*null_process)->WaitForOutput("port=", absl::Seconds(10));
  if (!port.has_value()) {
    std::fprintf(stderr, "grpc_load_bench: null_scaler did not start: %s\n",
                 (*null_process)->Output().c_str());
    return 1;
  }
  Server null{
      "null", absl::StrCat("127.0.0.1:", *port), null_process->get(), {}};
  Server real{"signalscaler", serve.address(), serve.process.get(), {}};
  std::printf("  pids: signalscaler %d, null_scaler %d\n\n",
              static_cast<int>(real.process->pid()),
              static_cast<int>(null.process->pid()));

  bool failed = false;
  for (int round = 0; round < o.rounds && !failed; ++round) {
    Server* order[2] = {&null, &real};
    if (round % 2 == 1) std::swap(order[0], order[1]);
    for (Server* s : order) {
      Server& other = s == &null ? real : null;
      std::optional<Measured> m = Measure(*s, other, targets, o);
      if (!m.has_value()) {
        failed = true;
        break;
      }
      std::printf("  round %d %-12s %s\n", round + 1, s->name.c_str(),
                  Figures(*m).c_str());
      std::fflush(stdout);
      for (const auto& [what, count] : m->load.errors) {
        std::printf("    error x%lld: %s\n", static_cast<long long>(count),
                    what.c_str());
        failed = true;
      }
      s->runs.push_back(*std::move(m));
    }
  }
  if (failed || null.runs.empty() || real.runs.empty()) {
    std::printf("\nFAILED: calls failed (see above); no figures.\n");
    if (!real.runs.empty() || !null.runs.empty()) {
      std::fprintf(stderr, "--- serve log (tail) ---\n%s\n",
                   real.process->Output()
                       .substr(real.process->Output().size() > 4000
                                   ? real.process->Output().size() - 4000
                                   : 0)
                       .c_str());
    }
    RemoveTree(dir);
    RemoveTree(null_log_dir);
    return 1;
  }

  auto median_of = [](const Server& s, auto f) {
    std::vector<double> v;
    for (const Measured& m : s.runs) v.push_back(f(m));
    return Median(v);
  };
  auto rate = [](const Measured& m) { return m.load.calls_per_second(); };
  auto p = [](double q) {
    return [q](const Measured& m) { return Percentile(m.load.latency_us, q); };
  };
  std::printf("\n  median over %d round(s):\n", o.rounds);
  for (const Server* s : {&null, &real}) {
    std::printf(
        "  %-12s %7.0f calls/s  p50 %5.0f  p90 %5.0f  p99 %5.0f  p99.9 %5.0f "
        "us  server %4.1f us CPU/call; cores: server %.2f others %.2f\n",
        s->name.c_str(), median_of(*s, rate), median_of(*s, p(50)),
        median_of(*s, p(90)), median_of(*s, p(99)), median_of(*s, p(99.9)),
        median_of(*s, CpuPerCallUs),
        median_of(*s, [](const Measured& m) { return m.server_cpu; }),
        median_of(*s, [](const Measured& m) { return m.other_cpu; }));
  }
  std::printf("  signalscaler p99 per method:");
  for (size_t m = 0; m < kMethods.size(); ++m) {
    std::printf(" %s %.0f us", kMethods[m],
                median_of(real, [m](const Measured& x) {
                  return Percentile(x.load.method_latency_us[m], 99);
                }));
  }
  std::printf("\n");
  // The ratios of each round (the two servers measured back to back, so
  // that the machine's other load hits both alike), then their median.
  std::vector<double> throughput_ratios;
  std::vector<double> p99_ratios;
  std::vector<double> cpu_ratios;
  std::vector<double> call_only_cpu_ratios;
  // x / y, or NaN (printed as "nan", and never "met") when y is 0.
  auto ratio = [](double x, double y) {
    return y > 0 ? x / y : std::numeric_limits<double>::quiet_NaN();
  };
  std::printf("\n  per round, signalscaler / null: calls/s");
  for (size_t r = 0; r < real.runs.size(); ++r) {
    const Measured& a = real.runs[r];
    const Measured& b = null.runs[r];
    throughput_ratios.push_back(ratio(rate(a), rate(b)));
    p99_ratios.push_back(ratio(p(99)(a), p(99)(b)));
    cpu_ratios.push_back(ratio(CpuPerCallUs(a), CpuPerCallUs(b)));
    call_only_cpu_ratios.push_back(
        ratio(CallOnlyCpuPerCallUs(a), CallOnlyCpuPerCallUs(b)));
    std::printf(" %.0f%%", 100 * throughput_ratios.back());
  }
  std::printf(", p99");
  for (double x : p99_ratios) std::printf(" %.2fx", x);
  std::printf(", CPU per call");
  for (double x : cpu_ratios) std::printf(" %.2fx", x);
  const double throughput_ratio = Median(throughput_ratios);
  const double p99_ratio = Median(p99_ratios);
  const double cpu_ratio = Median(cpu_ratios);
  const double cpu_ratio_of_medians =
      ratio(median_of(real, CpuPerCallUs), median_of(null, CpuPerCallUs));
  const double call_only_cpu_ratio = Median(call_only_cpu_ratios);
  // `met` is false for NaN: a figure that could not be computed is missed.
  auto verdict = [](bool met, std::string missed) {
    return met ? std::string("met") : "MISSED by " + missed;
  };
  std::printf(
      "\n  calls/s: signalscaler / null = %.1f %% (median of the rounds; "
      "target >= %.0f %%): %s\n",
      100 * throughput_ratio, 100 * kThroughputTarget,
      verdict(throughput_ratio >= kThroughputTarget,
              absl::StrFormat("%.1f points",
                              100 * (kThroughputTarget - throughput_ratio)))
          .c_str());
  std::printf(
      "  p99:     signalscaler / null = %.2fx (median of the rounds; target "
      "<= %.2fx): %s\n",
      p99_ratio, kP99Target,
      verdict(p99_ratio <= kP99Target,
              absl::StrFormat("%.2fx", p99_ratio - kP99Target))
          .c_str());
  std::printf(
      "  server CPU per call: signalscaler / null = %.2fx (median of the "
      "rounds; target <= %.2fx): %s\n"
      "    ratio of each server's median over the rounds: %.2fx; less each "
      "server's idle CPU (signalscaler %.3f cores): %.2fx\n",
      cpu_ratio, kCpuPerCallTarget,
      verdict(cpu_ratio <= kCpuPerCallTarget,
              absl::StrFormat("%.2fx", cpu_ratio - kCpuPerCallTarget))
          .c_str(),
      cpu_ratio_of_medians,
      median_of(real, [](const Measured& m) { return m.idle_cpu; }),
      call_only_cpu_ratio);
  RemoveTree(dir);
  RemoveTree(null_log_dir);
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
        IntFlag(arg, "concurrency", 1, &o.concurrency) ||
        IntFlag(arg, "duration", 1, &o.duration_s) ||
        IntFlag(arg, "warmup", 0, &o.warmup_s) ||
        IntFlag(arg, "rounds", 1, &o.rounds) ||
        IntFlag(arg, "client-threads", 1, &o.client_threads)) {
      continue;
    }
    if (arg.rfind("--serve-flag=", 0) == 0) {
      o.serve_flags.push_back(arg.substr(13));
      continue;
    }
    std::fprintf(
        stderr,
        "usage: grpc_load_bench [--policies=10000] [--concurrency=64] "
        "[--duration=10] [--warmup=2] [--rounds=5] [--client-threads=1] "
        "[--serve-flag=FLAG]...\n");
    return arg == "--help" || arg == "-h" ? 0 : 2;
  }
  signalscaler::bench::UseThisBuild();
  return signalscaler::bench::Run(o);
}
