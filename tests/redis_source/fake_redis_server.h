// A fake Redis server for tests of what the client does with what it reads:
// plain sockets on 127.0.0.1 (a free port), a thread per connection, every
// command (RESP arrays, pipelined or not) answered with a canned reply. A
// "hostile" answer is a header (e.g. "$300000000\r\n") followed by a pattern
// repeated up to a size, streamed in chunks until all of it is sent or the
// client closes the connection; the server records which happened.
//
//   FakeRedisServer fake;
//   fake.AnswerWith(":6\r\n");                      // LLEN reads 6
//   fake.AnswerHostile("$300000000\r\n", "x", 300000000, "\r\n");
//   EXPECT_TRUE(fake.WaitFor(
//       [](const FakeRedisServer::Stats& s) { return s.hostile_cut >= 1; },
//       absl::Seconds(5)));
#ifndef SIGNALSCALER_TESTS_REDIS_SOURCE_FAKE_REDIS_SERVER_H_
#define SIGNALSCALER_TESTS_REDIS_SOURCE_FAKE_REDIS_SERVER_H_

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace signalscaler::testing {

// Thread-safe.
class FakeRedisServer {
 public:
  // Listens at once (answering "+OK\r\n" until told otherwise); aborts the
  // test binary if it cannot bind.
  FakeRedisServer();
  ~FakeRedisServer();  // closes every connection and joins the threads

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"

  // Every command from now on is answered with `reply` (raw RESP).
  void AnswerWith(std::string reply);
  // Every command from now on is answered with `header`, then `pattern`
  // repeated until `body_bytes` bytes of it have been sent, then `trailer`
  // (e.g. the "\r\n" that ends a bulk string).
  void AnswerHostile(std::string header, std::string pattern, size_t body_bytes,
                     std::string trailer = "");

  struct Stats {
    int connections = 0;       // accepted
    int commands = 0;          // complete commands received
    int hostile_started = 0;   // hostile answers begun
    int hostile_cut = 0;       // ... ended by the client closing
    int hostile_complete = 0;  // ... sent in full
    // The most bytes (header and body) sent of one hostile answer.
    size_t max_hostile_bytes_sent = 0;
    std::string last_command;  // its words joined by spaces
  };
  Stats stats() const;
  // Waits up to `timeout` until `done(stats())` holds.
  bool WaitFor(const std::function<bool(const Stats&)>& done,
               absl::Duration timeout) const;

 private:
  struct Answer {
    std::string header;  // or the whole reply, when not hostile
    std::string pattern;
    size_t body_bytes = 0;
    std::string trailer;
    bool hostile = false;
  };
  void Accept();
  void Serve(int fd);
  // Sends `answer`; false once the connection is unusable.
  bool Send(int fd, const Answer& answer);
  void Update(const std::function<void(Stats&)>& change);

  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  mutable absl::Mutex mu_;
  mutable absl::CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Answer answer_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::set<int> open_fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
};

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_REDIS_SOURCE_FAKE_REDIS_SERVER_H_
