// The Redis StateStore on a real three-master Redis Cluster (children of
// this test): the whole StateStore contract (tests/state/
// state_store_contract.h), each test under a key prefix of its own so that
// its replicas key and channel are its own; policies whose keys are spread
// over every node; and a policy's slot migrated between two calls after
// another (ASK, then MOVED) with nothing lost: the lease keeps its epoch,
// every save lands, another replica loads each one and hears of it.
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/state/redis_state_store.h"
#include "scaler/state/state_store.h"
#include "tests/redis_source/test_redis_cluster.h"
#include "tests/state/state_store_contract.h"

namespace signalscaler {
namespace {

using testing::SampleRecord;
using testing::TestRedisCluster;

SystemClock& TestClock() {
  static SystemClock* clock = new SystemClock;
  return *clock;
}

// One cluster for the whole binary, stopped when the tests end.
TestRedisCluster* cluster = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto started = TestRedisCluster::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    cluster = started->release();
  }
  void TearDown() override {
    delete cluster;
    cluster = nullptr;
  }
};
::testing::Environment* const kCluster =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

RedisStateStoreOptions OptionsWithPrefix(const std::string& prefix) {
  RedisStateStoreOptions options;
  options.host = "127.0.0.1";
  options.port = cluster->port(0);  // the seed: any node would do
  options.key_prefix = prefix;
  return options;
}

std::unique_ptr<StateStore> MakeStore(const RedisStateStoreOptions& options) {
  absl::StatusOr<std::unique_ptr<StateStore>> store =
      MakeRedisStateStore(options, TestClock());
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Every contract test on the cluster, under a prefix of its own.
struct ClusterEnv {
  void SetUp() {
    ASSERT_NE(cluster, nullptr);
    static int tests = 0;
    prefix = absl::StrCat("contract", ++tests);
  }
  std::unique_ptr<StateStore> NewStore() {
    return MakeStore(OptionsWithPrefix(prefix));
  }
  const Clock& clock() { return TestClock(); }
  // Redis expires keys on its own clock: a little margin past `d`.
  void Pass(absl::Duration d) { absl::SleepFor(d + absl::Milliseconds(50)); }
  std::string prefix;
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(RedisCluster, StateStoreContract, ClusterEnv);
}  // namespace testing

namespace {

absl::Time Deadline() { return TestClock().Now() + absl::Seconds(5); }
constexpr absl::Duration kTtl = absl::Seconds(30);

// A policy whose keys (under `prefix`) are on `node`.
PolicyKey PolicyOn(int node, const std::string& prefix,
                   const std::string& name) {
  for (int n = 0;; ++n) {
    const PolicyKey key{"cluster", absl::StrCat(name, n)};
    if (cluster->NodeOf(RedisKeysOf(prefix, key).lease) == node) return key;
  }
}

TEST(RedisClusterStateTest, PoliciesOnEveryNodeInOneBatch) {
  const std::string prefix = "spread";
  auto store = MakeStore(OptionsWithPrefix(prefix));
  ASSERT_NE(store, nullptr);
  std::vector<PolicyKey> keys;
  std::set<int> nodes;
  for (int i = 0; i < 24; ++i) {
    keys.push_back(PolicyKey{"cluster", absl::StrCat("spread-", i)});
    nodes.insert(cluster->NodeOf(RedisKeysOf(prefix, keys.back()).lease));
  }
  ASSERT_EQ(nodes.size(), 3u) << "the policies should span every node";
  std::vector<LeaseRequest> requests;
  for (const PolicyKey& key : keys) requests.push_back({key, std::nullopt});
  auto leases = store->UpkeepLeases(requests, "pod-a", kTtl, Deadline());
  ASSERT_TRUE(leases.ok()) << leases.status();
  std::vector<PolicyRecord> records;
  std::vector<SaveRequest> saves;
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE((*leases)[i].status.ok()) << (*leases)[i].status;
    EXPECT_EQ((*leases)[i].lease.holder, "pod-a");
    records.push_back(SampleRecord(static_cast<int64_t>(i) + 1, "pod-a",
                                   (*leases)[i].lease.epoch));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    saves.push_back({keys[i], &records[i], (*leases)[i].lease});
  }
  auto saved = store->SaveMany(saves, kTtl, Deadline());
  ASSERT_TRUE(saved.ok()) << saved.status();
  for (const absl::Status& s : *saved) EXPECT_TRUE(s.ok()) << s;
  auto other = MakeStore(OptionsWithPrefix(prefix));
  auto loaded = other->Load(keys, Deadline());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE((*loaded)[i].has_value()) << keys[i].ToString();
    EXPECT_EQ((*loaded)[i]->decision->replicas, static_cast<int64_t>(i) + 1);
  }
  auto theirs = other->UpkeepLeases(requests, "pod-b", kTtl, Deadline());
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  for (const LeaseOutcome& o : *theirs) EXPECT_EQ(o.lease.holder, "pod-a");
}

