// PrometheusSource and MakeHttpSource against a server of our own: the
// request it sends, the timeouts it keeps, the errors it returns.
#include "sources/http/prometheus_source.h"

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "sources/http/http_source.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler {
namespace {

using ::signalscaler::testing::TestHttpServer;
using ::signalscaler::testing::TestResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kOneSeries[] =
    R"({"status":"success","data":{"resultType":"vector","result":[)"
    R"({"metric":{},"value":[1700000000.5,"12.5"]}]}})";

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

TestHttpServer::Handler Always(int status, std::string body) {
  return [status, body](const std::string&) {
    TestResponse r;
    r.status = status;
    r.body = body;
    return r;
  };
}

v1::Source PrometheusSpec(const std::string& address,
                          const std::string& query) {
  v1::Source source;
  source.mutable_prometheus()->set_address(address);
  source.mutable_prometheus()->set_query(query);
  return source;
}

std::unique_ptr<Source> Make(const v1::Source& spec, const Clock& clock) {
  absl::StatusOr<std::unique_ptr<Source>> source = MakeHttpSource(spec, clock);
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

TEST(PrometheusSourceTest, QueriesTheInstantApiWithTheQueryEncoded) {
  TestHttpServer server(Always(200, kOneSeries));
  SystemClock clock;
  std::unique_ptr<Source> source =
      Make(PrometheusSpec(server.Url("/prom/"), "sum(x{a=\"b c\"})"), clock);
  absl::StatusOr<Reading> r = source->Read(clock.Now() + absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 12.5);
  EXPECT_EQ(r->sample_time, absl::FromUnixMillis(1700000000500));
  ASSERT_EQ(server.Requests().size(), 1u);
  EXPECT_THAT(server.Requests()[0],
              AllOf(StartsWith("GET /prom/api/v1/query?query=sum%28x%7Ba%3D%22b"
                               "%20c%22%7D%29 HTTP/1.1\r\n"),
                    HasSubstr("\r\nAccept: application/json\r\n"),
                    Not(HasSubstr("Authorization"))));
}

constexpr char kNoSeries[] =
    R"({"status":"success","data":{"resultType":"vector","result":[]}})";

// Regression (issue 13): zero series read as 0 by default, so a stopped
// exporter scaled the fleet down. Now no series holds unless the spec says
// that absent means zero (noSeriesIsZero, or KEDA's ignoreNullValues: true).
TEST(PrometheusSourceTest, ZeroSeriesHoldsUnlessTheSpecSaysItIsZero) {
  TestHttpServer server(Always(200, kNoSeries));
  ManualClock clock(absl::FromUnixSeconds(1800000000));
  v1::Source spec = PrometheusSpec(server.Url(""), "up");
  absl::StatusOr<Reading> r =
      Make(spec, clock)->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(r.status()),
              AllOf(StartsWith("prometheus query \"up\" at http://127.0.0.1:"),
                    HasSubstr(": no series: held")));

  spec.mutable_prometheus()->set_ignore_null_values(true);
  r = Make(spec, clock)->Read(clock.Now() + absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  EXPECT_EQ(r->sample_time, absl::FromUnixSeconds(1800000000));

  spec.mutable_prometheus()->set_ignore_null_values(false);
  r = Make(spec, clock)->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(r.status()),
              StartsWith("prometheus query \"up\" at http://127.0.0.1:"));

  spec.mutable_prometheus()->clear_ignore_null_values();
  spec.mutable_prometheus()->set_no_series_is_zero(true);
  r = Make(spec, clock)->Read(clock.Now() + absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  spec.mutable_prometheus()->set_no_series_is_zero(false);
  r = Make(spec, clock)->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  // Never a second query without a presence query.
  for (const std::string& request : server.Requests()) {
    EXPECT_THAT(request, StartsWith("GET /api/v1/query?query=up HTTP/1.1"));
  }
}

// A Prometheus whose main query `jobs` has no series, and whose presence
// query `up` answers `presence` (a body) with `status`.
class PresencePrometheus {
 public:
  PresencePrometheus()
      : server_([this](const std::string& head) {
          TestResponse r;
          absl::MutexLock lock(&mu_);
          if (absl::StartsWith(head, "GET /api/v1/query?query=jobs ")) {
            r.body = main_;
          } else {
            r.status = status_;
            r.body = presence_;
          }
          return r;
        }) {}
  void Set(std::string main, int status, std::string presence) {
    absl::MutexLock lock(&mu_);
    main_ = std::move(main);
    status_ = status;
    presence_ = std::move(presence);
  }
  std::string address() const { return server_.Url(""); }
  std::vector<std::string> Requests() const { return server_.Requests(); }

 private:
  absl::Mutex mu_;
  std::string main_ ABSL_GUARDED_BY(mu_) = kNoSeries;
  int status_ ABSL_GUARDED_BY(mu_) = 200;
  std::string presence_ ABSL_GUARDED_BY(mu_);
  TestHttpServer server_;  // last: stops first
};

std::string Up(double time, const std::string& value) {
  return absl::StrCat(
      R"({"status":"success","data":{"resultType":"vector","result":[)",
      R"({"metric":{"job":"worker"},"value":[)", absl::StrFormat("%.3f", time),
      ",\"", value, "\"]}]}}");
}

TEST(PrometheusSourceTest, PresenceQueryTellsNothingToDoFromExporterGone) {
  PresencePrometheus prom;
  ManualClock clock(absl::FromUnixSeconds(1800000000));
  v1::Source spec = PrometheusSpec(prom.address(), "jobs");
  spec.mutable_prometheus()->set_presence_query("up");
  std::unique_ptr<Source> source = Make(spec, clock);

  // The exporter is up (up == 1) and has no series: nothing to do, 0, at
  // the presence sample's time.
  prom.Set(kNoSeries, 200, Up(1799999999.5, "1"));
  absl::StatusOr<Reading> r = source->Read(clock.Now() + absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  EXPECT_EQ(r->sample_time, absl::FromUnixMillis(1799999999500));
  ASSERT_EQ(prom.Requests().size(), 2u);
  EXPECT_THAT(prom.Requests()[1],
              StartsWith("GET /api/v1/query?query=up HTTP/1.1"));

  // The exporter is gone: up is 0, or absent (its target was removed, or
  // Prometheus restarted on empty storage). Held, and named.
  for (const std::string& presence :
       {Up(1799999999, "0"), std::string(kNoSeries)}) {
    SCOPED_TRACE(presence);
    prom.Set(kNoSeries, 200, presence);
    r = source->Read(clock.Now() + absl::Seconds(5));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(Message(r.status()),
                AllOf(StartsWith("prometheus query \"jobs\" at "),
                      HasSubstr("no series, and the presence query \"up\" "
                                "found no live target: held")));
  }

  // The presence query fails: held, with its code and cause.
  prom.Set(kNoSeries, 503, "overloaded");
  r = source->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("no series, and the presence query \"up\" "
                              "failed: held ("),
                    HasSubstr("503")));
  prom.Set(kNoSeries, 200, "<html>");
  r = source->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()), HasSubstr("not a Prometheus API response"));

  // A series is the value whatever the presence query would say, and the
  // presence query is not even asked.
  const size_t before = prom.Requests().size();
  prom.Set(Up(1799999999, "42"), 200, Up(1799999999, "0"));
  r = source->Read(clock.Now() + absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 42);
  EXPECT_EQ(prom.Requests().size(), before + 1);
}

