// End to end through KEDA's API with `prometheus` sources: the real
// `signalscaler serve` binary, the real Prometheus scraping a target this
// test serves with prometheus-cpp (a gauge changed here shows up as the
// replica count in GetMetrics), and Prometheus' faults (stopped mid-run,
// too slow, garbage): each gives a clear error in Explain while the decision
// holds and GetMetrics answers from memory, and values recover afterwards.
// An exporter stopped behind the query (no series) holds too, and a presence
// query tells "absent: nothing to do" from "absent: the exporter is gone".
// Also: 50 policies sharing one query cost one query per interval.
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/testing/prometheus_test_server.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler::testing {
namespace {

constexpr char kQuery[] = "sum(e2e_queue_depth)";

// The scrape target. It lives as long as the binary (stopping an Exposer
// takes ~2 s).
struct Target {
  Target()
      : exposer("127.0.0.1:0", 2),
        registry(std::make_shared<prometheus::Registry>()),
        depth(prometheus::BuildGauge()
                  .Name("e2e_queue_depth")
                  .Help("Jobs waiting.")
                  .Register(*registry)
                  .Add({})) {
    exposer.RegisterCollectable(registry);
  }
  std::string address() const {
    return absl::StrCat("127.0.0.1:", exposer.GetListeningPorts().at(0));
  }
  prometheus::Exposer exposer;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge& depth;
};

Target& SharedTarget() {
  static Target* const target = new Target;
  return *target;
}

std::string PrometheusSourceYaml(const std::string& address,
                                 const std::string& query) {
  return absl::StrCat("prometheus: {address: \"", address, "\", query: \"",
                      query, "\", timeoutSeconds: 0.5}");
}

class RealPrometheusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = TestPrometheus::Start({SharedTarget().address()});
    ASSERT_TRUE(p.ok()) << p.status();
    prometheus_ = *std::move(p);
  }
  std::unique_ptr<TestPrometheus> prometheus_;
};

TEST_F(RealPrometheusE2eTest, GaugeChangeShowsUpInGetMetrics) {
  SharedTarget().depth.Set(35);
  auto scaler = ServedScaler::Start(TotalPolicy(
      "worker", PrometheusSourceYaml(prometheus_->address(), kQuery), 10));
  ASSERT_NE(scaler, nullptr);
  // ceil(35 / 10) = 4, once Prometheus has scraped the target.
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 4)) << scaler->Log();
  EXPECT_TRUE(scaler->WaitForValue("worker", 35));

  // Up, then down (no scale-down window in these policies).
  const absl::Time start = absl::Now();
  SharedTarget().depth.Set(72);
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 8));
  std::cout << "72 seen in GetMetrics after " << absl::Now() - start << "\n";
  SharedTarget().depth.Set(15);
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 2));
  EXPECT_TRUE(scaler->WaitForValue("worker", 15));
}

TEST_F(RealPrometheusE2eTest, StoppedMidRunHoldsThenRecoversOnRestart) {
  SharedTarget().depth.Set(50);
  auto scaler = ServedScaler::Start(TotalPolicy(
      "worker", PrometheusSourceYaml(prometheus_->address(), kQuery), 10));
  ASSERT_NE(scaler, nullptr);
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 5)) << scaler->Log();

  ASSERT_TRUE(prometheus_->Stop().ok());
  // What would scale down to 1 if it could be read.
  SharedTarget().depth.Set(5);
  EXPECT_TRUE(scaler->WaitForError(
      "worker",
      {"UNAVAILABLE", absl::StrCat("prometheus query \"", kQuery, "\" at ",
                                   prometheus_->address())}));
  EXPECT_TRUE(scaler->HoldsDuringFault("worker", 5));

  ASSERT_TRUE(prometheus_->Restart().ok());
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 1));
  EXPECT_TRUE(scaler->WaitForValue("worker", 5));
}

// A tiny exporter of the test's own on 127.0.0.1 that the test can stop (the
// Exposer above cannot be stopped quickly): it serves `Set`'s text as
// /metrics, scraped by a real Prometheus as job "pods".
class ExporterE2eTest : public ::testing::Test {
 protected:
  static constexpr char kJobsQuery[] = "sum(e2e_jobs)";
  static constexpr char kPresence[] = "up{job=\"pods\"}";

  void SetUp() override {
    exporter_ = std::make_unique<TextExporter>();
    auto p =
        TestPrometheus::Start({absl::StrCat("127.0.0.1:", exporter_->port())});
    ASSERT_TRUE(p.ok()) << p.status();
    prometheus_ = *std::move(p);
  }

