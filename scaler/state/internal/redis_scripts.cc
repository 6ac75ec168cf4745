#include "scaler/state/internal/redis_scripts.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
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

using Replies = std::vector<absl::StatusOr<RedisReplyPtr>>;

// Sends calls[begin, end) (each argv ready), with `prelude` at the head of
// every node's batch (RedisCluster::Pipeline), and reads the replies: the
// prelude's dropped, the calls' into out[begin, end), error replies left as
// they are. A node's failure is its calls' status; when no node answered,
// the whole call fails with it.
absl::Status SendAndRead(RedisCluster& connection,
                         const std::vector<std::vector<std::string>>& prelude,
                         absl::Span<PipelinedCall> calls, size_t begin,
                         size_t end, absl::Time deadline, Replies& out) {
  std::vector<RedisCommand> commands;
  commands.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {  // lent, given back below
    commands.push_back({std::move(calls[i].argv), calls[i].key});
  }
  Replies replies = connection.Pipeline(commands, deadline, prelude);
  for (size_t i = begin; i < end; ++i) {
    calls[i].argv = std::move(commands[i - begin].argv);
  }
  absl::Status failure = absl::OkStatus();
  bool answered = false;
  for (size_t k = 0; k < replies.size(); ++k) {
    if (replies[k].ok()) {
      answered = true;
    } else if (failure.ok()) {
      failure = replies[k].status();
    }
    out[begin + k] = std::move(replies[k]);
  }
  return answered ? absl::OkStatus() : failure;
}

// Runs `calls` in chunks; `eval` sends scripts by EVAL. Each chunk opens
// with a SCRIPT LOAD of every script it runs by SHA: cheap for a script the
// server knows, and then no call of the chunk finds it forgotten (which
// would run it out of order with the calls after it).
absl::Status RunChunks(RedisCluster& connection,
                       absl::Span<PipelinedCall> calls, bool eval,
                       absl::Time deadline, Replies& out) {
  size_t begin = 0;
  while (begin < calls.size()) {
    size_t end = begin;
    size_t bytes = 0;
    std::vector<RedisScript*> scripts;
    while (end < calls.size() && end - begin < kPipelineCalls &&
           (end == begin || bytes < kPipelineBytes)) {
      PipelinedCall& call = calls[end];
      if (call.script != nullptr) {
        call.script->Address(call.argv, eval);
        if (call.argv[0] == "EVALSHA" &&
            std::find(scripts.begin(), scripts.end(), call.script) ==
                scripts.end()) {
          scripts.push_back(call.script);
        }
      }
      for (const std::string& arg : call.argv) bytes += arg.size();
      ++end;
    }
    std::vector<std::vector<std::string>> prelude;
    for (const RedisScript* script : scripts) {
      prelude.push_back(script->LoadCommand());
    }
    RETURN_IF_ERROR(
        SendAndRead(connection, prelude, calls, begin, end, deadline, out));
    begin = end;
  }
  return absl::OkStatus();
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

absl::Status RedisScript::Prepare(RedisCluster& connection, absl::Time deadline,
                                  const std::string& key) {
  if (!sha_.empty() || eval_only_) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      RedisReplyPtr loaded,
      connection.Command({"SCRIPT", "LOAD", body_}, deadline, key));
  if (loaded->type == REDIS_REPLY_STRING) {
    sha_ = std::string(ReplyText(*loaded));
  } else if (IsErrorStartingWith(*loaded, "NOPERM")) {
    eval_only_ = true;
  } else if (loaded->type == REDIS_REPLY_ERROR) {
    return RedisErrorToStatus(
        RedisCall{connection.server(), "SCRIPT LOAD", key},
        FailureFromReply(*loaded));
  } else {
    return absl::InternalError(
        absl::StrCat("redis ", connection.server(),
                     ": SCRIPT LOAD: unexpected reply (not a SHA)"));
  }
  return absl::OkStatus();
}

std::vector<std::string> RedisScript::LoadCommand() const {
  return {"SCRIPT", "LOAD", body_};
}

