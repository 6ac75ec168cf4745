// Reading a hiredis reply: the one helper that turns a reply's bytes into a
// string_view, and the pub/sub push check. Declared on hiredis' type only,
// so that its header stays in the .cc files that look inside a reply.
//
//   absl::string_view value = ReplyText(*reply);  // "" when it has none
//   if (IsPush(*reply, "message", 3))
//   on_message(ReplyText(*reply->element[2]));
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_REPLY_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_REPLY_H_

#include <cstddef>

#include "absl/strings/string_view.h"

struct redisReply;

namespace signalscaler {

// The bytes of a string, status, error, verbatim or double reply (binary
// safe: they may hold NULs); empty for a reply without any (nil, integer,
// array). Valid as long as the reply is.
absl::string_view ReplyText(const redisReply& reply);

// True if `reply` is an array of at least `elements` (>= 1) elements whose
// first `elements` are strings and whose first says `word` (any case): a
// pub/sub push such as ["message", channel, payload] or
// ["subscribe", channel, count].
bool IsPush(const redisReply& reply, absl::string_view word, size_t elements);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_REPLY_H_
