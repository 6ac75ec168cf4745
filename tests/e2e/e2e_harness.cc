#include "tests/e2e/e2e_harness.h"

#include <signal.h>

#include <algorithm>
#include <iostream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {

std::string TotalPolicy(const std::string& name, const std::string& source,
                        double target_per_replica, int min_replicas,
                        int interval_seconds) {
  return absl::StrFormat(R"(---
apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: %s, namespace: %s}
spec:
  minReplicas: %d
  maxReplicas: 100
  evaluationIntervalSeconds: 1
  behavior:  # no damping: the tests are about the sources
    scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
  signals:
  - name: %s
    type: Total
    targetPerReplica: %g
    source: {intervalSeconds: %d, %s}
)",
                         name, kNamespace, min_replicas, kSignal,
                         target_per_replica, interval_seconds, source);
}

std::unique_ptr<ServedScaler> ServedScaler::Start(
    const std::string& policies, const std::vector<std::string>& extra) {
  std::unique_ptr<ServedScaler> s(new ServedScaler);
  s->dir_ = MakeTempDir();
  WriteFile(s->dir_ + "/policies.yaml", policies);
  std::vector<std::string> flags = {"--policies=" + s->dir_};
  flags.insert(flags.end(), extra.begin(), extra.end());
  s->process_ = StartServe(flags);
  if (s->process_.port == 0) {
    ADD_FAILURE() << "signalscaler serve did not start: "
                  << (s->process_.process ? s->process_.process->Output()
                                          : "(not started)");
    return nullptr;
  }
  s->keda_ = std::make_unique<KedaClient>(s->process_.address());
  return s;
}

ServedScaler::~ServedScaler() {
  keda_.reset();
  if (process_.process != nullptr) {
    // The first SIGTERM may start a drain (KEDA's calls keep being
    // answered for a while); a second one exits at once.
    process_.process->Signal(SIGTERM);
    if (!process_.process->Wait(absl::Seconds(1)).has_value()) {
      process_.process->Signal(SIGTERM);
    }
    EXPECT_EQ(process_.process->Wait(absl::Seconds(20)), 0);
  }
}

absl::StatusOr<double> ServedScaler::Replicas(const std::string& policy) {
  absl::StatusOr<std::string> name = keda_->MetricName(kNamespace, policy);
  if (!name.ok()) return name.status();
  return keda_->GetMetrics(kNamespace, policy, *name);
}

absl::StatusOr<admin::v1::SignalExplanation> ServedScaler::Signal(
    const std::string& policy) {
  absl::StatusOr<admin::v1::PolicyDecision> d =
      keda_->Explain(kNamespace, policy);
  if (!d.ok()) return d.status();
  std::optional<admin::v1::SignalExplanation> s = FindSignal(*d, kSignal);
  if (!s.has_value()) return absl::NotFoundError("no such signal");
  return *s;
}

::testing::AssertionResult ServedScaler::WaitForReplicas(
    const std::string& policy, double want, absl::Duration timeout) {
  absl::StatusOr<double> last = absl::UnknownError("never called");
  if (PollUntil(
          [&] {
            last = Replicas(policy);
            return last.ok() && *last == want;
          },
          timeout)) {
    return ::testing::AssertionSuccess();
  }
  auto r = ::testing::AssertionFailure()
           << policy << ": GetMetrics did not answer " << want << " within "
           << timeout << "; last answer: ";
  if (last.ok()) return r << *last;
  return r << last.status();
}

::testing::AssertionResult ServedScaler::WaitForValue(const std::string& policy,
                                                      double want,
                                                      absl::Duration timeout) {
  absl::StatusOr<admin::v1::SignalExplanation> last =
      absl::UnknownError("never called");
  if (PollUntil(
          [&] {
            last = Signal(policy);
            return last.ok() && last->state() == "ok" && last->has_value() &&
                   last->value() == want;
          },
          timeout)) {
    return ::testing::AssertionSuccess();
  }
  auto r = ::testing::AssertionFailure()
           << policy << ": the signal did not read " << want << " within "
           << timeout << "; last explanation: ";
  if (last.ok()) return r << last->ShortDebugString();
  return r << last.status();
}

::testing::AssertionResult ServedScaler::WaitForError(
    const std::string& policy, const std::vector<std::string>& needles,
    absl::Duration timeout) {
  absl::StatusOr<admin::v1::SignalExplanation> last =
      absl::UnknownError("never called");
  if (PollUntil(
          [&] {
            last = Signal(policy);
            if (!last.ok() || last->state() != "error") return false;
            return std::all_of(needles.begin(), needles.end(),
                               [&](const std::string& n) {
                                 return absl::StrContains(last->message(), n);
                               });
          },
          timeout)) {
    return ::testing::AssertionSuccess();
  }
  auto r = ::testing::AssertionFailure()
           << policy << ": no error naming all of ["
           << absl::StrJoin(needles, ", ") << "] within " << timeout
           << "; last explanation: ";
  if (last.ok()) return r << last->ShortDebugString();
  return r << last.status();
}

::testing::AssertionResult ServedScaler::HoldsDuringFault(
    const std::string& policy, double held, absl::Duration window) {
  absl::StatusOr<std::string> name = keda_->MetricName(kNamespace, policy);
  if (!name.ok()) {
    return ::testing::AssertionFailure() << "GetMetricSpec: " << name.status();
  }
  const absl::Time end = absl::Now() + window;
  int calls = 0;
  absl::Duration slowest;
  while (absl::Now() < end) {
    const absl::Time start = absl::Now();
    absl::StatusOr<double> replicas =
        keda_->GetMetrics(kNamespace, policy, *name);
    const absl::Duration took = absl::Now() - start;
    slowest = std::max(slowest, took);
    ++calls;
    if (!replicas.ok()) {
      return ::testing::AssertionFailure()
             << "GetMetrics failed during the fault: " << replicas.status();
    }
    if (*replicas != held) {
      return ::testing::AssertionFailure()
             << "the decision moved during the fault: " << *replicas
             << " replicas instead of " << held;
    }
    if (took >= absl::Milliseconds(200)) {
      return ::testing::AssertionFailure()
             << "GetMetrics took " << took << " during the fault";
    }
    absl::StatusOr<bool> active = keda_->IsActive(kNamespace, policy);
    if (!active.ok() || !*active) {
      return ::testing::AssertionFailure() << "IsActive is not true";
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::StatusOr<admin::v1::SignalExplanation> s = Signal(policy);
  if (!s.ok() || s->state() != "error") {
    return ::testing::AssertionFailure()
           << "the signal left the error state during the fault window: "
           << (s.ok() ? s->ShortDebugString() : s.status().ToString());
  }
  std::cout << policy << ": held at " << held << " for " << window << ", "
            << calls << " GetMetrics calls, slowest " << slowest << "\n";
  return ::testing::AssertionSuccess();
}

}  // namespace signalscaler::testing
