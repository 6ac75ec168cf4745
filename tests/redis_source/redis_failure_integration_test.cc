// The redis Source when the server fails: killed (UNAVAILABLE, then
// recovery after a restart on the same port) and blocked (a deadline
// shorter than the server's silence is DEADLINE_EXCEEDED, on time).
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
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

class RedisFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestRedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    v1::RedisSource spec;
    spec.set_address(server_->address());
    spec.set_list("jobs");
    auto source = MakeRedisSource(spec, clock_);
    ASSERT_TRUE(source.ok());
    source_ = *std::move(source);
  }

  absl::StatusOr<Reading> Read(absl::Duration timeout = absl::Seconds(2)) {
    return source_->Read(clock_.Now() + timeout);
  }

  // Polls until a read succeeds with `value` (or `limit` passes).
  bool EventuallyReads(double value, absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      absl::StatusOr<Reading> r = Read();
      if (r.ok() && r->value == value) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  SystemClock clock_;
  std::unique_ptr<TestRedisServer> server_;
  std::unique_ptr<Source> source_;
};

TEST_F(RedisFailureTest, KilledServerIsUnavailableThenRecoversAfterRestart) {
  TestRedisClient(server_->port()).Run({"RPUSH", "jobs", "a"});
  ASSERT_TRUE(EventuallyReads(1, absl::Seconds(5)));

  server_->Kill();
  absl::StatusOr<Reading> lost = Read();
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable)
      << lost.status();
  // While backing off, a read fails at once and says when it retries.
  const absl::Time start = absl::Now();
  absl::StatusOr<Reading> waiting = Read();
  EXPECT_EQ(waiting.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_THAT(waiting.status().message(), HasSubstr("next attempt in"));

  ASSERT_TRUE(server_->Restart().ok());
  // No persistence: the restarted server starts empty.
  TestRedisClient(server_->port()).Run({"RPUSH", "jobs", "x", "y"});
  EXPECT_TRUE(EventuallyReads(2, absl::Seconds(15)));
}

TEST_F(RedisFailureTest, PausedServerIsDeadlineExceededOnTime) {
  TestRedisClient client(server_->port());
  client.Run({"RPUSH", "jobs", "a"});
  ASSERT_TRUE(EventuallyReads(1, absl::Seconds(5)));
  ASSERT_EQ(client.Run({"CLIENT", "PAUSE", "2000"}), "OK");
  const absl::Time start = absl::Now();
  absl::StatusOr<Reading> r = Read(absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded)
      << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("LLEN"));
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Milliseconds(1000));
  client.Run({"CLIENT", "UNPAUSE"});
  EXPECT_TRUE(EventuallyReads(1, absl::Seconds(5)));
}

TEST_F(RedisFailureTest, StoppedServerIsDeadlineExceededOnTime) {
  ASSERT_TRUE(EventuallyReads(0, absl::Seconds(5)));
  server_->Signal(SIGSTOP);
  for (int i = 0; i < 2; ++i) {  // on the open connection, then a new one
    const absl::Time start = absl::Now();
    absl::StatusOr<Reading> r = Read(absl::Milliseconds(300));
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded)
        << r.status();
    EXPECT_LT(took, absl::Milliseconds(1000));
  }
  server_->Signal(SIGCONT);
  EXPECT_TRUE(EventuallyReads(0, absl::Seconds(5)));
}

}  // namespace
}  // namespace signalscaler
