// Regression (issue 13 item 9): `check` accepted prometheus addresses
// `gopher://...` and `file:///...` that `serve` then refused ("cannot create
// source"), so the policy loaded and never decided. Every source spec that
// the sources' factory (what `serve` runs) refuses, ValidatePolicy (what
// both `check` and `serve` run first) refuses too, naming the field; and the
// specs that work pass both.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/policy/loader.h"
#include "sources/factory.h"

namespace signalscaler {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The errors of a valid policy whose one Total signal reads `source`.
std::vector<PolicyError> Validate(const v1::Source& source) {
  LoadedPolicy loaded;
  loaded.file = "p.yaml";
  v1::ScalingPolicy& p = *loaded.policy.Mutable();
  p.set_api_version(kPolicyApiVersion);
  p.set_kind(kPolicyKind);
  p.mutable_metadata()->set_name("web");
  p.mutable_metadata()->set_namespace_("prod");
  p.mutable_spec()->set_max_replicas(10);
  v1::Signal* s = p.mutable_spec()->add_signals();
  s->set_name("jobs");
  s->set_type(v1::Signal::Total);
  s->set_target_per_replica(10);
  *s->mutable_source() = source;
  std::vector<PolicyError> errors;
  ValidatePolicy(loaded, errors);
  return errors;
}

v1::Source Prometheus(const std::string& address, const std::string& query) {
  v1::Source s;
  s.mutable_prometheus()->set_address(address);
  s.mutable_prometheus()->set_query(query);
  return s;
}

v1::Source Redis(const std::string& address) {
  v1::Source s;
  s.mutable_redis()->set_address(address);
  s.mutable_redis()->set_list("jobs");
  return s;
}

v1::Source ScrapeUrl(const std::string& url) {
  v1::Source s;
  s.mutable_scrape()->add_urls(url);
  s.mutable_scrape()->set_metric("active_requests");
  return s;
}

struct Case {
  std::string name;
  v1::Source source;
  std::string field;  // of the error; empty: valid for both
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  const std::string prom = "spec.signals[0].source.prometheus";
  cases.push_back(
      {"gopher", Prometheus("gopher://p:70", "q"), prom + ".address"});
  cases.push_back(
      {"file", Prometheus("file:///etc/passwd", "q"), prom + ".address"});
  cases.push_back(
      {"no scheme", Prometheus("prom:9090", "q"), prom + ".address"});
  cases.push_back({"no host", Prometheus("http://", "q"), prom + ".address"});
  cases.push_back(
      {"no host, a path", Prometheus("http:///api", "q"), prom + ".address"});
  cases.push_back({"query string", Prometheus("http://p:9090/?x=1", "q"),
                   prom + ".address"});
  cases.push_back(
      {"no query", Prometheus("http://p:9090", ""), prom + ".query"});
  Case slow{"timeout above 300 s", Prometheus("http://p:9090", "q"),
            prom + ".timeoutSeconds"};
  slow.source.mutable_prometheus()->set_timeout_seconds(301);
  cases.push_back(slow);
  Case zero{"timeout 0", Prometheus("http://p:9090", "q"),
            prom + ".timeoutSeconds"};
  zero.source.mutable_prometheus()->set_timeout_seconds(0);
  cases.push_back(zero);
  Case both{"presenceQuery with noSeriesIsZero",
            Prometheus("http://p:9090", "q"), prom + ".presenceQuery"};
  both.source.mutable_prometheus()->set_presence_query("up");
  both.source.mutable_prometheus()->set_no_series_is_zero(true);
  cases.push_back(both);
  Case pasted{"presenceQuery with ignoreNullValues: true",
              Prometheus("http://p:9090", "q"), prom + ".presenceQuery"};
  pasted.source.mutable_prometheus()->set_presence_query("up");
  pasted.source.mutable_prometheus()->set_ignore_null_values(true);
  cases.push_back(pasted);
  Case disagree{"ignoreNullValues against noSeriesIsZero",
                Prometheus("http://p:9090", "q"), prom + ".ignoreNullValues"};
  disagree.source.mutable_prometheus()->set_ignore_null_values(false);
  disagree.source.mutable_prometheus()->set_no_series_is_zero(true);
  cases.push_back(disagree);
  cases.push_back({"prometheus ok", Prometheus("http://p:9090", "q"), ""});
  cases.push_back({"prometheus with credentials and a path",
                   Prometheus("https://u:p@prom.example/prefix/", "q"), ""});
  Case presence{"prometheus with a presence query",
                Prometheus("http://[::1]:9090", "q"), ""};
  presence.source.mutable_prometheus()->set_presence_query("up");
  presence.source.mutable_prometheus()->set_ignore_null_values(false);
  cases.push_back(presence);

