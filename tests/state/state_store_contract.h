// The StateStore contract that every implementation keeps, as typed tests:
// a test binary instantiates them with an environment that makes stores and
// lets time pass on their clock.
//
//   struct MemoryEnv {
//     void SetUp() {}  // may ASSERT
//     std::unique_ptr<StateStore> NewStore();  // on clock()
//     const Clock& clock();
//     void Pass(absl::Duration d);  // advance, or sleep a little longer
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Memory, StateStoreContract, MemoryEnv);
//
// Replicas of a test share one store (as replicas of a process may share a
// memory store) unless the test says otherwise; each test's policies are
// named after it.
#ifndef SIGNALSCALER_TESTS_STATE_STATE_STORE_CONTRACT_H_
#define SIGNALSCALER_TESTS_STATE_STATE_STORE_CONTRACT_H_

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/state/state_codec.h"
#include "scaler/state/state_store.h"

namespace signalscaler::testing {

// A small record whose every field is set; `replicas` tells records apart.
inline PolicyRecord SampleRecord(int64_t replicas, const std::string& by,
                                 uint64_t epoch) {
  const absl::Time t0 = absl::FromUnixMillis(1'700'000'000'000);
  PolicyRecord r;
  r.engine.recommendations = {{t0, replicas}, {t0 + absl::Seconds(5), 7}};
  r.engine.scale_events = {{t0, 2, replicas}};
  r.engine.last_decision = replicas;
  r.engine.ever_had_reading = true;
  auto d = std::make_shared<Decision>();
  d->replicas = replicas;
  d->current = 2;
  d->desired = replicas;
  d->max_replicas = 20;
  d->time = t0 + absl::Seconds(5);
  d->winner = "jobs";
  d->signals.push_back(SignalExplanation{
      "jobs", SignalState::kOk, 40.0, absl::Milliseconds(1500), replicas, ""});
  d->reasons.push_back(Reason{ReasonCode::kSignalWon, "jobs",
                              static_cast<double>(replicas), 0, 0});
  r.decision = d;
  r.history_since = t0;
  r.sequence = static_cast<uint64_t>(replicas) * 10;
  r.evaluated_by = by;
  r.epoch = epoch;
  return r;
}

template <typename Env>
class StateStoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetUp();
    if (HasFatalFailure()) return;
    store_ = env_.NewStore();
    ASSERT_NE(store_, nullptr);
  }

  // A policy of this test's own.
  PolicyKey Key(const std::string& suffix = "") const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return PolicyKey{"contract", std::string(info->name()) + suffix};
  }
  absl::Time Now() { return env_.clock().Now(); }
  absl::Time Deadline() { return Now() + absl::Seconds(5); }
  static absl::Duration Ttl() { return absl::Seconds(30); }
  // Short enough to wait for, long enough for a few calls on a busy machine.
  static absl::Duration ShortTtl() { return absl::Milliseconds(300); }

  Lease Acquire(const PolicyKey& key, const std::string& replica,
                absl::Duration ttl = Ttl()) {
    absl::StatusOr<Lease> lease =
        store_->AcquireOrRenew(key, replica, ttl, Deadline());
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : Lease();
  }

  absl::Status Save(const PolicyKey& key, const Lease& lease, int64_t replicas,
                    absl::Duration ttl = Ttl()) {
    return store_->Save(key, SampleRecord(replicas, lease.holder, lease.epoch),
                        lease, ttl, Deadline());
  }

  std::optional<PolicyRecord> LoadOne(const PolicyKey& key) {
    absl::StatusOr<std::vector<std::optional<PolicyRecord>>> got =
        store_->Load({key}, Deadline());
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || got->size() != 1) return std::nullopt;
    return (*got)[0];
  }

  Env env_;
  std::unique_ptr<StateStore> store_;
};

TYPED_TEST_SUITE_P(StateStoreContract);

