// MakeRedisStateStore() against a real redis-server of the test's own: the
// StateStore contract (state_store_contract.h), then what only a shared
// store does: leases held by another replica, fencing after a lease
// expired, TTLs on every key, membership that expires, saves announced to
// another store, a paused server (bounded calls, then recovery), AUTH, the
// key layout, undecodable records, lost script caches.
#include "scaler/state/redis_state_store.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/state/state_codec.h"
#include "tests/state/state_store_contract.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::SampleRecord;
using testing::TestRedisClient;
using testing::TestRedisServer;
using testing::WriteTempFile;

SystemClock& TestClock() {
  static SystemClock* clock = new SystemClock;
  return *clock;
}

RedisStateStoreOptions OptionsFor(const TestRedisServer& server) {
  RedisStateStoreOptions options;
  options.host = "127.0.0.1";
  options.port = server.port();
  return options;
}

std::unique_ptr<StateStore> MakeStore(const RedisStateStoreOptions& options) {
  absl::StatusOr<std::unique_ptr<StateStore>> store =
      MakeRedisStateStore(options, TestClock());
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// A server per test: no state leaks between tests.
struct RedisEnv {
  void SetUp() {
    auto started = TestRedisServer::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
  }
  std::unique_ptr<StateStore> NewStore() {
    return MakeStore(OptionsFor(*server));
  }
  const Clock& clock() { return TestClock(); }
  // Redis expires keys on its own clock: a little margin past `d`.
  void Pass(absl::Duration d) { absl::SleepFor(d + absl::Milliseconds(50)); }
  std::unique_ptr<TestRedisServer> server;
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, StateStoreContract, RedisEnv);
}  // namespace testing

namespace {

bool Eventually(const std::function<bool()>& done, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

int64_t Pttl(TestRedisClient& client, const std::string& key) {
  int64_t ms = -3;
  EXPECT_TRUE(absl::SimpleAtoi(client.Run({"PTTL", key}), &ms)) << key;
  return ms;
}

class RedisStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> args) {
    auto started = TestRedisServer::Start(std::move(args));
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }

  static absl::Time Deadline(absl::Duration d = absl::Seconds(5)) {
    return absl::Now() + d;
  }

  Lease Acquire(StateStore& store, const std::string& replica,
                absl::Duration ttl = absl::Seconds(30)) {
    absl::StatusOr<Lease> lease =
        store.AcquireOrRenew(key_, replica, ttl, Deadline());
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : Lease();
  }

  absl::Status Save(StateStore& store, const Lease& lease, int64_t replicas,
                    absl::Duration ttl = absl::Seconds(30)) {
    return store.Save(key_, SampleRecord(replicas, lease.holder, lease.epoch),
                      lease, ttl, Deadline());
  }

  const PolicyKey key_{"media", "livekit-egress"};
  std::unique_ptr<TestRedisServer> server_;
};

TEST_F(RedisStateStoreTest, IsShared) {
  auto store = MakeStore(OptionsFor(*server_));
  EXPECT_EQ(store->kind(), "redis");
  EXPECT_TRUE(store->shared());
}

TEST_F(RedisStateStoreTest, ReleaseLetsAnotherReplicaAcquireAtOnce) {
  auto a = MakeStore(OptionsFor(*server_));
  auto b = MakeStore(OptionsFor(*server_));
  const Lease mine = Acquire(*a, "pod-a", absl::Seconds(30));
  ASSERT_EQ(Acquire(*b, "pod-b").holder, "pod-a");
  ASSERT_TRUE(a->Release(key_, mine, Deadline()).ok());
  const Lease theirs = Acquire(*b, "pod-b");
  EXPECT_EQ(theirs.holder, "pod-b");
  EXPECT_EQ(theirs.epoch, mine.epoch + 1);
}

