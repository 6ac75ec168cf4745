// LeaseKeeper on the in-process store and a manual clock: the preferred
// replica takes a lease, hands it over only to a replica alive a whole lease
// period, an orphan is taken and kept a while, renewals keep the epoch, and
// an outage is returned while other errors are not; every policy's upkeep is
// one store call.
#include "scaler/server/lease_keeper.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/state/state_store.h"

namespace signalscaler {
namespace {

constexpr absl::Duration kPeriod = absl::Seconds(10);
constexpr absl::Duration kInterval = absl::Seconds(1);

class LeaseKeeperTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaseKeeper> Keeper(const std::string& id,
                                      StateStore* store = nullptr) {
    return std::make_unique<LeaseKeeper>(store ? *store : *store_, clock_, id,
                                         kPeriod, absl::Milliseconds(500));
  }
  // A key whose preferred replica among {a, b} is `preferred`.
  PolicyKey KeyPreferring(const std::string& preferred) {
    for (int i = 0;; ++i) {
      PolicyKey k{"ns", absl::StrCat("p", i)};
      if (PreferredReplica(k, {"a", "b"}) == preferred) return k;
    }
  }
  LeaseChange Upkeep(LeaseKeeper& k, const PolicyKey& key, LeaseSlot& slot,
                     absl::Time last_shared = absl::InfinitePast()) {
    EXPECT_TRUE(k.Heartbeat(clock_.Now()).ok());
    absl::StatusOr<LeaseChange> c =
        k.Upkeep(key, slot, last_shared, kInterval, clock_.Now());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(LeaseChange::kNone);
  }

  ManualClock clock_{absl::FromUnixSeconds(1'000'000)};
  std::unique_ptr<StateStore> store_ = MakeMemoryStateStore(clock_);
};

TEST_F(LeaseKeeperTest, PreferredTakesOthersWaitAndRenewalsKeepTheEpoch) {
  auto a = Keeper("a");
  auto b = Keeper("b");
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  const PolicyKey key = KeyPreferring("b");
  LeaseSlot sa, sb;
  sa.first_seen = sb.first_seen = clock_.Now();
  EXPECT_EQ(Upkeep(*a, key, sa), LeaseChange::kNone) << "not preferred";
  EXPECT_FALSE(sa.lease.has_value());
  EXPECT_EQ(Upkeep(*b, key, sb), LeaseChange::kTaken);
  ASSERT_TRUE(b->Holds(sb, clock_.Now()));
  EXPECT_FALSE(a->Holds(sb, clock_.Now())) << "b's lease, not a's";
  const uint64_t epoch = sb.lease->epoch;
  const absl::Time until = sb.lease->valid_until;
  EXPECT_EQ(until, clock_.Now() + kPeriod * 0.7) << "70 % of the period";

  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Upkeep(*b, key, sb), LeaseChange::kNone) << "a renewal";
  EXPECT_EQ(sb.lease->epoch, epoch);
  EXPECT_GT(sb.lease->valid_until, until);
  EXPECT_EQ(sb.orphan_taken, absl::InfinitePast());
}

TEST_F(LeaseKeeperTest, HandsOverOnlyToAReplicaAliveAWholeLeasePeriod) {
  auto a = Keeper("a");
  const PolicyKey key = KeyPreferring("b");
  LeaseSlot sa;
  sa.first_seen = clock_.Now();
  ASSERT_EQ(Upkeep(*a, key, sa), LeaseChange::kTaken) << "alone: a's";

  auto b = Keeper("b");
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());  // b appears
  ASSERT_TRUE(a->Heartbeat(clock_.Now()).ok());  // and a sees it
  const absl::Time appeared = clock_.Now();
  while (clock_.Now() - appeared < kPeriod) {
    clock_.Advance(absl::Seconds(2));
    ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
    if (clock_.Now() - appeared < kPeriod) {
      EXPECT_EQ(Upkeep(*a, key, sa), LeaseChange::kNone)
          << "b is not stable yet at +" << clock_.Now() - appeared;
      EXPECT_TRUE(a->Holds(sa, clock_.Now()));
    }
  }
  EXPECT_EQ(Upkeep(*a, key, sa), LeaseChange::kGone);
  EXPECT_FALSE(sa.lease.has_value());
  LeaseSlot sb;
  sb.first_seen = appeared;
  EXPECT_EQ(Upkeep(*b, key, sb), LeaseChange::kTaken)
      << "released at once: no wait for the TTL";
}

