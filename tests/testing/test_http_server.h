// A tiny HTTP/1.1 server for tests of the HTTP sources' failure modes: plain
// sockets on 127.0.0.1 (a free port), one thread, one connection at a time,
// each request answered by a callback and the connection closed.
//
//   TestHttpServer server([](const std::string& request) {
//     TestResponse r;
//     r.status = 500;
//     return r;
//   });
//   client.Get(server.Url("/api/v1/query?query=up"), deadline);
//   EXPECT_THAT(server.Requests()[0], HasSubstr("Authorization: Bearer"));
#ifndef SIGNALSCALER_TESTS_TESTING_TEST_HTTP_SERVER_H_
#define SIGNALSCALER_TESTS_TESTING_TEST_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace signalscaler::testing {

struct TestResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Bytes of 'x' streamed after `body` (for answers too large to build).
  size_t filler_bytes = 0;
  // Send a Content-Length header (else the body ends when the server closes).
  bool content_length = true;
  // Non-empty: sent instead of any HTTP answer (a server speaking garbage).
  std::string raw;
  // Waits this long before answering (cut short when the server stops).
  absl::Duration delay = absl::ZeroDuration();
};

// Thread-safe.
class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const std::string& request)>;

  // Starts serving at once; aborts the test binary if it cannot bind.
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();  // stops and joins

  int port() const { return port_; }
  // "http://127.0.0.1:<port>" + path_and_query.
  std::string Url(absl::string_view path_and_query) const;
  // The head (request line and headers) of every request received so far.
  std::vector<std::string> Requests() const;

 private:
  void Serve();
  void Answer(int fd);
  // Waits until `fd` is readable or the server stops; false if it stops.
  bool WaitReadable(int fd) const;

  Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  mutable absl::Mutex mu_;
  absl::CondVar stop_cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// A metrics exporter for a TestPrometheus to scrape: serves the text last
// Set(), in the exposition format. Thread-safe; stops on destruction.
class TextExporter {
 public:
  TextExporter();
  void Set(std::string text) ABSL_LOCKS_EXCLUDED(mu_);
  int port() const { return server_.port(); }

 private:
  absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  TestHttpServer server_;  // last: stops before the text goes
};

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_TEST_HTTP_SERVER_H_
