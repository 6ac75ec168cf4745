// The one place where hiredis' failures become absl::Status values: a
// context's err/errstr (with errno captured right after the failed call) and
// the server's error replies. Every Redis file maps errors through here, so a
// code means the same thing wherever it comes from:
//
//   timeout (no reply before the deadline)       DEADLINE_EXCEEDED
//   connection refused / lost / EOF, LOADING     UNAVAILABLE
//   NOAUTH, WRONGPASS, a refused AUTH            UNAUTHENTICATED
//   NOPERM (ACL)                                 PERMISSION_DENIED
//   WRONGTYPE                                    INVALID_ARGUMENT (key, TYPE)
//   NOGROUP                                      NOT_FOUND
//   any other error reply, protocol error        INTERNAL (command named)
//   a reply over the client's bound              RESOURCE_EXHAUSTED (limit)
//   cluster: still redirected after the bound    UNAVAILABLE (key, nodes)
//   cluster: redirected to a node not allowed    PERMISSION_DENIED (node)
//   cluster: MOVED/ASK not followed              INTERNAL (another node)
//
//   RedisCall call{"127.0.0.1:6379", "LLEN", "jobs"};
//   absl::Status s = RedisErrorToStatus(call, FailureFromReply(*reply));
//
// Messages name the server, the command and the key; never a command's
// arguments (AUTH's is the password) and so never a secret.
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_ERRORS_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_ERRORS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

// hiredis' types, declared here so that its header stays out of ours.
struct redisContext;
struct redisReply;

namespace signalscaler {

// What was being done when the failure happened (for the message).
struct RedisCall {
  std::string server;   // "host:port"
  std::string command;  // the command's NAME only ("LLEN", "connect")
  std::string key;      // the key the command reads; empty if none
};

// What went wrong. Either the transport failed (context_err != 0) or the
// server replied with an error (error_reply set, context_err == 0).
struct RedisFailure {
  int context_err = 0;         // redisContext::err: REDIS_ERR_IO, _EOF, ...
  std::string context_errstr;  // redisContext::errstr
  int saved_errno = 0;         // errno right after the failed call
  std::string error_reply;     // a REDIS_REPLY_ERROR's text, e.g. "WRONGTYPE"
  std::string key_type;        // TYPE of call.key when known (for WRONGTYPE)
  // Non-zero: the reply outgrew this bound (bytes) and the client stopped
  // reading it; neither a transport nor a server error.
  size_t reply_limit_bytes = 0;
  // Redis Cluster (redis_cluster.h), neither a transport nor a server error.
  // Non-empty: the command was still redirected (MOVED, ASK) after the
  // client's bound; the nodes ("host:port") it was sent to, in order.
  std::vector<std::string> redirect_path;
  // Non-empty: a redirect named this node ("host:port"), which the client
  // may not connect to (its allowed hosts leave it out).
  std::string refused_node;
};

// THE translation (see the table above). Never returns OK.
absl::Status RedisErrorToStatus(const RedisCall& call,
                                const RedisFailure& failure);

// Adapters from hiredis' structures to a RedisFailure.
RedisFailure FailureFromContext(const redisContext& context, int saved_errno);
RedisFailure FailureFromReply(const redisReply& reply);  // an error reply

// The type a command needs its key to hold ("list" for LLEN, "zset" for
// ZCARD, "stream" for XLEN/XPENDING/XINFO), or "" if unknown.
absl::string_view ExpectedKeyType(absl::string_view command);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_ERRORS_H_
