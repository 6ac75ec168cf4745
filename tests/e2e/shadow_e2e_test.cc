// Shadow mode (spec.mode: shadow) through the real `signalscaler serve`
// binary, its replicas source a real Prometheus scraping an exporter of the
// test's own: KEDA is answered the fleet's count as Prometheus says it
// (GetMetrics, IsActive), held while that source fails; explain and
// /metrics show the shadow decision and the replica-seconds the fleet ran
// short of it and in excess of it; and `mode: active` (a hot reload) keeps
// the windows, so the first active answer is the last shadow decision.
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <functional>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/prometheus_test_server.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler::testing {
namespace {

constexpr char kPolicy[] = "worker";

// One Total signal pushed (its pushes never stale within the test), the
// fleet's count from Prometheus every second, no damping up and a 300 s
// scale-down window (kept across the switch to active).
std::string ShadowPolicy(const std::string& prometheus,
                         const std::string& mode) {
  return absl::StrFormat(R"yaml(---
apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: %s, namespace: %s}
spec:
  mode: %s
  minReplicas: 1
  maxReplicas: 20
  evaluationIntervalSeconds: 1
  replicas:
    intervalSeconds: 1
    prometheus: {address: "%s", query: "max(shadow_fleet_replicas)", timeoutSeconds: 0.5}
  behavior:
    scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    scaleDown:
      stabilizationWindowSeconds: 300
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
  signals:
  - name: %s
    type: Total
    targetPerReplica: 10
    source: {intervalSeconds: 600, push: {}}
)yaml",
                         kPolicy, kNamespace, mode, prometheus, kSignal);
}

constexpr char kShort[] =
    "signalscaler_shadow_fleet_short_replica_seconds_total";
constexpr char kExcess[] =
    "signalscaler_shadow_fleet_excess_replica_seconds_total";

class ShadowE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetFleet(0);
    auto p =
        TestPrometheus::Start({absl::StrCat("127.0.0.1:", exporter_.port())});
    ASSERT_TRUE(p.ok()) << p.status();
    prometheus_ = *std::move(p);
  }

  // What the exporter says the fleet runs; negative: no series at all.
  void SetFleet(int n) {
    exporter_.Set(n < 0 ? std::string("other_series 1\n")
                        : absl::StrCat("shadow_fleet_replicas ", n, "\n"));
  }

  absl::StatusOr<admin::v1::PolicyDecision> Explain() {
    return scaler_->keda().Explain(kNamespace, kPolicy);
  }
  absl::StatusOr<double> Answer() { return scaler_->Replicas(kPolicy); }

  // Polls Explain until `done` holds for it.
  ::testing::AssertionResult WaitForExplain(
      const std::function<bool(const admin::v1::PolicyDecision&)>& done,
      admin::v1::PolicyDecision* out = nullptr) {
    admin::v1::PolicyDecision last;
    const bool ok = PollUntil(
        [&] {
          absl::StatusOr<admin::v1::PolicyDecision> d = Explain();
          if (!d.ok()) return false;
          last = *d;
          return done(last);
        },
        absl::Seconds(30));
    if (out != nullptr) *out = last;
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "last explain: " << last.ShortDebugString();
  }

  // Two explanations, of decisions at least 3 s apart, while the decision
  // is `decided` and the fleet `fleet` (asserted for both), and /metrics'
  // counters read between them.
  struct Steady {
    admin::v1::PolicyDecision a, b;
    double short_mid = 0, excess_mid = 0;
  };
  void SteadyPhase(int64_t decided, int64_t fleet, Steady& s) {
    absl::StatusOr<admin::v1::PolicyDecision> first = Explain();
    ASSERT_TRUE(first.ok()) << first.status();
    s.a = *first;
    s.short_mid = Counter(kShort);
    s.excess_mid = Counter(kExcess);
    ASSERT_TRUE(WaitForExplain(
        [&](const admin::v1::PolicyDecision& d) {
          return d.decided_time_unix() >= s.a.decided_time_unix() + 3;
        },
        &s.b));
    for (const auto* d : {&s.a, &s.b}) {
      ASSERT_EQ(d->replicas(), decided) << d->ShortDebugString();
      ASSERT_EQ(d->fleet_replicas(), fleet) << d->ShortDebugString();
    }
  }
  static double Seconds(const Steady& s) {
    return s.b.decided_time_unix() - s.a.decided_time_unix();
  }

  // A counter of /metrics for this policy.
  double Counter(const std::string& name) {
    const RawHttpAnswer a = HttpGet(scaler_->metrics_port(), "/metrics");
    for (absl::string_view line : absl::StrSplit(a.body, '\n')) {
      if (!absl::StartsWith(line, name + "{") ||
          !absl::StrContains(line, "policy=\"worker\"")) {
        continue;
      }
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) return v;
    }
    ADD_FAILURE() << name << " not in /metrics:\n" << a.body;
    return -1;
  }

  TextExporter exporter_;
  std::unique_ptr<TestPrometheus> prometheus_;
  std::unique_ptr<ServedScaler> scaler_;
};

