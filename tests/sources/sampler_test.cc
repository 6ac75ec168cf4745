// The Sampler with fake sources: one poll per unique query per interval
// however many policies share it, reloads starting and stopping polls, the
// last good reading kept through errors, notifications triggering a re-read
// and an evaluation, and a slow source not delaying another.
#include "sources/sampler.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

using ::testing::UnorderedElementsAre;

// What the fake sources of one test share: per query, reads and the value.
struct FakeWorld {
  absl::Mutex mu;
  std::map<std::string, int> reads ABSL_GUARDED_BY(mu);
  std::map<std::string, absl::StatusOr<double>> values ABSL_GUARDED_BY(mu);
  std::map<std::string, std::function<void()>> subscribers ABSL_GUARDED_BY(mu);
  // Real time, per read.
  std::map<std::string, absl::Duration> delays ABSL_GUARDED_BY(mu);

  int Reads(const std::string& query) ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    return reads[query];
  }
  std::function<void()> Subscriber(const std::string& query)
      ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    return subscribers[query];
  }
};

class FakeSource : public Source {
 public:
  FakeSource(FakeWorld& world, std::string query, const Clock& clock)
      : world_(world), query_(std::move(query)), clock_(clock) {}
  absl::StatusOr<Reading> Read(absl::Time deadline) override {
    absl::Duration delay;
    absl::StatusOr<double> v = 0.0;
    {
      absl::MutexLock lock(&world_.mu);
      ++world_.reads[query_];
      delay = world_.delays[query_];
      if (world_.values.count(query_)) v = world_.values.at(query_);
    }
    if (delay > absl::ZeroDuration()) {
      absl::SleepFor(std::min(delay, deadline - absl::Now()));
      return absl::DeadlineExceededError("slow");
    }
    if (!v.ok()) return v.status();
    return Reading{*v, clock_.Now()};
  }
  absl::Status Subscribe(std::function<void()> on_change) override {
    absl::MutexLock lock(&world_.mu);
    world_.subscribers[query_] = std::move(on_change);
    return absl::OkStatus();
  }
  std::string Describe() const override { return query_; }

 private:
  FakeWorld& world_;
  std::string query_;
  const Clock& clock_;
};

SourceFactory FakeFactory(FakeWorld& world, const Clock& clock) {
  return [&world, &clock](
             const v1::Source& s) -> absl::StatusOr<std::unique_ptr<Source>> {
    if (s.prometheus().query() == "broken") {
      return absl::InvalidArgumentError("cannot create");
    }
    return std::make_unique<FakeSource>(world, s.prometheus().query(), clock);
  };
}

LoadedPolicy Policy(const std::string& name, const std::string& query,
                    int interval_seconds = 5) {
  const std::string yaml = absl::StrCat(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: )",
                                        name, R"(, namespace: ns}
spec:
  maxReplicas: 10
  signals:
  - name: q
    type: Total
    targetPerReplica: 1
    source:
      intervalSeconds: )",
                                        interval_seconds, R"(
      prometheus: {address: "http://127.0.0.1:1", query: ")",
                                        query, R"("}
  - {name: pushed, type: Total, targetPerReplica: 1, source: {push: {}}}
)");
  LoadResult r = ParsePolicies(yaml, "test.yaml");
  EXPECT_TRUE(r.errors.empty()) << r.ToStatus();
  return r.policies.at(0);
}

v1::Source PromSource(const std::string& query) {
  v1::Source s;
  s.mutable_prometheus()->set_address("http://127.0.0.1:1");
  s.mutable_prometheus()->set_query(query);
  return s;
}

TEST(SamplerTest, FiftyPoliciesSharingAQueryPollItOncePerInterval) {
  FakeWorld world;
  ManualClock clock(absl::FromUnixSeconds(1000));
  Sampler sampler(FakeFactory(world, clock), clock, {});
  std::vector<LoadedPolicy> policies;
  for (int i = 0; i < 50; ++i) {
    policies.push_back(Policy(absl::StrCat("p", i), "sum(active)"));
  }
  sampler.Update(policies);
  EXPECT_EQ(sampler.queries(), 1u);  // push signals are not sampled
  // 60 s at 1 s steps: one read per ~5 s interval (+/-10 % jitter).
  for (int s = 0; s < 60; ++s) {
    clock.Advance(absl::Seconds(1));
    sampler.PollDue();
  }
  EXPECT_GE(world.Reads("sum(active)"), 10);
  EXPECT_LE(world.Reads("sum(active)"), 14);
}

