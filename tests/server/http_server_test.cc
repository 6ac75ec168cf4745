// HttpServer (the operations port's HTTP/1.1 server, on CivetWeb) on
// loopback with real sockets: routing and statuses, malformed and oversized
// requests, clients that say nothing or send a body without end, Stop()
// while they wait, concurrent clients; and Metrics' /metrics, /livez and
// /readyz on top of it.
#include "scaler/common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/common/metrics.h"
#include "scaler/common/ops_server.h"
#include "tests/testing/raw_http.h"

namespace signalscaler {
namespace {

using ::signalscaler::testing::ConnectLoopback;
using ::signalscaler::testing::HttpGet;
using ::signalscaler::testing::ParseHttpAnswer;
using ::signalscaler::testing::RawHttpAnswer;
using ::signalscaler::testing::RawHttpExchange;
using ::signalscaler::testing::ReadUntilClosed;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

HttpResponse Hello() {
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "hello\n";
  return r;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartWith(HttpServerOptions options) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Handle("/hello", Hello);
    server_->Handle("/unavailable", [] {
      HttpResponse r;
      r.status = 503;
      r.body = "not ready: draining\n";
      return r;
    });
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  void SetUp() override { StartWith(HttpServerOptions()); }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, AnswersARegisteredPathWithItsHandler) {
  RawHttpAnswer a = HttpGet(port_, "/hello");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a.body, "hello\n");
  EXPECT_THAT(a.head, HasSubstr("\r\nContent-Length: 6\r\n"));
  EXPECT_THAT(a.head, HasSubstr("\r\nConnection: close\r\n"));
  // The query string is not part of the path; HTTP/1.0 is fine.
  EXPECT_EQ(HttpGet(port_, "/hello?x=1&y=2").body, "hello\n");
  EXPECT_EQ(
      ParseHttpAnswer(RawHttpExchange(port_, "GET /hello HTTP/1.0\r\n\r\n"))
          .status,
      200);
  // An absolute-form target naming this server is its path.
  a = ParseHttpAnswer(
      RawHttpExchange(port_, absl::StrCat("HEAD http://127.0.0.1:", port_,
                                          "/hello HTTP/1.0\r\n\r\n")));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "");
  // A handler's own status passes through.
  a = HttpGet(port_, "/unavailable");
  EXPECT_EQ(a.status, 503);
  EXPECT_THAT(a.head, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_EQ(a.body, "not ready: draining\n");
}

TEST_F(HttpServerTest, HeadAnswersTheHeadWithoutTheBody) {
  RawHttpAnswer a = HttpGet(port_, "/hello", "HEAD");
  EXPECT_EQ(a.status, 200);
  EXPECT_THAT(a.head, HasSubstr("\r\nContent-Length: 6\r\n"));
  EXPECT_EQ(a.body, "");
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  for (const char* path : {"/", "/hello/", "/Hello", "/hellox", "/metrics"}) {
    RawHttpAnswer a = HttpGet(port_, path);
    EXPECT_EQ(a.status, 404) << path;
    EXPECT_THAT(a.head, StartsWith("HTTP/1.1 404 Not Found\r\n")) << path;
  }
}

TEST_F(HttpServerTest, OtherMethodsAre405WithAllow) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    RawHttpAnswer a = HttpGet(port_, "/hello", method);
    EXPECT_EQ(a.status, 405) << method;
    EXPECT_THAT(a.head, HasSubstr("\r\nAllow: GET, HEAD\r\n")) << method;
    EXPECT_THAT(a.body, Not(HasSubstr("hello"))) << method;
  }
  // A request body is never read, and does not lose the answer.
  const std::string post =
      absl::StrCat("POST /hello HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
                   std::string(100000, 'x'));
  EXPECT_EQ(ParseHttpAnswer(RawHttpExchange(port_, post)).status, 405);
}

