#include "scaler/state/internal/served_sets.h"

#include <hiredis/hiredis.h>

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "scaler/common/log.h"
#include "sources/redis/client/redis_reply.h"

namespace signalscaler::state_internal {
namespace {

PipelinedCall Plain(std::vector<std::string> argv, std::string key) {
  PipelinedCall call;
  call.argv = std::move(argv);
  call.key = std::move(key);
  return call;
}

}  // namespace

std::string ServedDigest(absl::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::StrFormat("%016x", h);
}

ServedSets::ServedSets(const std::string& prefix)
    : hash_key_(absl::StrCat(prefix, ":served")),
      copy_prefix_(absl::StrCat(prefix, ":served:")) {}

void ServedSets::Warn(absl::string_view what, const absl::Status& why) {
  if (warned_) return;
  warned_ = true;
  LogWarn(
      "redis state store: what the replicas serve is unknown for now (each "
      "is taken to serve every policy)",
      {{"step", std::string(what)}, {"error", std::string(why.message())}});
}

size_t ServedSets::AppendCalls(const std::string& replica,
                               const std::shared_ptr<const std::string>& serves,
                               absl::Time now,
                               std::vector<PipelinedCall>& calls) {
  const size_t before = calls.size();
  replica_ = replica;
  announced_ = serves != nullptr;
  writing_ = false;
  if (serves != nullptr) {
    if (serves != mine_) {
      const std::string digest = ServedDigest(*serves);
      if (digest != mine_digest_) written_ = absl::InfinitePast();
      mine_ = serves;
      mine_digest_ = digest;
    }
    calls.push_back(
        Plain({"HSET", hash_key_, replica, mine_digest_}, hash_key_));
    if (written_ + kServedTtl / 2 <= now) {
      const std::string copy = copy_prefix_ + mine_digest_;
      calls.push_back(
          Plain({"SET", copy, *serves, "PX",
                 absl::StrCat(absl::ToInt64Milliseconds(kServedTtl))},
                copy));
      writing_ = true;
      writing_at_ = now;
    }
  }
  calls.push_back(Plain({"HGETALL", hash_key_}, hash_key_));
  return calls.size() - before;
}

absl::StatusOr<std::vector<LiveReplica>> ServedSets::Resolve(
    RedisCluster& connection, const std::vector<std::string>& members,
    absl::Span<absl::StatusOr<RedisReplyPtr>> replies, absl::Time deadline,
    const Clock& clock) {
  size_t next = 0;
  bool ok = true;
  if (announced_) {
    if (!replies[next].ok()) {
      Warn("HSET", replies[next].status());
      ok = false;
    }
    ++next;
  }
  if (writing_) {
    if (replies[next].ok()) {
      written_ = writing_at_;
    } else {
      Warn("SET", replies[next].status());
      ok = false;
    }
    ++next;
  }
  // replica -> digest, from HGETALL's [field, value, ...].
  absl::flat_hash_map<std::string, std::string> digests;
  const absl::StatusOr<RedisReplyPtr>& all = replies[next];
  if (!all.ok()) {
    Warn("HGETALL", all.status());
    ok = false;
  } else if ((*all)->type == REDIS_REPLY_ARRAY) {
    const redisReply& r = **all;
    for (size_t i = 0; i + 1 < r.elements; i += 2) {
      digests[std::string(ReplyText(*r.element[i]))] =
          std::string(ReplyText(*r.element[i + 1]));
    }
  }
  if (announced_) copies_[mine_digest_] = mine_;

  // Copies not seen yet, and the announcements of replicas gone.
  const absl::flat_hash_set<std::string> alive(members.begin(), members.end());
  std::vector<PipelinedCall> calls;
  std::vector<std::string> wanted;
  absl::flat_hash_set<std::string> asked;
  for (const std::string& m : members) {
    auto d = digests.find(m);
    if (d == digests.end() || copies_.contains(d->second) ||
        !asked.insert(d->second).second) {
      continue;
    }
    wanted.push_back(d->second);
    calls.push_back(
        Plain({"GET", copy_prefix_ + d->second}, copy_prefix_ + d->second));
  }
  for (const auto& [replica, digest] : digests) {
    if (!alive.contains(replica)) {
      calls.push_back(Plain({"HDEL", hash_key_, replica}, hash_key_));
    }
  }
  if (!calls.empty()) {
    absl::StatusOr<std::vector<absl::StatusOr<RedisReplyPtr>>> got =
        RunPipelined(connection, absl::MakeSpan(calls), deadline, clock);
    if (!got.ok()) return got.status();
    for (size_t i = 0; i < wanted.size(); ++i) {
      const absl::StatusOr<RedisReplyPtr>& r = (*got)[i];
      if (!r.ok()) {
        Warn("GET", r.status());
        ok = false;
      } else if ((*r)->type == REDIS_REPLY_STRING) {
        copies_[wanted[i]] =
            std::make_shared<const std::string>(ReplyText(**r));
      }  // nil: expired, unknown until it is written again
    }
  }

  std::vector<LiveReplica> out;
  out.reserve(members.size());
  absl::flat_hash_set<std::string> in_use;
  for (const std::string& m : members) {
    LiveReplica live{m, nullptr};
    auto d = digests.find(m);
    if (m == replica_ && announced_) {
      live.serves = mine_;
      in_use.insert(mine_digest_);
    } else if (d != digests.end()) {
      auto copy = copies_.find(d->second);
      if (copy != copies_.end()) live.serves = copy->second;
      in_use.insert(d->second);
    }
    out.push_back(std::move(live));
  }
  for (auto it = copies_.begin(); it != copies_.end();) {
    if (in_use.contains(it->first)) {
      ++it;
    } else {
      copies_.erase(it++);
    }
  }
  if (ok) warned_ = false;
  return out;
}

}  // namespace signalscaler::state_internal
