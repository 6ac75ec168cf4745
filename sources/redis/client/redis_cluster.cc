#include "sources/redis/client/redis_cluster.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "sources/redis/client/internal/key_slot.h"
#include "sources/redis/client/redis_errors.h"
#include "sources/redis/client/redis_reply.h"

namespace signalscaler {

using redis_internal::KeySlot;
using redis_internal::ParseClusterSlots;
using redis_internal::ParseRedirect;
using redis_internal::RedisNode;
using redis_internal::RedisRedirect;

namespace {

// How many nodes one reload of the map asks before it gives up.
constexpr size_t kRefreshAttempts = 3;

RedisConnectionOptions OptionsFor(const RedisConnectionOptions& base,
                                  const RedisNode& node) {
  RedisConnectionOptions options = base;
  options.host = node.host;
  options.port = node.port;
  return options;
}

bool IsRedirect(const redisReply& reply) {
  return reply.type == REDIS_REPLY_ERROR &&
         ParseRedirect(ReplyText(reply)).has_value();
}

}  // namespace

struct RedisCluster::NodeConnection {
  NodeConnection(RedisNode n, const RedisConnectionOptions& base,
                 const Clock& clock)
      : node(std::move(n)), connection(OptionsFor(base, node), clock) {}

  const RedisNode node;
  RedisConnection connection;
  uint64_t last_use = 0;
};

RedisCluster::RedisCluster(RedisClusterOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      seed_node_{options_.connection.host, options_.connection.port},
      seed_(options_.connection, clock) {}

RedisCluster::~RedisCluster() = default;

RedisNode RedisCluster::RouteOf(absl::string_view key) const {
  if (!cluster_ || key.empty()) return seed_node_;
  const RedisNode* node = map_.NodeOf(KeySlot(key));
  return node == nullptr ? seed_node_ : *node;
}

std::string RedisCluster::NodeFor(absl::string_view key) const {
  return RouteOf(key).Address();
}

RedisConnectionOptions RedisCluster::NodeOptionsFor(
    absl::string_view key) const {
  return OptionsFor(options_.connection, RouteOf(key));
}

void RedisCluster::Disconnect() {
  seed_.Disconnect();
  for (const std::unique_ptr<NodeConnection>& n : nodes_) {
    n->connection.Disconnect();
  }
}

absl::StatusOr<RedisConnection*> RedisCluster::ConnectionTo(
    const RedisNode& node, const RedisCall& call) {
  ++uses_;
  if (node == seed_node_) return &seed_;
  for (const std::unique_ptr<NodeConnection>& n : nodes_) {
    if (n->node == node) {
      n->last_use = uses_;
      return &n->connection;
    }
  }
  if (options_.allow_host && !options_.allow_host(node.host)) {
    RedisFailure refused;
    refused.refused_node = node.Address();
    return RedisErrorToStatus(call, refused);
  }
  if (nodes_.size() >= std::max<size_t>(options_.max_node_connections, 1)) {
    nodes_.erase(std::min_element(nodes_.begin(), nodes_.end(),
                                  [](const std::unique_ptr<NodeConnection>& a,
                                     const std::unique_ptr<NodeConnection>& b) {
                                    return a->last_use < b->last_use;
                                  }));
  }
  nodes_.push_back(
      std::make_unique<NodeConnection>(node, options_.connection, clock_));
  nodes_.back()->last_use = uses_;
  return &nodes_.back()->connection;
}

void RedisCluster::NoteFailure(const absl::Status& status) {
  if (!cluster_ || !absl::IsUnavailable(status)) return;
  stale_ = true;  // a failover may have moved the node's slots
  refresh_from_.reset();
}

bool RedisCluster::RefreshFrom(const RedisNode& node, absl::Time deadline) {
  absl::StatusOr<RedisConnection*> connection =
      ConnectionTo(node, RedisCall{seed_.server(), "CLUSTER SLOTS", ""});
  if (!connection.ok()) return false;
  RedisConnection& c = **connection;
  if (!c.connected() && c.retry_at() > clock_.Now()) return false;
  absl::StatusOr<RedisReplyPtr> reply =
      c.Command({"CLUSTER", "SLOTS"}, deadline);
  if (!reply.ok() || (*reply)->type == REDIS_REPLY_ERROR) return false;
  absl::StatusOr<std::vector<redis_internal::SlotRange>> ranges =
      ParseClusterSlots(**reply, node.host, c.server());
  if (!ranges.ok() || ranges->empty()) return false;
  map_.Replace(*ranges);
  return true;
}

void RedisCluster::MaybeRefresh(absl::Time deadline) {
  if (!cluster_ || !stale_) return;
  const absl::Time now = clock_.Now();
  if (now < next_refresh_ || now >= deadline) return;
  next_refresh_ = now + options_.refresh_interval;
  const absl::Time by = now + (deadline - now) / 2;  // the rest: the command
  std::vector<RedisNode> ask;
  const auto add = [&ask](const RedisNode& node) {
    if (ask.size() < kRefreshAttempts &&
        std::find(ask.begin(), ask.end(), node) == ask.end()) {
      ask.push_back(node);
    }
  };
  if (refresh_from_.has_value()) add(*refresh_from_);
  add(seed_node_);
  for (const RedisNode& node : map_.nodes()) add(node);
  for (const RedisNode& node : ask) {
    if (RefreshFrom(node, by)) {
      stale_ = false;
      refresh_from_.reset();
      return;
    }
  }
}

absl::StatusOr<RedisReplyPtr> RedisCluster::FollowRedirects(
    const std::vector<std::string>& argv, absl::Time deadline,
    absl::string_view key, RedisNode from, RedisReplyPtr reply) {
  std::vector<std::string> path = {from.Address()};
  for (;;) {
    if (reply->type != REDIS_REPLY_ERROR) return reply;
    std::optional<RedisRedirect> redirect = ParseRedirect(ReplyText(*reply));
    if (!redirect.has_value()) return reply;
    cluster_ = true;
    RedisNode& to = redirect->node;
    if (to.host.empty()) to.host = from.host;
    const RedisCall call{from.Address(), argv[0], std::string(key)};
    if (static_cast<int>(path.size()) > options_.max_redirects) {
      RedisFailure looping;
      looping.redirect_path = path;
      return RedisErrorToStatus(call, looping);
    }
    absl::StatusOr<RedisConnection*> connection = ConnectionTo(to, call);
    if (!connection.ok()) return connection.status();
    path.push_back(to.Address());
    if (!redirect->ask) {
      map_.Set(redirect->slot, to);
      stale_ = true;
      refresh_from_ = to;
      absl::StatusOr<RedisReplyPtr> next =
          (*connection)->Command(argv, deadline, key);
      if (!next.ok()) {
        NoteFailure(next.status());
        return next.status();
      }
      reply = *std::move(next);
    } else {
      // The slot is being migrated: ASKING lets the importing node answer
      // this one command. One round trip, and a retry resends both.
      const std::vector<RedisCommand> asking = {
          RedisCommand{{"ASKING"}, std::string(key)},
          RedisCommand{argv, std::string(key)}};
      absl::StatusOr<std::vector<RedisReplyPtr>> both =
          (*connection)->Pipeline(asking, deadline);
      if (!both.ok()) {
        NoteFailure(both.status());
        return both.status();
      }
      if ((*both)[0]->type == REDIS_REPLY_ERROR) {
        return RedisErrorToStatus(
            RedisCall{to.Address(), "ASKING", std::string(key)},
            FailureFromReply(*(*both)[0]));
      }
      reply = std::move((*both)[1]);
    }
    from = to;
  }
}

absl::StatusOr<RedisReplyPtr> RedisCluster::Command(
    const std::vector<std::string>& argv, absl::Time deadline,
    absl::string_view key) {
  MaybeRefresh(deadline);
  const RedisNode node = RouteOf(key);
  absl::StatusOr<RedisConnection*> connection =
      ConnectionTo(node, RedisCall{seed_.server(), argv[0], std::string(key)});
  if (!connection.ok()) return connection.status();
  absl::StatusOr<RedisReplyPtr> reply =
      (*connection)->Command(argv, deadline, key);
  if (!reply.ok()) {
    NoteFailure(reply.status());
    return reply.status();
  }
  return FollowRedirects(argv, deadline, key, node, *std::move(reply));
}

std::vector<absl::StatusOr<RedisReplyPtr>> RedisCluster::Pipeline(
    const std::vector<RedisCommand>& commands, absl::Time deadline,
    const std::vector<std::vector<std::string>>& prelude) {
  std::vector<absl::StatusOr<RedisReplyPtr>> out;
  out.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    out.emplace_back(absl::InternalError("not sent"));
  }
  if (commands.empty()) return out;
  MaybeRefresh(deadline);
  // Groups by node, in the order they are first met.
  std::vector<RedisNode> nodes;
  std::vector<std::vector<size_t>> groups;
  std::vector<size_t> group_of(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    const RedisNode node = RouteOf(commands[i].key);
    auto it = std::find(nodes.begin(), nodes.end(), node);
    group_of[i] = static_cast<size_t>(it - nodes.begin());
    if (it == nodes.end()) {
      nodes.push_back(node);
      groups.emplace_back();
    }
    groups[group_of[i]].push_back(i);
  }
  for (size_t g = 0; g < nodes.size(); ++g) {
    const std::vector<size_t>& members = groups[g];
    const RedisCommand& first = commands[members.front()];
    absl::StatusOr<RedisConnection*> connection = ConnectionTo(
        nodes[g], RedisCall{seed_.server(), first.argv[0], first.key});
    if (!connection.ok()) {
      for (size_t i : members) out[i] = connection.status();
      continue;
    }
    // The prelude, named by the group's first key in messages.
    std::vector<RedisCommand> head;
    head.reserve(prelude.size());
    for (const std::vector<std::string>& argv : prelude) {
      head.push_back({argv, first.key});
    }
    std::vector<const RedisCommand*> batch;
    batch.reserve(head.size() + members.size());
    for (const RedisCommand& c : head) batch.push_back(&c);
    for (size_t i : members) batch.push_back(&commands[i]);
    absl::StatusOr<std::vector<RedisReplyPtr>> replies =
        (*connection)->Pipeline(batch, deadline);
    if (!replies.ok()) NoteFailure(replies.status());
    for (size_t k = 0; k < members.size(); ++k) {
      if (replies.ok()) {
        out[members[k]] = std::move((*replies)[head.size() + k]);
      } else {
        out[members[k]] = replies.status();
      }
    }
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    if (out[i].ok() && IsRedirect(**out[i])) {
      out[i] = FollowRedirects(commands[i].argv, deadline, commands[i].key,
                               nodes[group_of[i]], *std::move(out[i]));
    }
  }
  return out;
}

}  // namespace signalscaler