TEST_F(RedisStateStoreTest, EveryKeyHasATtl) {
  auto store = MakeStore(OptionsFor(*server_));
  const Lease lease = Acquire(*store, "pod-a", absl::Seconds(20));
  ASSERT_TRUE(Save(*store, lease, 5, absl::Seconds(600)).ok());
  ASSERT_TRUE(store->Heartbeat("pod-a", absl::Seconds(15), Deadline()).ok());
  TestRedisClient client(server_->port());
  const RedisStateKeys keys = RedisKeysOf("signalscaler", key_);
  EXPECT_GT(Pttl(client, keys.state), 590'000);
  EXPECT_LE(Pttl(client, keys.state), 600'000);
  EXPECT_GT(Pttl(client, keys.lease), 10'000);
  EXPECT_LE(Pttl(client, keys.lease), 20'000);
  EXPECT_GT(Pttl(client, keys.epoch), 600'000) << "outlives the record";
  EXPECT_GT(Pttl(client, RedisReplicasKey("signalscaler")), 10'000);
}

TEST_F(RedisStateStoreTest, WatchTellsOfSavesByAnotherStore) {
  auto reader = MakeStore(OptionsFor(*server_));
  auto writer = MakeStore(OptionsFor(*server_));
  absl::Mutex mu;
  std::vector<PolicyKey> seen;
  reader->Watch([&](const PolicyKey& key) {
    absl::MutexLock lock(&mu);
    seen.push_back(key);
  });
  const Lease lease = Acquire(*writer, "pod-w");
  // A save published before the subscription is confirmed is lost (best
  // effort): save until one arrives.
  EXPECT_TRUE(Eventually(
      [&] {
        EXPECT_TRUE(Save(*writer, lease, 3).ok());
        absl::SleepFor(absl::Milliseconds(40));
        absl::MutexLock lock(&mu);
        return !seen.empty();
      },
      absl::Seconds(5)));
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0], key_);
}

TEST_F(RedisStateStoreTest, WatchStopsPromptlyAndNeverCallsAfterDestruction) {
  RedisStateStoreOptions options = OptionsFor(*server_);
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto reader = MakeStore(options);
  reader->Watch([calls](const PolicyKey&) { ++*calls; });
  auto writer = MakeStore(options);
  const Lease lease = Acquire(*writer, "pod-w");
  ASSERT_TRUE(Eventually(
      [&] {
        EXPECT_TRUE(Save(*writer, lease, 3).ok());
        absl::SleepFor(absl::Milliseconds(40));
        return calls->load() > 0;
      },
      absl::Seconds(5)));
  const absl::Time start = absl::Now();
  reader.reset();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  const int before = calls->load();
  ASSERT_TRUE(Save(*writer, lease, 4).ok());
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(calls->load(), before);
}

TEST_F(RedisStateStoreTest, WatchReplacedOrRemovedIsNeverCalledAgain) {
  auto reader = MakeStore(OptionsFor(*server_));
  auto writer = MakeStore(OptionsFor(*server_));
  const Lease lease = Acquire(*writer, "pod-w");
  std::atomic<int> first{0}, second{0};
  reader->Watch([&first](const PolicyKey&) {
    absl::SleepFor(absl::Milliseconds(20));  // widen the window of a race
    ++first;
  });
  ASSERT_TRUE(Eventually(
      [&] {
        EXPECT_TRUE(Save(*writer, lease, 3).ok());
        absl::SleepFor(absl::Milliseconds(40));
        return first.load() > 0;
      },
      absl::Seconds(5)));
  EXPECT_TRUE(Save(*writer, lease, 3).ok());  // in flight while replaced
  reader->Watch([&second](const PolicyKey&) { ++second; });
  const int first_calls = first.load();
  ASSERT_TRUE(Eventually(
      [&] {
        EXPECT_TRUE(Save(*writer, lease, 3).ok());
        absl::SleepFor(absl::Milliseconds(40));
        return second.load() > 0;
      },
      absl::Seconds(5)));
  EXPECT_EQ(first.load(), first_calls);
  reader->Watch(nullptr);
  const int second_calls = second.load();
  EXPECT_TRUE(Save(*writer, lease, 3).ok());
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(second.load(), second_calls);
}

TEST_F(RedisStateStoreTest, WatchResubscribesAfterARestart) {
  RedisStateStoreOptions options = OptionsFor(*server_);
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(100);
  auto reader = MakeStore(options);
  auto writer = MakeStore(options);
  std::atomic<int> calls{0};
  reader->Watch([&calls](const PolicyKey&) { ++calls; });
  // Saves (acquiring first: a restarted server has no lease) until the
  // reader hears of one.
  const auto heard = [&] {
    calls = 0;
    return Eventually(
        [&] {
          absl::StatusOr<Lease> lease = writer->AcquireOrRenew(
              key_, "pod-w", absl::Seconds(30), Deadline());
          if (lease.ok()) Save(*writer, *lease, 3).IgnoreError();
          absl::SleepFor(absl::Milliseconds(40));
          return calls.load() > 0;
        },
        absl::Seconds(10));
  };
  ASSERT_TRUE(heard());
  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_TRUE(heard());
}

TEST_F(RedisStateStoreTest, PausedServerFailsEveryCallWithinItsDeadline) {
  auto store = MakeStore(OptionsFor(*server_));
  const Lease lease = Acquire(*store, "pod-a");  // connected and scripts known
  ASSERT_TRUE(Save(*store, lease, 3).ok());
  server_->Signal(SIGSTOP);
  const absl::Duration budget = absl::Milliseconds(300);
  const auto expect_bounded = [&](const std::string& call,
                                  const std::function<absl::Status()>& run) {
    const absl::Time start = absl::Now();
    const absl::Status s = run();
    const absl::Duration took = absl::Now() - start;
    EXPECT_THAT(s.code(), AnyOf(absl::StatusCode::kDeadlineExceeded,
                                absl::StatusCode::kUnavailable))
        << call << ": " << s;
    EXPECT_LT(took, budget + absl::Milliseconds(200)) << call;
    // Names the server, the command and the policy.
    EXPECT_THAT(std::string(s.message()), HasSubstr(server_->address()))
        << call;
    return std::string(s.message());
  };
  std::string m = expect_bounded("acquire", [&] {
    return store
        ->AcquireOrRenew(key_, "pod-a", absl::Seconds(30), Deadline(budget))
        .status();
  });
  EXPECT_THAT(m, HasSubstr("media/livekit-egress"));
  EXPECT_THAT(m, HasSubstr("EVALSHA"));
  m = expect_bounded("save", [&] {
    return store->Save(key_, SampleRecord(3, "pod-a", lease.epoch), lease,
                       absl::Seconds(30), Deadline(budget));
  });
  EXPECT_THAT(m, HasSubstr("media/livekit-egress"));
  m = expect_bounded("load", [&] {
    return store->Load({key_, PolicyKey{"media", "other"}}, Deadline(budget))
        .status();
  });
  EXPECT_THAT(m, HasSubstr("media/livekit-egress"));
  EXPECT_THAT(m, HasSubstr("GET"));
  expect_bounded("heartbeat", [&] {
    return store->Heartbeat("pod-a", absl::Seconds(30), Deadline(budget))
        .status();
  });
  expect_bounded("release",
                 [&] { return store->Release(key_, lease, Deadline(budget)); });

  server_->Signal(SIGCONT);
  EXPECT_TRUE(Eventually(
      [&] {
        auto got = store->Load({key_}, Deadline());
        return got.ok() && (*got)[0].has_value();
      },
      absl::Seconds(5)));
  EXPECT_TRUE(Save(*store, Acquire(*store, "pod-a"), 4).ok());
}

TEST_F(RedisStateStoreTest, CallsWaitingForTheConnectionKeepTheirDeadline) {
  auto store = MakeStore(OptionsFor(*server_));
  ASSERT_TRUE(store->Heartbeat("pod-a", absl::Seconds(30), Deadline()).ok());
  server_->Signal(SIGSTOP);
  std::thread slow([&] {
    store->Heartbeat("pod-a", absl::Seconds(30), Deadline(absl::Seconds(2)))
        .IgnoreError();
  });
  absl::SleepFor(absl::Milliseconds(50));  // the slow call has the connection
  const absl::Time start = absl::Now();
  auto fast = store->Load({key_}, Deadline(absl::Milliseconds(200)));
  const absl::Duration took = absl::Now() - start;
  server_->Signal(SIGCONT);
  slow.join();
  EXPECT_EQ(fast.status().code(), absl::StatusCode::kDeadlineExceeded)
      << fast.status();
  EXPECT_LT(took, absl::Milliseconds(400));
  EXPECT_THAT(std::string(fast.status().message()),
              HasSubstr("media/livekit-egress"));
}

TEST_F(RedisStateStoreTest, KilledServerIsUnavailableThenRecovers) {
  RedisStateStoreOptions options = OptionsFor(*server_);
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(100);
  auto store = MakeStore(options);
  ASSERT_TRUE(Save(*store, Acquire(*store, "pod-a"), 3).ok());
  server_->Kill();
  auto lost = store->Load({key_}, Deadline());
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable)
      << lost.status();
  ASSERT_TRUE(server_->Restart().ok());
  // The new server knows neither the record nor the scripts (NOSCRIPT).
  EXPECT_TRUE(Eventually(
      [&] {
        return store
            ->AcquireOrRenew(key_, "pod-a", absl::Seconds(30), Deadline())
            .ok();
      },
      absl::Seconds(5)));
  const Lease lease = Acquire(*store, "pod-a");
  EXPECT_EQ(lease.epoch, 1u) << "a fresh server";
  EXPECT_TRUE(Save(*store, lease, 5).ok());
}

TEST_F(RedisStateStoreTest, FlushedScriptCacheIsRefilled) {
  auto store = MakeStore(OptionsFor(*server_));
  const Lease lease = Acquire(*store, "pod-a");
  TestRedisClient(server_->port()).Run({"SCRIPT", "FLUSH"});
  EXPECT_TRUE(Save(*store, lease, 5).ok());
  EXPECT_EQ(Acquire(*store, "pod-a").epoch, lease.epoch);
  EXPECT_TRUE(store->Heartbeat("pod-a", absl::Seconds(1), Deadline()).ok());
  EXPECT_TRUE(store->Release(key_, lease, Deadline()).ok());
}

TEST_F(RedisStateStoreTest, AuthenticatesWithThePasswordFile) {
  const std::string password = "s3cret-pa55word";
  StartServer({"--requirepass", password});
  RedisStateStoreOptions options = OptionsFor(*server_);
  options.password_file = WriteTempFile("password", password + "\n");
  auto store = MakeStore(options);
  ASSERT_TRUE(Save(*store, Acquire(*store, "pod-a"), 5).ok());
  auto got = store->Load({key_}, Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE((*got)[0].has_value());
}

TEST_F(RedisStateStoreTest, WrongPasswordIsUnauthenticatedWithoutTheSecret) {
  StartServer({"--requirepass", "right-password"});
  RedisStateStoreOptions options = OptionsFor(*server_);
  options.password_file = WriteTempFile("password", "wrong-password-123");
  auto store = MakeStore(options);
  auto lease =
      store->AcquireOrRenew(key_, "pod-a", absl::Seconds(1), Deadline());
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnauthenticated)
      << lease.status();
  EXPECT_THAT(std::string(lease.status().message()),
              Not(HasSubstr("wrong-password-123")));
  EXPECT_THAT(std::string(lease.status().message()),
              Not(HasSubstr("right-password")));
  EXPECT_THAT(std::string(lease.status().message()),
              HasSubstr("media/livekit-egress"));

  options.password_file.clear();  // none at all: NOAUTH
  auto none = MakeStore(options)->Load({key_}, Deadline());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated)
      << none.status();
}

TEST_F(RedisStateStoreTest, KeysUseThePrefixAndOneHashTagPerPolicy) {
  RedisStateStoreOptions options = OptionsFor(*server_);
  options.key_prefix = "team-a";
  options.database = 3;
  auto store = MakeStore(options);
  ASSERT_TRUE(Save(*store, Acquire(*store, "pod-a"), 5).ok());
  ASSERT_TRUE(store->Heartbeat("pod-a", absl::Seconds(5), Deadline()).ok());
  TestRedisClient client(server_->port());
  EXPECT_EQ(client.Run({"DBSIZE"}), "0") << "database 0 untouched";
  client.Run({"SELECT", "3"});
  std::vector<std::string> keys = absl::StrSplit(
      client.Run({"KEYS", "*"}), absl::ByAnyChar("[],"), absl::SkipEmpty());
  std::sort(keys.begin(), keys.end());
  EXPECT_THAT(keys, ElementsAre("team-a:replicas",
                                "team-a:{media/livekit-egress}:epoch",
                                "team-a:{media/livekit-egress}:lease",
                                "team-a:{media/livekit-egress}:state"));
  EXPECT_EQ(client.Run({"GET", "team-a:{media/livekit-egress}:lease"}),
            "1 pod-a");
  const RedisStateKeys names = RedisKeysOf("team-a", key_);
  EXPECT_EQ(names.state, "team-a:{media/livekit-egress}:state");
  EXPECT_EQ(RedisSavedChannel("team-a"), "team-a:saved");
}

TEST_F(RedisStateStoreTest, UnreadableRecordsLoadAsNulloptBesideGoodOnes) {
  auto store = MakeStore(OptionsFor(*server_));
  ASSERT_TRUE(Save(*store, Acquire(*store, "pod-a"), 5).ok());
  const PolicyKey garbage{"media", "garbage"}, list{"media", "list"};
  TestRedisClient client(server_->port());
  client.Run({"SET", RedisKeysOf("signalscaler", garbage).state, "garbage"});
  client.Run({"RPUSH", RedisKeysOf("signalscaler", list).state, "x"});
  for (int i = 0; i < 2; ++i) {  // the second time only logs nothing
    auto got = store->Load({garbage, key_, list}, Deadline());
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 3u);
    EXPECT_FALSE((*got)[0].has_value());
    ASSERT_TRUE((*got)[1].has_value());
    EXPECT_EQ((*got)[1]->decision->replicas, 5);
    EXPECT_FALSE((*got)[2].has_value());
  }
}

TEST_F(RedisStateStoreTest, LoadsManyPoliciesInOneCall) {
  auto store = MakeStore(OptionsFor(*server_));
  std::vector<PolicyKey> keys;
  for (int i = 0; i < 600; ++i) {
    keys.push_back(PolicyKey{"bulk", absl::StrCat("p", i)});
  }
  for (int i = 0; i < 600; i += 7) {
    auto lease =
        store->AcquireOrRenew(keys[i], "pod-a", absl::Seconds(30), Deadline());
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE(store
                    ->Save(keys[i], SampleRecord(i, "pod-a", lease->epoch),
                           *lease, absl::Seconds(30), Deadline())
                    .ok());
  }
  auto got = store->Load(keys, Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), keys.size());
  for (int i = 0; i < 600; ++i) {
    ASSERT_EQ((*got)[i].has_value(), i % 7 == 0) << i;
    if (i % 7 == 0) {
      EXPECT_EQ((*got)[i]->decision->replicas, i);
    }
  }
}

