#include "scaler/common/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "scaler/common/internal/http_wire.h"

namespace signalscaler {
namespace {

using internal::ErrorReply;
using internal::FormatReply;
using internal::HeadEnd;
using internal::ParseRequestLine;
using internal::Reply;
using internal::SplitListen;

// After its answer, a connection is read (and the bytes dropped) until the
// client closes, for at most this long: closing with unread request bytes
// would reset the connection and could lose the answer on the client's side.
constexpr absl::Duration kLinger = absl::Seconds(1);
// accept() failing for want of descriptors or memory: wait before retrying,
// rather than spin on a listening socket that stays readable.
constexpr absl::Duration kAcceptBackoff = absl::Milliseconds(100);

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r: returns the text, in `buf` or a static string.
  return strerror_r(err, buf, sizeof(buf));
}

struct Connection {
  enum class State { kReading, kWriting, kLingering };
  int fd = -1;
  State state = State::kReading;
  absl::Time deadline;
  std::string in;
  std::string out;
  size_t sent = 0;
};

}  // namespace

struct HttpServer::Impl {
  Impl(const HttpServerOptions& o, const std::map<std::string, Handler>& h)
      : options(o), handlers(h) {}

  const HttpServerOptions& options;
  const std::map<std::string, Handler>& handlers;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  std::atomic<int> port{0};
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;  // serializes Start() and Stop()
  bool started = false;
  std::thread thread;
  std::vector<Connection> connections;  // the serving thread's only

  void Serve();
  void Accept(absl::Time now, absl::Time& accept_after);
  // Advances `c` on a poll() event; false once it is to be closed.
  bool Step(Connection& c, absl::Time now);
  enum class ReadResult { kOpen, kEof, kError };
  // Reads what is there (the request head while reading, then drops it).
  ReadResult Read(Connection& c);
  // The answer to a complete request head (at most max_head_bytes).
  Reply Route(absl::string_view head) const;
};

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)),
      impl_(std::make_unique<Impl>(options_, handlers_)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& path, Handler handler) {
  handlers_[path] = std::move(handler);
}

int HttpServer::port() const { return impl_->port.load(); }

absl::Status HttpServer::Start(const std::string& listen) {
  std::lock_guard<std::mutex> lock(impl_->stop_mu);
  const std::string what =
      absl::StrCat("cannot serve ", options_.name, " on ", listen, ": ");
  if (impl_->started) {
    return absl::FailedPreconditionError(absl::StrCat(what, "already serving"));
  }
  std::string host;
  std::string port;
  if (!SplitListen(listen, host, port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, "not HOST:PORT (e.g. 0.0.0.0:9091, [::]:9091, 127.0.0.1:0)"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addrs = nullptr;
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                   port.c_str(), &hints, &addrs);
      rc != 0) {
    return absl::UnavailableError(absl::StrCat(what, ::gai_strerror(rc)));
  }
  int fd = -1;
  int err = 0;
  for (const addrinfo* a = addrs; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      err = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(addrs);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(what, ErrnoText(err)));

  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0 ||
      ::pipe2(impl_->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat(what, ErrnoText(err)));
  }
  const uint16_t bound_port =
      bound.ss_family == AF_INET6
          ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
          : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port;
  impl_->listen_fd = fd;
  impl_->port = ntohs(bound_port);
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Serve(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  std::lock_guard<std::mutex> lock(impl_->stop_mu);
  if (!impl_->started || impl_->stopping.exchange(true)) return;
  const char byte = 0;
  (void)!::write(impl_->wake[1], &byte, 1);
  impl_->thread.join();
  for (const Connection& c : impl_->connections) ::close(c.fd);
  impl_->connections.clear();
  ::close(impl_->listen_fd);
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
  impl_->listen_fd = -1;
  impl_->port = 0;
}