TEST_F(LeaseKeeperTest, AnOrphanIsTakenAfterALeasePeriodAndKeptAWhile) {
  auto a = Keeper("a");
  auto b = Keeper("b");
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());  // b alive, never takes it
  const PolicyKey key = KeyPreferring("b");
  LeaseSlot sa;
  sa.first_seen = clock_.Now();
  clock_.Advance(kPeriod - absl::Seconds(1));
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  EXPECT_EQ(Upkeep(*a, key, sa), LeaseChange::kNone) << "served < a period";
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  // A shared decision seen lately: not an orphan.
  EXPECT_EQ(Upkeep(*a, key, sa, clock_.Now() - absl::Seconds(5)),
            LeaseChange::kNone);
  // None for longer than a lease period and two intervals: an orphan.
  EXPECT_EQ(Upkeep(*a, key, sa, clock_.Now() - absl::Seconds(13)),
            LeaseChange::kTaken);
  EXPECT_EQ(sa.orphan_taken, clock_.Now());

  // b is stable, but a took the policy lately: kept for 5 lease periods.
  const absl::Time taken = clock_.Now();
  while (clock_.Now() - taken < 5 * kPeriod - absl::Seconds(2)) {
    clock_.Advance(absl::Seconds(2));
    ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
    ASSERT_EQ(Upkeep(*a, key, sa), LeaseChange::kNone)
        << "+" << clock_.Now() - taken;
  }
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  EXPECT_EQ(Upkeep(*a, key, sa), LeaseChange::kGone);
}

TEST_F(LeaseKeeperTest, AnotherReplicasLeaseIsGone) {
  auto a = Keeper("a");
  const PolicyKey key = KeyPreferring("a");
  LeaseSlot sa;
  sa.first_seen = clock_.Now();
  ASSERT_EQ(Upkeep(*a, key, sa), LeaseChange::kTaken);
  // a stalls past its TTL; b (alone alive) takes the policy.
  clock_.Advance(kPeriod);
  auto b = Keeper("b");
  LeaseSlot sb;
  sb.first_seen = clock_.Now();
  ASSERT_EQ(Upkeep(*b, key, sb), LeaseChange::kTaken);
  EXPECT_FALSE(a->Holds(sa, clock_.Now())) << "expired";
  EXPECT_EQ(Upkeep(*a, key, sa), LeaseChange::kGone);
  EXPECT_FALSE(sa.lease.has_value());
}

// A store whose every call fails with `error`.
class FailingStore final : public StateStore {
 public:
  explicit FailingStore(absl::Status error) : error_(std::move(error)) {}
  absl::string_view kind() const override { return "failing"; }
  bool shared() const override { return true; }
  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey>, absl::Time) override {
    return error_;
  }
  absl::Status Save(const PolicyKey&, const PolicyRecord&, const Lease&,
                    absl::Duration, absl::Time) override {
    return error_;
  }
  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey&, const std::string&,
                                       absl::Duration, absl::Time) override {
    return error_;
  }
  absl::Status Release(const PolicyKey&, const Lease&, absl::Time) override {
    return error_;
  }
  absl::StatusOr<std::vector<std::string>> Heartbeat(const std::string&,
                                                     absl::Duration,
                                                     absl::Time) override {
    return error_;
  }
  void Watch(std::function<void(const PolicyKey&)>) override {}

 private:
  absl::Status error_;
};

TEST_F(LeaseKeeperTest, AnOutageIsReturnedOtherErrorsAreNot) {
  FailingStore down(absl::UnavailableError("refused"));
  auto a = Keeper("a", &down);
  EXPECT_TRUE(a->Due(clock_.Now()));
  EXPECT_TRUE(absl::IsUnavailable(a->Heartbeat(clock_.Now())));
  EXPECT_FALSE(a->Due(clock_.Now())) << "next upkeep in 20 % of the period";
  clock_.Advance(kPeriod * 0.2);
  EXPECT_TRUE(a->Due(clock_.Now()));
  LeaseSlot slot;
  slot.first_seen = clock_.Now();
  // members() is empty: nobody preferred, and not an orphan yet.
  EXPECT_EQ(*a->Upkeep({"ns", "p"}, slot, absl::InfinitePast(), kInterval,
                       clock_.Now()),
            LeaseChange::kNone);

  // Alone on a working store, then the store fails.
  auto b = Keeper("b");
  LeaseSlot sb;
  sb.first_seen = clock_.Now();
  ASSERT_EQ(Upkeep(*b, {"ns", "p"}, sb), LeaseChange::kTaken);
  FailingStore broken(absl::InternalError("bad reply"));
  auto b2 = std::make_unique<LeaseKeeper>(broken, clock_, "b", kPeriod,
                                          absl::Milliseconds(500));
  absl::StatusOr<LeaseChange> c = b2->Upkeep(
      {"ns", "p"}, sb, absl::InfinitePast(), kInterval, clock_.Now());
  ASSERT_TRUE(c.ok()) << "not an outage: logged, the lease kept";
  EXPECT_EQ(*c, LeaseChange::kNone);
  EXPECT_TRUE(sb.lease.has_value());
  auto b3 = std::make_unique<LeaseKeeper>(down, clock_, "b", kPeriod,
                                          absl::Milliseconds(500));
  c = b3->Upkeep({"ns", "p"}, sb, absl::InfinitePast(), kInterval,
                 clock_.Now());
  EXPECT_TRUE(absl::IsUnavailable(c.status()));
  EXPECT_TRUE(IsStoreOutage(absl::DeadlineExceededError("slow")));
  EXPECT_TRUE(IsStoreOutage(absl::UnauthenticatedError("auth")));
  EXPECT_FALSE(IsStoreOutage(absl::FailedPreconditionError("fenced")));
  EXPECT_FALSE(IsStoreOutage(absl::InternalError("bad")));
}