  const std::string redis = "spec.signals[0].source.redis.address";
  cases.push_back({"redis URL", Redis("redis://r:6379"), redis});
  cases.push_back(
      {"redis URL with a password", Redis("redis://:pw@r:6379"), redis});
  cases.push_back({"redis without a port", Redis("r"), redis});
  cases.push_back({"redis port 0", Redis("r:0"), redis});
  cases.push_back({"redis port 70000", Redis("r:70000"), redis});
  cases.push_back({"redis port not a number", Redis("r:http"), redis});
  cases.push_back({"redis without a host", Redis(":6379"), redis});
  cases.push_back({"redis IPv6 without brackets", Redis("::1:6379"), redis});
  cases.push_back({"redis ok", Redis("redis.jobs:6379"), ""});
  cases.push_back({"redis IPv6", Redis("[::1]:6379"), ""});

  const std::string scrape = "spec.signals[0].source.scrape";
  cases.push_back({"scrape gopher", ScrapeUrl("gopher://a:70/metrics"),
                   scrape + ".urls[0]"});
  cases.push_back(
      {"scrape file", ScrapeUrl("file:///metrics"), scrape + ".urls[0]"});
  Case second{"scrape second url", ScrapeUrl("http://a:9000/metrics"),
              scrape + ".urls[1]"};
  second.source.mutable_scrape()->add_urls("a:9000/metrics");
  cases.push_back(second);
  Case path{"scrape path without '/'", ScrapeUrl("http://a:9000/metrics"),
            scrape + ".path"};
  path.source.mutable_scrape()->set_path("metrics");
  cases.push_back(path);
  Case metric{"scrape metric with a matcher",
              ScrapeUrl("http://a:9000/metrics"), scrape + ".metric"};
  metric.source.mutable_scrape()->set_metric("active{pool=\"a\"}");
  cases.push_back(metric);
  v1::Source service;
  service.mutable_scrape()->set_service("pods.web");
  service.mutable_scrape()->set_metric("active_requests");
  cases.push_back({"scrape service without a port", service, scrape + ".port"});
  service.mutable_scrape()->set_port(9000);
  cases.push_back({"scrape service ok", service, ""});
  cases.push_back({"scrape ok", ScrapeUrl("http://10.0.0.7:9000/metrics"), ""});
  return cases;
}

TEST(SourceValidationParityTest, WhatServeRefusesCheckRefusesNamingTheField) {
  SystemClock clock;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<PolicyError> errors = Validate(c.source);
    absl::StatusOr<std::unique_ptr<Source>> made = MakeSource(c.source, clock);
    if (c.field.empty()) {
      EXPECT_THAT(errors, IsEmpty()) << errors.front().ToString();
      EXPECT_TRUE(made.ok()) << made.status();
      continue;
    }
    EXPECT_THAT(errors, Contains(Field(&PolicyError::field, c.field)))
        << (errors.empty() ? "no error" : errors.front().ToString());
    EXPECT_FALSE(made.ok()) << "serve would accept it: then check may too";
  }
}

// Stricter than the factory where a spec could only fail later, at every
// read: a scrape URL without a host.
TEST(SourceValidationParityTest, ScrapeUrlWithoutAHostIsRefusedEarly) {
  const std::vector<PolicyError> errors =
      Validate(ScrapeUrl("http:///metrics"));
  EXPECT_THAT(errors, Contains(Field(&PolicyError::field,
                                     "spec.signals[0].source.scrape.urls[0]")));
}

// A refused address is never echoed (it may hold a password), only named.
TEST(SourceValidationParityTest, MessagesNeverQuoteTheAddress) {
  for (const v1::Source& s : {Prometheus("gopher://user:s3cret@p:70", "q"),
                              Redis("redis://:s3cret@r:6379"),
                              ScrapeUrl("ftp://user:s3cret@a/metrics")}) {
    const std::vector<PolicyError> errors = Validate(s);
    ASSERT_FALSE(errors.empty());
    for (const PolicyError& e : errors) {
      EXPECT_THAT(e.ToString(), ::testing::Not(HasSubstr("s3cret")));
    }
  }
}

}  // namespace
}  // namespace signalscaler
