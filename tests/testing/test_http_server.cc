#include "tests/testing/test_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace signalscaler::testing {
namespace {

// Sends all of `data`; false once the peer is gone.
bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

}  // namespace

TestHttpServer::TestHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
          0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
          0 ||
      ::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    std::perror("TestHttpServer");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

TestHttpServer::~TestHttpServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stop_cv_.SignalAll();
  const char byte = 0;
  (void)!::write(wake_pipe_[1], &byte, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
}

std::string TestHttpServer::Url(absl::string_view path_and_query) const {
  return absl::StrCat("http://127.0.0.1:", port_, path_and_query);
}

std::vector<std::string> TestHttpServer::Requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

bool TestHttpServer::WaitReadable(int fd) const {
  pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
  while (true) {
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && fds[1].revents == 0 && fds[0].revents != 0;
  }
}

void TestHttpServer::Serve() {
  while (WaitReadable(listen_fd_)) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Answer(fd);
    ::close(fd);
  }
}

void TestHttpServer::Answer(int fd) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (!WaitReadable(fd)) return;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
  }
  head.resize(head.find("\r\n\r\n") + 2);  // the last line keeps its CRLF
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(head);
  }
  const TestResponse r = handler_(head);
  {
    absl::MutexLock lock(&mu_);
    const absl::Time due = absl::Now() + r.delay;
    while (!stopping_ && !stop_cv_.WaitWithDeadline(&mu_, due)) {
    }
    if (stopping_) return;
  }
  if (!r.raw.empty()) {
    SendAll(fd, r.raw);
    return;
  }
  std::string out = absl::StrCat("HTTP/1.1 ", r.status, " ", Reason(r.status),
                                 "\r\nContent-Type: ", r.content_type,
                                 "\r\nConnection: close\r\n");
  if (r.content_length) {
    absl::StrAppend(&out, "Content-Length: ", r.body.size() + r.filler_bytes,
                    "\r\n");
  }
  absl::StrAppend(&out, "\r\n", r.body);
  if (!SendAll(fd, out)) return;
  const std::string filler(64 << 10, 'x');
  for (size_t left = r.filler_bytes; left > 0;) {
    const size_t n = std::min(left, filler.size());
    if (!SendAll(fd, absl::string_view(filler).substr(0, n))) return;
    left -= n;
  }
  ::shutdown(fd, SHUT_WR);
}

TextExporter::TextExporter()
    : server_([this](const std::string&) {
        TestResponse r;
        r.content_type = "text/plain; version=0.0.4";
        absl::MutexLock lock(&mu_);
        r.body = text_;
        return r;
      }) {}

void TextExporter::Set(std::string text) {
  absl::MutexLock lock(&mu_);
  text_ = std::move(text);
}

}  // namespace signalscaler::testing
