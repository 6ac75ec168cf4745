// hiredis writes with write(2): a write to a connection the server has
// reset raises SIGPIPE, which kills a process that does not ignore it.
// ScopedNoSigpipe blocks it on this thread for its lifetime, and swallows
// one raised meanwhile (one that was already pending is left pending).
//
//   {
//     ScopedNoSigpipe no_sigpipe;
//     redisBufferWrite(context, &done);  // EPIPE, not a signal
//   }
//
// Internal to the Redis client. Keeps errno across its destructor.
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_NO_SIGPIPE_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_NO_SIGPIPE_H_

#include <signal.h>

namespace signalscaler::redis_internal {

class ScopedNoSigpipe {
 public:
  ScopedNoSigpipe();
  ~ScopedNoSigpipe();
  ScopedNoSigpipe(const ScopedNoSigpipe&) = delete;
  ScopedNoSigpipe& operator=(const ScopedNoSigpipe&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace signalscaler::redis_internal

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_NO_SIGPIPE_H_
