#include "tests/redis_source/fake_redis_server.h"

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

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace signalscaler::testing {
namespace {

// Reads a "<prefix><number>\r\n" line at `*pos`; false if incomplete.
bool ReadNumberLine(absl::string_view buffer, char prefix, size_t* pos,
                    long long* number) {
  const size_t end = buffer.find("\r\n", *pos);
  if (end == absl::string_view::npos) return false;
  if (buffer[*pos] != prefix ||
      !absl::SimpleAtoi(buffer.substr(*pos + 1, end - *pos - 1), number)) {
    std::fprintf(stderr, "FakeRedisServer: not a RESP command\n");
    std::abort();
  }
  *pos = end + 2;
  return true;
}

// Takes one complete command (a RESP array of bulk strings) off the front of
// `buffer`; false if none is complete yet.
bool TakeCommand(std::string& buffer, std::vector<std::string>& argv) {
  size_t pos = 0;
  long long count = 0;
  if (!ReadNumberLine(buffer, '*', &pos, &count)) return false;
  std::vector<std::string> words;
  for (long long i = 0; i < count; ++i) {
    long long len = 0;
    if (pos >= buffer.size() || !ReadNumberLine(buffer, '$', &pos, &len)) {
      return false;
    }
    if (buffer.size() < pos + static_cast<size_t>(len) + 2) return false;
    words.push_back(buffer.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len) + 2;
  }
  buffer.erase(0, pos);
  argv = std::move(words);
  return true;
}

}  // namespace

FakeRedisServer::FakeRedisServer() {
  answer_.header = "+OK\r\n";
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    std::perror("FakeRedisServer");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

FakeRedisServer::~FakeRedisServer() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // Unblocks a send() to a client that stopped reading.
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  const char byte = 0;
  (void)!write(wake_pipe_[1], &byte, 1);
  acceptor_.join();
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  close(listen_fd_);
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

std::string FakeRedisServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void FakeRedisServer::AnswerWith(std::string reply) {
  absl::MutexLock lock(&mu_);
  answer_ = Answer{std::move(reply), "", 0, "", false};
}

void FakeRedisServer::AnswerHostile(std::string header, std::string pattern,
                                    size_t body_bytes, std::string trailer) {
  absl::MutexLock lock(&mu_);
  answer_ = Answer{std::move(header), std::move(pattern), body_bytes,
                   std::move(trailer), true};
}

FakeRedisServer::Stats FakeRedisServer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool FakeRedisServer::WaitFor(const std::function<bool(const Stats&)>& done,
                              absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const absl::Time due = absl::Now() + timeout;
  while (!done(stats_)) {
    if (changed_.WaitWithDeadline(&mu_, due)) return done(stats_);
  }
  return true;
}

void FakeRedisServer::Update(const std::function<void(Stats&)>& change) {
  {
    absl::MutexLock lock(&mu_);
    change(stats_);
  }
  changed_.SignalAll();
}

void FakeRedisServer::Accept() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    open_fds_.insert(fd);
    ++stats_.connections;
    changed_.SignalAll();
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeRedisServer::Serve(int fd) {
  std::string buffer;
  char chunk[4096];
  bool open = true;
  while (open) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    if (fds[0].revents == 0) continue;
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;  // closed by the client (or reset)
    buffer.append(chunk, static_cast<size_t>(n));
    std::vector<std::string> argv;
    while (open && TakeCommand(buffer, argv)) {
      Answer answer;
      {
        absl::MutexLock lock(&mu_);
        ++stats_.commands;
        stats_.last_command = absl::StrJoin(argv, " ");
        answer = answer_;
      }
      changed_.SignalAll();
      open = Send(fd, answer);
    }
  }
  absl::MutexLock lock(&mu_);
  open_fds_.erase(fd);
  close(fd);
}

bool FakeRedisServer::Send(int fd, const Answer& answer) {
  const auto send_all = [fd](absl::string_view bytes, size_t* sent) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      *sent += static_cast<size_t>(n);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  };
  size_t sent = 0;
  if (!answer.hostile) return send_all(answer.header, &sent);

  Update([](Stats& s) { ++s.hostile_started; });
  std::string block;  // 64 KiB of whole patterns
  while (block.size() < (64 << 10)) block += answer.pattern;
  bool open = send_all(answer.header, &sent);
  size_t body_left = answer.body_bytes;
  while (open && body_left > 0) {
    const size_t n = std::min(body_left, block.size());
    open = send_all(absl::string_view(block).substr(0, n), &sent);
    body_left -= std::min(body_left, n);
    Update([&](Stats& s) {
      s.max_hostile_bytes_sent = std::max(s.max_hostile_bytes_sent, sent);
    });
  }
  if (open) open = send_all(answer.trailer, &sent);
  Update([&](Stats& s) {
    s.max_hostile_bytes_sent = std::max(s.max_hostile_bytes_sent, sent);
    if (open) {
      ++s.hostile_complete;
    } else {
      ++s.hostile_cut;
    }
  });
  return open;
}

}  // namespace signalscaler::testing