TEST_F(RedisStateStoreTest, UpkeepsThousandsOfLeasesInOneCall) {
  auto store = MakeStore(OptionsFor(*server_));
  auto other = MakeStore(OptionsFor(*server_));
  std::vector<PolicyKey> keys;
  std::vector<LeaseRequest> requests;
  for (int i = 0; i < 2500; ++i) {  // three pipelined round trips
    keys.push_back(PolicyKey{"bulk", absl::StrCat("p", i)});
    requests.push_back(LeaseRequest{keys.back(), std::nullopt});
  }
  for (int i = 0; i < 2500; i += 100) {
    ASSERT_TRUE(
        other->AcquireOrRenew(keys[i], "pod-b", absl::Seconds(30), Deadline())
            .ok());
  }
  auto got =
      store->UpkeepLeases(requests, "pod-a", absl::Seconds(30), Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), keys.size());
  for (int i = 0; i < 2500; ++i) {
    ASSERT_TRUE((*got)[i].status.ok()) << i << ": " << (*got)[i].status;
    EXPECT_EQ((*got)[i].lease.holder, i % 100 == 0 ? "pod-b" : "pod-a") << i;
  }
  // Renewed, and released for those given back.
  for (int i = 0; i < 2500; ++i) {
    if (i % 2 == 1) requests[i].release = (*got)[i].lease;
  }
  auto again =
      store->UpkeepLeases(requests, "pod-a", absl::Seconds(30), Deadline());
  ASSERT_TRUE(again.ok()) << again.status();
  for (int i = 0; i < 2500; i += 2) {
    EXPECT_EQ((*again)[i].lease.epoch, (*got)[i].lease.epoch) << i;
  }
  TestRedisClient client(server_->port());
  EXPECT_EQ(client.Run({"GET", RedisKeysOf("signalscaler", keys[1]).lease}),
            "(nil)");
  EXPECT_EQ(client.Run({"GET", RedisKeysOf("signalscaler", keys[2]).lease}),
            "1 pod-a");
}

