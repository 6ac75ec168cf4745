#include "sources/redis/redis_connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "scaler/common/status_macros.h"

namespace signalscaler {
namespace {

// hiredis writes with write(2): a write to a connection the server has
// reset raises SIGPIPE, which kills a process that does not ignore it. Block
// it on this thread for the duration of a call, and swallow one it raised.
class ScopedNoSigpipe {
 public:
  ScopedNoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedNoSigpipe() {
    const int saved_errno = errno;
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero = {0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved_errno;
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

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
      server_(absl::StrCat(options_.host, ":", options_.port)) {}

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

absl::StatusOr<RedisReplyPtr> RedisConnection::RoundTrip(
    const std::vector<std::string>& argv, absl::Time deadline,
    absl::string_view key) {
  RETURN_IF_ERROR(SetDeadline(deadline, argv[0]));
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  void* raw = nullptr;
  int saved_errno = 0;
  {
    ScopedNoSigpipe no_sigpipe;
    errno = 0;
    raw = redisCommandArgv(context_, static_cast<int>(args.size()), args.data(),
                           lengths.data());
    saved_errno = errno;
  }
  if (raw == nullptr) return TransportFailure(argv[0], key, saved_errno);
  return RedisReplyPtr(static_cast<redisReply*>(raw));
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
    std::ifstream in(options_.password_file);
    std::stringstream contents;
    contents << in.rdbuf();
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("redis ", server_, ": cannot read passwordFile ",
                       options_.password_file, ": ", std::strerror(errno)));
    }
    password_ = std::string(absl::StripTrailingAsciiWhitespace(contents.str()));
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
    if (absl::IsDeadlineExceeded(reply.status())) {
      Disconnect();  // hiredis' context is unusable after a timeout
      return reply.status();
    }
    // The server may have closed an idle connection (timeout, restart, a
    // proxy): one fresh attempt before backing off.
    if (reused && attempt == 0 && absl::IsUnavailable(reply.status())) {
      Disconnect();
      continue;
    }
    Fail(reply.status());
    return reply.status();
  }
}

absl::Status RedisConnection::Send(const std::vector<std::string>& argv,
                                   absl::Time deadline) {
  RETURN_IF_ERROR(Connect(deadline));
  absl::Status status = SetDeadline(deadline, argv[0]);
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (status.ok()) {
    ScopedNoSigpipe no_sigpipe;
    errno = 0;
    int done = 0;
    if (redisAppendCommandArgv(context_, static_cast<int>(args.size()),
                               args.data(), lengths.data()) != REDIS_OK) {
      done = -1;
    }
    while (done == 0) {
      if (redisBufferWrite(context_, &done) != REDIS_OK) done = -1;
    }
    if (done < 0) status = TransportFailure(argv[0], "", errno);
  }
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
  void* raw = nullptr;
  for (int round = 0; round < 2; ++round) {
    if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) {
      absl::Status status = TransportFailure("read", "", 0);
      Fail(status);
      return status;
    }
    if (raw != nullptr) return RedisReplyPtr(static_cast<redisReply*>(raw));
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