// Regression (issue 13): a sample a day ahead counted as fresh for ever.
TEST(PrometheusSourceTest, SampleTimesAheadOfTheClock) {
  PresencePrometheus prom;
  ManualClock clock(absl::FromUnixSeconds(1800000000));
  std::unique_ptr<Source> source =
      Make(PrometheusSpec(prom.address(), "jobs"), clock);
  prom.Set(Up(1800000000 + 20, "7"), 200, "");
  absl::StatusOr<Reading> r = source->Read(clock.Now() + absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 7);
  EXPECT_EQ(r->sample_time, clock.Now());  // clamped: never younger than now
  prom.Set(Up(1800000000 + 86400, "7"), 200, "");
  r = source->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()),
              AllOf(StartsWith("prometheus query \"jobs\" at "),
                    HasSubstr("is 24h ahead of this scaler's clock")));
}

TEST(PrometheusSourceTest, GarbageIsInvalidArgumentNamingTheQuery) {
  TestHttpServer server(Always(200, "<html>hello</html>"));
  SystemClock clock;
  absl::StatusOr<Reading> r =
      Make(PrometheusSpec(server.Url(""), "my_query"), clock)
          ->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("prometheus query \"my_query\""),
                    HasSubstr("not a Prometheus API response")));
}

TEST(PrometheusSourceTest, HttpStatusesKeepTheClientsCodes) {
  const std::pair<int, absl::StatusCode> cases[] = {
      {401, absl::StatusCode::kUnauthenticated},
      {403, absl::StatusCode::kPermissionDenied},
      {400, absl::StatusCode::kInvalidArgument},
      {500, absl::StatusCode::kUnavailable},
  };
  for (const auto& [status, code] : cases) {
    SCOPED_TRACE(status);
    TestHttpServer server(Always(status, R"({"status":"error"})"));
    SystemClock clock;
    absl::StatusOr<Reading> r = Make(PrometheusSpec(server.Url(""), "q"), clock)
                                    ->Read(clock.Now() + absl::Seconds(5));
    EXPECT_EQ(r.status().code(), code) << r.status();
  }
}