TYPED_TEST_P(StateStoreContract, LoadOfPoliciesWithoutRecordsIsNullopt) {
  auto got =
      this->store_->Load({this->Key("-a"), this->Key("-b")}, this->Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_FALSE((*got)[0].has_value());
  EXPECT_FALSE((*got)[1].has_value());
  auto none = this->store_->Load({}, this->Deadline());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(StateStoreContract, SavedRecordLoadsBackWhole) {
  const PolicyKey key = this->Key();
  const Lease lease = this->Acquire(key, "pod-a");
  const PolicyRecord record = SampleRecord(5, "pod-a", lease.epoch);
  ASSERT_TRUE(
      this->store_->Save(key, record, lease, this->Ttl(), this->Deadline())
          .ok());
  const std::optional<PolicyRecord> back = this->LoadOne(key);
  ASSERT_TRUE(back.has_value());
  // Every field, compared through the one encoding of a record.
  EXPECT_EQ(EncodeRecord(*back), EncodeRecord(record));
  ASSERT_NE(back->decision, nullptr);
  EXPECT_EQ(back->decision->Summary(), record.decision->Summary());
}

TYPED_TEST_P(StateStoreContract, LoadReturnsRecordsInTheOrderAsked) {
  const PolicyKey a = this->Key("-a"), b = this->Key("-b"),
                  missing = this->Key("-missing");
  const PolicyKey other_ns{"contract-other", a.name};
  for (const auto& [key, replicas] :
       std::vector<std::pair<PolicyKey, int64_t>>{{a, 3}, {b, 4}}) {
    const Lease lease = this->Acquire(key, "pod-a");
    ASSERT_TRUE(this->store_
                    ->Save(key, SampleRecord(replicas, "pod-a", lease.epoch),
                           lease, this->Ttl(), this->Deadline())
                    .ok());
  }
  auto got = this->store_->Load({b, missing, a, other_ns}, this->Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 4u);
  ASSERT_TRUE((*got)[0].has_value());
  EXPECT_EQ((*got)[0]->decision->replicas, 4);
  EXPECT_FALSE((*got)[1].has_value());
  ASSERT_TRUE((*got)[2].has_value());
  EXPECT_EQ((*got)[2]->decision->replicas, 3);
  EXPECT_FALSE((*got)[3].has_value()) << "same name, other namespace";
}

TYPED_TEST_P(StateStoreContract, SaveWithoutTheCurrentLeaseFails) {
  const PolicyKey key = this->Key();
  Lease never_granted;
  never_granted.holder = "pod-a";
  never_granted.epoch = 42;
  const absl::Status s =
      this->store_->Save(key, SampleRecord(5, "pod-a", 42), never_granted,
                         this->Ttl(), this->Deadline());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(key.ToString()));
  EXPECT_FALSE(this->LoadOne(key).has_value());
}

TYPED_TEST_P(StateStoreContract, RenewalKeepsTheEpoch) {
  const PolicyKey key = this->Key();
  const absl::Time before = this->Now();
  const Lease first = this->Acquire(key, "pod-a");
  const Lease second = this->Acquire(key, "pod-a");
  EXPECT_EQ(first.holder, "pod-a");
  EXPECT_GT(first.epoch, 0u);
  EXPECT_EQ(second.holder, "pod-a");
  EXPECT_EQ(second.epoch, first.epoch);
  EXPECT_GE(second.valid_until, before + this->Ttl());
}

TYPED_TEST_P(StateStoreContract, EpochGrowsWithEveryAcquisition) {
  const PolicyKey key = this->Key();
  const Lease a1 = this->Acquire(key, "pod-a");
  ASSERT_TRUE(this->store_->Release(key, a1, this->Deadline()).ok());
  const Lease a2 = this->Acquire(key, "pod-a");
  EXPECT_GT(a2.epoch, a1.epoch) << "re-acquired after release";
  ASSERT_TRUE(this->store_->Release(key, a2, this->Deadline()).ok());
  const Lease b = this->Acquire(key, "pod-b");
  EXPECT_EQ(b.holder, "pod-b");
  EXPECT_GT(b.epoch, a2.epoch);
  // Another policy's epochs are its own.
  EXPECT_EQ(this->Acquire(this->Key("-other"), "pod-a").epoch, 1u);
}

TYPED_TEST_P(StateStoreContract, LeaseLostToAnotherReplicaFencesOldSaves) {
  const PolicyKey key = this->Key();
  const Lease a = this->Acquire(key, "pod-a");
  ASSERT_TRUE(this->store_
                  ->Save(key, SampleRecord(3, "pod-a", a.epoch), a, this->Ttl(),
                         this->Deadline())
                  .ok());
  ASSERT_TRUE(this->store_->Release(key, a, this->Deadline()).ok());
  const Lease b = this->Acquire(key, "pod-b");
  ASSERT_EQ(b.holder, "pod-b");
  ASSERT_TRUE(this->store_
                  ->Save(key, SampleRecord(8, "pod-b", b.epoch), b, this->Ttl(),
                         this->Deadline())
                  .ok());
  // pod-a did not notice: its write is refused, pod-b's record stands.
  const absl::Status late = this->store_->Save(
      key, SampleRecord(4, "pod-a", a.epoch), a, this->Ttl(), this->Deadline());
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;
  const std::optional<PolicyRecord> back = this->LoadOne(key);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->evaluated_by, "pod-b");
  EXPECT_EQ(back->decision->replicas, 8);
}

