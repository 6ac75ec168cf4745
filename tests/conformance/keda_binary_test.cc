// KEDA's view of the real `signalscaler serve` binary, through KedaClient:
// - GetMetricSpec answers OK for every policy that exists, before the first
//   reading, while its only source fails and while the state store is out
//   of reach, while GetMetrics and IsActive stay UNAVAILABLE (so KEDA's
//   `fallback` applies: it never can if GetMetricSpec fails, KEDA #8056);
// - a service scaled to zero under a Percent-only scale-up policy wakes
//   (issue 12 item 1): StreamIsActive sends true and GetMetrics answers the
//   count.
// Every wait polls with a deadline.
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "sources/http/http_client.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

constexpr char kNs[] = "keda";
constexpr absl::Duration kWait = absl::Seconds(20);

// `unreachable`: one Prometheus signal at a loopback port nobody listens on.
// `unpushed`: one push signal nobody ever pushes.
std::string NoReadingPolicies(int closed_port) {
  return absl::StrCat(R"yaml(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: unreachable, namespace: keda}
spec:
  maxReplicas: 5
  evaluationIntervalSeconds: 1
  signals:
  - name: queue
    type: Total
    targetPerReplica: 10
    source:
      intervalSeconds: 1
      prometheus: {address: "http://127.0.0.1:)yaml",
                      closed_port, R"yaml(", query: up}
---
apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: unpushed, namespace: keda}
spec:
  maxReplicas: 5
  evaluationIntervalSeconds: 1
  signals:
  - name: depth
    type: Total
    targetPerReplica: 10
    source: {push: {}}
)yaml");
}

// Issue 12 item 1, as a new user writes it: scaled to zero, one Total push
// signal, a Percent-only scale-up policy. Windows of 0 and periods of 1 s
// keep the test quick.
constexpr char kWakePolicy[] = R"yaml(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: wake, namespace: keda}
spec:
  minReplicas: 0
  maxReplicas: 20
  evaluationIntervalSeconds: 1
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Percent, value: 1000, periodSeconds: 1}]
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Percent, value: 100, periodSeconds: 1}]
  signals:
  - name: load
    type: Total
    source: {push: {}}
    targetPerReplica: 10
    activationAbove: 0
)yaml";

// Issue 13 item 1: a push signal, 10 per replica, a 6 s down window.
constexpr char kFuturePolicy[] = R"yaml(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: future, namespace: keda}
spec:
  minReplicas: 0
  maxReplicas: 20
  evaluationIntervalSeconds: 1
  behavior:
    scaleDown: {stabilizationWindowSeconds: 6}
  signals:
  - name: load
    type: Total
    targetPerReplica: 10
    source: {intervalSeconds: 5, push: {}}
)yaml";

class KedaBinaryTest : public ::testing::Test {
 protected:
  // Serves `policies` (written to a fresh directory) with `extra` flags.
  void Serve(const std::string& policies,
             const std::vector<std::string>& extra = {}) {
    const std::string dir = MakeTempDir();
    WriteFile(dir + "/policies.yaml", policies);
    std::vector<std::string> flags = {"--policies=" + dir};
    flags.insert(flags.end(), extra.begin(), extra.end());
    server_ = StartServe(flags);
    ASSERT_NE(server_.port, 0) << server_.process->Output();
    keda_ = std::make_unique<KedaClient>(server_.address());
  }
  void TearDown() override {
    keda_.reset();
    if (server_.process != nullptr) {
      server_.process->Signal(SIGTERM);
      server_.process->Wait(absl::Seconds(20));
    }
  }

