// The redis Source against a real redis-server (a child of this test):
// every measure, missing keys, wrong types, databases and passwords, and the
// bound on one reply (a real server's large replies: refused one by one,
// never a pipeline in total).
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "scaler/common/clock.h"
#include "sources/redis/client/redis_connection.h"
#include "sources/redis/redis_source.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestRedisClient;
using testing::TestRedisServer;

class RedisSourceIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestRedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<TestRedisClient>(server_->port());
  }

  v1::RedisSource Spec() const {
    v1::RedisSource spec;
    spec.set_address(server_->address());
    return spec;
  }

  absl::StatusOr<Reading> ReadOnce(const v1::RedisSource& spec) {
    auto source = MakeRedisSource(spec, clock_);
    if (!source.ok()) return source.status();
    return (*source)->Read(clock_.Now() + absl::Seconds(2));
  }

  double Value(const v1::RedisSource& spec) {
    absl::StatusOr<Reading> r = ReadOnce(spec);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->value : -1;
  }

  v1::RedisSource Group(const std::string& stream, const std::string& group,
                        v1::RedisSource::GroupMeasure measure) const {
    v1::RedisSource spec = Spec();
    spec.set_stream(stream);
    spec.set_group(group);
    spec.set_group_measure(measure);
    return spec;
  }

  SystemClock clock_;
  std::unique_ptr<TestRedisServer> server_;
  std::unique_ptr<TestRedisClient> client_;
};

TEST_F(RedisSourceIntegrationTest, ListLengthAfterRpush) {
  v1::RedisSource spec = Spec();
  spec.set_list("jobs");
  auto source = MakeRedisSource(spec, clock_);
  ASSERT_TRUE(source.ok());
  for (int i = 1; i <= 3; ++i) {
    client_->Run({"RPUSH", "jobs", absl::StrCat("job-", i)});
    absl::StatusOr<Reading> r =
        (*source)->Read(clock_.Now() + absl::Seconds(2));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, i);
    EXPECT_LE(absl::AbsDuration(r->sample_time - clock_.Now()),
              absl::Seconds(5));
  }
}

TEST_F(RedisSourceIntegrationTest, SortedSetSizeAfterZadd) {
  client_->Run({"ZADD", "delayed", "1", "a", "2", "b", "3", "c"});
  client_->Run({"ZADD", "delayed", "4", "a"});  // an update, not a member
  v1::RedisSource spec = Spec();
  spec.set_sorted_set("delayed");
  EXPECT_EQ(Value(spec), 3);
}

TEST_F(RedisSourceIntegrationTest, StreamLengthAfterXadd) {
  for (int i = 0; i < 4; ++i) client_->Run({"XADD", "events", "*", "n", "1"});
  v1::RedisSource spec = Spec();
  spec.set_stream("events");
  EXPECT_EQ(Value(spec), 4);
}

TEST_F(RedisSourceIntegrationTest, GroupPendingAndLag) {
  for (int i = 0; i < 5; ++i) client_->Run({"XADD", "tasks", "*", "n", "1"});
  EXPECT_EQ(client_->Run({"XGROUP", "CREATE", "tasks", "workers", "0"}), "OK");
  // Three delivered, none acknowledged: pending 3, lag 2.
  client_->Run({"XREADGROUP", "GROUP", "workers", "w1", "COUNT", "3", "STREAMS",
                "tasks", ">"});
  const v1::RedisSource pending =
      Group("tasks", "workers", v1::RedisSource::pending);
  const v1::RedisSource lag = Group("tasks", "workers", v1::RedisSource::lag);
  EXPECT_EQ(Value(pending), 3);
  EXPECT_EQ(Value(lag), 2);
  for (int i = 0; i < 4; ++i) client_->Run({"XADD", "tasks", "*", "n", "1"});
  EXPECT_EQ(Value(pending), 3);
  EXPECT_EQ(Value(lag), 6);
  // groupMeasure defaults to pending.
  EXPECT_EQ(Value(Group("tasks", "workers",
                        v1::RedisSource::GROUP_MEASURE_UNSPECIFIED)),
            3);
  client_->Run({"XACK", "tasks", "workers", "0-0"});  // acks nothing
  EXPECT_EQ(Value(pending), 3);
}

