// High availability on a Redis Cluster, end to end: three real `signalscaler
// serve` replicas whose state store is a real three-master Redis Cluster
// (--state-store=redis://<one node>), reading their load from lists on the
// same cluster, and a KEDA-like client that asks every replica about every
// policy. Three policies, their keys on three different nodes: one holder
// each, every replica answers the same; then, inside one policy's
// scale-down window, its slot is migrated (IMPORTING/MIGRATING, MIGRATE,
// SETSLOT NODE) while the replicas renew and save, and so is a load list's:
// nothing is lost (the leases keep their epochs, the window holds to its
// end, the next decisions are made and mirrored), no answer ever goes back
// and none is a wrong scale-down.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/redis_source/test_redis_cluster.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/scaler_process.h"

namespace signalscaler::testing {
namespace {

constexpr char kNs[] = "ha";
constexpr absl::Duration kLease = absl::Seconds(4);
constexpr int kWindowSeconds = 12;
constexpr int kPolicies = 3;

std::string PolicyYaml(const std::string& name, const std::string& seed,
                       const std::string& list) {
  return absl::StrFormat(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: %s, namespace: %s}
spec:
  minReplicas: 1
  maxReplicas: 30
  evaluationIntervalSeconds: 1
  signals:
  - name: depth
    type: Total
    targetPerReplica: 10
    source: {intervalSeconds: 1, redis: {address: '%s', list: '%s'}}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
    scaleDown:
      stabilizationWindowSeconds: %d
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
)",
                         name, kNs, seed, list, kWindowSeconds);
}

std::string LeaseKey(const std::string& policy) {
  return absl::StrCat("signalscaler:{", kNs, "/", policy, "}:lease");
}

struct Observation {
  absl::Time time;
  int replica;
  int policy;
  int64_t value;
};

class RedisClusterHaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = TestRedisCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    // Policy i's keys on node i; its load list on node i + 1.
    std::string yaml;
    for (int i = 0; i < kPolicies; ++i) {
      std::string name;
      for (int n = 0; name.empty(); ++n) {
        const std::string candidate = absl::StrCat("worker-", i, "-", n);
        if (cluster_->NodeOf(LeaseKey(candidate)) == i) name = candidate;
      }
      policies_.push_back(name);
      lists_.push_back(
          cluster_->KeyOn((i + 1) % kPolicies, absl::StrCat("jobs-", i, "-")));
      if (i > 0) yaml += "---\n";
      yaml += PolicyYaml(name, cluster_->address(0), lists_.back());
      SetDepth(i, 0);
    }
    const std::string dir = MakeTempDir();
    policy_file_ = dir + "/policies.yaml";
    WriteFile(policy_file_, yaml);
  }
  void TearDown() override {
    StopClient();
    for (ScalerProcess& r : replicas_) {
      if (r.process) r.process->Signal(SIGKILL);
    }
  }

  // The list of policy `i` holds `n` items (on whichever node serves it).
  void SetDepth(int i, int n) {
    const int node = cluster_->NodeOf(lists_[i]);
    cluster_->Run(node, {"DEL", lists_[i]});
    for (int k = 0; k < n; ++k) cluster_->Run(node, {"RPUSH", lists_[i], "x"});
  }

  void StartReplicas() {
    for (int i = 0; i < 3; ++i) {
      ScalerProcess p = StartServe(
          {"--policies=" + policy_file_,
           "--state-store=redis://" + cluster_->address(0),
           absl::StrCat("--replica-id=r", i),
           absl::StrCat("--lease-seconds=", absl::ToInt64Seconds(kLease)),
           "--state-timeout-ms=300", "--log-level=debug"});
      ASSERT_NE(p.port, 0) << "replica " << i << " did not start";
      keda_.push_back(std::make_unique<KedaClient>(p.address()));
      replicas_.push_back(std::move(p));
    }
  }

  // What replica `r` answers for policy `p`, -1 on error.
  int64_t Answer(int r, int p) {
    auto name = keda_[r]->MetricName(kNs, policies_[p]);
    if (!name.ok()) return -1;
    auto v = keda_[r]->GetMetrics(kNs, policies_[p], *name);
    return v.ok() ? static_cast<int64_t>(*v) : -1;
  }
  bool AllAnswer(int p, int64_t want, absl::Duration timeout) {
    return PollUntil(
        [&] {
          for (int r = 0; r < 3; ++r) {
            if (Answer(r, p) != want) return false;
          }
          return true;
        },
        timeout, absl::Milliseconds(100));
  }

  // Policy `p`'s lease as the cluster says: "<epoch> <replica>".
  std::string Lease(int p) {
    const std::string key = LeaseKey(policies_[p]);
    return cluster_->Run(cluster_->NodeOf(key), {"GET", key});
  }
  // signalscaler_leases_held of replica `r`.
  int LeasesHeld(int r) {
    const RawHttpAnswer metrics =
        HttpGet(replicas_[r].metrics_port, "/metrics");
    for (absl::string_view line : absl::StrSplit(metrics.body, '\n')) {
      int held = 0;
      if (absl::ConsumePrefix(&line, "signalscaler_leases_held ") &&
          absl::SimpleAtoi(line, &held)) {
        return held;
      }
    }
    return -1;
  }

  // A KEDA-like client: every 20 ms a GetMetrics to the next replica, for
  // the next policy.
  void StartClient() {
    client_stop_ = false;
    client_ = std::thread([this] {
      for (int next = 0; !client_stop_; ++next) {
        const int r = next % 3;
        const int p = (next / 3) % kPolicies;
        const int64_t v = Answer(r, p);
        {
          absl::MutexLock lock(&mu_);
          seen_.push_back({absl::Now(), r, p, v});
        }
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
  }
  void StopClient() {
    client_stop_ = true;
    if (client_.joinable()) client_.join();
  }
  std::vector<Observation> Seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

  std::unique_ptr<TestRedisCluster> cluster_;
  std::vector<std::string> policies_;
  std::vector<std::string> lists_;
  std::string policy_file_;
  std::vector<ScalerProcess> replicas_;
  std::vector<std::unique_ptr<KedaClient>> keda_;
  std::thread client_;
  std::atomic<bool> client_stop_{false};
  absl::Mutex mu_;
  std::vector<Observation> seen_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RedisClusterHaTest, ASlotMigratedDuringTheRunLosesNothing) {
  StartReplicas();
  for (int p = 0; p < kPolicies; ++p) SetDepth(p, 45);
  for (int p = 0; p < kPolicies; ++p) {
    ASSERT_TRUE(AllAnswer(p, 5, absl::Seconds(30))) << policies_[p];
  }
  // Leases settle on their preferred replicas within a lease period or two.
  absl::SleepFor(2 * kLease);
  int held = 0;
  for (int r = 0; r < 3; ++r) held += LeasesHeld(r);
  EXPECT_EQ(held, kPolicies) << "one holder per policy";
  std::vector<std::string> leases;
  for (int p = 0; p < kPolicies; ++p) {
    leases.push_back(Lease(p));
    ASSERT_NE(leases.back(), "(nil)") << policies_[p];
  }
  StartClient();

  // Policy 1 scales up, and its load falls at once: its scale-down window
  // (kWindowSeconds) begins, and holds it at 10 until it ends.
  const int moving = 1;
  SetDepth(moving, 95);
  ASSERT_TRUE(AllAnswer(moving, 10, absl::Seconds(10)));
  SetDepth(moving, 5);
  const absl::Time fell = absl::Now();

  // Inside that window, policy 1's slot moves from node 1 to node 2 while
  // the replicas renew, save and mirror; then policy 0's load list.
  const int slot = cluster_->SlotOf(LeaseKey(policies_[moving]));
  ASSERT_EQ(cluster_->NodeOfSlot(slot), 1);
  ASSERT_TRUE(cluster_->BeginMigration(slot, 1, 2).ok());
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(cluster_->MoveKeys(slot, 1, 2).ok());
  absl::SleepFor(absl::Seconds(2));  // renewals and saves by ASK
  EXPECT_NE(cluster_->Run(2, {"INFO", "commandstats"}).find("cmdstat_asking"),
            std::string::npos);
  ASSERT_TRUE(cluster_->EndMigration(slot, 2).ok());
  const int list_slot = cluster_->SlotOf(lists_[0]);
  const int list_node = cluster_->NodeOfSlot(list_slot);
  ASSERT_TRUE(
      cluster_->MigrateSlot(list_slot, list_node, (list_node + 1) % 3).ok());
  EXPECT_EQ(cluster_->NodeOf(LeaseKey(policies_[moving])), 2);

  // The window holds across the migration: 10 until it ends, then 1.
  while (absl::Now() - fell < absl::Seconds(kWindowSeconds - 2)) {
    for (int r = 0; r < 3; ++r) {
      EXPECT_EQ(Answer(r, moving), 10)
          << "replica " << r << " at +" << (absl::Now() - fell);
      EXPECT_EQ(Answer(r, 0), 5) << "replica " << r;
      EXPECT_EQ(Answer(r, 2), 5) << "replica " << r;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_TRUE(AllAnswer(moving, 1, absl::Seconds(10)));
  // Decisions go on from the moved list too.
  SetDepth(0, 75);
  EXPECT_TRUE(AllAnswer(0, 8, absl::Seconds(10)));
  StopClient();
  for (int p = 0; p < kPolicies; ++p) {
    EXPECT_EQ(Lease(p), leases[p]) << policies_[p] << ": never lost";
  }

  // Every answer was one of the policy's decisions, in order: never an
  // error, never back to an older one.
  const std::map<int, std::vector<int64_t>> order = {
      {0, {5, 8}}, {1, {5, 10, 1}}, {2, {5}}};
  std::map<std::pair<int, int>, long> last;  // (replica, policy) -> position
  for (const Observation& o : Seen()) {
    const std::vector<int64_t>& seq = order.at(o.policy);
    const long pos = std::find(seq.begin(), seq.end(), o.value) - seq.begin();
    long& furthest = last[std::make_pair(o.replica, o.policy)];
    ASSERT_LT(pos, static_cast<long>(seq.size()))
        << "replica " << o.replica << " answered " << o.value << " for "
        << policies_[o.policy];
    EXPECT_GE(pos, furthest) << "replica " << o.replica << " went back to "
                             << o.value << " for " << policies_[o.policy];
    furthest = std::max(furthest, pos);
    if (o.policy == moving && o.value == 1) {
      EXPECT_GE(o.time - fell, absl::Seconds(kWindowSeconds - 1))
          << "replica " << o.replica << " scaled down inside the window";
    }
  }
  // And nothing ran degraded.
  for (int r = 0; r < 3; ++r) {
    const RawHttpAnswer metrics =
        HttpGet(replicas_[r].metrics_port, "/metrics");
    EXPECT_NE(metrics.body.find(
                  "signalscaler_state_store_degraded{store=\"redis\"} 0"),
              std::string::npos)
        << "replica " << r;
  }
}

}  // namespace
}  // namespace signalscaler::testing
