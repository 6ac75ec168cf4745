#include "tests/redis_source/test_redis_cluster.h"

#include <hiredis/hiredis.h>
#include <signal.h>

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler::testing {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

Context Connect(int port) {
  Context c(redisConnectWithTimeout("127.0.0.1", port, {2, 0}));
  if (c == nullptr || c->err != 0) return nullptr;
  redisSetTimeout(c.get(), {10, 0});
  return c;
}

Reply Call(redisContext& c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(
      &c, static_cast<int>(args.size()), args.data(), lengths.data())));
}

// The reply of one command on a fresh connection; nullptr if none.
Reply Ask(int port, const std::vector<std::string>& argv) {
  Context c = Connect(port);
  if (c == nullptr) return nullptr;
  return Call(*c, argv);
}

// [first, last, [host, port, id], ...] entries: the master's port per range.
struct Range {
  int first;
  int last;
  int port;
};
std::vector<Range> Slots(int port) {
  std::vector<Range> ranges;
  Reply r = Ask(port, {"CLUSTER", "SLOTS"});
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return ranges;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply& e = *r->element[i];
    if (e.type != REDIS_REPLY_ARRAY || e.elements < 3 ||
        e.element[2]->type != REDIS_REPLY_ARRAY || e.element[2]->elements < 2) {
      continue;
    }
    ranges.push_back({static_cast<int>(e.element[0]->integer),
                      static_cast<int>(e.element[1]->integer),
                      static_cast<int>(e.element[2]->element[1]->integer)});
  }
  return ranges;
}