TEST_F(RedisSourceIntegrationTest, NilLagIsInvalidArgument) {
  // Deleting an entry the group has not read yet makes its lag unknown.
  client_->Run({"XADD", "tasks", "1-1", "n", "1"});
  client_->Run({"XADD", "tasks", "2-1", "n", "1"});
  client_->Run({"XADD", "tasks", "3-1", "n", "1"});
  client_->Run({"XGROUP", "CREATE", "tasks", "workers", "1-1"});
  client_->Run({"XDEL", "tasks", "2-1"});
  absl::StatusOr<Reading> r =
      ReadOnce(Group("tasks", "workers", v1::RedisSource::lag));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("unknown"));
}

TEST_F(RedisSourceIntegrationTest, MissingKeyIsZero) {
  v1::RedisSource list = Spec();
  list.set_list("nothing-here");
  v1::RedisSource zset = Spec();
  zset.set_sorted_set("nothing-here");
  v1::RedisSource stream = Spec();
  stream.set_stream("nothing-here");
  EXPECT_EQ(Value(list), 0);
  EXPECT_EQ(Value(zset), 0);
  EXPECT_EQ(Value(stream), 0);
  EXPECT_EQ(Value(Group("nothing-here", "g", v1::RedisSource::pending)), 0);
  EXPECT_EQ(Value(Group("nothing-here", "g", v1::RedisSource::lag)), 0);
}

TEST_F(RedisSourceIntegrationTest, MissingGroupIsNotFoundNamingIt) {
  client_->Run({"XADD", "tasks", "*", "n", "1"});
  for (auto measure : {v1::RedisSource::pending, v1::RedisSource::lag}) {
    absl::StatusOr<Reading> r = ReadOnce(Group("tasks", "nobody", measure));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
    EXPECT_THAT(r.status().message(),
                AllOf(HasSubstr("\"nobody\""), HasSubstr("\"tasks\"")));
  }
}

TEST_F(RedisSourceIntegrationTest, WrongTypeNamesKeyAndType) {
  client_->Run({"SET", "config", "x"});
  client_->Run({"RPUSH", "jobs", "a"});
  v1::RedisSource list = Spec();
  list.set_list("config");
  absl::StatusOr<Reading> r = ReadOnce(list);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      r.status().message(),
      AllOf(HasSubstr("\"config\""), HasSubstr("string"), HasSubstr("LLEN")));
  v1::RedisSource zset = Spec();
  zset.set_sorted_set("jobs");
  r = ReadOnce(zset);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              AllOf(HasSubstr("\"jobs\""), HasSubstr("holds a list")));
  for (auto measure : {v1::RedisSource::pending, v1::RedisSource::lag}) {
    r = ReadOnce(Group("jobs", "g", measure));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(),
                AllOf(HasSubstr("\"jobs\""), HasSubstr("holds a list")));
  }
}

TEST_F(RedisSourceIntegrationTest, ReadsTheConfiguredDatabase) {
  client_->Run({"SELECT", "2"});
  client_->Run({"RPUSH", "jobs", "a", "b"});
  v1::RedisSource spec = Spec();
  spec.set_list("jobs");
  EXPECT_EQ(Value(spec), 0);  // db 0
  spec.set_database(2);
  EXPECT_EQ(Value(spec), 2);
  spec.set_database(99);  // beyond the server's 16 databases
  EXPECT_EQ(ReadOnce(spec).status().code(), absl::StatusCode::kInternal);
}

