// ha_scale_bench: three `signalscaler serve` replicas sharing one real
// redis-server, with 10,000 policies (issue 17, "HA at scale"). Every
// process is a child of the benchmark. It prints:
//   - Redis commands/s and Redis CPU (INFO stats, INFO cpu, and the
//     commands by name from INFO commandstats) over a steady window;
//   - each replica's lease-upkeep time per upkeep (its heartbeat, then every
//     policy's lease in one batch: signalscaler_lease_upkeep_seconds from
//     /metrics) and its CPU;
//   - decision propagation lag, p50 and p99: a new value pushed to a
//     policy's holder (found from its lease key in Redis; the mirrors get it
//     first, which changes nothing there), from the holder's answer to the
//     push (it returns once the decision is saved) to each mirror answering
//     GetMetrics with the new count;
//   - failover time after SIGKILL of a replica: until every policy it held
//     is held by another (their lease keys, polled in Redis), and whether
//     any answer changed meanwhile;
//   - GetMetrics and /readyz latency on one replica over the steady window
//     (which holds every replica's upkeeps), beside the same figures for one
//     replica on the in-memory store (no HA): the target is a KEDA-call p99
//     within 1.5x of that.
//
// The policies: one `push` signal each (Total, 10 per replica), evaluated
// every --interval-seconds (default 5, the scaler's), no stabilization and
// no rate limit, so that a decision follows a pushed value at once. Pushed
// values go to every replica (a push reaches only the replica it is sent
// to).
//
//   ha_scale_bench [--policies=10000] [--interval-seconds=5]
//                  [--window-seconds=30] [--lag-samples=200]
//                  [--lease-seconds=10]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/observe.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/redis_test_server.h"
#include "tests/testing/scaler_process.h"

namespace signalscaler::bench {
namespace {

using testing::KedaClient;
using testing::ScalerProcess;
using testing::TestRedisClient;
using testing::TestRedisServer;

constexpr int kReplicas = 3;
constexpr int kNamespaces = 20;
constexpr double kTargetLagP99Ms = 100;
constexpr double kTargetP99Ratio = 1.5;

struct Options {
  int policies = 10000;
  int interval_seconds = 5;
  int window_seconds = 30;
  int lag_samples = 200;
  int lease_seconds = 10;
};

std::string Ns(int i) { return absl::StrFormat("bench-%02d", i % kNamespaces); }
std::string Name(int i) { return absl::StrFormat("p%05d", i); }

// One file per namespace (a file may not exceed 1 MiB).
std::string WriteHaPolicies(const Options& o) {
  const std::string dir = testing::MakeTempDir();
  std::vector<std::string> files(kNamespaces);
  for (int i = 0; i < o.policies; ++i) {
    absl::StrAppendFormat(
        &files[i % kNamespaces],
        "---\n"
        "apiVersion: signalscaler.io/v1\n"
        "kind: ScalingPolicy\n"
        "metadata: {name: %s, namespace: %s}\n"
        "spec:\n"
        "  minReplicas: 1\n"
        "  maxReplicas: 100\n"
        "  evaluationIntervalSeconds: %d\n"
        "  behavior:\n"
        "    scaleUp:\n"
        "      stabilizationWindowSeconds: 0\n"
        "      policies: [{type: Pods, value: 100, periodSeconds: 1}]\n"
        "    scaleDown:\n"
        "      stabilizationWindowSeconds: 0\n"
        "      policies: [{type: Pods, value: 100, periodSeconds: 1}]\n"
        "  signals:\n"
        "  - name: s0\n"
        "    type: Total\n"
        "    targetPerReplica: 10\n"
        "    source: {intervalSeconds: 3600, push: {}}\n",
        Name(i), Ns(i), o.interval_seconds);
  }
  for (int n = 0; n < kNamespaces; ++n) {
    testing::WriteFile(absl::StrFormat("%s/bench-%02d.yaml", dir, n), files[n]);
  }
  return dir;
}

// Every policy's value, on one replica, from a few threads.
absl::Status PushEvery(KedaClient& keda, int policies, double value) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  absl::Status first;
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < policies && !failed; i = next++) {
        absl::Status s = keda.Push(Ns(i), Name(i), "s0", value);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first.ok()) first = s;
          failed = true;
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  return first;
}

