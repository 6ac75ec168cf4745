#include "sources/redis/client/internal/reply_budget.h"

namespace signalscaler::redis_internal {
namespace {

RedisReplyBudget& BudgetOf(const redisReadTask* task) {
  return *static_cast<RedisReplyBudget*>(task->privdata);
}

void* BoundedString(const redisReadTask* task, char* str, size_t len) {
  RedisReplyBudget& budget = BudgetOf(task);
  if (!budget.Charge(sizeof(redisReply) + len + 1)) return nullptr;
  return budget.hiredis->createString(task, str, len);
}

void* BoundedArray(const redisReadTask* task, int elements) {
  RedisReplyBudget& budget = BudgetOf(task);
  const size_t n = elements > 0 ? static_cast<size_t>(elements) : 0;
  if (n > budget.limit / sizeof(redisReply*) ||
      !budget.Charge(sizeof(redisReply) + n * sizeof(redisReply*))) {
    budget.exceeded = true;
    return nullptr;
  }
  return budget.hiredis->createArray(task, elements);
}

void* BoundedInteger(const redisReadTask* task, long long value) {
  RedisReplyBudget& budget = BudgetOf(task);
  if (!budget.Charge(sizeof(redisReply))) return nullptr;
  return budget.hiredis->createInteger(task, value);
}

void* BoundedNil(const redisReadTask* task) {
  RedisReplyBudget& budget = BudgetOf(task);
  if (!budget.Charge(sizeof(redisReply))) return nullptr;
  return budget.hiredis->createNil(task);
}

}  // namespace

void BoundReplies(redisContext& context, RedisReplyBudget& budget) {
  redisReader& reader = *context.reader;
  budget.hiredis = reader.fn;
  budget.bounded = *reader.fn;
  budget.bounded.createString = BoundedString;
  budget.bounded.createArray = BoundedArray;
  budget.bounded.createInteger = BoundedInteger;
  budget.bounded.createNil = BoundedNil;
  budget.Reset();
  reader.fn = &budget.bounded;
  reader.privdata = &budget;
}

}  // namespace signalscaler::redis_internal
