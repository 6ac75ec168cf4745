// Every reply the Redis client reads is bounded (issue 13 item 6): a server
// that answers with a huge bulk string, an array declaring or streaming too
// many elements, or a line that never ends gets RESOURCE_EXHAUSTED naming
// the command and the limit long before the reply is complete, the client
// stops reading and drops the connection (the fake server sees it closed),
// memory stays bounded, and the next call makes a new connection. Legal
// replies past the limit in total (a pipeline of many replies) still pass.
// The state store's connection has a bound of its own, sized for its
// records. Against FakeRedisServer on 127.0.0.1 (no redis-server).
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "scaler/common/clock.h"
#include "scaler/state/internal/shared_redis_connection.h"
#include "scaler/state/redis_state_store.h"
#include "sources/redis/client/redis_connection.h"
#include "sources/redis/redis_source.h"
#include "tests/redis_source/fake_redis_server.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using testing::FakeRedisServer;
using ::testing::HasSubstr;
using testing::PeakRssBytes;

constexpr size_t kMiB = size_t{1} << 20;

bool CutByClient(const FakeRedisServer::Stats& s) { return s.hostile_cut >= 1; }

class RedisReplyLimitTest : public ::testing::Test {
 protected:
  std::unique_ptr<Source> ListSource(const std::string& key) {
    v1::RedisSource spec;
    spec.set_address(fake_.address());
    spec.set_list(key);
    auto source = MakeRedisSource(spec, clock_);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  // Reads with a generous deadline: only the bound can end the read early.
  absl::StatusOr<Reading> Read(Source& source) {
    return source.Read(clock_.Now() + absl::Seconds(20));
  }

  SystemClock clock_;
  FakeRedisServer fake_;
};

TEST_F(RedisReplyLimitTest, HugeBulkStringFailsLongBeforeItsEndAndReconnects) {
  std::unique_ptr<Source> source = ListSource("jobs");
  ASSERT_NE(source, nullptr);
  fake_.AnswerWith(":6\r\n");
  absl::StatusOr<Reading> before = Read(*source);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->value, 6);

  const size_t peak_before = PeakRssBytes();
  // As the probe: LLEN answered with a 300 MB bulk string.
  fake_.AnswerHostile("$300000000\r\n", "x", 300000000, "\r\n");
  const absl::Time start = absl::Now();
  absl::StatusOr<Reading> huge = Read(*source);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted)
      << huge.status();
  EXPECT_THAT(huge.status().message(), HasSubstr("LLEN \"jobs\""));
  EXPECT_THAT(huge.status().message(), HasSubstr("1 MiB"));
  EXPECT_THAT(huge.status().message(), HasSubstr(fake_.address()));
  EXPECT_LT(took, absl::Seconds(5));

  // The client stopped reading and closed the connection: the server could
  // not send the rest (only what the sockets' buffers took past the limit).
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
  const FakeRedisServer::Stats stats = fake_.stats();
  EXPECT_EQ(stats.hostile_complete, 0);
  EXPECT_LT(stats.max_hostile_bytes_sent, 32 * kMiB);
  const size_t peak_after = PeakRssBytes();
  EXPECT_LT(peak_after - peak_before, 32 * kMiB)
      << "peak RSS " << peak_before << " -> " << peak_after;

  // The stream was in an unknown state: the next read is on a new
  // connection, and reads again.
  fake_.AnswerWith(":7\r\n");
  absl::StatusOr<Reading> after = Read(*source);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->value, 7);
  EXPECT_EQ(fake_.stats().connections, 2);
}

TEST_F(RedisReplyLimitTest, ArrayDeclaringTooManyElementsFailsAtOnce) {
  std::unique_ptr<Source> source = ListSource("jobs");
  ASSERT_NE(source, nullptr);
  // 2e9 elements: hiredis would allocate 16 GB of pointers for the header.
  fake_.AnswerHostile("*2000000000\r\n", ":1\r\n", 16 * kMiB);
  absl::StatusOr<Reading> r = Read(*source);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("LLEN \"jobs\""));
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
}