TYPED_TEST_P(StateStoreContract, ReleaseOfALeaseNoLongerInForceIsANoOp) {
  const PolicyKey key = this->Key();
  const Lease a = this->Acquire(key, "pod-a");
  ASSERT_TRUE(this->store_->Release(key, a, this->Deadline()).ok());
  const Lease b = this->Acquire(key, "pod-b");
  EXPECT_TRUE(this->store_->Release(key, a, this->Deadline()).ok());
  // pod-b still holds it: it may save, and renewing keeps its epoch.
  EXPECT_TRUE(this->store_
                  ->Save(key, SampleRecord(2, "pod-b", b.epoch), b, this->Ttl(),
                         this->Deadline())
                  .ok());
  EXPECT_EQ(this->Acquire(key, "pod-b").epoch, b.epoch);
}

TYPED_TEST_P(StateStoreContract, SaveAfterReleaseFails) {
  const PolicyKey key = this->Key();
  const Lease a = this->Acquire(key, "pod-a");
  ASSERT_TRUE(this->store_->Release(key, a, this->Deadline()).ok());
  const absl::Status s = this->store_->Save(
      key, SampleRecord(3, "pod-a", a.epoch), a, this->Ttl(), this->Deadline());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

TYPED_TEST_P(StateStoreContract, HeartbeatListsThisReplica) {
  auto alive = this->store_->Heartbeat("pod-a", this->Ttl(), this->Deadline());
  ASSERT_TRUE(alive.ok()) << alive.status();
  EXPECT_THAT(*alive, ::testing::Contains("pod-a"));
  EXPECT_TRUE(std::is_sorted(alive->begin(), alive->end()));
}

TYPED_TEST_P(StateStoreContract, LeaseHeldByAnotherReplicaIsReportedNotTaken) {
  const PolicyKey key = this->Key();
  const absl::Time before = this->Now();
  const Lease mine = this->Acquire(key, "pod-a");
  EXPECT_EQ(mine.holder, "pod-a");
  EXPECT_GE(mine.valid_until, before + this->Ttl());
  const Lease theirs = this->Acquire(key, "pod-b");
  EXPECT_EQ(theirs.holder, "pod-a");
  EXPECT_EQ(theirs.epoch, mine.epoch);
  EXPECT_EQ(theirs.valid_until, absl::InfinitePast());
  const absl::Status s =
      this->Save(key, Lease{"pod-b", mine.epoch, absl::InfiniteFuture()}, 3);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr(key.ToString() + " lost: held by pod-a"));
}

TYPED_TEST_P(StateStoreContract, ExpiredLeaseGoesToAnotherAndFencesTheOld) {
  const PolicyKey key = this->Key();
  const Lease old = this->Acquire(key, "pod-a", this->ShortTtl());
  ASSERT_TRUE(this->Save(key, old, 3).ok());
  this->env_.Pass(this->ShortTtl());
  const Lease taken = this->Acquire(key, "pod-b");
  EXPECT_EQ(taken.holder, "pod-b");
  EXPECT_GT(taken.epoch, old.epoch);
  ASSERT_TRUE(this->Save(key, taken, 8).ok());
  // pod-a was paused through its TTL and does not know.
  const absl::Status late = this->Save(key, old, 4);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;
  EXPECT_THAT(std::string(late.message()), ::testing::HasSubstr("pod-b"));
  const std::optional<PolicyRecord> back = this->LoadOne(key);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->evaluated_by, "pod-b");
  EXPECT_EQ(back->decision->replicas, 8);
  // Nor does its renewal take it back.
  EXPECT_EQ(this->Acquire(key, "pod-a").holder, "pod-b");
}

