#include "sources/redis/client/redis_connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "scaler/common/status_macros.h"
#include "sources/credential_file.h"
#include "sources/redis/client/internal/no_sigpipe.h"
#include "sources/redis/client/internal/reply_budget.h"

namespace signalscaler {
namespace {

timeval HiredisTimeout(absl::Duration d) {
  d = std::max(d, absl::Milliseconds(1));  // a zero timeval means "forever"
  return absl::ToTimeval(d);
}

}  // namespace

void RedisReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

RedisConnection::RedisConnection(RedisConnectionOptions options,
                                 const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      server_(absl::StrCat(options_.host, ":", options_.port)),
      budget_(std::make_unique<RedisReplyBudget>()) {
  budget_->limit = options_.max_reply_bytes;
}

RedisConnection::~RedisConnection() { Disconnect(); }

void RedisConnection::Disconnect() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
  used_ = false;
}

void RedisConnection::Fail(const absl::Status& why) {
  Disconnect();
  backoff_ = backoff_ == absl::ZeroDuration()
                 ? options_.initial_backoff
                 : std::min(backoff_ * 2, options_.max_backoff);
  retry_at_ = clock_.Now() + backoff_;
  last_failure_ = why;
}

absl::Status RedisConnection::Redact(absl::Status status) const {
  if (password_.empty() || status.ok() ||
      status.message().find(password_) == absl::string_view::npos) {
    return status;
  }
  return absl::Status(
      status.code(),
      absl::StrReplaceAll(status.message(), {{password_, "<redacted>"}}));
}

absl::Status RedisConnection::TransportFailure(absl::string_view command,
                                               absl::string_view key,
                                               int saved_errno) {
  RedisCall call{server_, std::string(command), std::string(key)};
  return Redact(
      RedisErrorToStatus(call, FailureFromContext(*context_, saved_errno)));
}

absl::Status RedisConnection::SetDeadline(absl::Time deadline,
                                          absl::string_view command) {
  const absl::Duration left = deadline - clock_.Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat("redis ", server_, ": ", command,
                     ": the deadline passed before it could be sent"));
  }
  errno = 0;
  if (redisSetTimeout(context_, HiredisTimeout(left)) != REDIS_OK) {
    return TransportFailure(command, "", errno);
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::Append(const std::vector<std::string>& argv,
                                     absl::string_view key) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  errno = 0;
  if (redisAppendCommandArgv(context_, static_cast<int>(args.size()),
                             args.data(), lengths.data()) != REDIS_OK) {
    return TransportFailure(argv[0], key, errno);
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::Flush(absl::string_view command,
                                    absl::string_view key) {
  redis_internal::ScopedNoSigpipe no_sigpipe;
  for (int done = 0; done == 0;) {
    errno = 0;
    if (redisBufferWrite(context_, &done) != REDIS_OK) {
      return TransportFailure(command, key, errno);
    }
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::Write(const std::vector<std::string>& argv,
                                    absl::string_view key) {
  RETURN_IF_ERROR(Append(argv, key));
  return Flush(argv[0], key);
}

absl::Status RedisConnection::ReplyTooLarge(absl::string_view command,
                                            absl::string_view key) {
  RedisFailure failure;
  failure.reply_limit_bytes = budget_->limit;
  return Redact(RedisErrorToStatus(
      RedisCall{server_, std::string(command), std::string(key)}, failure));
}

absl::StatusOr<RedisReplyPtr> RedisConnection::TakeReply(
    absl::string_view command, absl::string_view key) {
  void* raw = nullptr;
  if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) {
    if (budget_->exceeded) return ReplyTooLarge(command, key);
    return TransportFailure(command, key, 0);
  }
  if (raw != nullptr) {
    budget_->Reset();  // the next reply has a bound of its own
    return RedisReplyPtr(static_cast<redisReply*>(raw));
  }
  // Incomplete: what is buffered belongs to the reply in progress (a
  // complete one would have been taken), e.g. a bulk string's body, which
  // hiredis only turns into an object once all of it has arrived.
  const redisReader& reader = *context_->reader;
  if (budget_->used + (reader.len - reader.pos) > budget_->limit) {
    return ReplyTooLarge(command, key);
  }
  return RedisReplyPtr();
}

absl::StatusOr<RedisReplyPtr> RedisConnection::ReadReply(
    absl::string_view command, absl::string_view key, absl::Time deadline) {
  // hiredis' own loop (redisGetReply) would read until the reply is whole;
  // this one checks the bound after every read of at most 16 KiB, and cuts
  // every read to what is left of the deadline.
  for (;;) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply, TakeReply(command, key));
    if (reply != nullptr) return reply;
    const absl::Duration left = deadline - clock_.Now();
    errno = 0;
    if (left <= absl::ZeroDuration()) {
      RedisFailure timeout;
      timeout.context_err = REDIS_ERR_IO;
      timeout.context_errstr = "the deadline passed while reading the reply";
      timeout.saved_errno = ETIMEDOUT;
      return Redact(RedisErrorToStatus(
          RedisCall{server_, std::string(command), std::string(key)}, timeout));
    }
    if (redisSetTimeout(context_, HiredisTimeout(left)) != REDIS_OK ||
        redisBufferRead(context_) != REDIS_OK) {
      return TransportFailure(command, key, errno);
    }
  }
}

absl::StatusOr<RedisReplyPtr> RedisConnection::RoundTrip(
    const std::vector<std::string>& argv, absl::Time deadline,
    absl::string_view key) {
  RETURN_IF_ERROR(SetDeadline(deadline, argv[0]));
  RETURN_IF_ERROR(Write(argv, key));
  return ReadReply(argv[0], key, deadline);
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisConnection::PipelineOnce(
    const std::vector<const RedisCommand*>& commands, absl::Time deadline,
    bool& replied) {
  const RedisCommand& first = *commands.front();
  RETURN_IF_ERROR(SetDeadline(deadline, first.argv[0]));
  for (const RedisCommand* c : commands) {
    RETURN_IF_ERROR(Append(c->argv, c->key));
  }
  RETURN_IF_ERROR(Flush(first.argv[0], first.key));
  std::vector<RedisReplyPtr> replies;
  replies.reserve(commands.size());
  for (const RedisCommand* c : commands) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     ReadReply(c->argv[0], c->key, deadline));
    replies.push_back(std::move(reply));
    replied = true;
  }
  return replies;
}

