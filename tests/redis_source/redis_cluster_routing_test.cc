// The Redis Cluster layer without a cluster: the key slot against the
// specification's check value and a real server's CLUSTER KEYSLOT answers,
// MOVED/ASK parsing, the slot map, a CLUSTER SLOTS reply, and RedisCluster's
// redirects against fake servers (bounded, refused hosts, ASK, MOVED, and a
// plain server seeing exactly what a RedisConnection sends).
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "sources/redis/client/internal/key_slot.h"
#include "sources/redis/client/internal/slot_map.h"
#include "sources/redis/client/redis_cluster.h"
#include "sources/redis/client/redis_reply.h"
#include "tests/redis_source/fake_redis_server.h"

namespace signalscaler {
namespace {

using redis_internal::Crc16;
using redis_internal::HashedPart;
using redis_internal::KeySlot;
using redis_internal::ParseClusterSlots;
using redis_internal::ParseRedirect;
using redis_internal::RedisNode;
using redis_internal::SlotMap;
using redis_internal::SlotRange;
using testing::FakeRedisServer;
using ::testing::HasSubstr;

TEST(KeySlotTest, Crc16IsXmodemWithTheSpecsCheckValue) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);  // the cluster spec's example
  EXPECT_EQ(Crc16(""), 0);
}

// `redis-cli CLUSTER KEYSLOT <key>` of redis-server 7.0.15.
TEST(KeySlotTest, MatchesWhatARealServerAnswers) {
  const std::vector<std::pair<std::string, int>> known = {
      {"123456789", 12739},
      {"foo", 12182},
      {"bar", 5061},
      {"jobs", 9631},
      {"{user1000}.following", 3443},
      {"{user1000}.followers", 3443},
      {"foo{}{bar}", 8363},     // an empty first tag: the whole key
      {"foo{{bar}}zap", 4015},  // the tag is "{bar"
      {"foo{bar}{zap}", 5061},  // the first tag: "bar"
      {"{}foo", 9500},
      {"a{b", 13340},  // no closing brace: the whole key
      {"", 0},
      {"signalscaler:{ns/name}:state", 12549},
      {"signalscaler:replicas", 2420},
      {"signalscaler:saved", 10119},
      {"{", 4092},
      {"}", 12090},
      {"{a}", 15495},
      {"a", 15495},
      {"hello world", 15332},
      {"queue:1", 657},
      {"queue:2", 13042},
      {"queue:3", 8915},
  };
  for (const auto& [key, slot] : known) {
    EXPECT_EQ(KeySlot(key), slot) << key;
  }
}

TEST(KeySlotTest, HashedPartIsTheFirstNonEmptyTag) {
  EXPECT_EQ(HashedPart("signalscaler:{ns/name}:lease"), "ns/name");
  EXPECT_EQ(HashedPart("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(HashedPart("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(HashedPart("plain"), "plain");
}

TEST(ParseRedirectTest, MovedAndAsk) {
  auto moved = ParseRedirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node.Address(), "127.0.0.1:6381");
  auto ask = ParseRedirect("ASK 12182 10.0.0.7:7000");
  ASSERT_TRUE(ask.has_value());
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->node.host, "10.0.0.7");
  EXPECT_EQ(ask->node.port, 7000);
  // IPv6 without brackets, and an unknown endpoint (the same host).
  auto v6 = ParseRedirect("MOVED 1 ::1:7001");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->node.host, "::1");
  auto same = ParseRedirect("MOVED 2 :7002");
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->node.host, "");
  EXPECT_EQ(same->node.port, 7002);
}

TEST(ParseRedirectTest, AnythingElseIsNotARedirect) {
  for (const char* text :
       {"ERR wrong", "MOVED", "MOVED 3999", "MOVED x 1.2.3.4:5",
        "MOVED 16384 1.2.3.4:5", "MOVED -1 1.2.3.4:5", "MOVED 1 1.2.3.4",
        "MOVED 1 1.2.3.4:0", "MOVED 1 1.2.3.4:70000", "ASK 1 a b:5",
        "moved 1 1.2.3.4:5", "CLUSTERDOWN The cluster is down"}) {
    EXPECT_FALSE(ParseRedirect(text).has_value()) << text;
  }
}

RedisNode Node(const std::string& host, int port) { return {host, port}; }

TEST(SlotMapTest, RangesAndSingleSlots) {
  SlotMap map;
  EXPECT_EQ(map.NodeOf(0), nullptr);
  map.Replace({{0, 5460, Node("a", 1)},
               {5461, 10922, Node("b", 2)},
               {10923, 16383, Node("c", 3)}});
  ASSERT_NE(map.NodeOf(0), nullptr);
  EXPECT_EQ(map.NodeOf(0)->host, "a");
  EXPECT_EQ(map.NodeOf(5460)->host, "a");
  EXPECT_EQ(map.NodeOf(5461)->host, "b");
  EXPECT_EQ(map.NodeOf(16383)->host, "c");
  EXPECT_EQ(map.nodes().size(), 3u);
  // A MOVED splits a range in three.
  map.Set(9631, Node("c", 3));
  EXPECT_EQ(map.NodeOf(9630)->host, "b");
  EXPECT_EQ(map.NodeOf(9631)->host, "c");
  EXPECT_EQ(map.NodeOf(9632)->host, "b");
  EXPECT_EQ(map.range_count(), 5u);
  // At a range's edge, and to a new node.
  map.Set(0, Node("d", 4));
  EXPECT_EQ(map.NodeOf(0)->host, "d");
  EXPECT_EQ(map.NodeOf(1)->host, "a");
  EXPECT_EQ(map.nodes().size(), 4u);
  // Once no slot is served by a node, it is forgotten.
  map.Set(0, Node("a", 1));
  EXPECT_EQ(map.nodes().size(), 3u);
}