  void Set(const std::string& metrics) { exporter_->Set(metrics); }
  // The port closes: Prometheus' next scrape fails, `up` goes to 0 and the
  // target's series are marked stale (the query returns no series).
  void StopExporter() { exporter_.reset(); }

  std::string Source(const std::string& extra = "") const {
    return absl::StrCat("prometheus: {address: \"", prometheus_->address(),
                        "\", query: \"", kJobsQuery, "\", timeoutSeconds: 0.5",
                        extra, "}");
  }

  std::unique_ptr<TextExporter> exporter_;
  std::unique_ptr<TestPrometheus> prometheus_;
};

// Regression (issue 13 item 2): the exporter behind the query stopped, its
// series went stale, the query returned no series, and the decision fell
// 10 -> 1 within 4 s because no series read as 0. It holds now, and explain
// says why.
TEST_F(ExporterE2eTest, StoppedExporterHoldsByDefault) {
  Set("# TYPE e2e_jobs gauge\ne2e_jobs 100\n");
  auto scaler = ServedScaler::Start(TotalPolicy("worker", Source(), 10));
  ASSERT_NE(scaler, nullptr);
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 10)) << scaler->Log();
  ASSERT_TRUE(scaler->WaitForValue("worker", 100));

  StopExporter();
  EXPECT_TRUE(scaler->WaitForError(
      "worker",
      {"NOT_FOUND", absl::StrCat("prometheus query \"", kJobsQuery, "\""),
       "no series: held"}));
  EXPECT_TRUE(scaler->HoldsDuringFault("worker", 10, absl::Seconds(6)));
}

// A queue whose exporter drops the series while the queue is empty, scaled
// to zero with a presence query: the absence while the exporter's target is
// up reads as 0 (to zero, IsActive false); the absence once the exporter is
// gone (up == 0) holds.
TEST_F(ExporterE2eTest, PresenceQueryReadsZeroWhileUpAndHoldsOnceGone) {
  Set("# TYPE e2e_jobs gauge\ne2e_jobs 100\n");
  auto scaler = ServedScaler::Start(TotalPolicy(
      "worker", Source(absl::StrCat(", presenceQuery: '", kPresence, "'")), 10,
      /*min_replicas=*/0));
  ASSERT_NE(scaler, nullptr);
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 10)) << scaler->Log();

  // Up, no series: nothing to do.
  Set("# TYPE e2e_other gauge\ne2e_other 1\n");
  EXPECT_TRUE(scaler->WaitForValue("worker", 0));
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 0));
  absl::StatusOr<bool> active = scaler->keda().IsActive(kNamespace, "worker");
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_FALSE(*active);

  // Work again: woken from zero.
  Set("# TYPE e2e_jobs gauge\ne2e_jobs 100\n");
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 10));

  // Gone: no series and no live target. Held at 10, named.
  StopExporter();
  EXPECT_TRUE(scaler->WaitForError(
      "worker",
      {"NOT_FOUND", absl::StrCat("no series, and the presence query \"",
                                 kPresence, "\" found no live target: held")}));
  EXPECT_TRUE(scaler->HoldsDuringFault("worker", 10, absl::Seconds(6)));
}

// A Prometheus of the test's own: valid instant-query answers of `value`,
// or slow ones, or garbage; it counts the queries it receives.
class FakePrometheus {
 public:
  enum class Mode { kOk, kSlow, kGarbage };
  // Slower than any source deadline (the policies' timeoutSeconds is 0.5,
  // the sampler's deadline their 1 s interval).
  static constexpr absl::Duration kSlowDelay = absl::Seconds(3);

  FakePrometheus()
      : server_([this](const std::string& head) { return Answer(head); }) {}

  std::string address() const { return server_.Url(""); }
  void Set(Mode mode, double value) {
    value_ = value;
    mode_ = mode;
  }
  int queries() const { return queries_; }

 private:
  TestResponse Answer(const std::string& head) {
    TestResponse r;
    if (!absl::StartsWith(head, "GET /api/v1/query?")) {
      r.status = 404;
      return r;
    }
    ++queries_;
    if (mode_ == Mode::kGarbage) {
      r.content_type = "text/html";
      r.body = "<html><body>502 Bad Gateway, or so</body></html>";
      return r;
    }
    // A sample taken now (a fixed-point timestamp: %g would round it).
    r.body = absl::StrFormat(
        R"({"status":"success","data":{"resultType":"vector","result":[)"
        R"({"metric":{},"value":[%.3f,"%g"]}]}})",
        absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()), value_.load());
    if (mode_ == Mode::kSlow) r.delay = kSlowDelay;
    return r;
  }

  std::atomic<Mode> mode_{Mode::kOk};
  std::atomic<double> value_{0};
  std::atomic<int> queries_{0};
  TestHttpServer server_;  // last: stops first
};