TEST_F(RedisReplyLimitTest, ArrayOfManySmallElementsFailsPastTheLimit) {
  std::unique_ptr<Source> source = ListSource("jobs");
  ASSERT_NE(source, nullptr);
  // Each element is 4 bytes on the wire but a whole reply object in memory.
  const size_t peak_before = PeakRssBytes();
  fake_.AnswerHostile("*100000000\r\n", ":1\r\n", 16 * kMiB);
  absl::StatusOr<Reading> r = Read(*source);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("1 MiB"));
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
  EXPECT_LT(PeakRssBytes() - peak_before, 32 * kMiB);
}

TEST_F(RedisReplyLimitTest, LongLineFailsPastTheLimit) {
  std::unique_ptr<Source> source = ListSource("jobs");
  ASSERT_NE(source, nullptr);
  fake_.AnswerHostile("+", "a", 16 * kMiB, "\r\n");  // a 16 MiB status
  absl::StatusOr<Reading> r = Read(*source);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("LLEN \"jobs\""));
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
}

TEST_F(RedisReplyLimitTest, BulkStringJustUnderTheLimitIsReadAndJudged) {
  std::unique_ptr<Source> source = ListSource("jobs");
  ASSERT_NE(source, nullptr);
  // Under the bound, a string is read whole and refused for what it is.
  const size_t len = 900 << 10;
  fake_.AnswerWith(
      absl::StrCat("$", len, "\r\n", std::string(len, 'x'), "\r\n"));
  absl::StatusOr<Reading> r = Read(*source);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("did not answer a count"));
  fake_.AnswerWith(":3\r\n");  // and the connection is still usable
  absl::StatusOr<Reading> next = Read(*source);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->value, 3);
  EXPECT_EQ(fake_.stats().connections, 1);
}

TEST_F(RedisReplyLimitTest, HugeReplyToAuthNamesAuthButNeverThePassword) {
  const std::string dir = ::testing::TempDir();
  const std::string password_file = dir + "/redis-reply-limit-password";
  {
    std::ofstream out(password_file);
    out << "s3cret-pw\n";
  }
  v1::RedisSource spec;
  spec.set_address(fake_.address());
  spec.set_list("jobs");
  spec.set_password_file(password_file);
  auto source = MakeRedisSource(spec, clock_);
  ASSERT_TRUE(source.ok()) << source.status();
  fake_.AnswerHostile("$300000000\r\n", "x", 300000000, "\r\n");
  absl::StatusOr<Reading> r = Read(**source);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("AUTH"));
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("s3cret-pw")));
  EXPECT_EQ(fake_.stats().last_command, "AUTH s3cret-pw");  // it was sent
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
}

RedisConnectionOptions OptionsFor(const FakeRedisServer& fake) {
  RedisConnectionOptions options;
  options.host = "127.0.0.1";
  options.port = fake.port();
  return options;
}

std::string Bulk(size_t len) {
  return absl::StrCat("$", len, "\r\n", std::string(len, 'x'), "\r\n");
}

TEST_F(RedisReplyLimitTest, TheBoundIsAnOptionNamedInTheError) {
  RedisConnectionOptions options = OptionsFor(fake_);
  options.max_reply_bytes = 4 << 10;
  RedisConnection connection(options, clock_);
  const absl::Time deadline = clock_.Now() + absl::Seconds(10);
  fake_.AnswerWith(Bulk(3000));  // 3000 bytes and a 48-byte object
  absl::StatusOr<RedisReplyPtr> under =
      connection.Command({"GET", "k"}, deadline, "k");
  ASSERT_TRUE(under.ok()) << under.status();
  EXPECT_EQ((*under)->len, 3000u);

  fake_.AnswerWith(Bulk(5000));
  absl::StatusOr<RedisReplyPtr> over =
      connection.Command({"GET", "k"}, deadline, "k");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(over.status().message(), HasSubstr("GET \"k\""));
  EXPECT_THAT(over.status().message(), HasSubstr("4 KiB (4096 bytes)"));
  EXPECT_FALSE(connection.connected());  // dropped, with no backoff
  EXPECT_LE(connection.retry_at(), clock_.Now());
}

