// Plain-socket HTTP for tests of our own HTTP server: send exact bytes
// (malformed requests included) to a loopback port and read the whole
// answer, or GET a path and split the answer into status, headers and body.
// Header-only; no libcurl, so a test sees exactly what went over the wire.
//
//   RawHttpAnswer a = HttpGet(port, "/readyz");
//   EXPECT_EQ(a.status, 503);
//   EXPECT_EQ(a.body, "not ready: draining\n");
//   std::string raw = RawHttpExchange(port, "BREW /pot HTCPCP/1.0\r\n\r\n");
#ifndef SIGNALSCALER_TESTS_TESTING_RAW_HTTP_H_
#define SIGNALSCALER_TESTS_TESTING_RAW_HTTP_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace signalscaler::testing {

// A connected socket to 127.0.0.1:`port`, or -1.
inline int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads from `fd` until the peer closes or `timeout`; what arrived.
inline std::string ReadUntilClosed(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string out;
  char buf[4096];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p = {fd, POLLIN, 0};
    const int n = ::poll(&p, 1,
                         static_cast<int>(absl::ToInt64Milliseconds(
                             left + absl::Milliseconds(1))));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

// Sends `request` as is to 127.0.0.1:`port` and returns every byte of the
// answer (empty if it cannot connect or nothing came within `timeout`).
inline std::string RawHttpExchange(int port, absl::string_view request,
                                   absl::Duration timeout = absl::Seconds(5)) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  while (!request.empty()) {
    const ssize_t n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    request.remove_prefix(static_cast<size_t>(n));
  }
  std::string out = ReadUntilClosed(fd, timeout);
  ::close(fd);
  return out;
}

struct RawHttpAnswer {
  int status = 0;    // 0: no parsable answer
  std::string head;  // status line and headers, CRLFs kept
  std::string content_type;
  std::string body;
};

inline RawHttpAnswer ParseHttpAnswer(const std::string& raw) {
  RawHttpAnswer a;
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return a;
  a.head = raw.substr(0, end + 2);
  a.body = raw.substr(end + 4);
  // "HTTP/1.1 200 OK"
  const std::string line = a.head.substr(0, a.head.find("\r\n"));
  if (line.size() < 12 || !absl::StartsWith(line, "HTTP/1.") ||
      !absl::SimpleAtoi(line.substr(9, 3), &a.status)) {
    a.status = 0;
  }
  for (absl::string_view h : absl::StrSplit(a.head, "\r\n")) {
    if (absl::StartsWithIgnoreCase(h, "content-type:")) {
      a.content_type = std::string(absl::StripAsciiWhitespace(h.substr(13)));
    }
  }
  return a;
}

// GET (or another `method`) of `path` on 127.0.0.1:`port`, HTTP/1.1.
inline RawHttpAnswer HttpGet(int port, absl::string_view path,
                             absl::string_view method = "GET",
                             absl::Duration timeout = absl::Seconds(5)) {
  return ParseHttpAnswer(RawHttpExchange(
      port,
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                   "\r\nUser-Agent: signalscaler-test\r\n\r\n"),
      timeout));
}

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_RAW_HTTP_H_
