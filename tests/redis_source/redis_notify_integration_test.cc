// Keyspace notifications from a real redis-server: Subscribe() enables the
// events it needs, calls on_change promptly on a change, degrades with a
// clear status when CONFIG is refused, resubscribes after a restart, and
// stops promptly when the source is destroyed.
#include <atomic>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "sources/redis/redis_source.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;
using testing::TestRedisClient;
using testing::TestRedisServer;

bool Eventually(const std::function<bool()>& done, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

struct Subscribed {
  std::unique_ptr<Source> source;
  std::shared_ptr<std::atomic<int>> changes =
      std::make_shared<std::atomic<int>>(0);
  absl::Status status;
};

Subscribed Subscribe(const TestRedisServer& server, const Clock& clock,
                     int database = 0) {
  v1::RedisSource spec;
  spec.set_address(server.address());
  spec.set_database(database);
  spec.set_list("jobs");
  spec.set_notify(true);
  Subscribed s;
  auto source = MakeRedisSource(spec, clock);
  EXPECT_TRUE(source.ok());
  s.source = *std::move(source);
  s.status = s.source->Subscribe([changes = s.changes] { ++*changes; });
  return s;
}

TEST(RedisNotifyTest, RpushOntoEmptyListCallsOnChange) {
  auto server = TestRedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  SystemClock clock;
  Subscribed s = Subscribe(**server, clock);
  ASSERT_TRUE(s.status.ok()) << s.status;
  TestRedisClient client((*server)->port());
  const std::string flags =
      client.Run({"CONFIG", "GET", "notify-keyspace-events"});
  EXPECT_THAT(flags, HasSubstr("K"));
  EXPECT_THAT(flags, HasSubstr("l"));
  EXPECT_EQ(*s.changes, 0);
  client.Run({"RPUSH", "jobs", "a"});
  EXPECT_TRUE(Eventually([&] { return *s.changes >= 1; }, absl::Seconds(2)));
  // Another key makes no event for this one.
  const int before = *s.changes;
  client.Run({"RPUSH", "other", "a"});
  client.Run({"DEL", "jobs"});
  EXPECT_TRUE(
      Eventually([&] { return *s.changes >= before + 1; }, absl::Seconds(2)));
}

TEST(RedisNotifyTest, KeepsFlagsThatAlreadyCoverTheKey) {
  auto server = TestRedisServer::Start({"--notify-keyspace-events", "AKE"});
  ASSERT_TRUE(server.ok()) << server.status();
  SystemClock clock;
  Subscribed s = Subscribe(**server, clock);
  ASSERT_TRUE(s.status.ok()) << s.status;
  TestRedisClient client((*server)->port());
  EXPECT_EQ(client.Run({"CONFIG", "GET", "notify-keyspace-events"}),
            "[notify-keyspace-events,AKE]");
}

TEST(RedisNotifyTest, WatchesTheConfiguredDatabase) {
  auto server = TestRedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  SystemClock clock;
  Subscribed s = Subscribe(**server, clock, /*database=*/3);
  ASSERT_TRUE(s.status.ok()) << s.status;
  TestRedisClient client((*server)->port());
  client.Run({"RPUSH", "jobs", "db0"});  // db 0: not ours
  client.Run({"SELECT", "3"});
  client.Run({"RPUSH", "jobs", "db3"});
  EXPECT_TRUE(Eventually([&] { return *s.changes >= 1; }, absl::Seconds(2)));
  EXPECT_EQ(*s.changes, 1);
}

TEST(RedisNotifyTest, RefusedConfigDegradesWithAClearStatus) {
  // CONFIG renamed away, as managed Redis services do; the events were
  // configured on the server's command line instead.
  auto server = TestRedisServer::Start(
      {"--rename-command", "CONFIG", "", "--notify-keyspace-events", "Klgx"});
  ASSERT_TRUE(server.ok()) << server.status();
  SystemClock clock;
  Subscribed s = Subscribe(**server, clock);
  EXPECT_EQ(s.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status.message(), HasSubstr("CONFIG"));
  EXPECT_THAT(s.status.message(), HasSubstr("notify-keyspace-events"));
  // Still subscribed: the server's own flags deliver the events.
  TestRedisClient((*server)->port()).Run({"RPUSH", "jobs", "a"});
  EXPECT_TRUE(Eventually([&] { return *s.changes >= 1; }, absl::Seconds(2)));
  // Reads are unaffected.
  absl::StatusOr<Reading> r = s.source->Read(clock.Now() + absl::Seconds(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 1);
}

TEST(RedisNotifyTest, ResubscribesAfterRestart) {
  auto server = TestRedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  SystemClock clock;
  Subscribed s = Subscribe(**server, clock);
  ASSERT_TRUE(s.status.ok()) << s.status;
  ASSERT_TRUE((*server)->Restart().ok());  // forgets the CONFIG SET too
  // A resubscription itself signals a possible change (events were missed).
  ASSERT_TRUE(Eventually([&] { return *s.changes >= 1; }, absl::Seconds(15)));
  const int before = *s.changes;
  TestRedisClient((*server)->port()).Run({"RPUSH", "jobs", "a"});
  EXPECT_TRUE(
      Eventually([&] { return *s.changes > before; }, absl::Seconds(2)));
}

TEST(RedisNotifyTest, DestructionStopsPromptly) {
  auto server = TestRedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  SystemClock clock;
  Subscribed s = Subscribe(**server, clock);
  ASSERT_TRUE(s.status.ok()) << s.status;
  const absl::Time start = absl::Now();
  s.source.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  // And while the server is gone and it is reconnecting.
  Subscribed again = Subscribe(**server, clock);
  (*server)->Kill();
  absl::SleepFor(absl::Milliseconds(300));  // let it notice and back off
  const absl::Time start2 = absl::Now();
  again.source.reset();
  EXPECT_LT(absl::Now() - start2, absl::Seconds(1));
}

}  // namespace
}  // namespace signalscaler
