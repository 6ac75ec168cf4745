// The redis Source and the cluster client (sources/redis/client/
// redis_cluster.h) against a real three-master Redis Cluster, children of
// this test: a key in another node's slot, a pipeline across the nodes, a
// slot migrated under a reader (ASK, then MOVED, every read right), keyspace
// notifications that follow the key's node, and a redirect to a host the
// source may not reach.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "sources/redis/client/redis_cluster.h"
#include "sources/redis/client/redis_reply.h"
#include "sources/redis/redis_source.h"
#include "tests/redis_source/test_redis_cluster.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;
using testing::TestRedisCluster;

bool Eventually(const std::function<bool()>& done, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// "cmdstat_<command>:calls=N,..." of INFO commandstats: N.
int Calls(TestRedisCluster& cluster, int node, const std::string& command) {
  const std::string info = cluster.Run(node, {"INFO", "commandstats"});
  const std::string field = absl::StrCat("cmdstat_", command, ":calls=");
  const size_t at = info.find(field);
  if (at == std::string::npos) return 0;
  const size_t begin = at + field.size();
  int calls = 0;
  return absl::SimpleAtoi(info.substr(begin, info.find(',', begin) - begin),
                          &calls)
             ? calls
             : 0;
}

class RedisClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = TestRedisCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(cluster_, nullptr); }

  // A source reading `key` through node 0 (the seed).
  std::unique_ptr<Source> ListSource(const std::string& key,
                                     RedisSourceTuning tuning = {},
                                     bool notify = false) {
    v1::RedisSource spec;
    spec.set_address(cluster_->address(0));
    spec.set_list(key);
    spec.set_notify(notify);
    auto source = MakeRedisSource(spec, clock_, tuning);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  absl::StatusOr<Reading> Read(Source& source) {
    return source.Read(clock_.Now() + absl::Seconds(2));
  }

  static TestRedisCluster* cluster_;
  SystemClock clock_;
};

TestRedisCluster* RedisClusterTest::cluster_ = nullptr;

TEST_F(RedisClusterTest, SourceReadsKeysInOtherNodesSlots) {
  const std::string list = cluster_->KeyOn(1, "jobs:");
  for (int i = 0; i < 3; ++i) cluster_->Run(1, {"RPUSH", list, "job"});
  std::unique_ptr<Source> source = ListSource(list);
  ASSERT_NE(source, nullptr);
  for (int i = 0; i < 3; ++i) {  // the first read is redirected, not the rest
    absl::StatusOr<Reading> r = Read(*source);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, 3);
  }

  const std::string zset = cluster_->KeyOn(2, "delayed:");
  cluster_->Run(2, {"ZADD", zset, "1", "a", "2", "b"});
  v1::RedisSource spec;
  spec.set_address(cluster_->address(0));
  spec.set_sorted_set(zset);
  auto sorted = MakeRedisSource(spec, clock_);
  ASSERT_TRUE(sorted.ok());
  absl::StatusOr<Reading> r = Read(**sorted);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 2);

  const std::string stream = cluster_->KeyOn(2, "events:");
  cluster_->Run(2, {"XADD", stream, "*", "k", "v"});
  spec.clear_sorted_set();
  spec.set_stream(stream);
  auto streamed = MakeRedisSource(spec, clock_);
  ASSERT_TRUE(streamed.ok());
  r = Read(**streamed);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 1);

  // A missing key in another slot is 0; a wrong type names the key's type.
  std::unique_ptr<Source> missing = ListSource(cluster_->KeyOn(2, "none:"));
  r = Read(*missing);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  const std::string text = cluster_->KeyOn(1, "text:");
  cluster_->Run(1, {"SET", text, "x"});
  std::unique_ptr<Source> wrong = ListSource(text);
  r = Read(*wrong);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("holds a string"));
  EXPECT_THAT(r.status().message(), HasSubstr(cluster_->address(1)));
}

TEST_F(RedisClusterTest, ClientLearnsTheMapAndPipelinesAcrossNodes) {
  RedisClusterOptions options;
  options.connection.host = "127.0.0.1";
  options.connection.port = cluster_->port(0);
  RedisCluster redis(options, clock_);
  std::vector<RedisCommand> sets;
  std::vector<RedisCommand> gets;
  for (int i = 0; i < 30; ++i) {
    const std::string key = absl::StrCat("pipelined:", i);
    sets.push_back({{"SET", key, absl::StrCat("v", i)}, key});
    gets.push_back({{"GET", key}, key});
  }
  const absl::Time deadline = clock_.Now() + absl::Seconds(5);
  for (const auto& r : redis.Pipeline(sets, deadline)) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(ReplyText(**r), "OK");
  }
  EXPECT_TRUE(redis.cluster_mode());
  std::vector<absl::StatusOr<RedisReplyPtr>> values =
      redis.Pipeline(gets, deadline);
  ASSERT_EQ(values.size(), gets.size());
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(values[i].ok()) << values[i].status();
    EXPECT_EQ(ReplyText(**values[i]), absl::StrCat("v", i));
    // The map was loaded: every key is routed to its node.
    EXPECT_EQ(redis.NodeFor(gets[i].key),
              cluster_->address(cluster_->NodeOf(gets[i].key)))
        << gets[i].key;
  }
  // The whole map, not only the slots a MOVED named: keys never sent are
  // routed to their nodes too.
  for (int node = 0; node < cluster_->size(); ++node) {
    const std::string untouched = cluster_->KeyOn(node, "untouched:");
    EXPECT_EQ(redis.NodeFor(untouched), cluster_->address(node)) << untouched;
  }
}

