#include "sources/redis/client/internal/no_sigpipe.h"

#include <pthread.h>
#include <time.h>

#include <cerrno>

namespace signalscaler::redis_internal {

ScopedNoSigpipe::ScopedNoSigpipe() {
  sigemptyset(&pipe_);
  sigaddset(&pipe_, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
}

ScopedNoSigpipe::~ScopedNoSigpipe() {
  const int saved_errno = errno;
  if (!was_pending_) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero = {0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  errno = saved_errno;
}

}  // namespace signalscaler::redis_internal
