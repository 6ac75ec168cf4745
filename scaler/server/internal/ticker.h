// A thread that calls one function every `tick`, and sooner when woken:
// Wake() (e.g. from another thread's notification) runs it again after a
// short gathering pause, so that a burst of wakes makes one call, not many.
//
//   Ticker ticker;
//   ticker.Start(absl::Milliseconds(200), [&] { evaluator.EvaluateDue(); });
//   ticker.Wake();
//   ticker.Stop();  // joins; the destructor stops too
//
// Thread-safe.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_TICKER_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_TICKER_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace signalscaler {

class Ticker {
 public:
  // How long a wake waits for more before the call.
  static constexpr absl::Duration kGather = absl::Milliseconds(50);

  Ticker() = default;
  ~Ticker() { Stop(); }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  // Calls `fn` at once, then every `tick` or `gather` after a Wake(). A
  // no-op while running.
  void Start(absl::Duration tick, std::function<void()> fn,
             absl::Duration gather = kGather);
  // Makes the running (or next started) loop call again soon.
  void Wake();
  // Stops the loop and joins its thread; a no-op when not running.
  void Stop();

 private:
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<std::thread> thread_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_TICKER_H_
