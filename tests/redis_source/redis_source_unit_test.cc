// The redis Source without a server: policy validation, Describe(), the
// notify-keyspace-events merge, and the connection's backoff against a
// closed port on 127.0.0.1 (driven by a ManualClock).
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "sources/redis/redis_notifier.h"
#include "sources/redis/redis_source.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

v1::RedisSource ListSpec(const std::string& address, const std::string& key) {
  v1::RedisSource spec;
  spec.set_address(address);
  spec.set_list(key);
  return spec;
}

absl::StatusCode MakeCode(const v1::RedisSource& spec) {
  SystemClock clock;
  return MakeRedisSource(spec, clock).status().code();
}

TEST(RedisSourceValidationTest, RejectsBadAddresses) {
  for (const char* address : {"", "redis", "redis:", "redis:0", "redis:70000",
                              ":6379", "::1:6379", "redis:port"}) {
    EXPECT_EQ(MakeCode(ListSpec(address, "jobs")),
              absl::StatusCode::kInvalidArgument)
        << address;
  }
  EXPECT_EQ(MakeCode(ListSpec("redis.default.svc:6379", "jobs")),
            absl::StatusCode::kOk);
  EXPECT_EQ(MakeCode(ListSpec("[::1]:6379", "jobs")), absl::StatusCode::kOk);
}

TEST(RedisSourceValidationTest, ExactlyOneKeyKind) {
  v1::RedisSource none;
  none.set_address("127.0.0.1:6379");
  EXPECT_EQ(MakeCode(none), absl::StatusCode::kInvalidArgument);
  v1::RedisSource two = ListSpec("127.0.0.1:6379", "a");
  two.set_sorted_set("b");
  EXPECT_EQ(MakeCode(two), absl::StatusCode::kInvalidArgument);
}

TEST(RedisSourceValidationTest, GroupNeedsStreamAndMeasureNeedsGroup) {
  v1::RedisSource group_on_list = ListSpec("127.0.0.1:6379", "a");
  group_on_list.set_group("g");
  EXPECT_EQ(MakeCode(group_on_list), absl::StatusCode::kInvalidArgument);
  v1::RedisSource measure_alone;
  measure_alone.set_address("127.0.0.1:6379");
  measure_alone.set_stream("s");
  measure_alone.set_group_measure(v1::RedisSource::lag);
  EXPECT_EQ(MakeCode(measure_alone), absl::StatusCode::kInvalidArgument);
  measure_alone.set_group("g");
  EXPECT_EQ(MakeCode(measure_alone), absl::StatusCode::kOk);
  v1::RedisSource negative_db = ListSpec("127.0.0.1:6379", "a");
  negative_db.set_database(-1);
  EXPECT_EQ(MakeCode(negative_db), absl::StatusCode::kInvalidArgument);
}

TEST(RedisSourceTest, DescribeNamesServerKeyAndMeasure) {
  SystemClock clock;
  v1::RedisSource spec;
  spec.set_address("redis:6379");
  spec.set_database(3);
  spec.set_stream("events");
  spec.set_group("workers");
  spec.set_group_measure(v1::RedisSource::lag);
  spec.set_password_file("/secrets/redis-password");
  auto source = MakeRedisSource(spec, clock);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Describe(),
            "redis redis:6379 db 3 stream \"events\" group \"workers\" lag");
}

TEST(RedisSourceTest, SubscribeWithoutNotifyIsUnimplemented) {
  SystemClock clock;
  auto source = MakeRedisSource(ListSpec("127.0.0.1:6379", "jobs"), clock);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->Subscribe([] {}).code(),
            absl::StatusCode::kUnimplemented);
}

TEST(RedisSourceTest, PassedDeadlineFailsWithoutIo) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  auto source = MakeRedisSource(ListSpec("127.0.0.1:6379", "jobs"), clock);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->Read(clock.Now()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(RedisSourceTest, UnreadablePasswordFileIsFailedPrecondition) {
  SystemClock clock;
  v1::RedisSource spec = ListSpec("127.0.0.1:6379", "jobs");
  spec.set_password_file("/nonexistent/redis-password");
  auto source = MakeRedisSource(spec, clock);
  ASSERT_TRUE(source.ok());
  const absl::Status s =
      (*source)->Read(clock.Now() + absl::Seconds(1)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/redis-password"));
}

TEST(RedisSourceTest, RefusedConnectionBacksOffExponentially) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  const int port = testing::FreePort();  // nothing listens there
  auto source = MakeRedisSource(
      ListSpec(absl::StrCat("127.0.0.1:", port), "jobs"), clock);
  ASSERT_TRUE(source.ok());
  auto read = [&] {
    return (*source)->Read(clock.Now() + absl::Seconds(1)).status();
  };
  absl::Status first = read();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(first.message(), HasSubstr("refused"));
  // Backing off: answered at once, saying when the next attempt is.
  absl::Status waiting = read();
  EXPECT_EQ(waiting.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(waiting.message(), HasSubstr("next attempt in 100ms"));
  clock.Advance(absl::Milliseconds(100));
  EXPECT_THAT(read().message(), HasSubstr("refused"));  // tried again
  EXPECT_THAT(read().message(), HasSubstr("next attempt in 200ms"));
  clock.Advance(absl::Milliseconds(150));
  EXPECT_THAT(read().message(), HasSubstr("next attempt in 50ms"));
  for (int i = 0; i < 8; ++i) {  // 400ms, 800ms, ... capped at 5s
    clock.Advance(absl::Seconds(5));
    read().IgnoreError();
  }
  EXPECT_THAT(read().message(), HasSubstr("next attempt in 5s"));
}

TEST(RedisNotifierTest, MergeNotifyFlags) {
  EXPECT_THAT(MergeNotifyFlags("", "Klgx"), Optional(std::string("Klgx")));
  EXPECT_THAT(MergeNotifyFlags("Ez", "Klgx"), Optional(std::string("EzKlgx")));
  EXPECT_EQ(MergeNotifyFlags("AKE", "Klgx"), std::nullopt);
  EXPECT_EQ(MergeNotifyFlags("xKlg", "Klgx"), std::nullopt);
  EXPECT_THAT(MergeNotifyFlags("AE", "Ktgx"), Optional(std::string("AEK")));
}

TEST(RedisNotifierTest, EscapeGlob) {
  EXPECT_EQ(EscapeGlob("__keyspace@0__:jobs"), "__keyspace@0__:jobs");
  EXPECT_EQ(EscapeGlob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
}

}  // namespace
}  // namespace signalscaler