absl::Status Expect(const std::string& what, const std::string& got,
                    const std::string& want) {
  if (got == want) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(what, ": answered \"", got, "\", not \"", want, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestRedisCluster>> TestRedisCluster::Start(
    int masters, std::vector<std::string> extra_args) {
  if (masters < 3) return absl::InvalidArgumentError("a cluster needs 3");
  std::unique_ptr<TestRedisCluster> cluster(
      new TestRedisCluster(MakeTempDir()));
  std::set<int> taken;
  const auto free_port = [&taken]() {
    for (int tries = 0; tries < 100; ++tries) {
      const int p = FreePort();
      if (p != 0 && taken.insert(p).second) return p;
    }
    return 0;
  };
  cluster->nodes_.resize(masters);
  for (Node& node : cluster->nodes_) {
    node.port = free_port();
    node.bus_port = free_port();
    if (node.port == 0 || node.bus_port == 0) {
      return absl::InternalError("cannot find free ports");
    }
    absl::Status launched = cluster->Launch(node, extra_args);
    if (!launched.ok()) return launched;
  }
  absl::Status created = cluster->Create();
  if (!created.ok()) return created;
  absl::Status formed = cluster->WaitUntilFormed();
  if (!formed.ok()) return formed;
  for (Node& node : cluster->nodes_) {
    Reply id = Ask(node.port, {"CLUSTER", "MYID"});
    if (id == nullptr || id->type != REDIS_REPLY_STRING) {
      return absl::InternalError("CLUSTER MYID failed");
    }
    node.id = std::string(id->str, id->len);
  }
  return cluster;
}

TestRedisCluster::~TestRedisCluster() {
  for (Node& node : nodes_) {
    if (node.process == nullptr) continue;
    node.process->Signal(SIGCONT);
    node.process->Signal(SIGKILL);
    node.process->Wait(absl::Seconds(10));
  }
}

std::string TestRedisCluster::address(int node) const {
  return absl::StrCat("127.0.0.1:", nodes_[node].port);
}

absl::Status TestRedisCluster::Launch(Node& node,
                                      const std::vector<std::string>& extra) {
  const std::string p = absl::StrCat(node.port);
  std::vector<std::string> argv = {"/usr/bin/redis-server",
                                   "--port",
                                   p,
                                   "--cluster-enabled",
                                   "yes",
                                   "--cluster-config-file",
                                   absl::StrCat(dir_, "/nodes-", p, ".conf"),
                                   "--cluster-port",
                                   absl::StrCat(node.bus_port),
                                   "--dir",
                                   dir_,
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--daemonize",
                                   "no"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, absl::StrCat(dir_, "/redis-", p, ".log"));
  if (!process.ok()) return process.status();
  node.process = *std::move(process);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (;;) {
    Reply pong = Ask(node.port, {"PING"});
    if (pong != nullptr) return absl::OkStatus();
    if (node.process->Wait(absl::ZeroDuration()).has_value()) {
      return absl::InternalError(
          absl::StrCat("redis-server exited: ", node.process->Output()));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError("redis-server did not answer PING");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status TestRedisCluster::Create() {
  std::vector<std::string> argv = {"/usr/bin/redis-cli", "--cluster", "create"};
  for (int i = 0; i < size(); ++i) argv.push_back(address(i));
  argv.insert(argv.end(), {"--cluster-replicas", "0", "--cluster-yes"});
  const RunResult result = RunCommand(argv, absl::Seconds(60));
  if (result.exit_code != 0) {
    return absl::InternalError(absl::StrCat("redis-cli --cluster create: exit ",
                                            result.exit_code, ": ",
                                            result.output));
  }
  return absl::OkStatus();
}

absl::Status TestRedisCluster::WaitUntilFormed() {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (;;) {
    bool formed = true;
    for (const Node& node : nodes_) {
      Reply info = Ask(node.port, {"CLUSTER", "INFO"});
      int covered = 0;
      for (const Range& r : Slots(node.port)) covered += r.last - r.first + 1;
      formed = formed && info != nullptr &&
               absl::StrContains(std::string(info->str, info->len),
                                 "cluster_state:ok") &&
               covered == 16384;
    }
    if (formed) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError("the cluster did not reach ok");
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

int TestRedisCluster::SlotOf(const std::string& key) {
  Reply r = Ask(nodes_[0].port, {"CLUSTER", "KEYSLOT", key});
  return r != nullptr && r->type == REDIS_REPLY_INTEGER
             ? static_cast<int>(r->integer)
             : -1;
}

int TestRedisCluster::NodeOfSlot(int slot, int asked) {
  for (const Range& r : Slots(nodes_[asked].port)) {
    if (slot < r.first || slot > r.last) continue;
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i].port == r.port) return i;
    }
  }
  return -1;
}

std::string TestRedisCluster::KeyOn(int node, const std::string& prefix) {
  for (int n = 0;; ++n) {
    const std::string key = absl::StrCat(prefix, n);
    if (NodeOf(key) == node) return key;
  }
}

std::string TestRedisCluster::Run(int node,
                                  const std::vector<std::string>& argv,
                                  bool asking) {
  TestRedisClient client(nodes_[node].port);  // one connection: ASKING holds
  if (asking) client.Run({"ASKING"});
  return client.Run(argv);
}

absl::Status TestRedisCluster::BeginMigration(int slot, int from, int to) {
  const std::string s = absl::StrCat(slot);
  absl::Status status =
      Expect("SETSLOT IMPORTING",
             Run(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", id(from)}), "OK");
  if (!status.ok()) return status;
  return Expect("SETSLOT MIGRATING",
                Run(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", id(to)}),
                "OK");
}

absl::Status TestRedisCluster::MoveKeys(int slot, int from, int to) {
  for (;;) {
    Reply keys = Ask(nodes_[from].port,
                     {"CLUSTER", "GETKEYSINSLOT", absl::StrCat(slot), "100"});
    if (keys == nullptr || keys->type != REDIS_REPLY_ARRAY) {
      return absl::InternalError("CLUSTER GETKEYSINSLOT failed");
    }
    if (keys->elements == 0) return absl::OkStatus();
    std::vector<std::string> argv = {
        "MIGRATE", "127.0.0.1", absl::StrCat(nodes_[to].port), "", "0",
        "5000",    "KEYS"};
    for (size_t i = 0; i < keys->elements; ++i) {
      const redisReply& key = *keys->element[i];
      argv.emplace_back(key.str, key.len);
    }
    absl::Status status = Expect("MIGRATE", Run(from, argv), "OK");
    if (!status.ok()) return status;
  }
}

absl::Status TestRedisCluster::EndMigration(int slot, int to) {
  const std::string s = absl::StrCat(slot);
  // The new owner first, as the specification asks, then the others.
  std::vector<int> order = {to};
  for (int i = 0; i < size(); ++i) {
    if (i != to) order.push_back(i);
  }
  for (int node : order) {
    absl::Status status =
        Expect("SETSLOT NODE",
               Run(node, {"CLUSTER", "SETSLOT", s, "NODE", id(to)}), "OK");
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status TestRedisCluster::MigrateSlot(int slot, int from, int to) {
  absl::Status status = BeginMigration(slot, from, to);
  if (status.ok()) status = MoveKeys(slot, from, to);
  if (status.ok()) status = EndMigration(slot, to);
  return status;
}

}  // namespace signalscaler::testing