TEST_F(HttpServerTest, MalformedRequestLineIs400) {
  // An unknown method (methods are case-sensitive: "get" is not GET) is
  // malformed too. A byte that has no place in a head (the tab, the TLS
  // hello) is told apart from a bad request line by its body.
  for (const char* request :
       {"hello\r\n\r\n", "GET /hello\r\n\r\n", "GET hello HTTP/1.1\r\n\r\n",
        "GET /hello HTTP/1.1 extra\r\n\r\n", "G(T /hello HTTP/1.1\r\n\r\n",
        "get /hello HTTP/1.1\r\n\r\n", "GET /a\tb HTTP/1.1\r\n\r\n",
        "\x16\x03\x01\x02\xfc\x03\x03\r\n\r\n"}) {
    RawHttpAnswer a = ParseHttpAnswer(RawHttpExchange(port_, request));
    EXPECT_EQ(a.status, 400) << request;
    // Our status line, never one that echoes the request's version.
    EXPECT_THAT(a.head, StartsWith("HTTP/1.1 400 Bad Request\r\n")) << request;
    EXPECT_THAT(a.body, AnyOf(Eq("malformed request line\n"),
                              StartsWith("bad request head: malformed")))
        << request;
  }
  const std::string nul("G\0T /hello HTTP/1.1\r\n\r\n", 23);
  EXPECT_EQ(ParseHttpAnswer(RawHttpExchange(port_, nul)).status, 400);
  // Another HTTP version is 505.
  RawHttpAnswer a =
      ParseHttpAnswer(RawHttpExchange(port_, "GET /hello HTTP/2.0\r\n\r\n"));
  EXPECT_EQ(a.status, 505);
  EXPECT_THAT(a.head, StartsWith("HTTP/1.1 505 "));
  EXPECT_EQ(a.body, "only HTTP/1.0 and HTTP/1.1\n");
  // An asterisk-form target is never served.
  EXPECT_THAT(RawHttpExchange(port_, "GET * HTTP/1.1\r\n\r\n"),
              Not(HasSubstr(" 200 ")));
  // Runs of spaces between the parts are tolerated (RFC 9112 section 3
  // allows it).
  EXPECT_EQ(
      ParseHttpAnswer(RawHttpExchange(port_, "GET  /hello HTTP/1.1\r\n\r\n"))
          .body,
      "hello\n");
}

