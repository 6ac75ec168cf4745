// ScrapeSource against real /metrics endpoints: prometheus-cpp's Exposer on
// 127.0.0.1 (the library pods use), and our own server for broken ones.
#include "sources/http/scrape_source.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "scaler/common/clock.h"
#include "sources/http/http_source.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler {
namespace {

using ::signalscaler::testing::TestHttpServer;
using ::signalscaler::testing::TestResponse;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

// One pod: an Exposer serving a registry with an `active_sessions` gauge.
// Tests share pods (each test its own `pool` label values): stopping an
// Exposer takes civetweb ~2 s.
class Pod {
 public:
  Pod()
      : exposer_("127.0.0.1:0", 1),
        registry_(std::make_shared<prometheus::Registry>()),
        family_(prometheus::BuildGauge()
                    .Name("active_sessions")
                    .Help("Sessions in progress.")
                    .Register(*registry_)) {
    exposer_.RegisterCollectable(registry_);
  }
  prometheus::Gauge& Gauge(const std::string& pool) {
    return family_.Add({{"pool", pool}});
  }
  int port() const { return exposer_.GetListeningPorts().at(0); }
  std::string Url() const {
    return absl::StrCat("http://127.0.0.1:", port(), "/metrics");
  }

 private:
  prometheus::Exposer exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& family_;
};

// Pods that live as long as the test binary, never stopped.
Pod& SharedPod(int i) {
  static Pod* const pods[] = {new Pod, new Pod};
  return *pods[i];
}

v1::ScrapeSource Spec(const std::vector<std::string>& urls,
                      v1::ScrapeSource::Aggregate aggregate,
                      const std::string& pool) {
  v1::ScrapeSource spec;
  for (const std::string& url : urls) spec.add_urls(url);
  spec.set_metric("active_sessions");
  (*spec.mutable_labels())["pool"] = pool;
  spec.set_aggregate(aggregate);
  return spec;
}

absl::StatusOr<Reading> ReadOnce(const v1::ScrapeSource& spec,
                                 const Clock& clock) {
  absl::StatusOr<std::unique_ptr<ScrapeSource>> source =
      ScrapeSource::Create(spec, clock);
  if (!source.ok()) return source.status();
  return (*source)->Read(clock.Now() + absl::Seconds(5));
}

TEST(ScrapeSourceTest, SumsOrAveragesTheMatchingSeriesOverPods) {
  Pod& pod1 = SharedPod(0);
  Pod& pod2 = SharedPod(1);
  pod1.Gauge("sum").Set(3);
  pod1.Gauge("other").Set(100);  // filtered out by the label matcher
  pod2.Gauge("sum").Set(5);
  ManualClock clock(absl::FromUnixSeconds(1800000000));
  absl::StatusOr<Reading> sum = ReadOnce(
      Spec({pod1.Url(), pod2.Url()}, v1::ScrapeSource::sum, "sum"), clock);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->value, 8);
  EXPECT_EQ(sum->sample_time, absl::FromUnixSeconds(1800000000));
  absl::StatusOr<Reading> average = ReadOnce(
      Spec({pod1.Url(), pod2.Url()}, v1::ScrapeSource::average, "sum"), clock);
  ASSERT_TRUE(average.ok()) << average.status();
  EXPECT_EQ(average->value, 4);
}

TEST(ScrapeSourceTest, SeesAGaugeChangeAtTheNextRead) {
  Pod& pod = SharedPod(0);
  prometheus::Gauge& gauge = pod.Gauge("change");
  gauge.Set(1);
  SystemClock clock;
  absl::StatusOr<std::unique_ptr<ScrapeSource>> source = ScrapeSource::Create(
      Spec({pod.Url()}, v1::ScrapeSource::AGGREGATE_UNSPECIFIED, "change"),
      clock);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Read(clock.Now() + absl::Seconds(5))->value, 1);
  gauge.Set(42);
  EXPECT_EQ((*source)->Read(clock.Now() + absl::Seconds(5))->value, 42);
}

TEST(ScrapeSourceTest, ServiceResolvesToItsAddresses) {
  Pod& pod = SharedPod(1);
  pod.Gauge("service").Set(7);
  v1::ScrapeSource spec = Spec({}, v1::ScrapeSource::sum, "service");
  spec.set_service("127.0.0.1");  // a name that resolves without DNS
  spec.set_port(pod.port());
  SystemClock clock;
  absl::StatusOr<Reading> r = ReadOnce(spec, clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 7);

  absl::StatusOr<std::vector<std::string>> addresses =
      ResolveAddresses("127.0.0.1", absl::Seconds(5));
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, ElementsAre("127.0.0.1"));
}