TEST_F(RedisStateStoreTest, SavesManyPoliciesInOneCall) {
  auto store = MakeStore(OptionsFor(*server_));
  std::vector<PolicyKey> keys;
  std::vector<LeaseRequest> requests;
  for (int i = 0; i < 1200; ++i) {
    keys.push_back(PolicyKey{"bulk", absl::StrCat("p", i)});
    requests.push_back(LeaseRequest{keys.back(), std::nullopt});
  }
  auto leases =
      store->UpkeepLeases(requests, "pod-a", absl::Seconds(30), Deadline());
  ASSERT_TRUE(leases.ok()) << leases.status();
  std::vector<PolicyRecord> records;
  for (int i = 0; i < 1200; ++i) {
    records.push_back(SampleRecord(i, "pod-a", (*leases)[i].lease.epoch));
  }
  std::vector<SaveRequest> saves;
  for (int i = 0; i < 1200; ++i) {
    Lease lease = (*leases)[i].lease;
    if (i == 7) lease.epoch += 1;  // not the lease in force
    saves.push_back(SaveRequest{keys[i], &records[i], lease});
  }
  auto saved = store->SaveMany(saves, absl::Seconds(30), Deadline());
  ASSERT_TRUE(saved.ok()) << saved.status();
  for (int i = 0; i < 1200; ++i) {
    if (i == 7) {
      EXPECT_EQ((*saved)[i].code(), absl::StatusCode::kFailedPrecondition)
          << (*saved)[i];
    } else {
      ASSERT_TRUE((*saved)[i].ok()) << i << ": " << (*saved)[i];
    }
  }
  auto back = store->Load(keys, Deadline());
  ASSERT_TRUE(back.ok()) << back.status();
  for (int i = 0; i < 1200; ++i) {
    ASSERT_EQ((*back)[i].has_value(), i != 7) << i;
    if (i != 7) {
      EXPECT_EQ((*back)[i]->decision->replicas, i);
    }
  }
}