// The orphan ping-pong (issue 17): b would be preferred for `key` but does
// not serve it (its reload rejected the file). It says so with its
// heartbeat, so a keeps the policy for good instead of taking it as an
// orphan, handing it back to b five lease periods later, and again.
TEST_F(LeaseKeeperTest, AReplicaIsNeverPreferredForAPolicyItDoesNotServe) {
  auto a = Keeper("a");
  auto b = Keeper("b");
  const PolicyKey key = KeyPreferring("b");
  const PolicyKey other = KeyPreferring("a");
  const PolicyKey shared = [&] {
    for (int i = 0;; ++i) {
      PolicyKey k{"ns", absl::StrCat("q", i)};
      if (PreferredReplica(k, {"a", "b"}) == "b") return k;
    }
  }();
  a->SetServed({key, other, shared});
  b->SetServed({other, shared});
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  ASSERT_TRUE(a->Heartbeat(clock_.Now()).ok());
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  EXPECT_EQ(a->Preferred(key), "a") << "b does not serve it";
  EXPECT_EQ(b->Preferred(key), "a") << "b knows it too";
  EXPECT_EQ(a->Preferred(shared), "b") << "served by both: as before";
  EXPECT_EQ(a->Preferred(other), "a");

  LeaseSlot sa, sa_shared, sb_shared;
  sa.first_seen = sa_shared.first_seen = sb_shared.first_seen = clock_.Now();
  ASSERT_EQ(Upkeep(*a, key, sa), LeaseChange::kTaken) << "preferred: at once";
  EXPECT_EQ(sa.orphan_taken, absl::InfinitePast()) << "not as an orphan";
  ASSERT_EQ(Upkeep(*b, shared, sb_shared), LeaseChange::kTaken);
  // Eight lease periods: a keeps it all along, renewing the same epoch.
  const uint64_t epoch = sa.lease->epoch;
  for (int i = 0; i < 40; ++i) {
    clock_.Advance(kPeriod * 0.2);
    ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
    ASSERT_EQ(Upkeep(*a, key, sa, clock_.Now()), LeaseChange::kNone)
        << "+" << (i + 1) * kPeriod * 0.2;
    ASSERT_EQ(Upkeep(*a, shared, sa_shared, clock_.Now()), LeaseChange::kNone);
    ASSERT_EQ(Upkeep(*b, shared, sb_shared, clock_.Now()), LeaseChange::kNone);
  }
  EXPECT_EQ(sa.lease->epoch, epoch);
  EXPECT_TRUE(b->Holds(sb_shared, clock_.Now()));

  // Once b serves it too (a fixed file), it goes to b as any policy would.
  b->SetServed({key, other, shared});
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  EXPECT_EQ(a->Preferred(key), "a") << "a has not heard yet";
  clock_.Advance(kPeriod * 0.2);
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  EXPECT_EQ(Upkeep(*a, key, sa, clock_.Now()), LeaseChange::kGone);
  EXPECT_EQ(a->Preferred(key), "b");
}

// Forwards to another store and counts the calls a LeaseKeeper makes.
class CountingStore final : public StateStore {
 public:
  explicit CountingStore(StateStore& inner) : inner_(inner) {}
  int single_calls = 0;  // AcquireOrRenew and Release
  int batches = 0;       // UpkeepLeases
  size_t requests = 0;   // in those batches

