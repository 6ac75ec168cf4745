// One interface for every kind of signal source (prometheus, redis, scrape).
// The Sampler (sources/sampler.h) owns the instances and calls Read() from
// its own threads, never from a KEDA call. `push` is not a Source: its values
// arrive through the admin API (sources/push/).
//
//   absl::StatusOr<std::unique_ptr<Source>> s = MakeSource(spec.source(),
//   clock); absl::StatusOr<Reading> r = (*s)->Read(clock.Now() +
//   absl::Seconds(2));
#ifndef SIGNALSCALER_SOURCES_SOURCE_H_
#define SIGNALSCALER_SOURCES_SOURCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "scaler/engine/decision.h"

namespace signalscaler {

// Implementations are thread-compatible: the Sampler never calls Read() on
// one instance from two threads at once. Subscribe() may be called once.
class Source {
 public:
  virtual ~Source() = default;

  // Reads the current value, returning before `deadline` (then
  // DEADLINE_EXCEEDED). Errors carry a canonical code and a message that
  // names what failed (the query, the key, the URL) and never a secret:
  //   DEADLINE_EXCEEDED  the server did not answer in time
  //   UNAVAILABLE        cannot connect / connection lost
  //   INVALID_ARGUMENT   the answer is not what the source expects (several
  //                      series, NaN, a key of the wrong type, garbage)
  //   NOT_FOUND          no value where one is required (a Prometheus query
  //                      with no series, unless its presenceQuery finds a
  //                      live target or noSeriesIsZero is set: "no series:
  //                      held")
  //   RESOURCE_EXHAUSTED the answer exceeds the size bound
  //   PERMISSION_DENIED / UNAUTHENTICATED  refused by the server
  // The Reading's sample_time is when the value was measured (Prometheus'
  // sample timestamp), else when it was read.
  virtual absl::StatusOr<Reading> Read(absl::Time deadline) = 0;

  // Optional push notifications (e.g. Redis keyspace notifications): calls
  // `on_change` (from a thread of the source's) whenever the value may have
  // changed, so the sampler re-reads at once. UNIMPLEMENTED by default.
  virtual absl::Status Subscribe(std::function<void()> on_change) {
    (void)on_change;
    return absl::UnimplementedError("this source has no notifications");
  }

  // A short description for logs and errors, e.g. `prometheus query "..."`.
  // Never contains a secret.
  virtual std::string Describe() const = 0;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_SOURCE_H_