TYPED_TEST_P(StateStoreContract, RenewalExtendsTheLease) {
  const PolicyKey key = this->Key();
  const Lease first = this->Acquire(key, "pod-a", this->ShortTtl());
  for (int i = 0; i < 3; ++i) {
    this->env_.Pass(this->ShortTtl() / 2);
    EXPECT_EQ(this->Acquire(key, "pod-a", this->ShortTtl()).epoch, first.epoch);
  }
  // Longer than one TTL after the first acquisition: still pod-a's.
  EXPECT_EQ(this->Acquire(key, "pod-b").holder, "pod-a");
}

TYPED_TEST_P(StateStoreContract, RecordExpiresAfterItsTtl) {
  const PolicyKey key = this->Key();
  ASSERT_TRUE(
      this->Save(key, this->Acquire(key, "pod-a"), 5, this->ShortTtl()).ok());
  EXPECT_TRUE(this->LoadOne(key).has_value());
  this->env_.Pass(this->ShortTtl());
  EXPECT_FALSE(this->LoadOne(key).has_value());
}

TYPED_TEST_P(StateStoreContract, MembershipExpiresWithoutHeartbeats) {
  ASSERT_TRUE(
      this->store_->Heartbeat("pod-b", this->ShortTtl(), this->Deadline())
          .ok());
  auto both = this->store_->Heartbeat("pod-a", this->Ttl(), this->Deadline());
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_THAT(*both, ::testing::ElementsAre("pod-a", "pod-b"));
  this->env_.Pass(this->ShortTtl());
  auto one = this->store_->Heartbeat("pod-a", this->Ttl(), this->Deadline());
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(*one, ::testing::ElementsAre("pod-a"));
}

