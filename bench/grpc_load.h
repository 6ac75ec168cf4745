// An asynchronous gRPC load generator that calls an ExternalScaler as KEDA
// does: per ScaledObject evaluation GetMetricSpec, then GetMetrics, then
// IsActive (KEDA.md: "each evaluation of an external trigger costs about
// three calls", both on the polling path and on the HPA's metrics reads), so
// the mix is 1:1:1. `concurrency` calls are always outstanding on one
// channel (one HTTP/2 connection, as KEDA keeps one per scaler address),
// spread over `client_threads` completion queues. Each slot walks the
// policies round robin, one evaluation (three calls) per policy.
//
//   LoadOptions o;
//   o.concurrency = 64;
//   absl::StatusOr<LoadResult> r = RunLoad("127.0.0.1:9090", targets, o);
//
// Only calls that start after the warm-up and end before its end are timed;
// every call that fails, warm-up included, is counted as an error.
#ifndef SIGNALSCALER_BENCH_GRPC_LOAD_H_
#define SIGNALSCALER_BENCH_GRPC_LOAD_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace signalscaler::bench {

// One ScaledObject's trigger: its namespace, `policy` metadata and the
// metric name GetMetrics asks for.
struct LoadTarget {
  std::string ns;
  std::string policy;
  std::string metric;
};

struct LoadOptions {
  int concurrency = 64;    // calls outstanding at all times
  int client_threads = 1;  // completion queues, one thread each
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  absl::Duration deadline = absl::Seconds(3);  // KEDA's metrics-server path
  // Called on the caller's thread when the measured interval starts and
  // ends (e.g. to read the server's CPU time).
  std::function<void()> on_measure_start;
  std::function<void()> on_measure_end;
};

inline constexpr std::array<const char*, 3> kMethods = {
    "GetMetricSpec", "GetMetrics", "IsActive"};

struct LoadResult {
  int64_t calls = 0;  // successful, timed
  double seconds = 0;
  double calls_per_second() const { return calls / seconds; }
  std::vector<double> latency_us;  // sorted, successful timed calls
  std::array<std::vector<double>, 3> method_latency_us;  // sorted, per method
  std::map<std::string, int64_t> errors;  // "UNAVAILABLE: <msg>" -> count
  int64_t error_count() const;
};

// Checks that every target answers GetMetricSpec and GetMetrics (one call
// each, synchronously); the first failure is returned.
absl::Status CheckTargets(const std::string& address,
                          const std::vector<LoadTarget>& targets);

// Runs the load against `address` and returns what it measured. An error
// only if the channel does not connect within 10 s.
absl::StatusOr<LoadResult> RunLoad(const std::string& address,
                                   const std::vector<LoadTarget>& targets,
                                   const LoadOptions& options);

}  // namespace signalscaler::bench

#endif  // SIGNALSCALER_BENCH_GRPC_LOAD_H_