void HttpServer::Impl::Serve() {
  absl::Time accept_after = absl::InfinitePast();
  std::vector<pollfd> fds;
  while (!stopping.load()) {
    absl::Time now = absl::Now();
    // Connections past their deadline are closed; the next deadline bounds
    // the wait.
    absl::Time wake_at = absl::InfiniteFuture();
    connections.erase(std::remove_if(connections.begin(), connections.end(),
                                     [now](const Connection& c) {
                                       if (now < c.deadline) return false;
                                       ::close(c.fd);
                                       return true;
                                     }),
                      connections.end());
    for (const Connection& c : connections) {
      wake_at = std::min(wake_at, c.deadline);
    }
    const bool accepting =
        connections.size() < options.max_connections && now >= accept_after;
    if (!accepting && connections.size() < options.max_connections) {
      wake_at = std::min(wake_at, accept_after);
    }

    fds.clear();
    fds.push_back({wake[0], POLLIN, 0});
    fds.push_back({accepting ? listen_fd : -1, POLLIN, 0});
    for (const Connection& c : connections) {
      const short events =
          c.state == Connection::State::kWriting ? POLLOUT : POLLIN;
      fds.push_back({c.fd, events, 0});
    }
    int timeout_ms = -1;
    if (wake_at != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(
          std::clamp<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(
                                  wake_at - now, absl::Milliseconds(1))),
                              0, 60000));
    }
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0) continue;  // EINTR; nothing else is expected
    if (fds[0].revents != 0) break;
    now = absl::Now();
    // Connections first (accepting appends to `connections`).
    std::vector<bool> keep(connections.size(), true);
    for (size_t i = 0; i < connections.size(); ++i) {
      if (fds[i + 2].revents != 0) keep[i] = Step(connections[i], now);
    }
    size_t kept = 0;
    for (size_t i = 0; i < connections.size(); ++i) {
      if (!keep[i]) {
        ::close(connections[i].fd);
      } else if (kept++ != i) {
        connections[kept - 1] = std::move(connections[i]);
      }
    }
    connections.resize(kept);
    if (fds[1].revents != 0) Accept(now, accept_after);
  }
}

void HttpServer::Impl::Accept(absl::Time now, absl::Time& accept_after) {
  while (connections.size() < options.max_connections) {
    const int fd =
        ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        accept_after = now + kAcceptBackoff;
      }
      // EAGAIN: no more for now; ECONNABORTED and the like: that one is gone.
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    Connection c;
    c.fd = fd;
    c.deadline = now + options.timeout;
    connections.push_back(std::move(c));
  }
}

HttpServer::Impl::ReadResult HttpServer::Impl::Read(Connection& c) {
  char buf[4096];
  // Bounded, so that a client streaming bytes cannot hold the thread.
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      if (c.state != Connection::State::kReading) continue;  // dropped
      c.in.append(buf, static_cast<size_t>(n));
      // Enough to tell whether the head fits; the rest is not needed.
      if (c.in.size() > options.max_head_bytes) return ReadResult::kOpen;
      continue;
    }
    if (n == 0) return ReadResult::kEof;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? ReadResult::kOpen
                                                   : ReadResult::kError;
  }
  return ReadResult::kOpen;
}

bool HttpServer::Impl::Step(Connection& c, absl::Time now) {
  switch (c.state) {
    case Connection::State::kReading: {
      const ReadResult read = Read(c);
      if (read == ReadResult::kError) return false;
      const size_t end = HeadEnd(c.in);
      Reply reply;
      if (end != absl::string_view::npos && end <= options.max_head_bytes) {
        reply = Route(absl::string_view(c.in).substr(0, end));
      } else if (end != absl::string_view::npos ||
                 c.in.size() >= options.max_head_bytes) {
        reply =
            ErrorReply(431, absl::StrCat("request head larger than ",
                                         options.max_head_bytes, " bytes\n"));
      } else if (read == ReadResult::kEof) {
        return false;  // the client left before asking
      } else {
        return true;  // more to come
      }
      c.out = FormatReply(reply);
      c.in.clear();
      c.state = Connection::State::kWriting;
      [[fallthrough]];  // the socket is most likely writable already
    }
    case Connection::State::kWriting: {
      while (c.sent < c.out.size()) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.sent,
                                 c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
          c.sent += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
      }
      ::shutdown(c.fd, SHUT_WR);
      c.state = Connection::State::kLingering;
      c.deadline = std::min(c.deadline, now + kLinger);
      return true;
    }
    case Connection::State::kLingering:
      return Read(c) == ReadResult::kOpen;  // until the client closes too
  }
  return false;
}

Reply HttpServer::Impl::Route(absl::string_view head) const {
  std::string method;
  std::string path;
  if (!ParseRequestLine(head.substr(0, head.find('\n')), method, path)) {
    return ErrorReply(400, "malformed request line\n");
  }
  Reply r;
  auto it = handlers.find(path);
  if (it == handlers.end()) {
    r = ErrorReply(404, "not found\n");
  } else if (method != "GET" && method != "HEAD") {
    r = ErrorReply(405, "only GET and HEAD\n");
    r.allow = true;
  } else {
    r.response = it->second();
  }
  r.head_only = method == "HEAD";
  return r;
}

}  // namespace signalscaler
