#include "sources/redis/client/redis_reply.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"

namespace signalscaler {

absl::string_view ReplyText(const redisReply& reply) {
  return reply.str == nullptr ? absl::string_view()
                              : absl::string_view(reply.str, reply.len);
}

bool IsPush(const redisReply& reply, absl::string_view word, size_t elements) {
  if (reply.type != REDIS_REPLY_ARRAY || elements == 0 ||
      reply.elements < elements) {
    return false;
  }
  for (size_t i = 0; i < elements; ++i) {
    if (reply.element[i]->type != REDIS_REPLY_STRING) return false;
  }
  return absl::EqualsIgnoreCase(ReplyText(*reply.element[0]), word);
}

}  // namespace signalscaler