TEST_F(ShadowE2eTest, AnswersTheFleetCountsTheGapAndSwitchesWithoutAJump) {
  scaler_ = ServedScaler::Start(ShadowPolicy(prometheus_->address(), "shadow"));
  ASSERT_NE(scaler_, nullptr);
  ASSERT_TRUE(scaler_->keda().Push(kNamespace, kPolicy, kSignal, 70).ok());

  // The fleet at 0: the shadow decides 1 (minReplicas: 0 is out of its
  // bounds), KEDA is answered 0 and inactive; a stream says false.
  ASSERT_TRUE(WaitForExplain([](const admin::v1::PolicyDecision& d) {
    return d.has_decision() && d.shadow() && d.replicas() == 1 &&
           d.has_fleet_replicas() && d.fleet_replicas() == 0;
  }));
  ASSERT_TRUE(scaler_->WaitForReplicas(kPolicy, 0));
  EXPECT_FALSE(*scaler_->keda().IsActive(kNamespace, kPolicy));
  std::unique_ptr<ActiveStream> stream =
      scaler_->keda().StreamIsActive(kNamespace, kPolicy);
  std::optional<ActiveMessage> first = stream->Next(absl::Seconds(10));
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->result);
  // Decisions of 1 go on: the stream sends nothing while the fleet is at 0.
  EXPECT_FALSE(stream->Next(absl::Seconds(2)).has_value());

  // The fleet at 3: the stream says true (an inactive -> active transition
  // of the fleet's count); ceil(70 / 10) = 7 decided; KEDA is answered 3.
  SetFleet(3);
  std::optional<ActiveMessage> woke = stream->Next(absl::Seconds(30));
  ASSERT_TRUE(woke.has_value());
  EXPECT_TRUE(woke->result);
  ASSERT_TRUE(WaitForExplain([](const admin::v1::PolicyDecision& d) {
    return d.has_decision() && d.shadow() && d.replicas() == 7 &&
           d.has_fleet_replicas() && d.fleet_replicas() == 3;
  }));
  ASSERT_TRUE(scaler_->WaitForReplicas(kPolicy, 3));
  EXPECT_TRUE(*scaler_->keda().IsActive(kNamespace, kPolicy));

  // Short by 4 pods: 4 replica-seconds per second of decision time, exactly
  // (the totals integrate over the decisions' own times).
  Steady up;
  SteadyPhase(7, 3, up);
  EXPECT_NEAR(
      up.b.shadow_short_replica_seconds() - up.a.shadow_short_replica_seconds(),
      4 * Seconds(up), 1e-3);
  EXPECT_GT(up.b.shadow_short_replica_seconds(), 0);
  EXPECT_EQ(up.b.shadow_excess_replica_seconds(), 0);
  // /metrics' counters, read between the two, lie between them (they grow
  // with the same decisions).
  EXPECT_GE(up.short_mid, up.a.shadow_short_replica_seconds() - 1e-6);
  EXPECT_LE(up.short_mid, up.b.shadow_short_replica_seconds() + 1e-6);
  EXPECT_EQ(up.excess_mid, 0);
  std::cout << "short " << up.b.shadow_short_replica_seconds()
            << " replica-seconds after " << Seconds(up) << " s more\n";

  // The fleet grows to 9 (as Prometheus says): answered at once; the
  // decision stays 7 (scale-down window); 2 pods in excess.
  SetFleet(9);
  ASSERT_TRUE(scaler_->WaitForReplicas(kPolicy, 9));
  Steady over;
  SteadyPhase(7, 9, over);
  EXPECT_NEAR(over.b.shadow_excess_replica_seconds() -
                  over.a.shadow_excess_replica_seconds(),
              2 * Seconds(over), 1e-3);
  EXPECT_EQ(over.b.shadow_short_replica_seconds(),
            over.a.shadow_short_replica_seconds());
  EXPECT_GE(over.a.shadow_short_replica_seconds(),
            up.b.shadow_short_replica_seconds());
  EXPECT_GE(over.excess_mid, over.a.shadow_excess_replica_seconds() - 1e-6);
  EXPECT_LE(over.excess_mid, over.b.shadow_excess_replica_seconds() + 1e-6);

  // The replicas source fails (no series): the last good count holds.
  SetFleet(-1);
  ASSERT_TRUE(WaitForExplain([](const admin::v1::PolicyDecision& e) {
    for (const auto& r : e.reasons()) {
      if (r.code() == "replicas_unusable") return true;
    }
    return false;
  }));
  const absl::Time until = absl::Now() + absl::Seconds(2);
  int calls = 0;
  while (absl::Now() < until) {
    absl::StatusOr<double> r = Answer();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(*r, 9);
    ASSERT_TRUE(*scaler_->keda().IsActive(kNamespace, kPolicy));
    ++calls;
    absl::SleepFor(absl::Milliseconds(50));  // pacing only, not a wait
  }
  EXPECT_GT(calls, 5);
  SetFleet(9);
  ASSERT_TRUE(WaitForExplain([](const admin::v1::PolicyDecision& e) {
    for (const auto& r : e.reasons()) {
      if (r.code() == "current_from_source") return e.replicas() == 7;
    }
    return false;
  }));

  // Switch to active (a hot reload): every answer is the fleet's 9 until
  // the reload, then the shadow's 7, never another number.
  admin::v1::PolicyDecision before = *Explain();
  ASSERT_EQ(before.replicas(), 7);
  ASSERT_FALSE(before.recommendations().empty());
  const double oldest = before.recommendations(0).time_unix();
  const double switched = absl::ToUnixMicros(absl::Now()) / 1e6;
  WriteFile(scaler_->dir() + "/policies.yaml",
            ShadowPolicy(prometheus_->address(), "active"));
  std::vector<double> answers;
  ASSERT_TRUE(PollUntil(
      [&] {
        absl::StatusOr<double> r = Answer();
        if (r.ok()) answers.push_back(*r);
        return r.ok() && *r != 9;
      },
      absl::Seconds(30), absl::Milliseconds(10)));
  for (double x : answers) {
    ASSERT_TRUE(x == 9 || x == 7) << absl::StrJoin(answers, " ");
  }
  EXPECT_EQ(answers.back(), 7);
  absl::StatusOr<admin::v1::PolicyDecision> after = Explain();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE(after->shadow());
  EXPECT_EQ(after->replicas(), 7);
  EXPECT_TRUE(*scaler_->keda().IsActive(kNamespace, kPolicy));
  // The window is the one from before the switch.
  ASSERT_FALSE(after->recommendations().empty());
  EXPECT_EQ(after->recommendations(0).time_unix(), oldest);
  EXPECT_LT(oldest, switched);
  // And it holds (a second of decisions later, still 7).
  const absl::Time hold_until = absl::Now() + absl::Seconds(2);
  while (absl::Now() < hold_until) {
    absl::StatusOr<double> r = Answer();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(*r, 7);
    absl::SleepFor(absl::Milliseconds(100));  // pacing only
  }
}

}  // namespace
}  // namespace signalscaler::testing