TEST_F(RedisClusterTest, ReadsStayRightWhileASlotMigrates) {
  const std::string key = cluster_->KeyOn(1, "migrating:");
  const int slot = cluster_->SlotOf(key);
  for (int i = 0; i < 5; ++i) cluster_->Run(1, {"RPUSH", key, "job"});
  std::unique_ptr<Source> source = ListSource(key);
  ASSERT_NE(source, nullptr);
  absl::StatusOr<Reading> first = Read(*source);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->value, 5);

  // One reader all along: every read answers 5, then 6 once the push below
  // is done, never an error, never back.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  absl::Mutex mu;
  std::vector<std::string> answers;  // values, or errors
  std::thread reader([&] {
    while (!stop) {
      absl::StatusOr<Reading> r = Read(*source);
      {
        absl::MutexLock lock(&mu);
        answers.push_back(r.ok() ? absl::StrCat(r->value)
                                 : r.status().ToString());
      }
      ++reads;
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  const auto some_reads = [&] {
    const int before = reads;
    EXPECT_TRUE(
        Eventually([&] { return reads >= before + 20; }, absl::Seconds(5)));
  };
  some_reads();
  ASSERT_TRUE(cluster_->BeginMigration(slot, 1, 2).ok());
  some_reads();  // node 1 still has the key: it answers
  const int asking_before = Calls(*cluster_, 2, "asking");
  ASSERT_TRUE(cluster_->MoveKeys(slot, 1, 2).ok());
  some_reads();  // node 1 answers ASK: ASKING, then node 2 answers
  EXPECT_GT(Calls(*cluster_, 2, "asking"), asking_before);
  // A producer that follows ASK too.
  EXPECT_EQ(cluster_->Run(2, {"RPUSH", key, "job"}, /*asking=*/true), "6");
  some_reads();
  ASSERT_TRUE(cluster_->EndMigration(slot, 2).ok());
  some_reads();  // MOVED once, then node 2 directly
  const int llen_on_1 = Calls(*cluster_, 1, "llen");
  some_reads();
  EXPECT_EQ(Calls(*cluster_, 1, "llen"), llen_on_1);  // no longer asked
  stop = true;
  reader.join();
  absl::MutexLock lock(&mu);
  std::string before = "5";
  for (const std::string& answer : answers) {
    EXPECT_TRUE(answer == before || (before == "5" && answer == "6"))
        << "read " << answer << " after " << before;
    before = answer;
  }
  EXPECT_EQ(before, "6");
  EXPECT_EQ(cluster_->NodeOf(key), 2);
}

TEST_F(RedisClusterTest, NotificationsFollowTheKeysNode) {
  const std::string key = cluster_->KeyOn(1, "notified:");
  const int slot = cluster_->SlotOf(key);
  std::unique_ptr<Source> source = ListSource(key, {}, /*notify=*/true);
  ASSERT_NE(source, nullptr);
  auto changes = std::make_shared<std::atomic<int>>(0);
  // Subscribed on the seed: it does not know yet where the key is.
  ASSERT_TRUE(source->Subscribe([changes] { ++*changes; }).ok());
  // The first read is redirected to node 1: the notifier moves there, and
  // says so once it is subscribed (events may have been missed).
  ASSERT_TRUE(Read(*source).ok());
  ASSERT_TRUE(Eventually([&] { return *changes >= 1; }, absl::Seconds(3)));
  const auto push_seen = [&](int node) {
    const int before = *changes;
    return Eventually(
        [&] {
          cluster_->Run(node, {"RPUSH", key, "job"});
          return Eventually([&] { return *changes > before; },
                            absl::Milliseconds(200));
        },
        absl::Seconds(3));
  };
  EXPECT_TRUE(push_seen(1));
  EXPECT_THAT(cluster_->Run(1, {"CONFIG", "GET", "notify-keyspace-events"}),
              HasSubstr("K"));

  ASSERT_TRUE(cluster_->MigrateSlot(slot, 1, 2).ok());
  absl::SleepFor(absl::Milliseconds(200));  // the MIGRATE's own event
  const int before_move = *changes;
  absl::StatusOr<Reading> r = Read(*source);  // MOVED: the notifier moves
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(
      Eventually([&] { return *changes > before_move; }, absl::Seconds(3)));
  EXPECT_TRUE(push_seen(2));
  EXPECT_THAT(cluster_->Run(2, {"CONFIG", "GET", "notify-keyspace-events"}),
              HasSubstr("K"));
}

TEST_F(RedisClusterTest, ARedirectToAHostNotAllowedIsRefused) {
  const std::string key = cluster_->KeyOn(1, "confined:");
  RedisSourceTuning tuning;
  tuning.allow_host = [](absl::string_view) { return false; };
  std::unique_ptr<Source> source = ListSource(key, tuning);
  ASSERT_NE(source, nullptr);
  absl::StatusOr<Reading> r = Read(*source);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(cluster_->address(1)));
  // The seed is always allowed: a key it serves reads.
  std::unique_ptr<Source> seeds =
      ListSource(cluster_->KeyOn(0, "seed:"), tuning);
  r = Read(*seeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
}

}  // namespace
}  // namespace signalscaler