TEST(FakePrometheusE2eTest, SlowAnswersBeyondTheTimeoutHoldThenRecover) {
  FakePrometheus prom;
  prom.Set(FakePrometheus::Mode::kOk, 50);
  auto scaler = ServedScaler::Start(
      TotalPolicy("worker", PrometheusSourceYaml(prom.address(), kQuery), 10));
  ASSERT_NE(scaler, nullptr);
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 5)) << scaler->Log();

  prom.Set(FakePrometheus::Mode::kSlow, 5);
  EXPECT_TRUE(scaler->WaitForError(
      "worker", {"DEADLINE_EXCEEDED",
                 absl::StrCat("prometheus query \"", kQuery, "\"")}));
  EXPECT_TRUE(scaler->HoldsDuringFault("worker", 5));

  prom.Set(FakePrometheus::Mode::kOk, 5);
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 1));
  EXPECT_TRUE(scaler->WaitForValue("worker", 5));
}

TEST(FakePrometheusE2eTest, GarbageAnswersHoldThenRecover) {
  FakePrometheus prom;
  prom.Set(FakePrometheus::Mode::kOk, 50);
  auto scaler = ServedScaler::Start(
      TotalPolicy("worker", PrometheusSourceYaml(prom.address(), kQuery), 10));
  ASSERT_NE(scaler, nullptr);
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 5)) << scaler->Log();

  prom.Set(FakePrometheus::Mode::kGarbage, 5);
  EXPECT_TRUE(scaler->WaitForError(
      "worker", {"INVALID_ARGUMENT", "not a Prometheus API response (not JSON)",
                 absl::StrCat("prometheus query \"", kQuery, "\"")}));
  EXPECT_TRUE(scaler->HoldsDuringFault("worker", 5));

  prom.Set(FakePrometheus::Mode::kOk, 5);
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 1));
  EXPECT_TRUE(scaler->WaitForValue("worker", 5));
}

TEST(FakePrometheusE2eTest, FiftyPoliciesSharingAQueryCostOneQueryPerInterval) {
  constexpr int kPolicies = 50;
  FakePrometheus prom;
  prom.Set(FakePrometheus::Mode::kOk, 42);
  std::string policies;
  for (int i = 0; i < kPolicies; ++i) {
    policies += TotalPolicy(absl::StrCat("p", i),
                            PrometheusSourceYaml(prom.address(), kQuery), 10);
  }
  auto scaler = ServedScaler::Start(policies);
  ASSERT_NE(scaler, nullptr);
  std::vector<std::string> names;
  for (int i = 0; i < kPolicies; ++i) {
    const std::string policy = absl::StrCat("p", i);
    ASSERT_TRUE(scaler->WaitForReplicas(policy, 5)) << scaler->Log();
    auto name = scaler->keda().MetricName(kNamespace, policy);
    ASSERT_TRUE(name.ok()) << name.status();
    names.push_back(*name);
  }

  // KEDA-like load: ~20 GetMetrics calls a second for ~6 s, round robin.
  const int before = prom.queries();
  const absl::Time start = absl::Now();
  int calls = 0;
  for (absl::Time next = start; next < start + absl::Seconds(6);
       next += absl::Milliseconds(50)) {
    absl::SleepFor(next - absl::Now());
    const int i = calls % kPolicies;
    absl::StatusOr<double> replicas =
        scaler->keda().GetMetrics(kNamespace, absl::StrCat("p", i), names[i]);
    ASSERT_TRUE(replicas.ok()) << replicas.status();
    EXPECT_EQ(*replicas, 5);
    ++calls;
  }
  const double intervals = absl::ToDoubleSeconds(absl::Now() - start);  // 1 s
  const int queries = prom.queries() - before;
  std::cout << calls << " GetMetrics calls over " << intervals
            << " intervals caused " << queries << " queries\n";
  EXPECT_GE(calls, 100);
  EXPECT_GE(queries, 1);
  EXPECT_LE(queries, 1.5 * intervals);
}

}  // namespace
}  // namespace signalscaler::testing
