// Issue 13 item 3 end to end: a negative reading from every kind of source
// (a push of -5, a Prometheus value "-3" from a real Prometheus scraping the
// test's exporter, the same exporter's -3 read by a scrape source, a Redis
// integer reply :-7) is a bad reading. Through the real `signalscaler serve`
// binary each one holds the decision (25, with windows of 0 that would let
// it fall at once) and explain names the state "invalid"; before, each
// showed "ok" and the decision fell 25 -> 1.
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/redis_source/fake_redis_server.h"
#include "tests/testing/prometheus_test_server.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler::testing {
namespace {

class NegativeReadingsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    exporter_ = std::make_unique<TestHttpServer>([this](const std::string&) {
      TestResponse r;
      r.content_type = "text/plain; version=0.0.4";
      absl::MutexLock lock(&mu_);
      r.body = absl::StrCat("e2e_depth ", depth_, "\n");
      return r;
    });
    auto p =
        TestPrometheus::Start({absl::StrCat("127.0.0.1:", exporter_->port())});
    ASSERT_TRUE(p.ok()) << p.status();
    prometheus_ = *std::move(p);
    redis_.AnswerWith(":25\r\n");
  }
  void SetDepth(const std::string& v) {
    absl::MutexLock lock(&mu_);
    depth_ = v;
  }

  absl::Mutex mu_;
  std::string depth_ ABSL_GUARDED_BY(mu_) = "25";
  std::unique_ptr<TestHttpServer> exporter_;
  std::unique_ptr<TestPrometheus> prometheus_;
  FakeRedisServer redis_;
};

TEST_F(NegativeReadingsE2eTest, EverySourceKindsNegativeReadingHolds) {
  const std::string policies = absl::StrCat(
      TotalPolicy("pushed", "push: {}", 1, 1),
      TotalPolicy(
          "prom",
          absl::StrCat("prometheus: {address: \"", prometheus_->address(),
                       "\", query: \"sum(e2e_depth)\"}"),
          1, 1),
      TotalPolicy("scraped",
                  absl::StrCat("scrape: {urls: [\"", exporter_->Url("/metrics"),
                               "\"], metric: e2e_depth}"),
                  1, 1),
      TotalPolicy("redis",
                  absl::StrCat("redis: {address: \"", redis_.address(),
                               "\", list: jobs}"),
                  1, 1));
  auto scaler = ServedScaler::Start(policies);
  ASSERT_NE(scaler, nullptr);
  ASSERT_TRUE(scaler->keda().Push(kNamespace, "pushed", kSignal, 25).ok());
  for (const char* policy : {"pushed", "prom", "scraped", "redis"}) {
    EXPECT_TRUE(scaler->WaitForReplicas(policy, 25)) << policy;
  }

  ASSERT_TRUE(scaler->keda().Push(kNamespace, "pushed", kSignal, -5).ok());
  SetDepth("-3");
  redis_.AnswerWith(":-7\r\n");
  for (const char* policy : {"pushed", "prom", "scraped", "redis"}) {
    SCOPED_TRACE(policy);
    // Explain names the bad reading...
    absl::StatusOr<admin::v1::SignalExplanation> s;
    const bool invalid = PollUntil(
        [&] {
          s = scaler->Signal(policy);
          return s.ok() && s->state() == "invalid";
        },
        absl::Seconds(30));
    ASSERT_TRUE(invalid) << (s.ok() ? s->DebugString() : s.status().ToString());
    EXPECT_LT(s->value(), 0);
    EXPECT_NE(s->message().find("invalid reading"), std::string::npos)
        << s->message();
    // ...and the decision holds with windows of 0.
    absl::StatusOr<double> r = scaler->Replicas(policy);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, 25);
  }
  absl::SleepFor(absl::Seconds(3));  // several evaluations: still held
  for (const char* policy : {"pushed", "prom", "scraped", "redis"}) {
    absl::StatusOr<double> r = scaler->Replicas(policy);
    ASSERT_TRUE(r.ok()) << policy << ": " << r.status();
    EXPECT_EQ(*r, 25) << policy;
  }
}

}  // namespace
}  // namespace signalscaler::testing