absl::Status RedisConnection::Connect(absl::Time deadline) {
  if (context_ != nullptr) return absl::OkStatus();
  const absl::Time now = clock_.Now();
  if (now < retry_at_) {
    return absl::UnavailableError(
        absl::StrCat("redis ", server_, ": not connected, next attempt in ",
                     absl::FormatDuration(
                         absl::Ceil(retry_at_ - now, absl::Milliseconds(1))),
                     " (last error: ", last_failure_.message(), ")"));
  }
  const absl::Duration left = deadline - now;
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat("redis ", server_, ": no time left to connect"));
  }
  if (!options_.password_file.empty()) {
    absl::StatusOr<std::string> read = ReadConfinedFile(
        options_.password_file, options_.credentials_root, 64 << 10);
    if (!read.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("redis ", server_, ": cannot read passwordFile ",
                       read.status().message()));
    }
    password_ = std::string(absl::StripTrailingAsciiWhitespace(*read));
    std::fill(read->begin(), read->end(), '\0');
    if (password_.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("redis ", server_, ": passwordFile ",
                       options_.password_file, " is empty"));
    }
  }
  errno = 0;
  redisContext* context = redisConnectWithTimeout(
      options_.host.c_str(), options_.port,
      HiredisTimeout(std::min(left, options_.connect_timeout)));
  const int saved_errno = errno;
  if (context == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("redis ", server_, ": cannot allocate a connection"));
  }
  context_ = context;
  used_ = false;
  absl::Status status;
  if (context_->err != 0) {
    status = TransportFailure("connect", "", saved_errno);
  } else {
    redis_internal::BoundReplies(*context_, *budget_);
    status = SetUp(deadline);
  }
  if (!status.ok()) {
    if (absl::IsDeadlineExceeded(status)) {
      Disconnect();  // slow, not broken: the next call tries again
    } else {
      Fail(status);
    }
    return status;
  }
  backoff_ = absl::ZeroDuration();
  retry_at_ = absl::InfinitePast();
  last_failure_ = absl::OkStatus();
  return absl::OkStatus();
}

