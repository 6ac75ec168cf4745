// MakeMemoryStateStore(): the StateStore contract (state_store_contract.h)
// on a ManualClock, and what is particular to a store of one process: it is
// not shared and its Watch() never calls.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/state/state_store.h"
#include "tests/state/state_store_contract.h"

namespace signalscaler {
namespace {

struct MemoryEnv {
  void SetUp() {}
  std::unique_ptr<StateStore> NewStore() {
    return MakeMemoryStateStore(clock_);
  }
  const Clock& clock() { return clock_; }
  void Pass(absl::Duration d) { clock_.Advance(d); }
  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, StateStoreContract, MemoryEnv);
}  // namespace testing

namespace {

TEST(MemoryStateStoreTest, IsNotShared) {
  ManualClock clock;
  auto store = MakeMemoryStateStore(clock);
  EXPECT_EQ(store->kind(), "memory");
  EXPECT_FALSE(store->shared());
}

TEST(MemoryStateStoreTest, LeaseIsValidForItsTtlOnTheStoresClock) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  auto store = MakeMemoryStateStore(clock);
  auto lease = store->AcquireOrRenew({"ns", "p"}, "pod-a", absl::Seconds(7),
                                     clock.Now() + absl::Seconds(1));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->valid_until, absl::FromUnixSeconds(1007));
}

TEST(MemoryStateStoreTest, WatchNeverCalls) {
  ManualClock clock;
  auto store = MakeMemoryStateStore(clock);
  int calls = 0;
  store->Watch([&calls](const PolicyKey&) { ++calls; });
  const PolicyKey key{"ns", "p"};
  const absl::Time deadline = clock.Now() + absl::Seconds(1);
  auto lease = store->AcquireOrRenew(key, "pod-a", absl::Seconds(1), deadline);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(store
                  ->Save(key, testing::SampleRecord(1, "pod-a", lease->epoch),
                         *lease, absl::Seconds(1), deadline)
                  .ok());
  store->Watch(nullptr);
  store.reset();
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace signalscaler
