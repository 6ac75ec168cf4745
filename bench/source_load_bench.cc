// source_load_bench: Prometheus queries per minute with 1,000 policies
// sharing 50 unique queries, while KEDA calls the scaler at its real rate,
// against what KEDA's built-in prometheus scaler would send for the same
// 1,000 ScaledObjects.
//
// Serves 1,000 generated policies (10 namespaces), policy i with one Total
// signal whose source is query i % 50 on a fake Prometheus of this bench
// (a one-thread HTTP server that answers every instant query with a valid
// sample and counts the queries it gets). Every policy evaluates (and its
// source is polled) each --interval-seconds, 5 by default (the default
// evaluationIntervalSeconds). While it counts, the bench calls the scaler as
// KEDA would for 1,000 ScaledObjects with external triggers: GetMetricSpec,
// GetMetrics and IsActive per evaluation, one evaluation per ScaledObject
// every pollingInterval (30 s) plus one per HPA metrics read (15 s), i.e.
// 100 evaluations (300 calls) a second.
//
// KEDA's prometheus scaler, for comparison (computed, KEDA.md): one query
// per evaluation, so per ScaledObject 60/30 (polling) + 60/15 (HPA reads) =
// 6 queries a minute, 6,000 for 1,000 ScaledObjects; 2,000 with
// `useCachedMetrics: true` (the HPA reads are then answered from KEDA's
// cache).
//
//   source_load_bench [--policies=1000] [--queries=50] [--interval-seconds=5]
//                     [--seconds=60]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler::bench {
namespace {

constexpr int kNamespaces = 10;
constexpr double kKedaPollingSeconds = 30;  // pollingInterval default
constexpr double kHpaSyncSeconds = 15;      // HPA metrics reads

struct Options {
  int policies = 1000;
  int queries = 50;
  int interval_seconds = 5;
  int seconds = 60;
};

// Answers every instant query with a sample taken now, and counts them per
// query (the URL-encoded text).
class FakePrometheus {
 public:
  FakePrometheus()
      : server_([this](const std::string& head) { return Answer(head); }) {}

  std::string address() const { return server_.Url(""); }
  std::map<std::string, int> Counts() const {
    absl::MutexLock lock(&mu_);
    return counts_;
  }
  int Total() const {
    int n = 0;
    for (const auto& [q, c] : Counts()) n += c;
    return n;
  }

