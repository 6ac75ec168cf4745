#include "sources/redis/client/redis_errors.h"

#include <hiredis/hiredis.h>

#include <cerrno>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sources/redis/client/redis_reply.h"
#include "sources/text_excerpt.h"

namespace signalscaler {
namespace {

// "redis 127.0.0.1:6379: LLEN \"jobs\"" or "redis 127.0.0.1:6379: connect".
std::string Prefix(const RedisCall& call) {
  std::string prefix = absl::StrCat("redis ", call.server, ": ", call.command);
  if (!call.key.empty()) absl::StrAppend(&prefix, " \"", call.key, "\"");
  return prefix;
}

bool IsTimeout(const RedisFailure& f) {
  if (f.context_err != REDIS_ERR_IO) return false;
  if (f.saved_errno == EAGAIN || f.saved_errno == EWOULDBLOCK ||
      f.saved_errno == ETIMEDOUT || f.saved_errno == EINPROGRESS) {
    return true;
  }
  return absl::StrContains(f.context_errstr, "timed out") ||
         absl::StrContains(f.context_errstr, "temporarily unavailable");
}

absl::Status TransportError(const RedisCall& call, const RedisFailure& f) {
  const std::string detail = f.context_errstr.empty()
                                 ? std::string("unknown error")
                                 : f.context_errstr;
  if (IsTimeout(f)) {
    return absl::DeadlineExceededError(absl::StrCat(
        Prefix(call), ": no answer before the deadline (", detail, ")"));
  }
  switch (f.context_err) {
    case REDIS_ERR_EOF:
      return absl::UnavailableError(
          absl::StrCat(Prefix(call), ": connection lost (", detail, ")"));
    case REDIS_ERR_IO:
      return absl::UnavailableError(
          absl::StrCat(Prefix(call), ": connection failed (", detail, ")"));
    case REDIS_ERR_OTHER:  // name resolution, socket creation
      return absl::UnavailableError(
          absl::StrCat(Prefix(call), ": cannot connect (", detail, ")"));
    case REDIS_ERR_OOM:
      return absl::ResourceExhaustedError(
          absl::StrCat(Prefix(call), ": out of memory (", detail, ")"));
    case REDIS_ERR_PROTOCOL:
    default:
      return absl::InternalError(absl::StrCat(
          Prefix(call), ": bad reply from the server (", detail, ")"));
  }
}

// "1 MiB (1048576 bytes)", "1536 bytes".
std::string Bytes(size_t n) {
  const size_t kib = size_t{1} << 10;
  const size_t mib = size_t{1} << 20;
  if (n >= mib && n % mib == 0) {
    return absl::StrCat(n / mib, " MiB (", n, " bytes)");
  }
  if (n >= kib && n % kib == 0) {
    return absl::StrCat(n / kib, " KiB (", n, " bytes)");
  }
  return absl::StrCat(n, " bytes");
}

// The first word of an error reply: "WRONGTYPE", "ERR", "NOAUTH", ...
absl::string_view ErrorPrefix(absl::string_view reply) {
  const size_t space = reply.find(' ');
  return space == absl::string_view::npos ? reply : reply.substr(0, space);
}

absl::Status ReplyError(const RedisCall& call, const RedisFailure& f) {
  const absl::string_view prefix = ErrorPrefix(f.error_reply);
  const std::string quoted = absl::StrCat("(", f.error_reply, ")");
  if (prefix == "LOADING" || prefix == "BUSY" || prefix == "MASTERDOWN" ||
      prefix == "TRYAGAIN" || prefix == "CLUSTERDOWN") {
    return absl::UnavailableError(
        absl::StrCat(Prefix(call), ": the server cannot answer now ", quoted));
  }
  if (prefix == "NOAUTH") {
    return absl::UnauthenticatedError(absl::StrCat(
        Prefix(call), ": the server requires a password (set passwordFile) ",
        quoted));
  }
  if (prefix == "WRONGPASS" || absl::EqualsIgnoreCase(call.command, "AUTH")) {
    return absl::UnauthenticatedError(absl::StrCat(
        Prefix(call), ": the server refused the password from passwordFile ",
        quoted));
  }
  if (prefix == "NOPERM") {
    return absl::PermissionDeniedError(absl::StrCat(
        Prefix(call), ": not permitted by the server's ACL ", quoted));
  }
  if (prefix == "WRONGTYPE") {
    const absl::string_view expected = ExpectedKeyType(call.command);
    std::string message =
        absl::StrCat(Prefix(call), ": key \"", call.key, "\" ");
    if (!f.key_type.empty()) {
      absl::StrAppend(&message, "holds a ", f.key_type);
      if (!expected.empty()) absl::StrAppend(&message, ", not a ", expected);
    } else {
      absl::StrAppend(&message, "holds the wrong type of value");
      if (!expected.empty())
        absl::StrAppend(&message, " (needs a ", expected, ")");
    }
    return absl::InvalidArgumentError(message);
  }
  if (prefix == "MOVED" || prefix == "ASK") {
    return absl::InternalError(absl::StrCat(
        Prefix(call), ": served by another node of a Redis Cluster ", quoted));
  }
  if (prefix == "NOGROUP") {
    return absl::NotFoundError(absl::StrCat(Prefix(call), ": ", f.error_reply));
  }
  return absl::InternalError(
      absl::StrCat(Prefix(call), " failed: ", f.error_reply));
}

}  // namespace

absl::Status RedisErrorToStatus(const RedisCall& call,
                                const RedisFailure& failure) {
  if (failure.reply_limit_bytes != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        Prefix(call), ": the reply is larger than the limit of ",
        Bytes(failure.reply_limit_bytes),
        " for one reply; reading stopped and the connection was dropped"));
  }
  if (!failure.refused_node.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        Prefix(call), ": the cluster serves it from node ",
        failure.refused_node,
        ", which this client may not connect to (not an allowed host)"));
  }
  if (!failure.redirect_path.empty()) {
    return absl::UnavailableError(absl::StrCat(
        Prefix(call), ": still redirected after ",
        failure.redirect_path.size() - 1, " redirects (",
        absl::StrJoin(failure.redirect_path, " -> "),
        "); the cluster's slots are moving or its nodes disagree"));
  }
  if (failure.context_err != 0) return TransportError(call, failure);
  if (!failure.error_reply.empty()) return ReplyError(call, failure);
  return absl::InternalError(
      absl::StrCat(Prefix(call), ": failed without an error from hiredis"));
}

RedisFailure FailureFromContext(const redisContext& context, int saved_errno) {
  RedisFailure failure;
  failure.context_err = context.err != 0 ? context.err : REDIS_ERR_OTHER;
  failure.context_errstr = context.errstr;  // NUL-terminated by hiredis
  failure.saved_errno = saved_errno;
  return failure;
}

RedisFailure FailureFromReply(const redisReply& reply) {
  RedisFailure failure;
  if (reply.type == REDIS_REPLY_ERROR && reply.str != nullptr) {
    failure.error_reply = TextExcerpt(ReplyText(reply));
  } else {
    failure.error_reply = "ERR unexpected reply type";
  }
  if (failure.error_reply.empty()) failure.error_reply = "ERR (empty error)";
  return failure;
}

absl::string_view ExpectedKeyType(absl::string_view command) {
  const std::string upper = absl::AsciiStrToUpper(command);
  if (upper == "LLEN") return "list";
  if (upper == "ZCARD") return "zset";
  if (upper == "XLEN" || upper == "XPENDING" || upper == "XINFO" ||
      upper == "XINFO GROUPS") {
    return "stream";
  }
  return "";
}

}  // namespace signalscaler