  absl::string_view kind() const override { return "counting"; }
  bool shared() const override { return true; }
  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey> keys, absl::Time deadline) override {
    return inner_.Load(keys, deadline);
  }
  absl::Status Save(const PolicyKey& key, const PolicyRecord& record,
                    const Lease& lease, absl::Duration ttl,
                    absl::Time deadline) override {
    return inner_.Save(key, record, lease, ttl, deadline);
  }
  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                       const std::string& replica,
                                       absl::Duration ttl,
                                       absl::Time deadline) override {
    ++single_calls;
    return inner_.AcquireOrRenew(key, replica, ttl, deadline);
  }
  absl::Status Release(const PolicyKey& key, const Lease& lease,
                       absl::Time deadline) override {
    ++single_calls;
    return inner_.Release(key, lease, deadline);
  }
  absl::StatusOr<std::vector<LeaseOutcome>> UpkeepLeases(
      absl::Span<const LeaseRequest> r, const std::string& replica,
      absl::Duration ttl, absl::Time deadline) override {
    ++batches;
    requests += r.size();
    return inner_.UpkeepLeases(r, replica, ttl, deadline);
  }
  absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration ttl,
      absl::Time deadline) override {
    return inner_.Heartbeat(replica, ttl, deadline);
  }
  absl::StatusOr<std::vector<LiveReplica>> Announce(
      const std::string& replica, std::shared_ptr<const std::string> serves,
      absl::Duration ttl, absl::Time deadline) override {
    return inner_.Announce(replica, std::move(serves), ttl, deadline);
  }
  void Watch(std::function<void(const PolicyKey&)>) override {}

 private:
  StateStore& inner_;
};

TEST_F(LeaseKeeperTest, UpkeepOfEveryPolicyIsOneStoreCall) {
  CountingStore counting(*store_);
  auto a = Keeper("a", &counting);
  std::vector<LeaseTask> tasks;
  for (int i = 0; i < 600; ++i) {
    LeaseTask t;
    t.key = PolicyKey{"ns", absl::StrCat("p", i)};
    t.slot.first_seen = clock_.Now();
    t.interval = kInterval;
    tasks.push_back(t);
  }
  ASSERT_TRUE(a->Heartbeat(clock_.Now()).ok());
  ASSERT_TRUE(a->UpkeepAll(absl::MakeSpan(tasks), clock_.Now()).ok());
  EXPECT_EQ(counting.batches, 1);
  EXPECT_EQ(counting.requests, 600u);
  EXPECT_EQ(counting.single_calls, 0);
  for (const LeaseTask& t : tasks) {
    EXPECT_EQ(t.change, LeaseChange::kTaken) << t.key.ToString();
    EXPECT_TRUE(a->Holds(t.slot, clock_.Now()));
  }

  // b joins; a lease period later a hands b's share over, one call per
  // upkeep all along.
  auto b = Keeper("b");
  ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
  // a first sees b at step 1: b is stable for it a lease period later.
  for (int step = 1; step <= 6; ++step) {
    clock_.Advance(kPeriod * 0.2);
    ASSERT_TRUE(b->Heartbeat(clock_.Now()).ok());
    ASSERT_TRUE(a->Heartbeat(clock_.Now()).ok());
    ASSERT_TRUE(a->UpkeepAll(absl::MakeSpan(tasks), clock_.Now()).ok());
    if (step < 6) {
      for (const LeaseTask& t : tasks) {
        ASSERT_EQ(t.change, LeaseChange::kNone) << "renewed, b not stable yet";
      }
    }
  }
  EXPECT_EQ(counting.batches, 7);
  EXPECT_EQ(counting.single_calls, 0);
  int gone = 0;
  for (const LeaseTask& t : tasks) {
    const bool to_b = PreferredReplica(t.key, {"a", "b"}) == "b";
    EXPECT_EQ(t.change, to_b ? LeaseChange::kGone : LeaseChange::kNone)
        << t.key.ToString();
    EXPECT_EQ(a->Holds(t.slot, clock_.Now()), !to_b);
    gone += to_b;
  }
  EXPECT_GT(gone, 200);
  EXPECT_LT(gone, 400);
}

TEST_F(LeaseKeeperTest, AnOutageInABatchChangesNoPolicy) {
  auto a = Keeper("a");
  std::vector<LeaseTask> tasks(3);
  for (int i = 0; i < 3; ++i) {
    tasks[i].key = PolicyKey{"ns", absl::StrCat("p", i)};
    tasks[i].slot.first_seen = clock_.Now();
  }
  ASSERT_TRUE(a->Heartbeat(clock_.Now()).ok());
  ASSERT_TRUE(a->UpkeepAll(absl::MakeSpan(tasks), clock_.Now()).ok());
  const std::vector<LeaseTask> before = tasks;
  FailingStore down(absl::DeadlineExceededError("paused"));
  LeaseBatch batch = a->Plan(tasks, clock_.Now());
  EXPECT_EQ(batch.size(), 3u) << "three renewals";
  batch.Exchange(down, clock_);
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      a->Apply(absl::MakeSpan(tasks), batch, clock_.Now())));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tasks[i].slot.lease->epoch, before[i].slot.lease->epoch);
    EXPECT_EQ(tasks[i].change, LeaseChange::kNone);
  }
}

}  // namespace
}  // namespace signalscaler