TEST_F(RedisStateStoreTest, OnePolicysErrorInABatchIsItsOwn) {
  auto store = MakeStore(OptionsFor(*server_));
  const PolicyKey bad{"media", "bad"};
  TestRedisClient client(server_->port());
  client.Run({"RPUSH", RedisKeysOf("signalscaler", bad).lease, "x"});
  auto got = store->UpkeepLeases(
      {LeaseRequest{key_, std::nullopt}, LeaseRequest{bad, std::nullopt}},
      "pod-a", absl::Seconds(30), Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE((*got)[0].status.ok()) << (*got)[0].status;
  EXPECT_EQ((*got)[0].lease.holder, "pod-a");
  EXPECT_FALSE((*got)[1].status.ok());
  EXPECT_THAT(std::string((*got)[1].status.message()), HasSubstr("media/bad"));
}

TEST_F(RedisStateStoreTest, FlushedScriptCacheIsRefilledInABatch) {
  auto store = MakeStore(OptionsFor(*server_));
  const Lease lease = Acquire(*store, "pod-a");
  const PolicyRecord record = SampleRecord(5, "pod-a", lease.epoch);
  TestRedisClient(server_->port()).Run({"SCRIPT", "FLUSH"});
  auto saved = store->SaveMany({SaveRequest{key_, &record, lease}},
                               absl::Seconds(30), Deadline());
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_TRUE((*saved)[0].ok()) << (*saved)[0];
  TestRedisClient(server_->port()).Run({"SCRIPT", "FLUSH"});
  auto kept = store->UpkeepLeases(
      {LeaseRequest{key_, std::nullopt}, LeaseRequest{key_, lease}}, "pod-a",
      absl::Seconds(30), Deadline());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ((*kept)[0].lease.epoch, lease.epoch);
  EXPECT_TRUE((*kept)[1].status.ok()) << (*kept)[1].status;
  EXPECT_EQ(Acquire(*store, "pod-b").holder, "pod-b") << "released";
}

TEST_F(RedisStateStoreTest, PausedServerFailsBatchesWithinTheirDeadline) {
  auto store = MakeStore(OptionsFor(*server_));
  const Lease lease = Acquire(*store, "pod-a");
  const PolicyRecord record = SampleRecord(3, "pod-a", lease.epoch);
  const auto serves = std::make_shared<const std::string>("media/x\n");
  ASSERT_TRUE(
      store->Announce("pod-a", serves, absl::Seconds(30), Deadline()).ok());
  server_->Signal(SIGSTOP);
  const absl::Duration budget = absl::Milliseconds(300);
  const auto expect_bounded = [&](const std::string& call,
                                  const std::function<absl::Status()>& run) {
    const absl::Time start = absl::Now();
    const absl::Status s = run();
    EXPECT_THAT(s.code(), AnyOf(absl::StatusCode::kDeadlineExceeded,
                                absl::StatusCode::kUnavailable))
        << call << ": " << s;
    EXPECT_LT(absl::Now() - start, budget + absl::Milliseconds(200)) << call;
    EXPECT_THAT(std::string(s.message()), HasSubstr(server_->address()))
        << call;
  };
  expect_bounded("upkeep", [&] {
    return store
        ->UpkeepLeases({LeaseRequest{key_, std::nullopt}}, "pod-a",
                       absl::Seconds(30), Deadline(budget))
        .status();
  });
  expect_bounded("save", [&] {
    return store
        ->SaveMany({SaveRequest{key_, &record, lease}}, absl::Seconds(30),
                   Deadline(budget))
        .status();
  });
  expect_bounded("announce", [&] {
    return store->Announce("pod-a", serves, absl::Seconds(30), Deadline(budget))
        .status();
  });
  server_->Signal(SIGCONT);
  EXPECT_TRUE(Eventually(
      [&] {
        auto got = store->UpkeepLeases({LeaseRequest{key_, std::nullopt}},
                                       "pod-a", absl::Seconds(30), Deadline());
        return got.ok() && (*got)[0].lease.epoch == lease.epoch;
      },
      absl::Seconds(5)));
}

TEST_F(RedisStateStoreTest, AnnouncementsKeepOneCopyPerDistinctSet) {
  auto a = MakeStore(OptionsFor(*server_));
  auto b = MakeStore(OptionsFor(*server_));
  auto c = MakeStore(OptionsFor(*server_));
  const auto all = std::make_shared<const std::string>("ns/p1\nns/p2\n");
  const auto some = std::make_shared<const std::string>("ns/p1\n");
  ASSERT_TRUE(a->Announce("pod-a", all, absl::Seconds(30), Deadline()).ok());
  ASSERT_TRUE(b->Announce("pod-b", std::make_shared<const std::string>(*all),
                          absl::Seconds(1), Deadline())
                  .ok());
  auto seen = c->Announce("pod-c", some, absl::Seconds(30), Deadline());
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->size(), 3u);
  ASSERT_NE((*seen)[0].serves, nullptr);
  EXPECT_EQ(*(*seen)[0].serves, *all);
  EXPECT_EQ((*seen)[0].serves, (*seen)[1].serves) << "one copy, read once";
  EXPECT_EQ(*(*seen)[2].serves, *some);
  TestRedisClient client(server_->port());
  std::vector<std::string> copies =
      absl::StrSplit(client.Run({"KEYS", "signalscaler:served:*"}),
                     absl::ByAnyChar("[],"), absl::SkipEmpty());
  EXPECT_EQ(copies.size(), 2u) << "two distinct sets";
  for (const std::string& key : copies) {
    EXPECT_GT(Pttl(client, key), 60'000) << key;
  }
  // pod-b's heartbeat expires: its announcement goes with it.
  absl::SleepFor(absl::Milliseconds(1100));
  auto later = c->Announce("pod-c", some, absl::Seconds(30), Deadline());
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_EQ(later->size(), 2u);
  EXPECT_EQ(client.Run({"HEXISTS", "signalscaler:served", "pod-b"}), "0");
  EXPECT_EQ(client.Run({"HEXISTS", "signalscaler:served", "pod-a"}), "1");
}

TEST(RedisStateStoreOptionsTest, UnusableOptionsAreInvalidArgument) {
  const std::vector<
      std::pair<std::function<void(RedisStateStoreOptions&)>, std::string>>
      cases = {
          {[](RedisStateStoreOptions& o) { o.host.clear(); }, "host"},
          {[](RedisStateStoreOptions& o) { o.port = 0; }, "port"},
          {[](RedisStateStoreOptions& o) { o.database = -1; }, "database"},
          {[](RedisStateStoreOptions& o) { o.key_prefix = "a{b"; }, "prefix"},
          {[](RedisStateStoreOptions& o) { o.key_prefix.clear(); }, "prefix"},
          {[](RedisStateStoreOptions& o) {
             o.connect_timeout = absl::ZeroDuration();
           },
           "connect timeout"},
      };
  for (const auto& [change, field] : cases) {
    RedisStateStoreOptions options;
    options.host = "127.0.0.1";
    change(options);
    auto store = MakeRedisStateStore(options, TestClock());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument)
        << field;
    EXPECT_THAT(std::string(store.status().message()), HasSubstr(field));
  }
}

TEST(RedisStateStoreOptionsTest, TtlsMustBePositive) {
  RedisStateStoreOptions options;
  options.host = "127.0.0.1";
  options.port = 1;  // never reached
  auto store = MakeStore(options);
  const PolicyKey key{"ns", "p"};
  EXPECT_EQ(store
                ->AcquireOrRenew(key, "pod-a", absl::ZeroDuration(),
                                 absl::Now() + absl::Seconds(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store
                ->AcquireOrRenew(key, "", absl::Seconds(1),
                                 absl::Now() + absl::Seconds(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store
                ->Heartbeat("pod-a", -absl::Seconds(1),
                            absl::Now() + absl::Seconds(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace signalscaler
