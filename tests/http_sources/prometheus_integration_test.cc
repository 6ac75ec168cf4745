// PrometheusSource against the real Prometheus server (/usr/bin/prometheus,
// our own child on 127.0.0.1) scraping gauges served by prometheus-cpp's
// Exposer every second: a gauge's change is seen through Read, the answers'
// real shapes map onto the documented codes, and a stopped server is
// UNAVAILABLE.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "scaler/engine/clock.h"
#include "sources/http/http_client.h"
#include "sources/http/prometheus_source.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;

constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

// A port nothing listens on right now (the kernel's choice for port 0).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
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
    ASSERT_EQ(::access(kPrometheusBinary, X_OK), 0)
        << kPrometheusBinary << " is not installed";
    const absl::Time start = absl::Now();
    const std::string dir = testing::MakeTempDir();
    const int target_port = SharedTarget().exposer.GetListeningPorts().at(0);
    std::ofstream(dir + "/prometheus.yml")
        << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        << "scrape_configs:\n"
        << "- job_name: pods\n"
        << "  scrape_interval: 1s\n"
        << "  scrape_timeout: 1s\n"
        << "  static_configs: [{targets: ['127.0.0.1:" << target_port
        << "']}]\n";
    // The free port may be taken between our probe and Prometheus' bind:
    // try a few.
    for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
      address_ = absl::StrCat("http://127.0.0.1:", FreePort());
      absl::StatusOr<std::unique_ptr<testing::Subprocess>> p =
          testing::Subprocess::Start(
              {kPrometheusBinary, "--config.file=" + dir + "/prometheus.yml",
               absl::StrCat("--storage.tsdb.path=", dir, "/data", attempt),
               "--web.listen-address=" + address_.substr(7),
               "--log.level=warn"},
              absl::StrCat(dir, "/prometheus", attempt, ".log"));
      ASSERT_TRUE(p.ok()) << p.status();
      prometheus_ = *std::move(p);
      ready_ = WaitReady(absl::Seconds(30));
      if (!ready_) std::cerr << prometheus_->Output();
    }
    ASSERT_TRUE(ready_) << "Prometheus did not become ready";
    std::cout << "prometheus ready after " << absl::Now() - start << "\n";
  }

  void TearDown() override {
    if (prometheus_ != nullptr) {
      prometheus_->Signal(SIGTERM);
      EXPECT_TRUE(prometheus_->Wait(absl::Seconds(20)).has_value());
    }
  }

  // Polls /-/ready until 200, or until Prometheus exits or time runs out.
  bool WaitReady(absl::Duration timeout) {
    HttpClient client({});
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (client.Get(address_ + "/-/ready", absl::Now() + absl::Seconds(1))
              .ok()) {
        return true;
      }
      if (prometheus_->Wait(absl::Milliseconds(100)).has_value()) return false;
    }
    return false;
  }

  std::unique_ptr<PrometheusSource> Source(const std::string& query,
                                           bool ignore_null_values = true) {
    v1::PrometheusSource spec;
    spec.set_address(address_);
    spec.set_query(query);
    spec.set_ignore_null_values(ignore_null_values);
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
  std::unique_ptr<testing::Subprocess> prometheus_;
  bool ready_ = false;
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
  prometheus_->Signal(SIGTERM);
  ASSERT_TRUE(prometheus_->Wait(absl::Seconds(20)).has_value());
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
