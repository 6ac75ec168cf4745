#include "sources/redis/client/internal/slot_map.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "sources/redis/client/internal/key_slot.h"
#include "sources/redis/client/redis_reply.h"

namespace signalscaler::redis_internal {
namespace {

bool IsSlot(long long n) { return n >= 0 && n < kClusterSlots; }

absl::Status NotSlots(absl::string_view server, absl::string_view why) {
  return absl::InternalError(absl::StrCat(
      "redis ", server, ": CLUSTER SLOTS: unexpected reply (", why, ")"));
}

}  // namespace

std::string RedisNode::Address() const { return absl::StrCat(host, ":", port); }

std::optional<RedisRedirect> ParseRedirect(absl::string_view error_reply) {
  RedisRedirect redirect;
  absl::string_view rest;
  if (absl::ConsumePrefix(&error_reply, "MOVED ")) {
    rest = error_reply;
  } else if (absl::ConsumePrefix(&error_reply, "ASK ")) {
    redirect.ask = true;
    rest = error_reply;
  } else {
    return std::nullopt;
  }
  const size_t space = rest.find(' ');
  if (space == absl::string_view::npos) return std::nullopt;
  const absl::string_view endpoint = rest.substr(space + 1);
  const size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(rest.substr(0, space), &redirect.slot) ||
      !IsSlot(redirect.slot) ||
      !absl::SimpleAtoi(endpoint.substr(colon + 1), &redirect.node.port) ||
      redirect.node.port < 1 || redirect.node.port > 65535) {
    return std::nullopt;
  }
  redirect.node.host = std::string(endpoint.substr(0, colon));
  if (absl::StrContains(redirect.node.host, ' ')) return std::nullopt;
  return redirect;
}

absl::StatusOr<std::vector<SlotRange>> ParseClusterSlots(
    const redisReply& reply, absl::string_view asked_host,
    absl::string_view server) {
  if (reply.type != REDIS_REPLY_ARRAY) return NotSlots(server, "not a list");
  std::vector<SlotRange> ranges;
  for (size_t i = 0; i < reply.elements; ++i) {
    const redisReply& entry = *reply.element[i];
    if (entry.type != REDIS_REPLY_ARRAY || entry.elements < 3 ||
        entry.element[0]->type != REDIS_REPLY_INTEGER ||
        entry.element[1]->type != REDIS_REPLY_INTEGER ||
        entry.element[2]->type != REDIS_REPLY_ARRAY) {
      return NotSlots(server, "an entry is not [first, last, master, ...]");
    }
    const long long first = entry.element[0]->integer;
    const long long last = entry.element[1]->integer;
    if (!IsSlot(first) || !IsSlot(last) || first > last) {
      return NotSlots(server, "a slot range out of [0, 16383]");
    }
    const redisReply& master = *entry.element[2];
    if (master.elements < 2 || master.element[0]->type != REDIS_REPLY_STRING ||
        master.element[1]->type != REDIS_REPLY_INTEGER ||
        master.element[1]->integer < 1 || master.element[1]->integer > 65535) {
      return NotSlots(server, "a master is not [host, port, ...]");
    }
    SlotRange range;
    range.first = static_cast<int>(first);
    range.last = static_cast<int>(last);
    range.node.host = std::string(ReplyText(*master.element[0]));
    range.node.port = static_cast<int>(master.element[1]->integer);
    if (range.node.host == "?") continue;  // endpoint unknown
    if (range.node.host.empty()) range.node.host = std::string(asked_host);
    ranges.push_back(std::move(range));
  }
  return ranges;
}

const RedisNode* SlotMap::NodeOf(int slot) const {
  auto it = std::upper_bound(
      ranges_.begin(), ranges_.end(), slot,
      [](int s, const Range& r) { return s < static_cast<int>(r.first); });
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (slot > static_cast<int>(it->last)) return nullptr;
  return &nodes_[it->node];
}

uint16_t SlotMap::IndexOf(const RedisNode& node) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i] == node) return static_cast<uint16_t>(i);
  }
  nodes_.push_back(node);
  return static_cast<uint16_t>(nodes_.size() - 1);
}

void SlotMap::DropUnusedNodes() {
  std::vector<int> used(nodes_.size(), -1);
  std::vector<RedisNode> kept;
  for (Range& r : ranges_) {
    if (used[r.node] < 0) {
      used[r.node] = static_cast<int>(kept.size());
      kept.push_back(std::move(nodes_[r.node]));
    }
    r.node = static_cast<uint16_t>(used[r.node]);
  }
  nodes_ = std::move(kept);
}

void SlotMap::Set(int slot, const RedisNode& node) {
  if (!IsSlot(slot)) return;
  const RedisNode* now = NodeOf(slot);
  if (now != nullptr && *now == node) return;
  const uint16_t index = IndexOf(node);
  const uint16_t s = static_cast<uint16_t>(slot);
  std::vector<Range> out;
  out.reserve(ranges_.size() + 3);
  bool placed = false;
  for (const Range& r : ranges_) {
    if (!placed && s < r.first) {
      out.push_back({s, s, index});
      placed = true;
    }
    if (s < r.first || s > r.last) {
      out.push_back(r);
      continue;
    }
    if (r.first < s)
      out.push_back({r.first, static_cast<uint16_t>(s - 1), r.node});
    out.push_back({s, s, index});
    if (s < r.last)
      out.push_back({static_cast<uint16_t>(s + 1), r.last, r.node});
    placed = true;
  }
  if (!placed) out.push_back({s, s, index});
  ranges_ = std::move(out);
  DropUnusedNodes();
}

void SlotMap::Replace(const std::vector<SlotRange>& ranges) {
  std::vector<const SlotRange*> sorted;
  for (const SlotRange& r : ranges) {
    if (IsSlot(r.first) && IsSlot(r.last) && r.first <= r.last) {
      sorted.push_back(&r);
    }
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const SlotRange* a, const SlotRange* b) {
                     return a->first < b->first;
                   });
  ranges_.clear();
  nodes_.clear();
  int next = 0;  // the first slot no earlier range covers
  for (const SlotRange* r : sorted) {
    const int first = std::max(r->first, next);
    if (first > r->last) continue;  // inside an earlier range: it wins
    ranges_.push_back({static_cast<uint16_t>(first),
                       static_cast<uint16_t>(r->last), IndexOf(r->node)});
    next = r->last + 1;
  }
}

}  // namespace signalscaler::redis_internal