TEST_F(RedisReplyLimitTest, PipelineOfManyRepliesIsBoundedOneByOne) {
  RedisConnectionOptions options = OptionsFor(fake_);
  options.max_reply_bytes = 4 << 10;
  RedisConnection connection(options, clock_);
  fake_.AnswerWith(Bulk(1000));
  // 2000 replies of ~1 KiB: 500 times the bound in total, and read in
  // chunks that hold many of them at once.
  constexpr int kCommands = 2000;
  const absl::Time deadline = clock_.Now() + absl::Seconds(20);
  for (int i = 0; i < kCommands; ++i) {
    ASSERT_TRUE(connection.Send({"GET", "k"}, deadline).ok());
  }
  int replies = 0;
  while (replies < kCommands && clock_.Now() < deadline) {
    absl::StatusOr<RedisReplyPtr> reply =
        connection.NextReply(absl::Milliseconds(100));
    ASSERT_TRUE(reply.ok()) << reply.status() << " after " << replies;
    if (*reply == nullptr) continue;
    ASSERT_EQ((*reply)->type, REDIS_REPLY_STRING);
    ASSERT_EQ((*reply)->len, 1000u);
    ++replies;
  }
  EXPECT_EQ(replies, kCommands);
  EXPECT_EQ(fake_.stats().commands, kCommands);
  EXPECT_EQ(fake_.stats().connections, 1);
}

TEST_F(RedisReplyLimitTest, NextReplyIsBoundedAndDropsTheConnection) {
  RedisConnection connection(OptionsFor(fake_), clock_);
  fake_.AnswerHostile("$300000000\r\n", "x", 300000000, "\r\n");
  ASSERT_TRUE(
      connection.Send({"SUBSCRIBE", "c"}, clock_.Now() + absl::Seconds(5))
          .ok());
  absl::Status status;
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (status.ok() && absl::Now() < end) {
    status = connection.NextReply(absl::Milliseconds(100)).status();
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("1 MiB"));
  EXPECT_FALSE(connection.connected());
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
  EXPECT_LT(fake_.stats().max_hostile_bytes_sent, 32 * kMiB);
}

TEST_F(RedisReplyLimitTest, StateStoreConnectionTakesWholeRecordsOnly) {
  state_internal::SharedRedisConnection shared(OptionsFor(fake_), clock_);
  const absl::Time deadline = clock_.Now() + absl::Seconds(20);
  // Over the source's bound, under the state store's: a large record.
  fake_.AnswerWith(Bulk(2 * kMiB));
  {
    absl::StatusOr<state_internal::SharedRedisConnection::Turn> turn =
        shared.Take(deadline, "test");
    ASSERT_TRUE(turn.ok());
    absl::StatusOr<RedisReplyPtr> reply =
        turn->connection().Command({"GET", "s"}, deadline, "s");
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ((*reply)->len, 2 * kMiB);
  }
  fake_.AnswerHostile("$300000000\r\n", "x", 300000000, "\r\n");
  absl::StatusOr<state_internal::SharedRedisConnection::Turn> turn =
      shared.Take(deadline, "test");
  ASSERT_TRUE(turn.ok());
  absl::StatusOr<RedisReplyPtr> huge =
      turn->connection().Command({"GET", "s"}, deadline, "s");
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted)
      << huge.status();
  EXPECT_THAT(huge.status().message(),
              HasSubstr(absl::StrCat(state_internal::kMaxStateReplyBytes)));
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
  EXPECT_LT(fake_.stats().max_hostile_bytes_sent, 64 * kMiB);
}

TEST_F(RedisReplyLimitTest, StateStoreLoadOfAHugeReplyFailsNamingThePolicy) {
  RedisStateStoreOptions options;
  options.host = "127.0.0.1";
  options.port = fake_.port();
  absl::StatusOr<std::unique_ptr<StateStore>> store =
      MakeRedisStateStore(options, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  fake_.AnswerHostile("$300000000\r\n", "x", 300000000, "\r\n");
  const std::vector<PolicyKey> keys = {{"team", "worker"}};
  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> loaded =
      (*store)->Load(keys, clock_.Now() + absl::Seconds(20));
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kResourceExhausted)
      << loaded.status();
  EXPECT_THAT(loaded.status().message(), HasSubstr("team/worker"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("GET"));
  EXPECT_TRUE(fake_.WaitFor(CutByClient, absl::Seconds(5)));
}

}  // namespace
}  // namespace signalscaler
