// The bound on one reply while hiredis reads it. hiredis' reader makes a
// reply object by object through a table of functions (read.h);
// BoundReplies puts a table of the connection's own in front of the
// reader's: each object is charged to the reply being read before hiredis
// makes it, and a refusal (nullptr) makes hiredis drop the partial reply and
// fail the read. An array header is charged for its pointers before hiredis
// allocates them, so "*2000000000" fails at once.
//
//   RedisReplyBudget budget;
//   budget.limit = options.max_reply_bytes;
//   BoundReplies(*context, budget);  // once per fresh context
//   ... redisGetReplyFromReader fails: budget.exceeded says why
//   budget.Reset();                  // after each complete reply
//
// Internal to the Redis client: it includes hiredis, which
// redis_connection.h does not. Not thread-safe (one reader, one thread).
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_REPLY_BUDGET_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_REPLY_BUDGET_H_

#include <hiredis/hiredis.h>

#include <cstddef>

namespace signalscaler {

// How much of the bound the reply being read took (redis_connection.h
// declares it).
struct RedisReplyBudget {
  redisReplyObjectFunctions* hiredis = nullptr;  // the reader's own table
  redisReplyObjectFunctions bounded = {};        // charges, then calls it
  size_t limit = 0;
  size_t used = 0;  // by the objects made of the reply in progress
  bool exceeded = false;

  // Adds `bytes` to `used`; false (and `exceeded` set) when that would pass
  // `limit`, or a charge already did.
  bool Charge(size_t bytes) {
    if (exceeded || bytes > limit || used > limit - bytes) {
      exceeded = true;
      return false;
    }
    used += bytes;
    return true;
  }
  void Reset() {
    used = 0;
    exceeded = false;
  }
};

namespace redis_internal {

// Puts `budget` in front of the fresh `context`'s reader (and resets it).
// `budget` must outlive the context.
void BoundReplies(redisContext& context, RedisReplyBudget& budget);

}  // namespace redis_internal
}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_REPLY_BUDGET_H_