TEST(SamplerTest, SharedQueryUsesTheShortestIntervalAndSpecKeysIgnoreIt) {
  EXPECT_EQ(SampleKey(PromSource("x")), SampleKey([] {
              v1::Source s = PromSource("x");
              s.set_interval_seconds(30);
              return s;
            }()));
  EXPECT_NE(SampleKey(PromSource("x")), SampleKey(PromSource("y")));
  v1::Source push;
  push.mutable_push();
  EXPECT_EQ(SampleKey(push), "");

  FakeWorld world;
  ManualClock clock(absl::FromUnixSeconds(1000));
  Sampler sampler(FakeFactory(world, clock), clock, {});
  sampler.Update({Policy("slow", "q", 30), Policy("fast", "q", 2)});
  for (int s = 0; s < 60; ++s) {
    clock.Advance(absl::Seconds(1));
    sampler.PollDue();
  }
  EXPECT_GE(world.Reads("q"), 25);  // every ~2 s, not every 30 s
}

TEST(SamplerTest, ReloadsStartAndStopPolls) {
  FakeWorld world;
  ManualClock clock(absl::FromUnixSeconds(1000));
  Sampler sampler(FakeFactory(world, clock), clock, {});
  sampler.Update({Policy("a", "qa"), Policy("b", "qb")});
  EXPECT_EQ(sampler.queries(), 2u);
  sampler.Update({Policy("b", "qb"), Policy("c", "qc")});
  EXPECT_EQ(sampler.queries(), 2u);
  EXPECT_EQ(sampler.Get(PromSource("qa")).error.code(),
            absl::StatusCode::kNotFound);
  for (int s = 0; s < 12; ++s) {
    clock.Advance(absl::Seconds(1));
    sampler.PollDue();
  }
  EXPECT_EQ(world.Reads("qa"), 0);
  EXPECT_GE(world.Reads("qc"), 2);
}

TEST(SamplerTest, ErrorsKeepTheLastGoodReadingAndCreationErrorsShow) {
  FakeWorld world;
  {
    absl::MutexLock lock(&world.mu);
    world.values["q"] = 7.0;
  }
  ManualClock clock(absl::FromUnixSeconds(1000));
  Sampler sampler(FakeFactory(world, clock), clock, {});
  sampler.Update({Policy("a", "q"), Policy("b", "broken")});
  EXPECT_FALSE(sampler.Get(PromSource("q")).reading.has_value());
  clock.Advance(absl::Seconds(6));
  sampler.PollDue();
  Observation o = sampler.Get(PromSource("q"));
  ASSERT_TRUE(o.reading.has_value());
  EXPECT_EQ(o.reading->value, 7.0);
  EXPECT_TRUE(o.error.ok());

  {
    absl::MutexLock lock(&world.mu);
    world.values["q"] = absl::UnavailableError("prometheus down");
  }
  clock.Advance(absl::Seconds(6));
  sampler.PollDue();
  o = sampler.Get(PromSource("q"));
  ASSERT_TRUE(o.reading.has_value());
  EXPECT_EQ(o.reading->value, 7.0);  // kept, with its old sample time
  EXPECT_EQ(o.error.code(), absl::StatusCode::kUnavailable);

  EXPECT_EQ(sampler.Get(PromSource("broken")).error.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SamplerTest, NotificationRereadsAtOnceAndNamesThePolicies) {
  FakeWorld world;
  ManualClock clock(absl::FromUnixSeconds(1000));
  Sampler sampler(FakeFactory(world, clock), clock, {});
  std::vector<PolicyKey> notified;
  sampler.SetOnNotified(
      [&](const std::vector<PolicyKey>& keys) { notified = keys; });
  sampler.Update({Policy("a", "q"), Policy("b", "q"), Policy("c", "other")});
  clock.Advance(absl::Seconds(6));
  sampler.PollDue();
  const int before = world.Reads("q");
  world.Subscriber("q")();  // a keyspace event
  sampler.PollDue();        // no time has passed: read because notified
  EXPECT_EQ(world.Reads("q"), before + 1);
  EXPECT_THAT(notified,
              UnorderedElementsAre(PolicyKey{"ns", "a"}, PolicyKey{"ns", "b"}));
}

TEST(SamplerTest, SlowSourceDoesNotDelayAnother) {
  FakeWorld world;
  {
    absl::MutexLock lock(&world.mu);
    world.delays["slow"] = absl::Seconds(30);  // cut by its deadline (1 s)
  }
  SystemClock clock;
  SamplerOptions options;
  options.workers = 2;
  Sampler sampler(FakeFactory(world, clock), clock, options);
  sampler.Update({Policy("s", "slow", 1), Policy("f", "fast", 1)});
  sampler.Start();
  const absl::Time limit = absl::Now() + absl::Seconds(20);
  while (absl::Now() < limit) {
    if (world.Reads("fast") >= 4) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  sampler.Stop();
  EXPECT_GE(world.Reads("fast"), 4);
  // The slow one is read once per interval too, each read ending at its
  // deadline rather than after 30 s.
  EXPECT_GE(world.Reads("slow"), 2);
}

}  // namespace
}  // namespace signalscaler
