// The one SUBSCRIBE/PSUBSCRIBE/PING/reconnect loop
// (sources/redis/client/redis_subscriber.h), against a real redis-server.
#include "sources/redis/client/redis_subscriber.h"

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::TestRedisClient;
using testing::TestRedisServer;

// What the hooks saw, from the subscriber's thread.
class Recorder {
 public:
  RedisSubscriberHooks Hooks() {
    RedisSubscriberHooks hooks;
    hooks.on_message = [this](absl::string_view channel,
                              absl::string_view payload) {
      absl::MutexLock lock(&mu_);
      messages_.emplace_back(std::string(channel), std::string(payload));
    };
    hooks.on_subscribed = [this](const absl::Status& outcome, bool again) {
      absl::MutexLock lock(&mu_);
      subscribes_.push_back({outcome, again});
    };
    hooks.on_failure = [this](const absl::Status& why) {
      absl::MutexLock lock(&mu_);
      failures_.push_back(why);
    };
    return hooks;
  }

  std::vector<std::pair<std::string, std::string>> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  std::vector<std::pair<absl::Status, bool>> subscribes() {
    absl::MutexLock lock(&mu_);
    return subscribes_;
  }
  std::vector<absl::Status> failures() {
    absl::MutexLock lock(&mu_);
    return failures_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::string>> messages_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<absl::Status, bool>> subscribes_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> failures_ ABSL_GUARDED_BY(mu_);
};

// Polls `done` every 10 ms (calling `step` before each poll) for up to
// `bound` of real time.
bool Eventually(
    const std::function<bool()>& done, absl::Duration bound,
    const std::function<void()>& step = [] {}) {
  const absl::Time end = absl::Now() + bound;
  while (absl::Now() < end) {
    step();
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

class RedisSubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestRedisServer>> server =
        TestRedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  RedisSubscriberOptions Options(std::string channel, bool pattern = false) {
    RedisSubscriberOptions options;
    options.connection.host = "127.0.0.1";
    options.connection.port = server_->port();
    options.channel = std::move(channel);
    options.pattern = pattern;
    options.poll_interval = absl::Milliseconds(20);
    return options;
  }

  // One PUBLISH on a connection of its own.
  void Publish(const std::string& channel, const std::string& payload) {
    TestRedisClient client(server_->port());
    client.Run({"PUBLISH", channel, payload});
  }

  SystemClock system_clock_;
  std::unique_ptr<TestRedisServer> server_;
};

TEST_F(RedisSubscriberTest, DeliversMessagesOfItsChannelOnly) {
  Recorder seen;
  RedisSubscriber sub(Options("saved"), system_clock_, seen.Hooks());
  ASSERT_TRUE(sub.Start());
  EXPECT_FALSE(sub.Start());  // once
  const std::optional<absl::Status> first =
      sub.WaitForFirstAttempt(absl::Seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->ok()) << *first;
  EXPECT_TRUE(sub.subscribed());
  Publish("other", "x");
  Publish("saved", "ns/a");
  Publish("saved", "ns/b");
  ASSERT_TRUE(Eventually([&] { return seen.messages().size() >= 2; },
                         absl::Seconds(5)));
  EXPECT_THAT(seen.messages(),
              ElementsAre(Pair("saved", "ns/a"), Pair("saved", "ns/b")));
  ASSERT_EQ(seen.subscribes().size(), 1u);
  EXPECT_FALSE(seen.subscribes()[0].second);  // the first, not again
  EXPECT_TRUE(seen.failures().empty());
}

TEST_F(RedisSubscriberTest, PatternGivesTheChannelEachMessageCameOn) {
  Recorder seen;
  RedisSubscriber sub(Options("jobs:*", /*pattern=*/true), system_clock_,
                      seen.Hooks());
  sub.Start();
  const std::optional<absl::Status> first =
      sub.WaitForFirstAttempt(absl::Seconds(5));
  ASSERT_TRUE(first.has_value() && first->ok());
  Publish("jobs:a", "1");
  Publish("other", "2");
  Publish("jobs:b", "3");
  ASSERT_TRUE(Eventually([&] { return seen.messages().size() >= 2; },
                         absl::Seconds(5)));
  EXPECT_THAT(seen.messages(),
              ElementsAre(Pair("jobs:a", "1"), Pair("jobs:b", "3")));
}

TEST_F(RedisSubscriberTest, PrepareRunsOnTheConnectionAndDegradesOrFails) {
  // FAILED_PRECONDITION from prepare: subscribed anyway, and that is the
  // outcome of the attempt.
  Recorder degraded;
  RedisSubscriberHooks hooks = degraded.Hooks();
  std::atomic<int> prepared{0};
  hooks.prepare = [&prepared](RedisConnection& connection,
                              absl::Time deadline) {
    ++prepared;
    EXPECT_TRUE(connection.Command({"PING"}, deadline).ok());
    return absl::FailedPreconditionError("no events");
  };
  RedisSubscriber sub(Options("saved"), system_clock_, std::move(hooks));
  sub.Start();
  std::optional<absl::Status> first = sub.WaitForFirstAttempt(absl::Seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(absl::IsFailedPrecondition(*first)) << *first;
  Publish("saved", "ns/a");
  ASSERT_TRUE(Eventually([&] { return !degraded.messages().empty(); },
                         absl::Seconds(5)));
  ASSERT_FALSE(degraded.subscribes().empty());
  EXPECT_TRUE(absl::IsFailedPrecondition(degraded.subscribes()[0].first));
  EXPECT_EQ(prepared, 1);

  // Any other error: not subscribed, reported, and tried again.
  Recorder failing;
  RedisSubscriberHooks failing_hooks = failing.Hooks();
  failing_hooks.prepare = [](RedisConnection&, absl::Time) {
    return absl::UnavailableError("prepare refused");
  };
  RedisSubscriber refused(Options("saved"), system_clock_,
                          std::move(failing_hooks));
  refused.Start();
  first = refused.WaitForFirstAttempt(absl::Seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(absl::IsUnavailable(*first)) << *first;
  ASSERT_TRUE(Eventually([&] { return failing.failures().size() >= 2; },
                         absl::Seconds(5)));
  EXPECT_THAT(failing.failures()[0].message(), HasSubstr("prepare refused"));
  EXPECT_FALSE(refused.subscribed());
  EXPECT_TRUE(failing.subscribes().empty());
}

// The PING's silence is measured on the injected clock: with a PING
// interval of an hour, a manual clock moved by hours finds a frozen server
// in well under a second of real time, and the subscriber comes back (as a
// resubscription) once the server does.
TEST_F(RedisSubscriberTest, UnansweredPingOnTheInjectedClockReconnects) {
  ManualClock clock(absl::FromUnixSeconds(1000000));
  RedisSubscriberOptions options = Options("saved");
  options.ping_interval = absl::Hours(1);
  options.setup_timeout = absl::Minutes(1);
  Recorder seen;
  RedisSubscriber sub(options, clock, seen.Hooks());
  sub.Start();
  const std::optional<absl::Status> first =
      sub.WaitForFirstAttempt(absl::Seconds(5));
  ASSERT_TRUE(first.has_value() && first->ok());

  server_->Signal(SIGSTOP);
  const bool lost =
      Eventually([&] { return !seen.failures().empty(); }, absl::Seconds(5),
                 [&] { clock.Advance(absl::Hours(1)); });
  server_->Signal(SIGCONT);
  ASSERT_TRUE(lost);
  EXPECT_THAT(seen.failures()[0].message(), HasSubstr("no answer to PING"));
  EXPECT_TRUE(absl::IsUnavailable(seen.failures()[0]));

  ASSERT_TRUE(Eventually(
      [&] {
        const auto subscribes = seen.subscribes();
        return subscribes.size() >= 2 && subscribes.back().second;
      },
      absl::Seconds(10), [&] { clock.Advance(absl::Seconds(1)); }));
  Publish("saved", "ns/again");
  ASSERT_TRUE(
      Eventually([&] { return !seen.messages().empty(); }, absl::Seconds(5)));
  EXPECT_THAT(seen.messages(), ElementsAre(Pair("saved", "ns/again")));
}

// With a system clock and the default PING interval, a second of silence
// is no reason to reconnect.
TEST_F(RedisSubscriberTest, SilenceShorterThanThePingIntervalIsKept) {
  Recorder seen;
  RedisSubscriber sub(Options("saved"), system_clock_, seen.Hooks());
  sub.Start();
  ASSERT_TRUE(sub.WaitForFirstAttempt(absl::Seconds(5)).has_value());
  absl::SleepFor(absl::Seconds(1));
  EXPECT_TRUE(sub.subscribed());
  EXPECT_TRUE(seen.failures().empty());
  EXPECT_EQ(seen.subscribes().size(), 1u);
}

}  // namespace
}  // namespace signalscaler