 private:
  testing::TestResponse Answer(const std::string& head) {
    testing::TestResponse r;
    constexpr absl::string_view kPrefix = "GET /api/v1/query?query=";
    if (!absl::StartsWith(head, kPrefix)) {
      r.status = 404;
      return r;
    }
    const std::string query =
        head.substr(kPrefix.size(),
                    head.find_first_of(" &", kPrefix.size()) - kPrefix.size());
    {
      absl::MutexLock lock(&mu_);
      ++counts_[query];
    }
    r.body = absl::StrFormat(
        R"({"status":"success","data":{"resultType":"vector","result":[)"
        R"({"metric":{},"value":[%.3f,"42"]}]}})",
        absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
    return r;
  }

  mutable absl::Mutex mu_;
  std::map<std::string, int> counts_;
  testing::TestHttpServer server_;  // last: stops first
};

std::string Namespace(int i) {
  return absl::StrFormat("src-%02d", i % kNamespaces);
}
std::string Name(int i) { return absl::StrFormat("p%04d", i); }

std::string WritePrometheusPolicies(const Options& o,
                                    const std::string& address) {
  const std::string dir = testing::MakeTempDir();
  std::vector<std::string> files(kNamespaces);
  for (int i = 0; i < o.policies; ++i) {
    absl::StrAppendFormat(
        &files[static_cast<size_t>(i % kNamespaces)],
        "---\n"
        "apiVersion: signalscaler.io/v1\n"
        "kind: ScalingPolicy\n"
        "metadata: {name: %s, namespace: %s}\n"
        "spec:\n"
        "  maxReplicas: 100\n"
        "  evaluationIntervalSeconds: %d\n"
        "  signals:\n"
        "  - name: depth\n"
        "    type: Total\n"
        "    targetPerReplica: 10\n"
        "    source:\n"
        "      prometheus:\n"
        "        address: %s\n"
        "        query: 'sum(queue_depth{queue=\"q%02d\"})'\n",
        Name(i), Namespace(i), o.interval_seconds, address, i % o.queries);
  }
  for (int n = 0; n < kNamespaces; ++n) {
    testing::WriteFile(absl::StrFormat("%s/src-%02d.yaml", dir, n),
                       files[static_cast<size_t>(n)]);
  }
  return dir;
}

int Fail(const std::string& why, const testing::ScalerProcess* serve) {
  return FailWithLog("source_load_bench", why,
                     serve != nullptr && serve->process
                         ? serve->process->Output()
                         : std::string());
}

int Run(const Options& o) {
  std::printf(
      "source_load_bench: Prometheus queries per minute, %d policies sharing "
      "%d unique queries\n"
      "  machine: %s\n  build: %s\n"
      "  evaluation and source interval %d s; KEDA-like calls for %d "
      "ScaledObjects (polling %.0f s, HPA reads %.0f s)\n",
      o.policies, o.queries, MachineLine().c_str(), BuildType().c_str(),
      o.interval_seconds, o.policies, kKedaPollingSeconds, kHpaSyncSeconds);
  FakePrometheus prom;
  const std::string dir = WritePrometheusPolicies(o, prom.address());
  testing::ScalerProcess serve = testing::StartServe({"--policies=" + dir});
  if (serve.port == 0) return Fail("signalscaler serve did not start", &serve);
  testing::KedaClient keda(serve.address());

  // Every policy answers (its query has been polled once) and its metric
  // name is known.
  std::vector<std::string> metric(static_cast<size_t>(o.policies));
  const absl::Time ready_by = absl::Now() + absl::Seconds(60);
  for (int i = 0; i < o.policies; ++i) {
    absl::StatusOr<std::string> name = keda.MetricName(Namespace(i), Name(i));
    if (!name.ok()) return Fail(name.status().ToString(), &serve);
    metric[static_cast<size_t>(i)] = *name;
    while (!keda.GetMetrics(Namespace(i), Name(i), *name).ok()) {
      if (absl::Now() > ready_by) {
        return Fail(absl::StrCat(Namespace(i), "/", Name(i),
                                 " has no decision after 60 s"),
                    &serve);
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  // One more interval, so that the first polls' burst is behind us.
  absl::SleepFor(absl::Seconds(o.interval_seconds));

  // KEDA's calls: 100 evaluations a second for 1,000 ScaledObjects, round
  // robin, on two threads (each call is synchronous).
  const double evaluations_per_second =
      o.policies * (1 / kKedaPollingSeconds + 1 / kHpaSyncSeconds);
  const absl::Duration every = absl::Seconds(2 / evaluations_per_second);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> errors{0};
  absl::Mutex error_mu;
  std::string first_error;
  const int before = prom.Total();
  const absl::Time start = absl::Now();
  auto keda_loop = [&](int offset) {
    int64_t k = offset;
    for (absl::Time next = start; !stop; next += every, k += 2) {
      absl::SleepFor(next - absl::Now());
      const int i = static_cast<int>(k % o.policies);
      absl::Status s = keda.MetricName(Namespace(i), Name(i)).status();
      if (s.ok()) {
        s = keda.GetMetrics(Namespace(i), Name(i),
                            metric[static_cast<size_t>(i)])
                .status();
      }
      if (s.ok()) s = keda.IsActive(Namespace(i), Name(i)).status();
      calls += 3;
      if (!s.ok()) {
        ++errors;
        absl::MutexLock lock(&error_mu);
        if (first_error.empty()) first_error = s.ToString();
      }
    }
  };
  std::thread a(keda_loop, 0);
  std::thread b(keda_loop, 1);
  absl::SleepFor(absl::Seconds(o.seconds));
  const int queries = prom.Total() - before;
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  stop = true;
  a.join();
  b.join();

  const std::map<std::string, int> counts = prom.Counts();
  int min_count = 1 << 30, max_count = 0;
  for (const auto& [q, c] : counts) {
    min_count = std::min(min_count, c);
    max_count = std::max(max_count, c);
  }
  const double per_minute = queries * 60 / elapsed;
  const double expected = o.queries * 60.0 / o.interval_seconds;
  const double keda_per_minute =
      o.policies * (60 / kKedaPollingSeconds + 60 / kHpaSyncSeconds);
  const double keda_cached = o.policies * (60 / kKedaPollingSeconds);
  std::printf(
      "\n  %.0f s: %lld KEDA calls to signalscaler (%.0f/s), %lld failed; %d "
      "distinct queries seen (each polled %d to %d times since serve "
      "started)\n",
      elapsed, static_cast<long long>(calls.load()), calls / elapsed,
      static_cast<long long>(errors.load()), static_cast<int>(counts.size()),
      min_count, max_count);
  if (errors > 0) std::printf("  first error: %s\n", first_error.c_str());
  std::printf(
      "  signalscaler: %.0f Prometheus queries per minute (%d unique queries "
      "x 60 / %d s = %.0f expected)\n"
      "  KEDA's prometheus scaler (computed): %.0f per minute (%d x (60/%.0f "
      "+ 60/%.0f)); %.0f with useCachedMetrics\n"
      "  ratio: KEDA sends %.1fx as many (%.1fx with useCachedMetrics)\n",
      per_minute, o.queries, o.interval_seconds, expected, keda_per_minute,
      o.policies, kKedaPollingSeconds, kHpaSyncSeconds, keda_cached,
      keda_per_minute / per_minute, keda_cached / per_minute);
  RemoveTree(dir);
  return errors > 0 ? 1 : 0;
}

}  // namespace
}  // namespace signalscaler::bench

int main(int argc, char** argv) {
  signalscaler::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    using signalscaler::bench::IntFlag;
    if (IntFlag(arg, "policies", 1, &o.policies) ||
        IntFlag(arg, "queries", 1, &o.queries) ||
        IntFlag(arg, "interval-seconds", 1, &o.interval_seconds) ||
        IntFlag(arg, "seconds", 1, &o.seconds)) {
      continue;
    }
    std::fprintf(stderr,
                 "usage: source_load_bench [--policies=1000] [--queries=50] "
                 "[--interval-seconds=5] [--seconds=60]\n");
    return arg == "--help" || arg == "-h" ? 0 : 2;
  }
  signalscaler::bench::UseThisBuild();
  return signalscaler::bench::Run(o);
}
