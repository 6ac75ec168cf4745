// A slow store never delays KEDA, a push, `explain` or readiness beyond
// their own deadlines (issue 17): two replicas' evaluators, running on their
// own tick threads, share a real redis-server that is SIGSTOPped while a
// KEDA-like reader keeps asking both for every policy. While it is stopped,
// GetMetrics, explain and Status() (what /readyz shows) answer at once, and
// a push within the store's own timeout (it tries to save, then goes on
// locally); the load rising meanwhile is answered. After SIGCONT the
// replicas share decisions again, and no answer ever went back to an older
// decision.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/externalscaler.pb.h"
#include "scaler/common/clock.h"
#include "scaler/policy/loader.h"
#include "scaler/server/admin_logic.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/keda_logic.h"
#include "scaler/server/policy_registry.h"
#include "scaler/state/redis_state_store.h"
#include "sources/observer.h"
#include "sources/push/push_source.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler {
namespace {

using testing::TestRedisServer;

constexpr int kPolicies = 20;
constexpr absl::Duration kStoreTimeout = absl::Milliseconds(500);
// What answers that never touch the store may take on a busy machine.
constexpr absl::Duration kAtOnce = absl::Milliseconds(250);
// A push may wait for its own save, which gives up after kStoreTimeout.
constexpr absl::Duration kPushBound = absl::Seconds(1);

constexpr char kPolicy[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: NAME, namespace: slow}
spec:
  minReplicas: 1
  maxReplicas: 50
  evaluationIntervalSeconds: 1
  signals:
  - name: jobs
    type: Total
    source: {push: {}}
    targetPerReplica: 10
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
    scaleDown:
      stabilizationWindowSeconds: 30
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
)";

SystemClock& TestClock() {
  static SystemClock* clock = new SystemClock;
  return *clock;
}

struct Replica {
  std::unique_ptr<StateStore> store;
  DecisionBoard board;
  std::unique_ptr<Evaluator> evaluator;
};

// The slowest call of each kind, and any answer that went back.
struct Worst {
  absl::Mutex mu;
  std::map<std::string, absl::Duration> took ABSL_GUARDED_BY(mu);
  std::vector<std::string> went_back ABSL_GUARDED_BY(mu);
  void Add(const std::string& what, absl::Duration d) {
    absl::MutexLock lock(&mu);
    took[what] = std::max(took[what], d);
  }
  absl::Duration Of(const std::string& what) {
    absl::MutexLock lock(&mu);
    return took[what];
  }
  void Reset() {
    absl::MutexLock lock(&mu);
    took.clear();
  }
};

class EvaluatorSlowStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = TestRedisServer::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    std::string yaml;
    for (int i = 0; i < kPolicies; ++i) {
      if (i > 0) yaml += "---\n";
      yaml += absl::StrReplaceAll(kPolicy, {{"NAME", absl::StrCat("p", i)}});
      keys_.push_back(PolicyKey{"slow", absl::StrCat("p", i)});
    }
    LoadResult r = ParsePolicies(yaml, "slow.yaml");
    ASSERT_TRUE(r.errors.empty()) << r.ToStatus();
    registry_.Set(std::make_shared<PolicySnapshot>(std::move(r.policies)));
    PushAll(42);
    for (const char* id : {"a", "b"}) {
      RedisStateStoreOptions so;
      so.host = "127.0.0.1";
      so.port = server_->port();
      so.initial_backoff = absl::Milliseconds(50);
      so.max_backoff = absl::Milliseconds(200);
      auto store = MakeRedisStateStore(so, TestClock());
      ASSERT_TRUE(store.ok()) << store.status();
      auto replica = std::make_unique<Replica>();
      replica->store = *std::move(store);
      EvaluatorOptions o;
      o.store = replica->store.get();
      o.replica_id = id;
      o.lease_period = absl::Seconds(2);
      o.store_timeout = kStoreTimeout;
      o.wait_without_history = false;
      replica->evaluator = std::make_unique<Evaluator>(
          registry_, observer_, replica->board, TestClock(), o);
      replicas_.push_back(std::move(replica));
    }
    for (auto& r : replicas_) r->evaluator->Start(absl::Milliseconds(50));
    reader_ = std::thread([this] { Read(); });
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Signal(SIGCONT);
    stop_ = true;
    if (reader_.joinable()) reader_.join();
    for (auto& r : replicas_) r->evaluator->Stop();
  }

  void PushAll(double jobs) {
    for (const PolicyKey& k : keys_) {
      push_.Record(k, "jobs", Reading{jobs, TestClock().Now()});
    }
  }
  // What every replica answers for every policy, if they all agree.
  std::optional<int64_t> Agreed() {
    std::optional<int64_t> v;
    for (auto& r : replicas_) {
      for (const PolicyKey& k : keys_) {
        auto d = r->board.Get(k);
        if (!d.ok()) return std::nullopt;
        if (v.has_value() && *v != (*d)->replicas) return std::nullopt;
        v = (*d)->replicas;
      }
    }
    return v;
  }
  size_t LeasesHeld() {
    size_t n = 0;
    for (auto& r : replicas_) n += r->evaluator->Status().leases_held;
    return n;
  }
  bool Degraded() {
    for (auto& r : replicas_) {
      if (r->evaluator->Status().degraded) return true;
    }
    return false;
  }
  static bool Eventually(const std::function<bool()>& done,
                         absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  // KEDA's side: GetMetrics of every policy on every replica, over and over,
  // timing each call and checking that no decision is older than one seen
  // before on that replica.
  void Read() {
    std::vector<std::map<PolicyKey, absl::Time>> seen(replicas_.size());
    while (!stop_) {
      const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
      for (size_t i = 0; i < replicas_.size(); ++i) {
        for (const PolicyKey& k : keys_) {
          externalscaler::GetMetricsRequest req;
          req.mutable_scaledobjectref()->set_name("so");
          req.mutable_scaledobjectref()->set_namespace_(k.ns);
          (*req.mutable_scaledobjectref()->mutable_scalermetadata())["policy"] =
              k.name;
          const absl::Time start = absl::Now();
          MetricsFor(req, *snap, replicas_[i]->board).IgnoreError();
          worst_.Add("GetMetrics", absl::Now() - start);
          auto d = replicas_[i]->board.Get(k);
          if (!d.ok()) continue;
          absl::Time& last = seen[i][k];
          if ((*d)->time < last) {
            absl::MutexLock lock(&worst_.mu);
            worst_.went_back.push_back(
                absl::StrCat("replica ", i, " ", k.ToString(), ": ",
                             absl::FormatTime((*d)->time), " after ",
                             absl::FormatTime(last)));
          }
          last = std::max(last, (*d)->time);
        }
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  // A push, explain and Status() on each replica, timed.
  void CallEach(double jobs, int policy) {
    const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
    for (auto& r : replicas_) {
      admin::v1::PushRequest push;
      push.set_namespace_(keys_[policy].ns);
      push.set_policy(keys_[policy].name);
      push.set_signal("jobs");
      push.set_value(jobs);
      absl::Time start = absl::Now();
      EXPECT_TRUE(
          RecordPush(push, *snap, push_, *r->evaluator, TestClock().Now())
              .ok());
      worst_.Add("push", absl::Now() - start);

      admin::v1::ExplainRequest explain;
      explain.set_namespace_(keys_[policy].ns);
      explain.set_policy(keys_[policy].name);
      start = absl::Now();
      EXPECT_TRUE(Explain(explain, *snap, r->board).ok());
      worst_.Add("explain", absl::Now() - start);

      start = absl::Now();
      r->evaluator->Status();
      worst_.Add("status", absl::Now() - start);
    }
  }

  std::unique_ptr<TestRedisServer> server_;
  PolicyRegistry registry_;
  PushStore push_;
  SourceObserver observer_{push_};
  std::vector<PolicyKey> keys_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::atomic<bool> stop_{false};
  std::thread reader_;
  Worst worst_;
};

TEST_F(EvaluatorSlowStoreTest, StoppedRedisDelaysNoCallBeyondItsDeadline) {
  ASSERT_TRUE(
      Eventually([&] { return Agreed() == 5 && LeasesHeld() == keys_.size(); },
                 absl::Seconds(20)))
      << "replicas did not settle";
  worst_.Reset();

  server_->Signal(SIGSTOP);
  const absl::Time stopped = absl::Now();
  int round = 0;
  while (absl::Now() - stopped < absl::Seconds(4)) {
    // The load rises halfway: answered although nothing can be saved.
    const double jobs = absl::Now() - stopped < absl::Seconds(2) ? 42 : 95;
    if (jobs == 95) PushAll(95);
    CallEach(jobs, round++ % kPolicies);
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(Degraded()) << "the store has not answered for 4 s";
  EXPECT_TRUE(Eventually([&] { return Agreed() == 10; }, absl::Seconds(5)))
      << "the rise is answered locally";
  const absl::Duration get_metrics = worst_.Of("GetMetrics");
  const absl::Duration explain = worst_.Of("explain");
  const absl::Duration status = worst_.Of("status");
  const absl::Duration push = worst_.Of("push");
  server_->Signal(SIGCONT);
  std::printf(
      "slowest while the store was stopped: GetMetrics %s, explain %s, "
      "Status %s, push %s\n",
      absl::FormatDuration(get_metrics).c_str(),
      absl::FormatDuration(explain).c_str(),
      absl::FormatDuration(status).c_str(), absl::FormatDuration(push).c_str());
  EXPECT_LT(get_metrics, kAtOnce);
  EXPECT_LT(explain, kAtOnce);
  EXPECT_LT(status, kAtOnce);
  EXPECT_LT(push, kPushBound);

  // Shared decisions again, with every lease held by one replica.
  EXPECT_TRUE(Eventually(
      [&] {
        return !Degraded() && LeasesHeld() == keys_.size() && Agreed() == 10;
      },
      absl::Seconds(20)));
  stop_ = true;
  reader_.join();
  absl::MutexLock lock(&worst_.mu);
  EXPECT_TRUE(worst_.went_back.empty()) << worst_.went_back.front();
}

}  // namespace
}  // namespace signalscaler