void RedisScript::Address(std::vector<std::string>& argv, bool eval) const {
  if (eval || sha_.empty()) {
    argv[0] = "EVAL";
    argv[1] = body_;
  } else {
    argv[0] = "EVALSHA";
    argv[1] = sha_;
  }
}

PipelinedCall RedisScript::Call(const std::vector<std::string>& keys,
                                std::vector<std::string> args,
                                std::string key) {
  PipelinedCall call;
  call.script = this;
  call.argv = {"", "", absl::StrCat(keys.size())};
  call.argv.reserve(3 + keys.size() + args.size());
  call.argv.insert(call.argv.end(), keys.begin(), keys.end());
  for (std::string& arg : args) call.argv.push_back(std::move(arg));
  call.key = std::move(key);
  return call;
}

absl::StatusOr<RedisReplyPtr> RedisScript::Run(
    RedisCluster& connection, const std::vector<std::string>& keys,
    const std::vector<std::string>& args, absl::Time deadline,
    const std::string& key) {
  const std::string& server = connection.server();
  RETURN_IF_ERROR(Prepare(connection, deadline, key));
  PipelinedCall call = Call(keys, args, key);
  std::vector<std::string>& argv = call.argv;
  Address(argv, false);
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
  Address(argv, true);
  ASSIGN_OR_RETURN(RedisReplyPtr reply,
                   connection.Command(argv, deadline, key));
  if (reply->type == REDIS_REPLY_ERROR) {
    return RedisErrorToStatus(RedisCall{server, "EVAL", key},
                              FailureFromReply(*reply));
  }
  return reply;
}

absl::StatusOr<std::vector<absl::StatusOr<RedisReplyPtr>>> RunPipelined(
    RedisCluster& connection, absl::Span<PipelinedCall> calls,
    absl::Time deadline, const Clock& clock) {
  Replies out;
  if (calls.empty()) return out;
  if (clock.Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("redis ", connection.server(), ": ", calls.size(),
                     " pipelined calls: the deadline passed before sending"));
  }
  out.reserve(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    out.emplace_back(absl::UnknownError("not run"));
  }
  // SCRIPT LOAD also (re)connects, through Command()'s one retry.
  absl::flat_hash_set<RedisScript*> prepared;
  for (PipelinedCall& call : calls) {
    if (call.script == nullptr || !prepared.insert(call.script).second) {
      continue;
    }
    RETURN_IF_ERROR(call.script->Prepare(connection, deadline, call.key));
  }
  RETURN_IF_ERROR(RunChunks(connection, calls, false, deadline, out));
  // A script forgotten anyway (a SCRIPT FLUSH between the chunk's SCRIPT
  // LOAD and the call, a refused SCRIPT LOAD): every call from the first one
  // refused on runs again, in order, scripts by EVAL (which caches them
  // again). Calls after it that had run run twice: the store's scripts and
  // commands may (a renewal renews, a release or a save of the same value
  // changes nothing more), though not with the order kept.
  size_t first = calls.size();
  for (size_t i = 0; i < calls.size() && first == calls.size(); ++i) {
    if (calls[i].script != nullptr && out[i].ok() &&
        IsErrorStartingWith(**out[i], "NOSCRIPT")) {
      first = i;
    }
  }
  if (first < calls.size()) {
    absl::Span<PipelinedCall> rest = calls.subspan(first);
    Replies again(rest.size());
    RETURN_IF_ERROR(RunChunks(connection, rest, true, deadline, again));
    for (size_t j = 0; j < rest.size(); ++j) {
      out[first + j] = std::move(again[j]);
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!out[i].ok()) continue;  // its node's failure
    const redisReply& reply = **out[i];
    if (reply.type != REDIS_REPLY_ERROR) continue;
    const std::string& command = calls[i].argv[0];
    out[i] = RedisErrorToStatus(
        RedisCall{connection.server(), command, calls[i].key},
        FailureFromReply(reply));
  }
  return out;
}

}  // namespace signalscaler::state_internal
