#include "tests/testing/redis_test_server.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace signalscaler::testing {
namespace {

std::string Render(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      return absl::StrCat(r.integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::vector<std::string> parts;
      for (size_t i = 0; i < r.elements; ++i) {
        parts.push_back(Render(*r.element[i]));
      }
      return absl::StrCat("[", absl::StrJoin(parts, ","), "]");
    }
    default:
      return std::string(r.str, r.len);
  }
}

// True once the server answers PING (PONG, or NOAUTH when it has a password).
bool Answers(int port) {
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, {0, 200000});
  bool up = false;
  if (c != nullptr && c->err == 0) {
    redisSetTimeout(c, {0, 200000});
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    up = reply != nullptr;
    if (reply != nullptr) freeReplyObject(reply);
  }
  if (c != nullptr) redisFree(c);
  return up;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestRedisServer>> TestRedisServer::Start(
    std::vector<std::string> extra_args) {
  const int port = FreePort();
  if (port == 0) return absl::InternalError("cannot find a free port");
  std::unique_ptr<TestRedisServer> server(
      new TestRedisServer(port, MakeTempDir(), std::move(extra_args)));
  absl::Status launched = server->Launch();
  if (!launched.ok()) return launched;
  return server;
}

TestRedisServer::~TestRedisServer() { Kill(); }

std::string TestRedisServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

absl::Status TestRedisServer::Launch() {
  std::vector<std::string> argv = {"/usr/bin/redis-server",
                                   "--port",
                                   absl::StrCat(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_,
                                   "--daemonize",
                                   "no"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> p =
      Subprocess::Start(argv, dir_ + "/redis.log");
  if (!p.ok()) return p.status();
  process_ = *std::move(p);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!Answers(port_)) {
    if (process_->Wait(absl::ZeroDuration()).has_value()) {
      return absl::InternalError(
          absl::StrCat("redis-server exited: ", process_->Output()));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError("redis-server did not answer PING");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::OkStatus();
}

void TestRedisServer::Kill() {
  if (process_ == nullptr) return;
  process_->Signal(SIGCONT);  // in case a test stopped it
  process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(10));
  process_.reset();
}

void TestRedisServer::Signal(int sig) {
  if (process_ != nullptr) process_->Signal(sig);
}

absl::Status TestRedisServer::Restart() {
  Kill();
  return Launch();
}

TestRedisClient::TestRedisClient(int port, const std::string& password) {
  context_ = redisConnectWithTimeout("127.0.0.1", port, {2, 0});
  if (context_ == nullptr || context_->err != 0) {
    ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port;
    return;
  }
  redisSetTimeout(context_, {5, 0});
  if (!password.empty()) {
    EXPECT_EQ(Run({"AUTH", password}), "OK");
  }
}

TestRedisClient::~TestRedisClient() {
  if (context_ != nullptr) redisFree(context_);
}

std::string TestRedisClient::Run(const std::vector<std::string>& argv) {
  if (context_ == nullptr || context_->err != 0) return "(not connected)";
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(
      context_, static_cast<int>(args.size()), args.data(), lengths.data()));
  if (reply == nullptr) {
    ADD_FAILURE() << argv[0] << ": " << context_->errstr;
    return "(failed)";
  }
  std::string text = Render(*reply);
  freeReplyObject(reply);
  return text;
}

std::string WriteTempFile(const std::string& name,
                          const std::string& contents) {
  const std::string path = MakeTempDir() + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

}  // namespace signalscaler::testing
