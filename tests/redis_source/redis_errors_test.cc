// The one hiredis -> absl::Status translation, on synthetic contexts (a
// redisContext filled in by hand) and replies (parsed by hiredis' reader).
#include "sources/redis/client/redis_errors.h"

#include <hiredis/hiredis.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signalscaler {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const RedisCall kLlen{"127.0.0.1:6379", "LLEN", "jobs"};

absl::Status FromContext(int err, const char* errstr, int saved_errno,
                         const RedisCall& call = kLlen) {
  redisContext context = {};
  context.err = err;
  std::strncpy(context.errstr, errstr, sizeof(context.errstr) - 1);
  return RedisErrorToStatus(call, FailureFromContext(context, saved_errno));
}

// Parses RESP text (e.g. "-ERR x\r\n") with hiredis' own reader.
RedisFailure ParseErrorReply(const std::string& resp) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, resp.data(), resp.size());
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &raw), REDIS_OK);
  redisReaderFree(reader);
  EXPECT_NE(raw, nullptr);
  if (raw == nullptr) return RedisFailure();
  RedisFailure failure = FailureFromReply(*static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return failure;
}

absl::Status FromReply(const std::string& resp, const RedisCall& call = kLlen,
                       const std::string& key_type = "") {
  RedisFailure failure = ParseErrorReply(resp);
  failure.key_type = key_type;
  return RedisErrorToStatus(call, failure);
}

// A hostile server's error text reaches explain: at most 128 bytes of it,
// control and non-ASCII bytes escaped.
TEST(RedisErrorsTest, ErrorReplyTextIsShortAndPrintable) {
  const std::string long_text = "ERR " + std::string(5000, 'z');
  RedisFailure f = ParseErrorReply("-" + long_text + "\r\n");
  EXPECT_EQ(f.error_reply, long_text.substr(0, 128) + "...");
  f = ParseErrorReply("-ERR bell\x07 and \xc3\xa9\r\n");
  EXPECT_EQ(f.error_reply, "ERR bell\\x07 and \\xc3\\xa9");
  // Ordinary replies are kept as they are.
  EXPECT_EQ(
      ParseErrorReply("-WRONGTYPE Operation against a key\r\n").error_reply,
      "WRONGTYPE Operation against a key");
}

TEST(RedisErrorsTest, ReplyOverTheBoundIsResourceExhaustedNamingTheLimit) {
  RedisFailure failure;
  failure.reply_limit_bytes = size_t{1} << 20;
  const absl::Status s = RedisErrorToStatus(kLlen, failure);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("127.0.0.1:6379"), HasSubstr("LLEN \"jobs\""),
                    HasSubstr("1 MiB (1048576 bytes)"),
                    HasSubstr("connection was dropped")));
  failure.reply_limit_bytes = 1500;
  EXPECT_THAT(RedisErrorToStatus(kLlen, failure).message(),
              HasSubstr("limit of 1500 bytes"));
}

TEST(RedisErrorsTest, ReadTimeoutIsDeadlineExceeded) {
  const absl::Status s =
      FromContext(REDIS_ERR_IO, "Resource temporarily unavailable", EAGAIN);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("127.0.0.1:6379"), HasSubstr("LLEN"),
                                 HasSubstr("jobs")));
}

