// A real redis-server for integration tests, started as this test's own
// child on 127.0.0.1 and a free port, with no persistence, and a small
// hiredis client to arrange data. Stopped (SIGKILL + reap) on destruction.
//
//   auto server = TestRedisServer::Start();
//   TestRedisClient client((*server)->port());
//   client.Run({"RPUSH", "jobs", "a"});
#ifndef SIGNALSCALER_TESTS_TESTING_REDIS_TEST_SERVER_H_
#define SIGNALSCALER_TESTS_TESTING_REDIS_TEST_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

struct redisContext;

namespace signalscaler::testing {

class TestRedisServer {
 public:
  // Starts /usr/bin/redis-server with `extra_args` (e.g. {"--requirepass",
  // "x"}) and waits until it answers PING.
  static absl::StatusOr<std::unique_ptr<TestRedisServer>> Start(
      std::vector<std::string> extra_args = {});
  ~TestRedisServer();

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"
  pid_t pid() const { return process_->pid(); }

  void Kill();             // SIGKILL and reap
  void Signal(int sig);    // e.g. SIGSTOP / SIGCONT
  absl::Status Restart();  // Kill, then start again on the same port

 private:
  TestRedisServer(int port, std::string dir, std::vector<std::string> args)
      : port_(port), dir_(std::move(dir)), extra_args_(std::move(args)) {}
  absl::Status Launch();

  const int port_;
  const std::string dir_;
  const std::vector<std::string> extra_args_;
  std::unique_ptr<Subprocess> process_;
};

// A blocking hiredis connection for arranging test data. Fails the test
// (ADD_FAILURE) on connection errors.
class TestRedisClient {
 public:
  explicit TestRedisClient(int port, const std::string& password = "");
  ~TestRedisClient();
  // The reply rendered as text: integers in decimal, errors as "ERR ...",
  // arrays as "[a,b]", nil as "(nil)".
  std::string Run(const std::vector<std::string>& argv);

 private:
  redisContext* context_ = nullptr;
};

// Writes `contents` to a new file in a fresh temporary directory.
std::string WriteTempFile(const std::string& name, const std::string& contents);

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_REDIS_TEST_SERVER_H_