absl::Status RedisConnection::SetUp(absl::Time deadline) {
  std::vector<std::pair<std::vector<std::string>, std::string>> steps;
  if (!password_.empty()) steps.push_back({{"AUTH", password_}, "AUTH"});
  if (options_.database != 0) {
    steps.push_back({{"SELECT", absl::StrCat(options_.database)},
                     absl::StrCat("SELECT ", options_.database)});
  }
  for (const auto& [argv, name] : steps) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply, RoundTrip(argv, deadline, ""));
    if (reply->type == REDIS_REPLY_ERROR) {
      return Redact(RedisErrorToStatus(RedisCall{server_, name, ""},
                                       FailureFromReply(*reply)));
    }
  }
  return absl::OkStatus();
}

bool RedisConnection::Recover(const absl::Status& failure, bool reused,
                              int attempt) {
  // hiredis' context is unusable after a timeout; after a reply over the
  // bound the stream is mid-reply. Neither says the server is down.
  if (absl::IsDeadlineExceeded(failure) || absl::IsResourceExhausted(failure)) {
    Disconnect();
    return false;
  }
  // The server may have closed an idle connection (timeout, restart, a
  // proxy): one fresh attempt before backing off.
  if (reused && attempt == 0 && absl::IsUnavailable(failure)) {
    Disconnect();
    return true;
  }
  Fail(failure);
  return false;
}

absl::StatusOr<RedisReplyPtr> RedisConnection::Command(
    const std::vector<std::string>& argv, absl::Time deadline,
    absl::string_view key) {
  for (int attempt = 0;; ++attempt) {
    RETURN_IF_ERROR(Connect(deadline));
    const bool reused = used_;
    absl::StatusOr<RedisReplyPtr> reply = RoundTrip(argv, deadline, key);
    if (reply.ok()) {
      used_ = true;
      return reply;
    }
    if (!Recover(reply.status(), reused, attempt)) return reply.status();
  }
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisConnection::Pipeline(
    const std::vector<RedisCommand>& commands, absl::Time deadline) {
  std::vector<const RedisCommand*> pointers;
  pointers.reserve(commands.size());
  for (const RedisCommand& c : commands) pointers.push_back(&c);
  return Pipeline(pointers, deadline);
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisConnection::Pipeline(
    const std::vector<const RedisCommand*>& commands, absl::Time deadline) {
  if (commands.empty()) return std::vector<RedisReplyPtr>();
  for (int attempt = 0;; ++attempt) {
    RETURN_IF_ERROR(Connect(deadline));
    const bool reused = used_;
    bool replied = false;  // a reply was read: the server had the batch
    absl::StatusOr<std::vector<RedisReplyPtr>> replies =
        PipelineOnce(commands, deadline, replied);
    if (replies.ok()) {
      used_ = true;
      return replies;
    }
    if (!Recover(replies.status(), reused && !replied, attempt)) {
      return replies.status();
    }
  }
}

absl::Status RedisConnection::Send(const std::vector<std::string>& argv,
                                   absl::Time deadline) {
  RETURN_IF_ERROR(Connect(deadline));
  absl::Status status = SetDeadline(deadline, argv[0]);
  if (status.ok()) status = Write(argv, "");
  if (!status.ok()) {
    if (absl::IsDeadlineExceeded(status)) {
      Disconnect();
    } else {
      Fail(status);
    }
  }
  return status;
}

absl::StatusOr<RedisReplyPtr> RedisConnection::NextReply(absl::Duration wait) {
  if (context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("redis ", server_, ": not connected"));
  }
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<RedisReplyPtr> reply = TakeReply("read", "");
    if (!reply.ok()) {
      if (absl::IsResourceExhausted(reply.status())) {
        Disconnect();  // mid-reply: only a new connection is usable
      } else {
        Fail(reply.status());
      }
      return reply.status();
    }
    if (*reply != nullptr) return reply;
    if (round == 1) break;
    pollfd fd = {context_->fd, POLLIN, 0};
    const int ready =
        poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(wait)));
    if (ready <= 0) return RedisReplyPtr();  // nothing yet (or EINTR)
    errno = 0;
    if (redisBufferRead(context_) != REDIS_OK) {
      absl::Status status = TransportFailure("read", "", errno);
      Fail(status);
      return status;
    }
  }
  return RedisReplyPtr();  // a partial reply: the rest comes later
}

}  // namespace signalscaler
