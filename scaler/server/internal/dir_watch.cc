#include "scaler/server/internal/dir_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/time/clock.h"
#include "scaler/common/log.h"

namespace signalscaler {
namespace server_internal {
namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MODIFY |
                              IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                              IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
// The parent: only the entry of the watched directory matters (created,
// removed, renamed, or a symlink replaced).
constexpr uint32_t kParentMask =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB;

}  // namespace

bool DirWatch::PathWatch::Arm(int fd) {
  struct stat st;
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (wd >= 0 && exists && st.st_dev == dev && st.st_ino == ino) {
    return false;
  }
  if (wd >= 0) {
    // Gone already when the kernel sent IN_IGNORED; harmless then.
    (void)::inotify_rm_watch(fd, wd);
    wd = -1;
  }
  if (!exists) return true;
  wd = ::inotify_add_watch(fd, path.c_str(), mask);
  dev = st.st_dev;
  ino = st.st_ino;
  return true;
}

DirWatch::DirWatch(const std::string& path, absl::Duration period)
    : period_(period) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "dir/"
  fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
  if (dir.empty()) dir = ".";
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  dir_name_ = dir.filename().string();
  dir_ = PathWatch{dir.string(), kDirMask};
  parent_ = PathWatch{parent.string(), kParentMask};
  has_parent_ = dir_name_ != "." && dir_name_ != ".." && !dir_name_.empty() &&
                fs::absolute(parent, ec).lexically_normal() !=
                    fs::absolute(dir, ec).lexically_normal();
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    LogWarn("cannot watch the policies directory; reloading every period",
            {{"dir", dir_.path}, {"period", absl::FormatDuration(period_)}});
  }
}

DirWatch::~DirWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void DirWatch::Arm() {
  if (fd_ < 0) return;
  if (has_parent_) parent_.Arm(fd_);
  if (dir_.Arm(fd_) && dir_.wd >= 0 && warned_) {
    LogInfo("watching the policies directory again", {{"dir", dir_.path}});
    warned_ = false;
  }
  if (dir_.wd < 0 && !warned_) {
    LogWarn("cannot watch the policies directory; reloading every period",
            {{"dir", dir_.path}, {"period", absl::FormatDuration(period_)}});
    warned_ = true;
  }
}

bool DirWatch::Drain() {
  bool relevant = false;
  alignas(struct inotify_event) char buf[8192];
  ssize_t n;
  while (fd_ >= 0 && (n = ::read(fd_, buf, sizeof(buf))) > 0) {
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      if (has_parent_ && ev->wd == parent_.wd && ev->wd != dir_.wd) {
        if (ev->len > 0 && dir_name_ == ev->name) relevant = true;
        if ((ev->mask & (IN_IGNORED | IN_Q_OVERFLOW)) != 0) relevant = true;
        continue;
      }
      relevant = true;  // The directory, its own fate, or an overflow.
    }
  }
  return relevant;
}

void DirWatch::Debounce() {
  const absl::Time limit = absl::Now() + absl::Seconds(1);
  pollfd one = {fd_, POLLIN, 0};
  while (absl::Now() < limit) {
    const absl::Time quiet = absl::Now() + absl::Milliseconds(100);
    bool more = false;
    while (!more && absl::Now() < quiet) {
      const int left = static_cast<int>(
          std::max<int64_t>(1, absl::ToInt64Milliseconds(quiet - absl::Now())));
      one.revents = 0;
      if (::poll(&one, 1, left) <= 0) break;
      more = Drain();
    }
    if (!more) break;
  }
}

bool DirWatch::Wait(int stop_fd) {
  if (!next_periodic_.has_value()) next_periodic_ = absl::Now() + period_;
  while (true) {
    const int64_t wait_ms = std::max<int64_t>(
        0, absl::ToInt64Milliseconds(*next_periodic_ - absl::Now()));
    pollfd fds[2] = {{stop_fd, POLLIN, 0}, {fd_, POLLIN, 0}};
    const int n = ::poll(fds, fd_ >= 0 ? 2 : 1, static_cast<int>(wait_ms));
    if (n < 0 && errno != EINTR) return false;
    if (fds[0].revents != 0) return false;  // Stop.
    bool reload = absl::Now() >= *next_periodic_;
    if (n > 0 && fds[1].revents != 0 && Drain()) {
      Debounce();
      reload = true;
    }
    if (reload) {
      // The next period counts from the next Wait(), after the reload.
      next_periodic_.reset();
      return true;
    }
  }
}

}  // namespace server_internal
}  // namespace signalscaler
