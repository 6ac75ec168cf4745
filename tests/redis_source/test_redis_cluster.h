// A real Redis Cluster for integration tests: three (or more) masters on
// 127.0.0.1 and free ports, no replicas, no persistence, each this test's own
// child, joined by `redis-cli --cluster create`; and the steps of a slot
// migration (the cluster specification's SETSLOT IMPORTING / MIGRATING,
// MIGRATE, SETSLOT NODE), so a test can move a slot under a client. Every
// node is killed (and reaped) on destruction.
//
//   auto cluster = TestRedisCluster::Start();
//   const int owner = (*cluster)->NodeOf("jobs");
//   (*cluster)->Run(owner, {"RPUSH", "jobs", "a"});
//   (*cluster)->MigrateSlot((*cluster)->SlotOf("jobs"), owner, other);
#ifndef SIGNALSCALER_TESTS_REDIS_SOURCE_TEST_REDIS_CLUSTER_H_
#define SIGNALSCALER_TESTS_REDIS_SOURCE_TEST_REDIS_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {

class TestRedisCluster {
 public:
  // Starts `masters` (>= 3) redis-servers with --cluster-enabled yes and
  // `extra_args`, creates the cluster (slots split evenly, in node order:
  // node 0 serves 0-5460 of three), and waits until every node says
  // cluster_state:ok and sees every slot served.
  static absl::StatusOr<std::unique_ptr<TestRedisCluster>> Start(
      int masters = 3, std::vector<std::string> extra_args = {});
  ~TestRedisCluster();
  TestRedisCluster(const TestRedisCluster&) = delete;
  TestRedisCluster& operator=(const TestRedisCluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  int port(int node) const { return nodes_[node].port; }
  std::string address(int node) const;  // "127.0.0.1:<port>"
  const std::string& id(int node) const { return nodes_[node].id; }
  pid_t pid(int node) const { return nodes_[node].process->pid(); }

  // CLUSTER KEYSLOT, asked of node 0.
  int SlotOf(const std::string& key);
  // The master serving `slot` as `asked`'s CLUSTER SLOTS says; -1 if none.
  int NodeOfSlot(int slot, int asked = 0);
  int NodeOf(const std::string& key) { return NodeOfSlot(SlotOf(key)); }
  // A key (prefix + a number) whose slot `node` serves.
  std::string KeyOn(int node, const std::string& prefix);

  // Runs `argv` on `node` (after ASKING when `asking`, on the same
  // connection): the reply rendered as TestRedisClient does ("(nil)",
  // integers in decimal, errors as their text, arrays as "[a,b]").
  std::string Run(int node, const std::vector<std::string>& argv,
                  bool asking = false);

  // A slot's migration from master `from` to master `to`, step by step:
  // IMPORTING on `to` and MIGRATING on `from` (then `from` answers ASK for
  // a key it no longer has)...
  absl::Status BeginMigration(int slot, int from, int to);
  // ... MIGRATE of every key of the slot from `from` to `to` ...
  absl::Status MoveKeys(int slot, int from, int to);
  // ... and SETSLOT NODE on every master (then they answer MOVED).
  absl::Status EndMigration(int slot, int to);
  // All three.
  absl::Status MigrateSlot(int slot, int from, int to);

 private:
  struct Node {
    int port = 0;
    int bus_port = 0;
    std::unique_ptr<Subprocess> process;
    std::string id;
  };
  explicit TestRedisCluster(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Launch(Node& node, const std::vector<std::string>& extra);
  absl::Status Create();
  absl::Status WaitUntilFormed();

  const std::string dir_;
  std::vector<Node> nodes_;
};

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_REDIS_SOURCE_TEST_REDIS_CLUSTER_H_