// "field:value" lines of an INFO section.
std::map<std::string, std::string> Info(TestRedisClient& redis,
                                        const std::string& section) {
  std::map<std::string, std::string> out;
  for (absl::string_view line :
       absl::StrSplit(redis.Run({"INFO", section}), absl::ByAnyChar("\r\n"),
                      absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, ':');
    out[kv.first] = kv.second;
  }
  return out;
}

double InfoDouble(const std::map<std::string, std::string>& info,
                  const std::string& field) {
  double v = 0;
  auto it = info.find(field);
  if (it != info.end()) (void)absl::SimpleAtod(it->second, &v);
  return v;
}

// calls=N of each command in INFO commandstats.
std::map<std::string, double> CommandCalls(TestRedisClient& redis) {
  std::map<std::string, double> out;
  for (const auto& [field, value] : Info(redis, "commandstats")) {
    if (!absl::StartsWith(field, "cmdstat_")) continue;
    for (absl::string_view part : absl::StrSplit(value, ',')) {
      if (absl::ConsumePrefix(&part, "calls=")) {
        double n = 0;
        (void)absl::SimpleAtod(part, &n);
        out[std::string(absl::StripPrefix(field, "cmdstat_"))] = n;
      }
    }
  }
  return out;
}

// Replica index of each lease value "<epoch> r<i>" (-1: none).
int HolderOf(absl::string_view value) {
  const size_t r = value.rfind(" r");
  int i = -1;
  if (r == absl::string_view::npos ||
      !absl::SimpleAtoi(value.substr(r + 2), &i)) {
    return -1;
  }
  return i;
}

std::string LeaseKey(int i) {
  return absl::StrCat("signalscaler:{", Ns(i), "/", Name(i), "}:lease");
}

// The holders of every policy, by MGET in batches.
std::vector<int> Holders(TestRedisClient& redis, int policies) {
  std::vector<int> out;
  for (int begin = 0; begin < policies; begin += 1000) {
    std::vector<std::string> argv = {"MGET"};
    for (int i = begin; i < std::min(policies, begin + 1000); ++i) {
      argv.push_back(LeaseKey(i));
    }
    std::string reply = redis.Run(argv);  // "[1 r0,(nil),...]"
    absl::string_view body = reply;
    absl::ConsumePrefix(&body, "[");
    absl::ConsumeSuffix(&body, "]");
    for (absl::string_view v : absl::StrSplit(body, ',')) {
      out.push_back(HolderOf(v));
    }
  }
  out.resize(policies, -1);
  return out;
}

struct Latencies {
  std::vector<double> get_metrics_ms;
  std::vector<double> readyz_ms;
};

std::string Summary(std::vector<double> ms) {
  if (ms.empty()) return "no samples";
  std::sort(ms.begin(), ms.end());
  return absl::StrFormat("p50 %.2f, p99 %.2f, p99.9 %.2f, max %.2f ms (%d)",
                         Percentile(ms, 50), Percentile(ms, 99),
                         Percentile(ms, 99.9), ms.back(), ms.size());
}

double P99(std::vector<double> ms) {
  if (ms.empty()) return 0;
  std::sort(ms.begin(), ms.end());
  return Percentile(ms, 99);
}