TYPED_TEST_P(StateStoreContract, UpkeepLeasesAcquiresRenewsAndReleasesInOrder) {
  const PolicyKey a = this->Key("-a"), b = this->Key("-b"),
                  theirs = this->Key("-theirs");
  const Lease other = this->Acquire(theirs, "pod-b");
  const absl::Time before = this->Now();
  auto first = this->store_->UpkeepLeases(
      {LeaseRequest{a, std::nullopt}, LeaseRequest{theirs, std::nullopt},
       LeaseRequest{b, std::nullopt}},
      "pod-a", this->Ttl(), this->Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 3u);
  for (const LeaseOutcome& o : *first) EXPECT_TRUE(o.status.ok()) << o.status;
  const Lease la = (*first)[0].lease, lb = (*first)[2].lease;
  EXPECT_EQ(la.holder, "pod-a");
  EXPECT_GE(la.valid_until, before + this->Ttl());
  EXPECT_EQ((*first)[1].lease.holder, "pod-b") << "another's, left alone";
  EXPECT_EQ((*first)[1].lease.epoch, other.epoch);
  EXPECT_EQ((*first)[1].lease.valid_until, absl::InfinitePast());
  EXPECT_EQ(lb.holder, "pod-a");

  // Renew a, release b, in one call.
  auto second = this->store_->UpkeepLeases(
      {LeaseRequest{b, lb}, LeaseRequest{a, std::nullopt}}, "pod-a",
      this->Ttl(), this->Deadline());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->size(), 2u);
  EXPECT_TRUE((*second)[0].status.ok()) << (*second)[0].status;
  EXPECT_EQ((*second)[1].lease.holder, "pod-a");
  EXPECT_EQ((*second)[1].lease.epoch, la.epoch) << "a renewal";
  EXPECT_EQ(this->Acquire(b, "pod-c").holder, "pod-c") << "b was released";
  EXPECT_TRUE(this->Save(a, (*second)[1].lease, 3).ok());

  auto none =
      this->store_->UpkeepLeases({}, "pod-a", this->Ttl(), this->Deadline());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(StateStoreContract, SaveManyFencesEachSaveByItsOwnLease) {
  const PolicyKey a = this->Key("-a"), b = this->Key("-b"), c = this->Key("-c");
  const Lease la = this->Acquire(a, "pod-a");
  const Lease lb = this->Acquire(b, "pod-b");  // not pod-a's
  const Lease lc = this->Acquire(c, "pod-a");
  const PolicyRecord ra = SampleRecord(3, "pod-a", la.epoch);
  const PolicyRecord rb = SampleRecord(4, "pod-a", la.epoch);
  const PolicyRecord rc = SampleRecord(5, "pod-a", lc.epoch);
  Lease stolen = lb;
  stolen.holder = "pod-a";
  auto saved = this->store_->SaveMany(
      {SaveRequest{a, &ra, la}, SaveRequest{b, &rb, stolen},
       SaveRequest{c, &rc, lc}},
      this->Ttl(), this->Deadline());
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_EQ(saved->size(), 3u);
  EXPECT_TRUE((*saved)[0].ok()) << (*saved)[0];
  EXPECT_EQ((*saved)[1].code(), absl::StatusCode::kFailedPrecondition)
      << (*saved)[1];
  EXPECT_THAT(std::string((*saved)[1].message()),
              ::testing::HasSubstr(b.ToString() + " lost: held by pod-b"));
  EXPECT_TRUE((*saved)[2].ok()) << (*saved)[2];
  auto back = this->store_->Load({a, b, c}, this->Deadline());
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE((*back)[0].has_value());
  EXPECT_EQ(EncodeRecord(*(*back)[0]), EncodeRecord(ra));
  EXPECT_FALSE((*back)[1].has_value()) << "fenced";
  ASSERT_TRUE((*back)[2].has_value());
  EXPECT_EQ((*back)[2]->decision->replicas, 5);

  auto none = this->store_->SaveMany({}, this->Ttl(), this->Deadline());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(StateStoreContract, AnnounceTellsWhatEachReplicaServes) {
  const auto serves_a = std::make_shared<const std::string>("ns/p1\nns/p2\n");
  const auto serves_b = std::make_shared<const std::string>("ns/p2\n");
  ASSERT_TRUE(
      this->store_->Heartbeat("pod-c", this->Ttl(), this->Deadline()).ok());
  ASSERT_TRUE(
      this->store_->Announce("pod-b", serves_b, this->Ttl(), this->Deadline())
          .ok());
  auto alive =
      this->store_->Announce("pod-a", serves_a, this->Ttl(), this->Deadline());
  ASSERT_TRUE(alive.ok()) << alive.status();
  ASSERT_EQ(alive->size(), 3u);
  EXPECT_EQ((*alive)[0].id, "pod-a");
  ASSERT_NE((*alive)[0].serves, nullptr);
  EXPECT_EQ(*(*alive)[0].serves, *serves_a);
  EXPECT_EQ((*alive)[1].id, "pod-b");
  ASSERT_NE((*alive)[1].serves, nullptr);
  EXPECT_EQ(*(*alive)[1].serves, *serves_b);
  EXPECT_EQ((*alive)[2].id, "pod-c");
  EXPECT_EQ((*alive)[2].serves, nullptr) << "announced nothing";

  // The same bytes again: the same copy, so a caller's cache holds.
  auto again =
      this->store_->Announce("pod-a", serves_a, this->Ttl(), this->Deadline());
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 3u);
  EXPECT_EQ((*again)[1].serves, (*alive)[1].serves);
  // A changed announcement replaces the old one.
  const auto fewer = std::make_shared<const std::string>("ns/p1\n");
  ASSERT_TRUE(
      this->store_->Announce("pod-b", fewer, this->Ttl(), this->Deadline())
          .ok());
  auto changed =
      this->store_->Announce("pod-a", serves_a, this->Ttl(), this->Deadline());
  ASSERT_TRUE(changed.ok()) << changed.status();
  ASSERT_EQ(changed->size(), 3u);
  ASSERT_NE((*changed)[1].serves, nullptr);
  EXPECT_EQ(*(*changed)[1].serves, *fewer);
}

REGISTER_TYPED_TEST_SUITE_P(
    StateStoreContract, LoadOfPoliciesWithoutRecordsIsNullopt,
    SavedRecordLoadsBackWhole, LoadReturnsRecordsInTheOrderAsked,
    SaveWithoutTheCurrentLeaseFails, RenewalKeepsTheEpoch,
    EpochGrowsWithEveryAcquisition, LeaseLostToAnotherReplicaFencesOldSaves,
    ReleaseOfALeaseNoLongerInForceIsANoOp, SaveAfterReleaseFails,
    HeartbeatListsThisReplica, LeaseHeldByAnotherReplicaIsReportedNotTaken,
    ExpiredLeaseGoesToAnotherAndFencesTheOld, RenewalExtendsTheLease,
    RecordExpiresAfterItsTtl, MembershipExpiresWithoutHeartbeats,
    UpkeepLeasesAcquiresRenewsAndReleasesInOrder,
    SaveManyFencesEachSaveByItsOwnLease, AnnounceTellsWhatEachReplicaServes);

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_STATE_STATE_STORE_CONTRACT_H_
