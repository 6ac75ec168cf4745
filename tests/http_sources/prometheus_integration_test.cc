// PrometheusSource against the real Prometheus server (/usr/bin/prometheus,
// our own child on 127.0.0.1) scraping gauges served by prometheus-cpp's
// Exposer every second: a gauge's change is seen through Read, the answers'
// real shapes map onto the documented codes, and a stopped server is
// UNAVAILABLE.

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "scaler/common/clock.h"
#include "sources/http/prometheus_source.h"
#include "tests/testing/prometheus_test_server.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

// The scrape target: two `active_sessions` series and one `queue_depth`.
// It lives as long as the binary (stopping an Exposer takes ~2 s).
struct Target {
  Target()
      : exposer("127.0.0.1:0", 2),
        registry(std::make_shared<prometheus::Registry>()),
        sessions(prometheus::BuildGauge()
                     .Name("active_sessions")
                     .Help("Sessions in progress.")
                     .Register(*registry)),
        queue(prometheus::BuildGauge()
                  .Name("queue_depth")
                  .Help("Jobs waiting.")
                  .Register(*registry)
                  .Add({})) {
    exposer.RegisterCollectable(registry);
    sessions.Add({{"pool", "a"}}).Set(1);
    sessions.Add({{"pool", "b"}}).Set(2);
  }
  prometheus::Exposer exposer;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Gauge>& sessions;
  prometheus::Gauge& queue;
};

Target& SharedTarget() {
  static Target* const target = new Target;
  return *target;
}

class PrometheusIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::Time start = absl::Now();
    const int target_port = SharedTarget().exposer.GetListeningPorts().at(0);
    absl::StatusOr<std::unique_ptr<testing::TestPrometheus>> p =
        testing::TestPrometheus::Start(
            {absl::StrCat("127.0.0.1:", target_port)});
    ASSERT_TRUE(p.ok()) << p.status();
    prometheus_ = *std::move(p);
    address_ = prometheus_->address();
    std::cout << "prometheus ready after " << absl::Now() - start << "\n";
  }

  // ignoreNullValues true by default here; nullopt leaves it unset.
  std::unique_ptr<PrometheusSource> Source(
      const std::string& query, std::optional<bool> ignore_null_values = true,
      const std::string& presence_query = "") {
    v1::PrometheusSource spec;
    spec.set_address(address_);
    spec.set_query(query);
    if (ignore_null_values.has_value()) {
      spec.set_ignore_null_values(*ignore_null_values);
    }
    spec.set_presence_query(presence_query);
    absl::StatusOr<std::unique_ptr<PrometheusSource>> s =
        PrometheusSource::Create(spec, clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }

  // Reads until `done` holds for the result (polling, never one sleep).
  absl::StatusOr<Reading> ReadUntil(
      PrometheusSource& source,
      const std::function<bool(const absl::StatusOr<Reading>&)>& done,
      absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      absl::StatusOr<Reading> r = source.Read(clock_.Now() + absl::Seconds(2));
      if (done(r) || absl::Now() >= deadline) return r;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  static std::function<bool(const absl::StatusOr<Reading>&)> ValueIs(double v) {
    return [v](const absl::StatusOr<Reading>& r) {
      return r.ok() && r->value == v;
    };
  }

  SystemClock clock_;
  std::string address_;
  std::unique_ptr<testing::TestPrometheus> prometheus_;
};

TEST_F(PrometheusIntegrationTest, SeesAGaugeChangeAndUnavailableOnceStopped) {
  prometheus::Gauge& queue = SharedTarget().queue;
  queue.Set(3);
  std::unique_ptr<PrometheusSource> source = Source("sum(queue_depth)");
  absl::Time start = absl::Now();
  absl::StatusOr<Reading> r = ReadUntil(*source, ValueIs(3));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->value, 3);
  EXPECT_LE(r->sample_time, absl::Now());
  EXPECT_GT(r->sample_time, start - absl::Seconds(5));
  std::cout << "first sample seen after " << absl::Now() - start << "\n";

  queue.Set(17.5);
  start = absl::Now();
  r = ReadUntil(*source, ValueIs(17.5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 17.5);
  std::cout << "change seen after " << absl::Now() - start << "\n";

  // Stopped mid-run: the kept-alive connection is gone, and so is the port.
  ASSERT_TRUE(prometheus_->Stop().ok());
  start = absl::Now();
  r = source->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(
      Message(r.status()),
      HasSubstr("prometheus query \"sum(queue_depth)\" at " + address_));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(PrometheusIntegrationTest, RealAnswersMapOntoTheDocumentedCodes) {
  // Wait until both series have been scraped.
  std::unique_ptr<PrometheusSource> count = Source("count(active_sessions)");
  ASSERT_TRUE(ReadUntil(*count, ValueIs(2)).ok());

  absl::StatusOr<Reading> r =
      Source("active_sessions")->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()), HasSubstr("the query returned 2 series"));

  r = Source("sum(active_sessions)")->Read(clock_.Now() + absl::Seconds(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 3);

  r = Source("scalar(sum(active_sessions))")
          ->Read(clock_.Now() + absl::Seconds(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 3);

  r = Source("no_such_metric")->Read(clock_.Now() + absl::Seconds(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  r = Source("no_such_metric", false)->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  // The default (neither ignoreNullValues nor noSeriesIsZero): held.
  r = Source("no_such_metric", std::nullopt)
          ->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(r.status()), HasSubstr("no series: held"));
  // With a presence query: the target is up, so the absence reads 0; a
  // presence query that finds no live target holds.
  r = Source("no_such_metric", std::nullopt, "up{job=\"pods\"}")
          ->Read(clock_.Now() + absl::Seconds(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  EXPECT_LE(r->sample_time, absl::Now());
  EXPECT_GT(r->sample_time, absl::Now() - absl::Seconds(5));
  r = Source("no_such_metric", std::nullopt, "up{job=\"pods\"} == 0")
          ->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(r.status()),
              HasSubstr("no series, and the presence query \"up{job=\"pods\"} "
                        "== 0\" found no live target: held"));

  r = Source("sum(active_sessions) / 0")->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()), HasSubstr("+Inf, not a finite number"));

  r = Source("active_sessions[1m]")->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()), HasSubstr("the query returned a matrix"));

  r = Source("sum(")->Read(clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()), HasSubstr("HTTP 400"));
  EXPECT_THAT(Message(r.status()), HasSubstr("bad_data"));
}

}  // namespace
}  // namespace signalscaler