// GetMetrics (one policy after the other) and GET /readyz against `s`,
// back to back, for `window`.
Latencies Sample(const ScalerProcess& s, int policies, absl::Duration window) {
  Latencies out;
  KedaClient keda(s.address());
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::string> n =
        keda.MetricName(Ns(i * 97 % policies), Name(i * 97 % policies));
    names.push_back(n.ok() ? *n : "");
  }
  const absl::Time end = absl::Now() + window;
  std::thread readyz([&] {
    while (absl::Now() < end) {
      const absl::Time start = absl::Now();
      testing::HttpGet(s.metrics_port, "/readyz");
      out.readyz_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  for (int k = 0; absl::Now() < end; ++k) {
    const int i = k % 100;
    const absl::Time start = absl::Now();
    keda.GetMetrics(Ns(i * 97 % policies), Name(i * 97 % policies), names[i])
        .IgnoreError();
    out.get_metrics_ms.push_back(
        absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  readyz.join();
  return out;
}

struct Upkeep {
  double sum = 0;
  double count = 0;
};

Upkeep ReadUpkeep(const ScalerProcess& s) {
  const std::string text = testing::MetricsText(s);
  return Upkeep{
      testing::Series(text, "signalscaler_lease_upkeep_seconds_sum"),
      testing::Series(text, "signalscaler_lease_upkeep_seconds_count")};
}

int Fail(const std::string& why, const std::vector<ScalerProcess>& serves) {
  std::string log;
  for (const ScalerProcess& s : serves) {
    if (s.process) log += s.process->Output().substr(0, 2000);
  }
  return FailWithLog("ha_scale_bench", why, log);
}

class Bench {
 public:
  explicit Bench(Options o) : o_(o) {}
  int Run();

 private:
  bool StartReplicas();
  bool Settle();
  void Steady();
  bool Propagation();
  bool Failover();
  void Baseline();

  const Options o_;
  std::unique_ptr<TestRedisServer> redis_;
  std::unique_ptr<TestRedisClient> client_;
  std::string dir_;
  std::vector<ScalerProcess> serves_;
  std::vector<std::unique_ptr<KedaClient>> keda_;
  std::string why_;
  double ha_p99_ms_ = 0;
  double lag_p99_ms_ = 0;
  double failover_s_ = 0;
};

bool Bench::StartReplicas() {
  PushPolicySet set;  // only for the limits ServeFlags raises
  set.policies = o_.policies;
  set.namespaces = kNamespaces;
  for (int r = 0; r < kReplicas; ++r) {
    serves_.push_back(testing::StartServe(ServeFlags(
        set, dir_,
        {absl::StrCat("--state-store=redis://127.0.0.1:", redis_->port()),
         absl::StrCat("--replica-id=r", r),
         absl::StrCat("--lease-seconds=", o_.lease_seconds)})));
    if (serves_.back().port == 0) {
      why_ = absl::StrCat("replica r", r, " did not start");
      return false;
    }
    keda_.push_back(std::make_unique<KedaClient>(serves_.back().address()));
  }
  for (int r = 0; r < kReplicas; ++r) {
    if (absl::Status s = PushEvery(*keda_[r], o_.policies, 35); !s.ok()) {
      why_ = s.ToString();
      return false;
    }
  }
  return true;
}

// Every policy held by one live replica, every replica holding some, a
// lease period after the last one started (handoffs done).
bool Bench::Settle() {
  const absl::Time started = absl::Now();
  absl::SleepFor(absl::Seconds(o_.lease_seconds + 2));
  while (absl::Now() - started < absl::Seconds(120)) {
    const std::vector<int> holders = Holders(*client_, o_.policies);
    std::vector<int> held(kReplicas, 0);
    int free = 0;
    for (int h : holders) {
      if (h < 0 || h >= kReplicas) {
        ++free;
      } else {
        ++held[h];
      }
    }
    if (free == 0 && *std::min_element(held.begin(), held.end()) > 0) {
      std::printf("  settled after %.0f s: leases held %d / %d / %d\n",
                  absl::ToDoubleSeconds(absl::Now() - started), held[0],
                  held[1], held[2]);
      return true;
    }
    absl::SleepFor(absl::Seconds(1));
  }
  why_ = "leases did not settle within 120 s";
  return false;
}

void Bench::Steady() {
  const std::map<std::string, std::string> stats0 = Info(*client_, "stats");
  const std::map<std::string, std::string> cpu0 = Info(*client_, "cpu");
  const std::map<std::string, double> calls0 = CommandCalls(*client_);
  std::vector<Upkeep> up0;
  std::vector<double> cpu_serve0;
  for (const ScalerProcess& s : serves_) {
    up0.push_back(ReadUpkeep(s));
    cpu_serve0.push_back(ProcessCpuSeconds(s.process->pid()));
  }
  const double redis_cpu0 = ProcessCpuSeconds(redis_->pid());
  const double machine0 = MachineBusySeconds();
  const double self0 = SelfCpuSeconds();
  const absl::Time t0 = absl::Now();
  const Latencies lat =
      Sample(serves_[0], o_.policies, absl::Seconds(o_.window_seconds));
  const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  const std::map<std::string, std::string> stats1 = Info(*client_, "stats");
  const std::map<std::string, std::string> cpu1 = Info(*client_, "cpu");
  const std::map<std::string, double> calls1 = CommandCalls(*client_);

  const double commands = InfoDouble(stats1, "total_commands_processed") -
                          InfoDouble(stats0, "total_commands_processed");
  const double redis_cpu =
      InfoDouble(cpu1, "used_cpu_user") + InfoDouble(cpu1, "used_cpu_sys") -
      InfoDouble(cpu0, "used_cpu_user") - InfoDouble(cpu0, "used_cpu_sys");
  std::printf(
      "\n  steady window %.0f s (no pushes; a KEDA-like client on r0):\n"
      "  redis: %.0f commands/s, CPU %.1f %% of one core (INFO cpu; %.1f %% "
      "from /proc)\n",
      wall, commands / wall, 100 * redis_cpu / wall,
      100 * (ProcessCpuSeconds(redis_->pid()) - redis_cpu0) / wall);
  std::string by_name;
  for (const auto& [name, n] : calls1) {
    auto before = calls0.find(name);
    const double delta = n - (before == calls0.end() ? 0 : before->second);
    if (delta / wall >= 1) {
      absl::StrAppendFormat(&by_name, " %s %.0f/s", name, delta / wall);
    }
  }
  std::printf("  redis commands by name:%s\n", by_name.c_str());
  for (size_t r = 0; r < serves_.size(); ++r) {
    const Upkeep up1 = ReadUpkeep(serves_[r]);
    const double n = up1.count - up0[r].count;
    std::printf(
        "  r%zu: lease upkeep %.1f ms per upkeep (mean of %.0f, heartbeat and "
        "every policy's lease), CPU %.1f %% of one core\n",
        r, n > 0 ? 1000 * (up1.sum - up0[r].sum) / n : -1, n,
        100 * (ProcessCpuSeconds(serves_[r].process->pid()) - cpu_serve0[r]) /
            wall);
  }
  std::printf("  r0 GetMetrics: %s\n  r0 /readyz:    %s\n",
              Summary(lat.get_metrics_ms).c_str(),
              Summary(lat.readyz_ms).c_str());
  double ours =
      ProcessCpuSeconds(redis_->pid()) - redis_cpu0 + SelfCpuSeconds() - self0;
  for (size_t r = 0; r < serves_.size(); ++r) {
    ours += ProcessCpuSeconds(serves_[r].process->pid()) - cpu_serve0[r];
  }
  std::printf(
      "  machine: %.2f cores busy, of which %.2f not this benchmark's "
      "processes (others)\n",
      (MachineBusySeconds() - machine0) / wall,
      (MachineBusySeconds() - machine0 - ours) / wall);
  ha_p99_ms_ = P99(lat.get_metrics_ms);
  std::fflush(stdout);
}

bool Bench::Propagation() {
  std::vector<double> lag_ms;
  int timeouts = 0;
  std::map<int, bool> raised;  // pushed 75 last (every policy starts at 35)
  for (int k = 0; k < o_.lag_samples; ++k) {
    const int i = (k * 7919) % o_.policies;
    const int holder = HolderOf(client_->Run({"GET", LeaseKey(i)}));
    if (holder < 0 || holder >= kReplicas) continue;
    // 35 -> 4 replicas, 75 -> 8: each sample changes the policy's count.
    const bool up = !raised[i];
    raised[i] = up;
    const double value = up ? 75 : 35;
    const double want = up ? 8 : 4;
    std::vector<std::string> names(kReplicas);
    for (int r = 0; r < kReplicas; ++r) {
      names[r] = keda_[r]->MetricName(Ns(i), Name(i)).value_or("");
      if (r != holder)
        keda_[r]->Push(Ns(i), Name(i), "s0", value).IgnoreError();
    }
    if (!keda_[holder]->Push(Ns(i), Name(i), "s0", value).ok()) continue;
    const absl::Time saved = absl::Now();  // the push returns once saved
    for (int r = 0; r < kReplicas; ++r) {
      if (r == holder) continue;
      for (;;) {
        absl::StatusOr<double> got =
            keda_[r]->GetMetrics(Ns(i), Name(i), names[r]);
        if (got.ok() && *got == want) {
          lag_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - saved));
          break;
        }
        if (absl::Now() - saved > absl::Seconds(10)) {
          ++timeouts;
          break;
        }
        absl::SleepFor(absl::Microseconds(500));
      }
    }
  }
  std::sort(lag_ms.begin(), lag_ms.end());
  if (lag_ms.empty()) {
    why_ = "no propagation sample";
    return false;
  }
  lag_p99_ms_ = Percentile(lag_ms, 99);
  std::printf(
      "\n  decision propagation (holder's save -> a mirror answers the new "
      "count), %zu samples%s: p50 %.1f ms, p99 %.1f ms, max %.1f ms; target "
      "p99 <= %.0f ms: %s\n",
      lag_ms.size(),
      timeouts > 0 ? absl::StrCat(", ", timeouts, " over 10 s").c_str() : "",
      Percentile(lag_ms, 50), lag_p99_ms_, lag_ms.back(), kTargetLagP99Ms,
      lag_p99_ms_ <= kTargetLagP99Ms
          ? "met"
          : absl::StrFormat("MISSED by %.1f ms", lag_p99_ms_ - kTargetLagP99Ms)
                .c_str());
  std::fflush(stdout);
  return true;
}

bool Bench::Failover() {
  constexpr int kDead = kReplicas - 1;
  const std::vector<int> before = Holders(*client_, o_.policies);
  std::vector<int> orphaned;
  for (int i = 0; i < o_.policies; ++i) {
    if (before[i] == kDead) orphaned.push_back(i);
  }
  // A few of them, asked on the survivors all along: no answer may change.
  std::vector<std::pair<int, std::string>> watched;
  for (size_t k = 0; k < orphaned.size() && watched.size() < 20;
       k += orphaned.size() / 20 + 1) {
    const int i = orphaned[k];
    watched.emplace_back(i, keda_[0]->MetricName(Ns(i), Name(i)).value_or(""));
  }
  std::map<int, double> answer;
  for (const auto& [i, name] : watched) {
    answer[i] = keda_[0]->GetMetrics(Ns(i), Name(i), name).value_or(-1);
  }
  serves_[kDead].process->Signal(SIGKILL);
  serves_[kDead].process->Wait(absl::Seconds(5));
  const absl::Time killed = absl::Now();
  int changed = 0;
  std::optional<absl::Duration> moved;
  while (!moved && absl::Now() - killed < absl::Seconds(60)) {
    for (const auto& [i, name] : watched) {
      for (int r = 0; r < kDead; ++r) {
        absl::StatusOr<double> got = keda_[r]->GetMetrics(Ns(i), Name(i), name);
        if (got.ok() && *got != answer[i]) ++changed;
      }
    }
    std::vector<std::string> argv = {"MGET"};
    for (int i : orphaned) argv.push_back(LeaseKey(i));
    const std::string reply = client_->Run(argv);
    absl::string_view body = reply;
    absl::ConsumePrefix(&body, "[");
    absl::ConsumeSuffix(&body, "]");
    bool all = true;
    for (absl::string_view v : absl::StrSplit(body, ',')) {
      const int h = HolderOf(v);
      if (h < 0 || h == kDead) all = false;
    }
    if (all) moved = absl::Now() - killed;
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!moved) {
    why_ = "the killed replica's policies did not move within 60 s";
    return false;
  }
  failover_s_ = absl::ToDoubleSeconds(*moved);
  std::printf(
      "\n  failover: SIGKILL of r%d (%zu policies held): all held by the "
      "others after %.1f s (lease period %d s: %s); %d answers changed "
      "meanwhile (of %zu policies watched on both survivors)\n",
      kDead, orphaned.size(), failover_s_, o_.lease_seconds,
      failover_s_ <= o_.lease_seconds ? "within it" : "MISSED", changed,
      watched.size());
  std::fflush(stdout);
  return true;
}

// One replica on the in-memory store, the same policies and load.
void Bench::Baseline() {
  for (ScalerProcess& s : serves_) {
    if (s.process) s.process->Signal(SIGKILL);
  }
  PushPolicySet set;
  set.policies = o_.policies;
  set.namespaces = kNamespaces;
  ScalerProcess alone = testing::StartServe(ServeFlags(set, dir_, {}));
  if (alone.port == 0) {
    std::printf("  baseline: serve did not start\n");
    return;
  }
  KedaClient keda(alone.address());
  if (!PushEvery(keda, o_.policies, 35).ok()) {
    std::printf("  baseline: pushes failed\n");
    return;
  }
  absl::SleepFor(absl::Seconds(o_.interval_seconds + 2));
  const Latencies lat =
      Sample(alone, o_.policies, absl::Seconds(o_.window_seconds));
  const double p99 = P99(lat.get_metrics_ms);
  std::printf(
      "\n  without HA (one replica, in-memory store), same client:\n"
      "  GetMetrics: %s\n  /readyz:    %s\n"
      "  GetMetrics p99 with HA / without: %.2fx (target <= %.1fx): %s\n",
      Summary(lat.get_metrics_ms).c_str(), Summary(lat.readyz_ms).c_str(),
      p99 > 0 ? ha_p99_ms_ / p99 : 0, kTargetP99Ratio,
      p99 > 0 && ha_p99_ms_ / p99 <= kTargetP99Ratio ? "met" : "MISSED");
  alone.process->Signal(SIGKILL);
}

int Bench::Run() {
  std::printf(
      "ha_scale_bench: %d serve replicas, one redis-server, %d policies\n"
      "  machine: %s\n  build: %s%s\n"
      "  1 push signal each, evaluated every %d s, --lease-seconds=%d\n",
      kReplicas, o_.policies, MachineLine().c_str(), BuildType().c_str(),
      OptimizedBuild() ? "" : " (NOT optimized)", o_.interval_seconds,
      o_.lease_seconds);
  std::fflush(stdout);
  auto redis = TestRedisServer::Start();
  if (!redis.ok()) return Fail(redis.status().ToString(), serves_);
  redis_ = *std::move(redis);
  client_ = std::make_unique<TestRedisClient>(redis_->port());
  dir_ = WriteHaPolicies(o_);
  if (!StartReplicas() || !Settle()) return Fail(why_, serves_);
  Steady();
  if (!Propagation() || !Failover()) return Fail(why_, serves_);
  Baseline();
  RemoveTree(dir_);
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
        IntFlag(arg, "interval-seconds", 1, &o.interval_seconds) ||
        IntFlag(arg, "window-seconds", 1, &o.window_seconds) ||
        IntFlag(arg, "lag-samples", 1, &o.lag_samples) ||
        IntFlag(arg, "lease-seconds", 1, &o.lease_seconds)) {
      continue;
    }
    std::fprintf(stderr,
                 "usage: ha_scale_bench [--policies=10000] "
                 "[--interval-seconds=5] [--window-seconds=30] "
                 "[--lag-samples=200] [--lease-seconds=10]\n");
    return arg == "--help" || arg == "-h" ? 0 : 2;
  }
  signalscaler::bench::UseThisBuild();
  return signalscaler::bench::Bench(o).Run();
}