TEST(SlotMapTest, GapsAndOverlaps) {
  SlotMap map;
  map.Replace({{100, 200, Node("b", 2)}, {0, 150, Node("a", 1)}});
  EXPECT_EQ(map.NodeOf(99)->host, "a");
  EXPECT_EQ(map.NodeOf(150)->host, "a");  // the earlier range keeps it
  EXPECT_EQ(map.NodeOf(151)->host, "b");
  EXPECT_EQ(map.NodeOf(201), nullptr);
  map.Set(300, Node("c", 3));  // a slot in a gap
  EXPECT_EQ(map.NodeOf(300)->host, "c");
  EXPECT_EQ(map.NodeOf(299), nullptr);
  EXPECT_EQ(map.NodeOf(301), nullptr);
  map.Set(16384, Node("x", 9));  // out of range: ignored
  map.Set(-1, Node("x", 9));
  EXPECT_EQ(map.nodes().size(), 3u);
}

// A reply as hiredis reads it from RESP bytes.
RedisReplyPtr ReplyOf(const std::string& resp) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, resp.data(), resp.size());
  void* reply = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK);
  redisReaderFree(reader);
  return RedisReplyPtr(static_cast<redisReply*>(reply));
}

std::string SlotEntry(int first, int last, const std::string& host, int port) {
  return absl::StrCat("*4\r\n:", first, "\r\n:", last, "\r\n*3\r\n$",
                      host.size(), "\r\n", host, "\r\n:", port,
                      "\r\n$2\r\nid\r\n*2\r\n$4\r\nrepl\r\n:9\r\n");
}

TEST(ParseClusterSlotsTest, MastersOfEveryRange) {
  RedisReplyPtr reply = ReplyOf(absl::StrCat(
      "*3\r\n", SlotEntry(0, 5460, "10.0.0.1", 7000),
      SlotEntry(5461, 10922, "", 7001), SlotEntry(10923, 16383, "?", 7002)));
  ASSERT_NE(reply, nullptr);
  auto ranges = ParseClusterSlots(*reply, "10.0.0.9", "10.0.0.9:7001");
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  ASSERT_EQ(ranges->size(), 2u);  // "?": endpoint unknown, left out
  EXPECT_EQ((*ranges)[0].first, 0);
  EXPECT_EQ((*ranges)[0].last, 5460);
  EXPECT_EQ((*ranges)[0].node.Address(), "10.0.0.1:7000");
  EXPECT_EQ((*ranges)[1].node.Address(), "10.0.0.9:7001");  // "": the asked
}

TEST(ParseClusterSlotsTest, NotASlotsReplyIsInternal) {
  for (const std::string& resp :
       {std::string(":1\r\n"), std::string("*1\r\n:1\r\n"),
        absl::StrCat("*1\r\n", SlotEntry(5, 4, "a", 1)),
        absl::StrCat("*1\r\n", SlotEntry(0, 16384, "a", 1)),
        absl::StrCat("*1\r\n", SlotEntry(0, 1, "a", 0))}) {
    RedisReplyPtr reply = ReplyOf(resp);
    ASSERT_NE(reply, nullptr);
    auto ranges = ParseClusterSlots(*reply, "h", "h:1");
    EXPECT_EQ(ranges.status().code(), absl::StatusCode::kInternal) << resp;
    if (!ranges.ok()) {
      EXPECT_THAT(ranges.status().message(), HasSubstr("CLUSTER SLOTS"));
    }
  }
}

class RedisClusterRoutingTest : public ::testing::Test {
 protected:
  RedisClusterOptions Options(const FakeRedisServer& seed) const {
    RedisClusterOptions options;
    options.connection.host = "127.0.0.1";
    options.connection.port = seed.port();
    return options;
  }
  absl::Time Deadline() const { return clock_.Now() + absl::Seconds(2); }

  SystemClock clock_;
  FakeRedisServer a_;
  FakeRedisServer b_;
};

TEST_F(RedisClusterRoutingTest, APlainServerSeesOnlyTheCommand) {
  a_.AnswerWith(":6\r\n");
  RedisCluster redis(Options(a_), clock_);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<RedisReplyPtr> r =
        redis.Command({"LLEN", "jobs"}, Deadline(), "jobs");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)->integer, 6);
  }
  EXPECT_FALSE(redis.cluster_mode());
  EXPECT_EQ(redis.NodeFor("jobs"), a_.address());
  EXPECT_EQ(a_.stats().commands, 3);  // no INFO, no CLUSTER SLOTS
  EXPECT_EQ(a_.stats().connections, 1);
  EXPECT_EQ(a_.stats().last_command, "LLEN jobs");
}