TEST(RedisErrorsTest, ConnectTimeoutIsDeadlineExceeded) {
  EXPECT_EQ(FromContext(REDIS_ERR_IO, "Connection timed out", ETIMEDOUT,
                        {"10.0.0.1:6379", "connect", ""})
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  // Recognised by the text too, when errno was lost.
  EXPECT_EQ(FromContext(REDIS_ERR_IO, "Connection timed out", 0).code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(RedisErrorsTest, RefusedResetAndEofAreUnavailable) {
  EXPECT_EQ(FromContext(REDIS_ERR_IO, "Connection refused", ECONNREFUSED,
                        {"127.0.0.1:1", "connect", ""})
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      FromContext(REDIS_ERR_IO, "Connection reset by peer", ECONNRESET).code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromContext(REDIS_ERR_IO, "Broken pipe", EPIPE).code(),
            absl::StatusCode::kUnavailable);
  const absl::Status eof =
      FromContext(REDIS_ERR_EOF, "Server closed the connection", 0);
  EXPECT_EQ(eof.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(eof.message(), HasSubstr("connection lost"));
}

TEST(RedisErrorsTest, NameResolutionIsUnavailable) {
  EXPECT_EQ(FromContext(REDIS_ERR_OTHER, "Name or service not known", 0,
                        {"redis.nowhere:6379", "connect", ""})
                .code(),
            absl::StatusCode::kUnavailable);
}

TEST(RedisErrorsTest, ProtocolErrorIsInternal) {
  const absl::Status s = FromContext(REDIS_ERR_PROTOCOL, "Protocol error", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("LLEN"));
}

TEST(RedisErrorsTest, ContextWithoutErrorFlagIsStillAnError) {
  EXPECT_FALSE(FromContext(0, "", 0).ok());
}

TEST(RedisErrorsTest, NoAuthAndWrongPassAreUnauthenticated) {
  EXPECT_EQ(FromReply("-NOAUTH Authentication required.\r\n").code(),
            absl::StatusCode::kUnauthenticated);
  const RedisCall auth{"127.0.0.1:6379", "AUTH", ""};
  EXPECT_EQ(FromReply("-WRONGPASS invalid username-password pair or user is "
                      "disabled.\r\n",
                      auth)
                .code(),
            absl::StatusCode::kUnauthenticated);
  // Redis < 6 answers a wrong password with a plain ERR.
  EXPECT_EQ(FromReply("-ERR invalid password\r\n", auth).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(RedisErrorsTest, WrongTypeNamesKeyAndItsType) {
  const absl::Status s = FromReply(
      "-WRONGTYPE Operation against a key holding the wrong kind of "
      "value\r\n",
      kLlen, "zset");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"jobs\""), HasSubstr("zset"),
                                 HasSubstr("not a list")));
}

TEST(RedisErrorsTest, WrongTypeWithoutKnownType) {
  const absl::Status s =
      FromReply("-WRONGTYPE Operation\r\n", {"127.0.0.1:6379", "ZCARD", "q"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"q\""), HasSubstr("zset")));
}

TEST(RedisErrorsTest, OtherErrorRepliesAreInternalNamingTheCommand) {
  const absl::Status s = FromReply("-ERR unknown command 'LLEN'\r\n", kLlen);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("LLEN"), HasSubstr("ERR unknown command")));
}

TEST(RedisErrorsTest, ServerStatesAndAcls) {
  EXPECT_EQ(FromReply("-LOADING Redis is loading the dataset\r\n").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromReply("-NOPERM this user has no permissions\r\n").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      FromReply("-NOGROUP No such key 's' or consumer group 'g'\r\n").code(),
      absl::StatusCode::kNotFound);
}

TEST(RedisErrorsTest, ClusterRedirectsAndTheirBounds) {
  const absl::Status moved = FromReply("-MOVED 9631 127.0.0.1:7001\r\n");
  EXPECT_EQ(moved.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(moved.message(),
              AllOf(HasSubstr("LLEN \"jobs\""), HasSubstr("another node"),
                    HasSubstr("127.0.0.1:7001")));
  EXPECT_EQ(FromReply("-CLUSTERDOWN The cluster is down\r\n").code(),
            absl::StatusCode::kUnavailable);
  RedisFailure looping;
  looping.redirect_path = {"a:1", "b:2", "a:1"};
  const absl::Status bounded = RedisErrorToStatus(kLlen, looping);
  EXPECT_EQ(bounded.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(bounded.message(),
              AllOf(HasSubstr("LLEN \"jobs\""), HasSubstr("after 2 redirects"),
                    HasSubstr("a:1 -> b:2 -> a:1")));
  RedisFailure refused;
  refused.refused_node = "10.9.9.9:6379";
  const absl::Status denied = RedisErrorToStatus(kLlen, refused);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(),
              AllOf(HasSubstr("LLEN \"jobs\""), HasSubstr("10.9.9.9:6379")));
}

TEST(RedisErrorsTest, NonErrorReplyPassedAsFailureIsInternal) {
  RedisFailure failure = ParseErrorReply(":3\r\n");
  EXPECT_EQ(RedisErrorToStatus(kLlen, failure).code(),
            absl::StatusCode::kInternal);
}

TEST(RedisErrorsTest, AuthMessagesCarryNoArguments) {
  // Only the command's name reaches a message; AUTH's argument never does.
  const absl::Status s = FromReply(
      "-ERR AUTH <password> called without any password configured\r\n",
      {"127.0.0.1:6379", "AUTH", ""});
  EXPECT_THAT(s.message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(s.message(), HasSubstr("AUTH"));
}

TEST(RedisErrorsTest, ExpectedKeyTypes) {
  EXPECT_EQ(ExpectedKeyType("LLEN"), "list");
  EXPECT_EQ(ExpectedKeyType("zcard"), "zset");
  EXPECT_EQ(ExpectedKeyType("XLEN"), "stream");
  EXPECT_EQ(ExpectedKeyType("XPENDING"), "stream");
  EXPECT_EQ(ExpectedKeyType("XINFO GROUPS"), "stream");
  EXPECT_EQ(ExpectedKeyType("GET"), "");
}

}  // namespace
}  // namespace signalscaler