TEST(PrometheusSourceTest, TimeoutSecondsBoundsTheRead) {
  TestHttpServer server([](const std::string&) {
    TestResponse r;
    r.body = kOneSeries;
    r.delay = absl::Seconds(30);
    return r;
  });
  SystemClock clock;
  v1::Source spec = PrometheusSpec(server.Url(""), "q");
  spec.mutable_prometheus()->set_timeout_seconds(0.4);
  std::unique_ptr<Source> source = Make(spec, clock);
  absl::Time start = absl::Now();
  absl::StatusOr<Reading> r = source->Read(start + absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(350));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1400));

  // An earlier deadline wins over the timeout.
  spec.mutable_prometheus()->set_timeout_seconds(10);
  source = Make(spec, clock);
  start = absl::Now();
  r = source->Read(start + absl::Milliseconds(300));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1300));
}

TEST(PrometheusSourceTest, SendsTheTokenAndNeverShowsIt) {
  const std::string token_file = testing::MakeTempDir() + "/token";
  std::ofstream(token_file) << "tok-0123456789\n";
  TestHttpServer server([](const std::string& request) {
    TestResponse r;
    r.status = 403;
    r.body = request;  // echoes the Authorization header back
    return r;
  });
  SystemClock clock;
  v1::Source spec = PrometheusSpec(server.Url(""), "q");
  spec.mutable_prometheus()->set_bearer_token_file(token_file);
  std::unique_ptr<Source> source = Make(spec, clock);
  absl::StatusOr<Reading> r = source->Read(clock.Now() + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(r.status()), Not(HasSubstr("tok-0123456789")));
  EXPECT_THAT(source->Describe(), Not(HasSubstr("tok-0123456789")));
  ASSERT_EQ(server.Requests().size(), 1u);
  EXPECT_THAT(server.Requests()[0],
              HasSubstr("\r\nAuthorization: Bearer tok-0123456789\r\n"));
}

TEST(PrometheusSourceTest, DescribeHidesCredentialsInTheAddress) {
  SystemClock clock;
  std::unique_ptr<Source> source =
      Make(PrometheusSpec("http://user:pw@prom:9090/", "sum(up)"), clock);
  EXPECT_EQ(source->Describe(),
            "prometheus query \"sum(up)\" at http://prom:9090");
}

TEST(MakeHttpSourceTest, RejectsUnusableSpecs) {
  SystemClock clock;
  struct Case {
    std::string name;
    v1::Source spec;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({"no address", PrometheusSpec("", "q"),
                   "must start with http:// or https://"});
  cases.push_back({"not http", PrometheusSpec("prom:9090", "q"),
                   "must start with http:// or https://"});
  cases.push_back({"query string in the address",
                   PrometheusSpec("http://p/?x=1", "q"),
                   "must not have a query string"});
  cases.push_back({"empty query", PrometheusSpec("http://p", ""),
                   "prometheus query is empty"});
  Case timeout{"zero timeout", PrometheusSpec("http://p", "q"),
               "timeoutSeconds 0 is outside (0, 300]"};
  timeout.spec.mutable_prometheus()->set_timeout_seconds(0);
  cases.push_back(timeout);
  cases.push_back(
      {"no host", PrometheusSpec("http:///api", "q"), "has no host"});
  cases.push_back({"no host but credentials",
                   PrometheusSpec("https://user:pw@", "q"), "has no host"});
  Case both{"ignoreNullValues against noSeriesIsZero",
            PrometheusSpec("http://p", "q"),
            "ignoreNullValues and noSeriesIsZero disagree"};
  both.spec.mutable_prometheus()->set_ignore_null_values(true);
  both.spec.mutable_prometheus()->set_no_series_is_zero(false);
  cases.push_back(both);
  Case presence{"presenceQuery with noSeriesIsZero",
                PrometheusSpec("http://p", "q"),
                "presenceQuery does nothing with noSeriesIsZero: true"};
  presence.spec.mutable_prometheus()->set_presence_query("up");
  presence.spec.mutable_prometheus()->set_no_series_is_zero(true);
  cases.push_back(presence);
  cases.push_back({"not an HTTP kind", v1::Source(), "not an HTTP source"});
  v1::Source redis;
  redis.mutable_redis()->set_address("127.0.0.1:6379");
  cases.push_back({"redis", redis, "not an HTTP source"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::unique_ptr<Source>> s = MakeHttpSource(c.spec, clock);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s.status()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace signalscaler