TEST(RedisClusterStateTest, ASlotMigratedBetweenCallsLosesNothing) {
  const std::string prefix = "migrated";
  auto holder = MakeStore(OptionsWithPrefix(prefix));
  auto mirror = MakeStore(OptionsWithPrefix(prefix));
  ASSERT_NE(holder, nullptr);
  ASSERT_NE(mirror, nullptr);
  const PolicyKey key = PolicyOn(1, prefix, "moving-");
  const int slot = cluster->SlotOf(RedisKeysOf(prefix, key).lease);
  absl::Mutex mu;
  int64_t heard = 0;  // saves of `key` the mirror was told of
  mirror->Watch([&](const PolicyKey& saved) {
    if (!(saved == key)) return;
    absl::MutexLock lock(&mu);
    ++heard;
  });
  absl::SleepFor(absl::Milliseconds(300));  // the watch subscribes

  absl::StatusOr<Lease> lease =
      holder->AcquireOrRenew(key, "pod-a", kTtl, Deadline());
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_EQ(lease->holder, "pod-a");
  const uint64_t epoch = lease->epoch;
  int64_t replicas = 0;
  // One save by the holder and one load by the mirror, at every step.
  const auto save_and_load = [&](bool batch) {
    ++replicas;
    const PolicyRecord record = SampleRecord(replicas, "pod-a", epoch);
    if (batch) {
      auto saved = holder->SaveMany({SaveRequest{key, &record, *lease}}, kTtl,
                                    Deadline());
      ASSERT_TRUE(saved.ok()) << saved.status();
      EXPECT_TRUE((*saved)[0].ok()) << (*saved)[0];
    } else {
      absl::Status saved = holder->Save(key, record, *lease, kTtl, Deadline());
      EXPECT_TRUE(saved.ok()) << saved;
    }
    auto loaded = mirror->Load({key}, Deadline());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_TRUE((*loaded)[0].has_value());
    EXPECT_EQ((*loaded)[0]->decision->replicas, replicas);
  };
  // The holder renews (alone, then in a batch); the mirror cannot take it.
  const auto renew = [&] {
    absl::StatusOr<Lease> renewed =
        holder->AcquireOrRenew(key, "pod-a", kTtl, Deadline());
    ASSERT_TRUE(renewed.ok()) << renewed.status();
    EXPECT_EQ(renewed->epoch, epoch);
    auto batch = holder->UpkeepLeases({LeaseRequest{key, std::nullopt}},
                                      "pod-a", kTtl, Deadline());
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_TRUE((*batch)[0].status.ok()) << (*batch)[0].status;
    EXPECT_EQ((*batch)[0].lease.epoch, epoch);
    absl::StatusOr<Lease> theirs =
        mirror->AcquireOrRenew(key, "pod-b", kTtl, Deadline());
    ASSERT_TRUE(theirs.ok()) << theirs.status();
    EXPECT_EQ(theirs->holder, "pod-a");
  };
  save_and_load(false);
  renew();

  ASSERT_TRUE(cluster->BeginMigration(slot, 1, 2).ok());
  renew();  // node 1 still has the keys
  save_and_load(true);
  ASSERT_TRUE(cluster->MoveKeys(slot, 1, 2).ok());
  renew();  // ASK: node 2 has them, and learns the scripts
  save_and_load(false);
  save_and_load(true);
  ASSERT_TRUE(cluster->EndMigration(slot, 2).ok());
  renew();  // MOVED, then node 2 directly
  save_and_load(false);
  save_and_load(true);
  EXPECT_EQ(cluster->NodeOf(RedisKeysOf(prefix, key).lease), 2);

  // Every save was heard by the mirror, whichever node made it.
  EXPECT_TRUE([&] {
    const absl::Time end = absl::Now() + absl::Seconds(3);
    while (absl::Now() < end) {
      {
        absl::MutexLock lock(&mu);
        if (heard >= replicas) return true;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }());
  // A release on the new node lets the mirror take it, under a new epoch.
  ASSERT_TRUE(holder->Release(key, *lease, Deadline()).ok());
  absl::StatusOr<Lease> taken =
      mirror->AcquireOrRenew(key, "pod-b", kTtl, Deadline());
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->holder, "pod-b");
  EXPECT_EQ(taken->epoch, epoch + 1);
  mirror->Watch(nullptr);
}

}  // namespace
}  // namespace signalscaler