  // GetMetricSpec as KEDA reads it: OK, one spec, the stable metric name,
  // target 1 in both fields.
  ::testing::AssertionResult SpecIsStable(const std::string& policy) {
    absl::StatusOr<externalscaler::GetMetricSpecResponse> spec =
        keda_->GetMetricSpec(kNs, policy);
    if (!spec.ok()) {
      return ::testing::AssertionFailure()
             << "GetMetricSpec(" << policy << "): " << spec.status();
    }
    if (spec->metricspecs_size() != 1) {
      return ::testing::AssertionFailure()
             << policy << ": " << spec->metricspecs_size() << " specs";
    }
    const externalscaler::MetricSpec& m = spec->metricspecs(0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const int64_t target = m.targetsize();
#pragma GCC diagnostic pop
    const std::string want = absl::StrCat("signalscaler-", kNs, "-", policy);
    if (m.metricname() != want || target != 1 || m.targetsizefloat() != 1.0) {
      return ::testing::AssertionFailure()
             << policy << ": name " << m.metricname() << " (want " << want
             << "), targetSize " << target << ", targetSizeFloat "
             << m.targetsizefloat() << " (want 1 and 1)";
    }
    return ::testing::AssertionSuccess();
  }

  // GetMetrics and IsActive both UNAVAILABLE: KEDA counts a failure and,
  // past its threshold, applies `fallback`.
  ::testing::AssertionResult NoDecision(const std::string& policy) {
    const std::string metric = absl::StrCat("signalscaler-", kNs, "-", policy);
    absl::StatusOr<double> v = keda_->GetMetrics(kNs, policy, metric);
    if (v.ok() || v.status().code() != absl::StatusCode::kUnavailable) {
      return ::testing::AssertionFailure()
             << "GetMetrics(" << policy
             << "): " << (v.ok() ? absl::StrCat(*v) : v.status().ToString())
             << ", want UNAVAILABLE";
    }
    absl::StatusOr<bool> a = keda_->IsActive(kNs, policy);
    if (a.ok() || a.status().code() != absl::StatusCode::kUnavailable) {
      return ::testing::AssertionFailure()
             << "IsActive(" << policy << "): "
             << (a.ok() ? (*a ? "true" : "false") : a.status().ToString())
             << ", want UNAVAILABLE";
    }
    return ::testing::AssertionSuccess();
  }

  // Polls /metrics until the Prometheus source has failed `times` times
  // (signalscaler_source_query_errors_total, code UNAVAILABLE). Explain
  // has no signals to show before a first decision.
  bool PrometheusFailed(int times) {
    HttpClient http{HttpClientOptions()};
    const std::string url =
        absl::StrCat("http://127.0.0.1:", server_.metrics_port, "/metrics");
    constexpr absl::string_view kSeries =
        "signalscaler_source_query_errors_total{code=\"UNAVAILABLE\","
        "kind=\"prometheus\"";
    return PollUntil(
        [&] {
          absl::StatusOr<std::string> text =
              http.Get(url, absl::Now() + absl::Seconds(5));
          if (!text.ok()) return false;
          for (absl::string_view line : absl::StrSplit(*text, '\n')) {
            if (!absl::StartsWith(line, kSeries)) continue;
            double count = 0;
            const size_t space = line.rfind(' ');
            return space != absl::string_view::npos &&
                   absl::SimpleAtod(line.substr(space + 1), &count) &&
                   count >= times;
          }
          return false;
        },
        kWait);
  }

  // Polls GetMetrics until it answers `want`.
  bool MetricsReach(const std::string& policy, double want) {
    const std::string metric = absl::StrCat("signalscaler-", kNs, "-", policy);
    return PollUntil(
        [&] {
          absl::StatusOr<double> v = keda_->GetMetrics(kNs, policy, metric);
          return v.ok() && *v == want;
        },
        kWait);
  }

  std::string Why(const std::string& policy) {
    absl::StatusOr<admin::v1::PolicyDecision> d = keda_->Explain(kNs, policy);
    if (!d.ok()) return d.status().ToString();
    return d->DebugString();
  }

  ScalerProcess server_;
  std::unique_ptr<KedaClient> keda_;
};

TEST_F(KedaBinaryTest,
       GetMetricSpecNeverFailsBeforeAReadingOrWhileSourcesFail) {
  const int closed_port = FreePort();
  ASSERT_NE(closed_port, 0);
  Serve(NoReadingPolicies(closed_port));

  // Before the first reading of either.
  EXPECT_TRUE(SpecIsStable("unreachable"));
  EXPECT_TRUE(SpecIsStable("unpushed"));

  // Once the Prometheus source has failed, more than once.
  ASSERT_NE(server_.metrics_port, 0);
  ASSERT_TRUE(PrometheusFailed(2)) << Why("unreachable");
  for (const char* policy : {"unreachable", "unpushed"}) {
    SCOPED_TRACE(policy);
    EXPECT_TRUE(SpecIsStable(policy));
    EXPECT_TRUE(NoDecision(policy));
  }
}

TEST_F(KedaBinaryTest, GetMetricSpecNeverFailsWhileDegraded) {
  const int closed_port = FreePort();
  const int redis_port = FreePort();
  ASSERT_NE(closed_port, 0);
  ASSERT_NE(redis_port, 0);
  // A Redis state store nobody answers: the replica runs degraded.
  Serve(NoReadingPolicies(closed_port),
        {absl::StrCat("--state-store=redis://127.0.0.1:", redis_port),
         "--state-timeout-ms=100"});
  ASSERT_NE(server_.metrics_port, 0);
  HttpClient http{HttpClientOptions()};
  std::string ready;
  ASSERT_TRUE(PollUntil(
      [&] {
        absl::StatusOr<std::string> body = http.Get(
            absl::StrCat("http://127.0.0.1:", server_.metrics_port, "/readyz"),
            absl::Now() + absl::Seconds(5));
        ready = body.ok() ? *body : body.status().ToString();
        return body.ok() && absl::StrContains(*body, "degraded");
      },
      kWait))
      << "never degraded; /readyz: " << ready;

  for (const char* policy : {"unreachable", "unpushed"}) {
    SCOPED_TRACE(policy);
    EXPECT_TRUE(SpecIsStable(policy));
    EXPECT_TRUE(NoDecision(policy));
  }
}

TEST_F(KedaBinaryTest, ScaledToZeroWakesUnderPercentOnlyScaleUp) {
  Serve(kWakePolicy);
  ASSERT_TRUE(SpecIsStable("wake"));
  std::unique_ptr<ActiveStream> stream = keda_->StreamIsActive(kNs, "wake");
  // The state at once: no decision yet, inactive.
  std::optional<ActiveMessage> m = stream->Next(kWait);
  ASSERT_TRUE(m.has_value()) << "no first StreamIsActive message";
  EXPECT_FALSE(m->result);

  // 95 at 10 per replica: 10, active.
  ASSERT_TRUE(keda_->Push(kNs, "wake", "load", 95).ok());
  ASSERT_TRUE(MetricsReach("wake", 10)) << Why("wake");
  m = stream->Next(kWait);
  ASSERT_TRUE(m.has_value()) << "no true for 0 -> 10";
  EXPECT_TRUE(m->result);

  // 0: down to zero, inactive (StreamIsActive sends nothing for that).
  ASSERT_TRUE(keda_->Push(kNs, "wake", "load", 0).ok());
  ASSERT_TRUE(MetricsReach("wake", 0)) << Why("wake");
  ASSERT_TRUE(PollUntil(
      [&] {
        absl::StatusOr<bool> a = keda_->IsActive(kNs, "wake");
        return a.ok() && !*a;
      },
      kWait));

  // 50: wakes from zero. Percent of 0 is 0, so the rate is measured from 1
  // (1 + 1000 % of 1 = 11 allowed): 5 replicas, and StreamIsActive says so.
  ASSERT_TRUE(keda_->Push(kNs, "wake", "load", 50).ok());
  m = stream->Next(kWait);
  ASSERT_TRUE(m.has_value())
      << "StreamIsActive never sent true on waking; " << Why("wake");
  EXPECT_TRUE(m->result);
  EXPECT_TRUE(MetricsReach("wake", 5)) << Why("wake");
  absl::StatusOr<bool> active = keda_->IsActive(kNs, "wake");
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_TRUE(*active);
  EXPECT_FALSE(stream->Ended().has_value()) << "the stream ended";
}

// Issue 13 item 1: a push dated 55 s ahead (within the accepted clock
// skew) used to lock the value: every honest push after it answered OK and
// was ignored, and the service went to 0. Now the sample time is clamped to
// the receipt time and the latest received push wins; a date beyond the
// skew is refused.
TEST_F(KedaBinaryTest, AFutureDatedPushNeverLocksTheValue) {
  Serve(kFuturePolicy, {"--no-history=decide"});
  ASSERT_TRUE(keda_->Push(kNs, "future", "load", 55).ok());
  ASSERT_TRUE(MetricsReach("future", 6)) << Why("future");
  ASSERT_TRUE(keda_
                  ->PushSampledAt(kNs, "future", "load", 0,
                                  absl::Now() + absl::Seconds(55))
                  .ok());
  // Honest pushes of 55 every 0.5 s for longer than the down window: the
  // decision must stay 6 (before: 1, then 0 with minReplicas 0).
  const absl::Time until = absl::Now() + absl::Seconds(9);
  while (absl::Now() < until) {
    ASSERT_TRUE(keda_->Push(kNs, "future", "load", 55).ok());
    absl::SleepFor(absl::Milliseconds(500));  // the pusher's own cadence
  }
  absl::StatusOr<admin::v1::PolicyDecision> d = keda_->Explain(kNs, "future");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->replicas(), 6) << Why("future");
  const std::optional<admin::v1::SignalExplanation> load =
      FindSignal(*d, "load");
  ASSERT_TRUE(load.has_value());
  EXPECT_EQ(load->value(), 55);
  EXPECT_EQ(load->state(), "ok");
  absl::StatusOr<bool> active = keda_->IsActive(kNs, "future");
  ASSERT_TRUE(active.ok());
  EXPECT_TRUE(*active);
  // Beyond the skew: refused, naming why.
  const absl::Status far = keda_->PushSampledAt(
      kNs, "future", "load", 0, absl::Now() + absl::Seconds(600));
  EXPECT_EQ(far.code(), absl::StatusCode::kInvalidArgument) << far;
  EXPECT_TRUE(absl::StrContains(far.message(), "in the future")) << far;
}

}  // namespace
}  // namespace signalscaler::testing