TEST_F(HttpServerTest, OversizedRequestHeadIs400) {
  // A complete head of `size` bytes.
  const std::string line = "GET /hello HTTP/1.1\r\n";
  auto head = [&line](size_t size) {
    std::string h = line + "X-Pad: ";
    h.append(size - h.size() - 4, 'a');
    return h + "\r\n\r\n";
  };
  ASSERT_EQ(head(8 << 10).size(), 8u << 10);
  EXPECT_EQ(ParseHttpAnswer(RawHttpExchange(port_, head(8 << 10))).status, 200);
  // One byte more is refused. CivetWeb 1.15 says "malformed" of a head
  // that does not fit its buffer, as of any other bad head: 400, not 431.
  RawHttpAnswer a =
      ParseHttpAnswer(RawHttpExchange(port_, head((8 << 10) + 1)));
  EXPECT_EQ(a.status, 400);
  EXPECT_THAT(a.body, HasSubstr("or larger than 8192 bytes"));
  // And one that never ends.
  const std::string endless = line + "X-Pad: " + std::string(64 << 10, 'a');
  a = ParseHttpAnswer(RawHttpExchange(port_, endless));
  EXPECT_EQ(a.status, 400);
  EXPECT_THAT(a.head, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
}

TEST_F(HttpServerTest, RequestSentByteByByteIsAnswered) {
  const int fd = ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  for (char c : std::string("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")) {
    ASSERT_EQ(::send(fd, &c, 1, MSG_NOSIGNAL), 1);
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(ParseHttpAnswer(ReadUntilClosed(fd, absl::Seconds(5))).body,
            "hello\n");
  ::close(fd);
}

TEST_F(HttpServerTest, ClientThatHalfClosesAfterItsRequestIsAnswered) {
  const int fd = ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  const std::string request = "GET /hello HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(ParseHttpAnswer(ReadUntilClosed(fd, absl::Seconds(5))).status, 200);
  ::close(fd);
}

TEST_F(HttpServerTest, SilentClientsBlockNeitherOthersNorStop) {
  // Default timeout (5 s): were the server to wait on them, every step below
  // would take seconds.
  std::vector<int> silent;
  for (int i = 0; i < 3; ++i) {
    silent.push_back(ConnectLoopback(port_));
    ASSERT_GE(silent.back(), 0);
  }
  const int partial = ConnectLoopback(port_);  // half a request line
  ASSERT_GE(partial, 0);
  ASSERT_EQ(::send(partial, "GET /hel", 8, MSG_NOSIGNAL), 8);
  absl::SleepFor(absl::Milliseconds(100));  // all of them accepted

  absl::Time start = absl::Now();
  EXPECT_EQ(HttpGet(port_, "/hello").status, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));

  start = absl::Now();
  server_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(server_->port(), 0);
  // Their connections are closed (EOF, no answer).
  for (int fd : silent) {
    EXPECT_EQ(ReadUntilClosed(fd, absl::Seconds(2)), "");
    ::close(fd);
  }
  ::close(partial);
  EXPECT_EQ(ConnectLoopback(port_), -1);  // the port is closed too
  server_->Stop();                        // idempotent
}

TEST_F(HttpServerTest, SilentClientIsClosedAfterTheTimeout) {
  HttpServerOptions options;
  options.timeout = absl::Milliseconds(300);
  StartWith(options);
  const int fd = ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  const absl::Time start = absl::Now();
  EXPECT_EQ(ReadUntilClosed(fd, absl::Seconds(5)), "");
  const absl::Duration closed_after = absl::Now() - start;
  EXPECT_GE(closed_after, absl::Milliseconds(250));
  EXPECT_LT(closed_after, absl::Seconds(2));
  ::close(fd);
}

TEST_F(HttpServerTest, MoreSilentClientsThanConnectionSlotsOnlyDelay) {
  HttpServerOptions options;
  options.timeout = absl::Milliseconds(500);
  options.max_connections = 2;
  StartWith(options);
  const int a = ConnectLoopback(port_);
  const int b = ConnectLoopback(port_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // Waits in the accept queue until the silent ones time out.
  EXPECT_EQ(HttpGet(port_, "/hello", "GET", absl::Seconds(5)).status, 200);
  ::close(a);
  ::close(b);
}

TEST_F(HttpServerTest, BodyWithoutEndDoesNotHoldTheConnection) {
  // A body is never used: after the answer the rest is dropped for at most
  // a second, then the connection is closed, however long the client sends.
  const int fd = ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  const std::string head =
      "POST /hello HTTP/1.1\r\nContent-Length: 100000000000\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(head.size()));
  const std::string chunk(1000, 'x');
  const absl::Time start = absl::Now();
  std::string answer;
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(10)) {
    if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) <
            0 &&
        errno != EAGAIN) {
      closed = true;  // reset: the server is gone
      break;
    }
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) answer.append(buf, static_cast<size_t>(n));
    if (n == 0 || (n < 0 && errno != EAGAIN)) closed = true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  ::close(fd);
}

