#include "scaler/state/internal/redis_scripts.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "scaler/common/status_macros.h"
#include "sources/redis/client/redis_errors.h"
#include "sources/redis/client/redis_reply.h"

namespace signalscaler::state_internal {
namespace {

bool IsErrorStartingWith(const redisReply& r, absl::string_view prefix) {
  return r.type == REDIS_REPLY_ERROR && absl::StartsWith(ReplyText(r), prefix);
}

}  // namespace

std::string LeaseValue(const Lease& lease) {
  return absl::StrCat(lease.epoch, " ", lease.holder);
}

bool ParseLeaseValue(absl::string_view value, Lease& lease) {
  const size_t space = value.find(' ');
  if (space == absl::string_view::npos || space + 1 == value.size()) {
    return false;
  }
  if (!absl::SimpleAtoi(value.substr(0, space), &lease.epoch)) return false;
  lease.holder = std::string(value.substr(space + 1));
  return true;
}

absl::StatusOr<RedisReplyPtr> RedisScript::Run(
    RedisConnection& connection, const std::vector<std::string>& keys,
    const std::vector<std::string>& args, absl::Time deadline,
    const std::string& key) {
  const std::string& server = connection.server();
  if (sha_.empty() && !eval_only_) {
    ASSIGN_OR_RETURN(
        RedisReplyPtr loaded,
        connection.Command({"SCRIPT", "LOAD", body_}, deadline, key));
    if (loaded->type == REDIS_REPLY_STRING) {
      sha_ = std::string(ReplyText(*loaded));
    } else if (IsErrorStartingWith(*loaded, "NOPERM")) {
      eval_only_ = true;
    } else if (loaded->type == REDIS_REPLY_ERROR) {
      return RedisErrorToStatus(RedisCall{server, "SCRIPT LOAD", key},
                                FailureFromReply(*loaded));
    } else {
      return absl::InternalError(absl::StrCat(
          "redis ", server, ": SCRIPT LOAD: unexpected reply (not a SHA)"));
    }
  }
  std::vector<std::string> argv = {"EVALSHA", sha_, absl::StrCat(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  if (!sha_.empty()) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     connection.Command(argv, deadline, key));
    if (!IsErrorStartingWith(*reply, "NOSCRIPT")) {
      if (reply->type == REDIS_REPLY_ERROR) {
        return RedisErrorToStatus(RedisCall{server, "EVALSHA", key},
                                  FailureFromReply(*reply));
      }
      return reply;
    }
    // Forgotten: EVAL runs it and caches it again under the same SHA.
  }
  argv[0] = "EVAL";
  argv[1] = body_;
  ASSIGN_OR_RETURN(RedisReplyPtr reply,
                   connection.Command(argv, deadline, key));
  if (reply->type == REDIS_REPLY_ERROR) {
    return RedisErrorToStatus(RedisCall{server, "EVAL", key},
                              FailureFromReply(*reply));
  }
  return reply;
}

}  // namespace signalscaler::state_internal