TEST_F(RedisClusterRoutingTest, MovedIsFollowedAndRemembered) {
  a_.AnswerWith(absl::StrCat("-MOVED 9631 127.0.0.1:", b_.port(), "\r\n"));
  b_.AnswerWith(":7\r\n");
  RedisCluster redis(Options(a_), clock_);
  absl::StatusOr<RedisReplyPtr> r =
      redis.Command({"LLEN", "jobs"}, Deadline(), "jobs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->integer, 7);
  EXPECT_TRUE(redis.cluster_mode());
  EXPECT_EQ(redis.NodeFor("jobs"), b_.address());
  EXPECT_EQ(redis.NodeOptionsFor("jobs").port, b_.port());
  EXPECT_EQ(a_.stats().commands, 1);
  // The next command goes to b at once (after b is asked for the map,
  // which it does not give: the MOVED's slot stays known).
  r = redis.Command({"LLEN", "jobs"}, Deadline(), "jobs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->integer, 7);
  EXPECT_EQ(b_.stats().last_command, "LLEN jobs");
  EXPECT_EQ(redis.NodeFor("jobs"), b_.address());
  // Another slot is still the seed's.
  EXPECT_EQ(redis.NodeFor("foo"), a_.address());
}

TEST_F(RedisClusterRoutingTest, AskIsForOneCommandAfterAsking) {
  a_.AnswerWith(absl::StrCat("-ASK 9631 127.0.0.1:", b_.port(), "\r\n"));
  b_.AnswerWith(":7\r\n");  // ASKING gets it too: any non-error is fine
  RedisCluster redis(Options(a_), clock_);
  absl::StatusOr<RedisReplyPtr> r =
      redis.Command({"LLEN", "jobs"}, Deadline(), "jobs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->integer, 7);
  EXPECT_EQ(b_.stats().commands, 2);
  EXPECT_EQ(b_.stats().last_command, "LLEN jobs");
  EXPECT_EQ(redis.NodeFor("jobs"), a_.address());  // the map is unchanged
}

TEST_F(RedisClusterRoutingTest, RedirectsAreBoundedAndNamed) {
  a_.AnswerWith(absl::StrCat("-MOVED 9631 127.0.0.1:", b_.port(), "\r\n"));
  b_.AnswerWith(absl::StrCat("-MOVED 9631 127.0.0.1:", a_.port(), "\r\n"));
  RedisClusterOptions options = Options(a_);
  options.max_redirects = 5;
  RedisCluster redis(options, clock_);
  absl::StatusOr<RedisReplyPtr> r =
      redis.Command({"LLEN", "jobs"}, Deadline(), "jobs");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("LLEN \"jobs\""));
  EXPECT_THAT(r.status().message(), HasSubstr("after 5 redirects"));
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat(a_.address(), " -> ", b_.address())));
  EXPECT_EQ(a_.stats().commands + b_.stats().commands, 6);
}

TEST_F(RedisClusterRoutingTest, ARedirectToARefusedHostIsNotFollowed) {
  a_.AnswerWith("-MOVED 9631 10.1.2.3:6379\r\n");
  RedisClusterOptions options = Options(a_);
  options.allow_host = [](absl::string_view host) {
    return host == "127.0.0.1";
  };
  RedisCluster redis(options, clock_);
  absl::StatusOr<RedisReplyPtr> r =
      redis.Command({"LLEN", "jobs"}, Deadline(), "jobs");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("10.1.2.3:6379"));
  EXPECT_THAT(r.status().message(), HasSubstr("LLEN \"jobs\""));
}

TEST_F(RedisClusterRoutingTest, PipelineFollowsEachRedirect) {
  a_.AnswerWith(absl::StrCat("-MOVED 9631 127.0.0.1:", b_.port(), "\r\n"));
  b_.AnswerWith(":7\r\n");
  RedisCluster redis(Options(a_), clock_);
  std::vector<RedisCommand> commands = {{{"LLEN", "jobs"}, "jobs"},
                                        {{"LLEN", "foo"}, "foo"}};
  std::vector<absl::StatusOr<RedisReplyPtr>> replies =
      redis.Pipeline(commands, Deadline());
  ASSERT_EQ(replies.size(), 2u);
  for (const auto& r : replies) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)->integer, 7);
  }
  EXPECT_EQ(a_.stats().commands, 2);
  EXPECT_EQ(b_.stats().commands, 2);
  EXPECT_TRUE(redis.cluster_mode());
}

TEST_F(RedisClusterRoutingTest, OtherErrorRepliesAreReplies) {
  a_.AnswerWith("-WRONGTYPE Operation against a key\r\n");
  RedisCluster redis(Options(a_), clock_);
  absl::StatusOr<RedisReplyPtr> r =
      redis.Command({"LLEN", "jobs"}, Deadline(), "jobs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->type, REDIS_REPLY_ERROR);
  EXPECT_FALSE(redis.cluster_mode());
}

}  // namespace
}  // namespace signalscaler