TEST_F(HttpServerTest, ConcurrentClientsAreAllAnswered) {
  constexpr int kThreads = 8;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRequests; ++i) {
        RawHttpAnswer a = HttpGet(port_, "/hello");
        if (a.status == 200 && a.body == "hello\n") ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

TEST(HttpServerStartTest, PortZeroPicksAFreePortAndABusyPortIsAnError) {
  HttpServer first;
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
  EXPECT_GT(first.port(), 0);
  HttpServerOptions options;
  options.name = "metrics";
  HttpServer second(options);
  const std::string listen = absl::StrCat("127.0.0.1:", first.port());
  absl::Status s = second.Start(listen);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), absl::StrCat("cannot serve metrics on ", listen,
                                      ": Address already in use"));
  EXPECT_EQ(second.port(), 0);
  EXPECT_EQ(first.Start("127.0.0.1:0").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(HttpServerStartTest, ListenMustBeHostColonPort) {
  for (const char* listen :
       {"", "9091", "127.0.0.1", "127.0.0.1:", "127.0.0.1:port", "::1:9091",
        "[::1]9091", "[::1", "127.0.0.1:65536", "127.0.0.1:+80",
        "127.0.0.1: 80"}) {
    HttpServer server;
    absl::Status s = server.Start(listen);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << listen;
    EXPECT_THAT(s.message(), HasSubstr("not HOST:PORT")) << listen;
  }
}

TEST(HttpServerStartTest, ServesOnAnyAddressANameAndIpv6OnlyIfBuiltWithIt) {
  // Every address, written out or left empty, and a name.
  for (const char* listen : {"0.0.0.0:0", ":0", "localhost:0"}) {
    HttpServer any;
    any.Handle("/hello", Hello);
    ASSERT_TRUE(any.Start(listen).ok()) << listen;
    EXPECT_EQ(HttpGet(any.port(), "/hello").status, 200) << listen;
  }
  HttpServer unknown;
  EXPECT_EQ(unknown.Start("no-such-host.invalid:0").code(),
            absl::StatusCode::kUnavailable);

  // Debian 12's CivetWeb has no IPv6: refused, saying so. A build with it
  // serves.
  HttpServer v6;
  v6.Handle("/hello", Hello);
  absl::Status s = v6.Start("[::1]:0");
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(s.message(), HasSubstr("IPv6 is not available"));
    EXPECT_EQ(v6.port(), 0);
    return;
  }
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  addr.sin6_port = htons(static_cast<uint16_t>(v6.port()));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = "GET /hello HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  EXPECT_EQ(ParseHttpAnswer(ReadUntilClosed(fd, absl::Seconds(5))).body,
            "hello\n");
  ::close(fd);
}

TEST(MetricsHttpTest, ServesMetricsLivezAndReadyz) {
  Metrics metrics;
  metrics.SetPoliciesLoaded(3);
  OpsServer ops(metrics);
  ASSERT_TRUE(ops.Start("127.0.0.1:0").ok());
  const int port = ops.port();
  ASSERT_GT(port, 0);

  RawHttpAnswer m = HttpGet(port, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(m.body, HasSubstr("signalscaler_policies_loaded 3"));

  // No checks yet: live, not ready.
  RawHttpAnswer live = HttpGet(port, "/livez");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  EXPECT_THAT(live.content_type, StartsWith("text/plain"));
  RawHttpAnswer ready = HttpGet(port, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "not ready: not started\n");

  std::atomic<bool> draining{false};
  ops.SetHealthChecks(nullptr, [&draining] {
    return draining ? absl::UnavailableError("draining") : absl::OkStatus();
  });
  EXPECT_EQ(HttpGet(port, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(port, "/readyz").body, "ok\n");
  draining = true;
  ready = HttpGet(port, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "not ready: draining\n");
  EXPECT_EQ(HttpGet(port, "/livez").status, 200);  // liveness is apart
  EXPECT_EQ(HttpGet(port, "/metrics").status, 200);

  ops.SetHealthChecks([] { return absl::UnavailableError("shutting down"); },
                      nullptr);
  live = HttpGet(port, "/livez");
  EXPECT_EQ(live.status, 503);
  EXPECT_EQ(live.body, "not live: shutting down\n");

  EXPECT_EQ(HttpGet(port, "/").status, 404);
  EXPECT_EQ(HttpGet(port, "/readyz", "POST").status, 405);
  OpsServer second(metrics);
  EXPECT_EQ(second.Start(absl::StrCat("127.0.0.1:", port)).message(),
            absl::StrCat("cannot serve metrics on 127.0.0.1:", port,
                         ": Address already in use"));
  EXPECT_EQ(ops.port(), port);  // still serving
  EXPECT_EQ(HttpGet(port, "/livez").status, 503);
}

}  // namespace
}  // namespace signalscaler