TEST(ScrapeSourceTest, APodWithoutTheMetricCountsForNothing) {
  Pod& with = SharedPod(0);
  Pod& without = SharedPod(1);
  with.Gauge("partial").Set(6);
  without.Gauge("elsewhere").Set(1);
  SystemClock clock;
  absl::StatusOr<Reading> r = ReadOnce(
      Spec({with.Url(), without.Url()}, v1::ScrapeSource::average, "partial"),
      clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 6);

  r = ReadOnce(Spec({without.Url()}, v1::ScrapeSource::sum, "partial"), clock);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(r.status()),
              HasSubstr("scrape sum of active_sessions{pool=\"partial\"} from "
                        "http://127.0.0.1:"));
  EXPECT_THAT(Message(r.status()), HasSubstr("no sample at any of 1 targets"));
}

TEST(ScrapeSourceTest, AFailingUrlFailsTheReadNamingIt) {
  Pod& pod = SharedPod(0);
  pod.Gauge("failing").Set(1);
  std::string gone_url;
  {
    TestHttpServer gone([](const std::string&) { return TestResponse(); });
    gone_url = gone.Url("/metrics?secret=1");
  }
  SystemClock clock;
  absl::StatusOr<Reading> r = ReadOnce(
      Spec({pod.Url(), gone_url}, v1::ScrapeSource::sum, "failing"), clock);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr(gone_url.substr(0, gone_url.find('?'))),
                    ::testing::Not(HasSubstr("secret"))));
}

TEST(ScrapeSourceTest, GarbageAndNaNAreInvalidArgumentNamingTheUrl) {
  TestHttpServer garbage([](const std::string&) {
    TestResponse r;
    r.content_type = "text/plain";
    r.body = "active_sessions{pool=\"a\" 1\n";
    return r;
  });
  Pod& nan_pod = SharedPod(1);
  nan_pod.Gauge("nan").Set(std::nan(""));
  SystemClock clock;
  absl::StatusOr<Reading> r = ReadOnce(
      Spec({garbage.Url("/metrics")}, v1::ScrapeSource::sum, "a"), clock);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr(absl::StrCat("GET ", garbage.Url("/metrics"),
                                           ": line 1: expected ','")),
                    HasSubstr("scrape sum of active_sessions")));
  r = ReadOnce(Spec({nan_pod.Url()}, v1::ScrapeSource::sum, "nan"), clock);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()),
              HasSubstr(absl::StrCat("GET ", nan_pod.Url(),
                                     ": the value is nan, not a finite")));
}

TEST(ScrapeSourceTest, DescribeNamesTheMetricAndWhere) {
  SystemClock clock;
  v1::Source source;
  v1::ScrapeSource* spec = source.mutable_scrape();
  spec->set_service("agent.demo.svc");
  spec->set_port(9090);
  spec->set_metric("active_sessions");
  spec->set_aggregate(v1::ScrapeSource::average);
  absl::StatusOr<std::unique_ptr<Source>> s = MakeHttpSource(source, clock);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->Describe(),
            "scrape average of active_sessions from service "
            "agent.demo.svc:9090/metrics");
}

TEST(ScrapeSourceTest, RejectsUnusableSpecs) {
  struct Case {
    std::string name;
    std::function<void(v1::ScrapeSource&)> edit;
    std::string message;
  };
  const Case cases[] = {
      {"neither urls nor service", [](v1::ScrapeSource& s) { s.clear_urls(); },
       "either `urls` or `service`"},
      {"both", [](v1::ScrapeSource& s) { s.set_service("svc"); },
       "either `urls` or `service`"},
      {"non-http url", [](v1::ScrapeSource& s) { s.add_urls("pod:9090"); },
       "scrape url \"pod:9090\" must start with http://"},
      {"service without port",
       [](v1::ScrapeSource& s) {
         s.clear_urls();
         s.set_service("svc");
       },
       "scrape service svc needs a port in [1, 65535]"},
      {"relative path", [](v1::ScrapeSource& s) { s.set_path("metrics"); },
       "scrape path \"metrics\" must start with '/'"},
      {"no metric", [](v1::ScrapeSource& s) { s.clear_metric(); },
       "scrape metric \"\" is not a metric name"},
      {"bad metric", [](v1::ScrapeSource& s) { s.set_metric("9x-y"); },
       "scrape metric \"9x-y\" is not a metric name"},
  };
  SystemClock clock;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Source source;
    *source.mutable_scrape() =
        Spec({"http://127.0.0.1:1/metrics"}, v1::ScrapeSource::sum, "a");
    c.edit(*source.mutable_scrape());
    absl::StatusOr<std::unique_ptr<Source>> s = MakeHttpSource(source, clock);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s.status()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace signalscaler