TEST(RedisPasswordTest, PasswordFileRightAndWrong) {
  const std::string password = "s3cr3t-Pa55word";
  auto server = TestRedisServer::Start({"--requirepass", password});
  ASSERT_TRUE(server.ok()) << server.status();
  TestRedisClient client((*server)->port(), password);
  client.Run({"RPUSH", "jobs", "a", "b"});
  SystemClock clock;
  v1::RedisSource spec;
  spec.set_address((*server)->address());
  spec.set_list("jobs");
  spec.set_password_file(testing::WriteTempFile("password", password + "\n"));
  auto read = [&](const v1::RedisSource& s) {
    auto source = MakeRedisSource(s, clock);
    EXPECT_TRUE(source.ok());
    return (*source)->Read(clock.Now() + absl::Seconds(2));
  };
  absl::StatusOr<Reading> right = read(spec);
  ASSERT_TRUE(right.ok()) << right.status();
  EXPECT_EQ(right->value, 2);

  const std::string wrong = "not-the-Pa55word";
  spec.set_password_file(testing::WriteTempFile("password", wrong));
  absl::StatusOr<Reading> refused = read(spec);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.status().message(),
              AllOf(Not(HasSubstr(wrong)), Not(HasSubstr(password)),
                    HasSubstr("AUTH")));

  spec.clear_password_file();
  absl::StatusOr<Reading> none = read(spec);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none.status().message(),
              AllOf(Not(HasSubstr(password)), HasSubstr("passwordFile")));
}

TEST(RedisPasswordTest, RotatedPasswordIsReadOnReconnect) {
  auto server = TestRedisServer::Start({"--requirepass", "first-secret"});
  ASSERT_TRUE(server.ok()) << server.status();
  SystemClock clock;
  v1::RedisSource spec;
  spec.set_address((*server)->address());
  spec.set_list("jobs");
  const std::string file = testing::WriteTempFile("password", "first-secret");
  spec.set_password_file(file);
  auto source = MakeRedisSource(spec, clock);
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE((*source)->Read(clock.Now() + absl::Seconds(2)).ok());
  // Rotate: the server's password and the file change, connections drop.
  TestRedisClient admin((*server)->port(), "first-secret");
  admin.Run({"CONFIG", "SET", "requirepass", "second-secret"});
  std::ofstream(file) << "second-secret\n";
  admin.Run({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  absl::StatusOr<Reading> r = (*source)->Read(clock.Now() + absl::Seconds(2));
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(RedisSourceIntegrationTest, RepliesAreBoundedOneByOne) {
  RedisConnectionOptions options;
  options.host = "127.0.0.1";
  options.port = server_->port();
  RedisConnection connection(options, clock_);
  const absl::Time deadline = clock_.Now() + absl::Seconds(10);
  // An array of 5000 elements (about 0.3 MiB in memory) is under the bound.
  std::vector<std::string> rpush = {"RPUSH", "many"};
  for (int i = 0; i < 5000; ++i) rpush.push_back(absl::StrCat("item", i));
  ASSERT_TRUE(connection.Command(rpush, deadline, "many").ok());
  absl::StatusOr<RedisReplyPtr> range =
      connection.Command({"LRANGE", "many", "0", "-1"}, deadline, "many");
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ((*range)->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ((*range)->elements, 5000u);

  // A 2 MiB string is over it; the next command reads on a new connection.
  client_->Run({"SET", "big", std::string(2 << 20, 'x')});
  absl::StatusOr<RedisReplyPtr> big =
      connection.Command({"GET", "big"}, deadline, "big");
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted)
      << big.status();
  EXPECT_THAT(big.status().message(), HasSubstr("GET \"big\""));
  EXPECT_FALSE(connection.connected());
  absl::StatusOr<RedisReplyPtr> len =
      connection.Command({"LLEN", "many"}, deadline, "many");
  ASSERT_TRUE(len.ok()) << len.status();
  EXPECT_EQ((*len)->integer, 5000);

  // 3000 pipelined GETs of a 600-byte value: 1.8 MB of replies in all.
  client_->Run({"SET", "value", std::string(600, 'v')});
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(connection.Send({"GET", "value"}, deadline).ok());
  }
  int replies = 0;
  while (replies < 3000 && clock_.Now() < deadline) {
    absl::StatusOr<RedisReplyPtr> reply =
        connection.NextReply(absl::Milliseconds(100));
    ASSERT_TRUE(reply.ok()) << reply.status() << " after " << replies;
    if (*reply == nullptr) continue;
    ASSERT_EQ((*reply)->len, 600u);
    ++replies;
  }
  EXPECT_EQ(replies, 3000);
}

}  // namespace
}  // namespace signalscaler
