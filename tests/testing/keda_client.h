// A client of a running scaler that calls it as KEDA does (GetMetricSpec,
// GetMetrics with the spec's name, IsActive, StreamIsActive) plus the admin
// API's Explain and Push, over real gRPC. gRPC's headers stay in the .cc.
//
//   KedaClient keda("127.0.0.1:9090");
//   absl::StatusOr<std::string> name = keda.MetricName("jobs", "worker");
//   absl::StatusOr<double> replicas = keda.GetMetrics("jobs", "worker", *name);
//   std::unique_ptr<ActiveStream> s = keda.StreamIsActive("jobs", "worker");
//   std::optional<ActiveMessage> m = s->Next(absl::Seconds(5));
#ifndef SIGNALSCALER_TESTS_TESTING_KEDA_CLIENT_H_
#define SIGNALSCALER_TESTS_TESTING_KEDA_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/admin.pb.h"
#include "proto/externalscaler.pb.h"

namespace signalscaler::testing {

struct ActiveMessage {
  bool result = false;
  absl::Time received;  // when the client got it
};

// An open StreamIsActive; a thread of its own reads the messages as they
// arrive. Destruction cancels the call.
class ActiveStream {
 public:
  virtual ~ActiveStream() = default;
  // The next message, waiting up to `timeout`; nullopt on timeout or once
  // the stream has ended.
  virtual std::optional<ActiveMessage> Next(absl::Duration timeout) = 0;
  // The stream's final status, once it has ended (else nullopt).
  virtual std::optional<absl::Status> Ended() const = 0;
};

// Thread-safe. Every call has a deadline of 10 s.
class KedaClient {
 public:
  explicit KedaClient(const std::string& address);
  ~KedaClient();

  // GetMetricSpec's single metric name.
  absl::StatusOr<std::string> MetricName(const std::string& ns,
                                         const std::string& policy);
  // GetMetricSpec's whole answer, as KEDA receives it.
  absl::StatusOr<externalscaler::GetMetricSpecResponse> GetMetricSpec(
      const std::string& ns, const std::string& policy);
  // GetMetrics' value (metricValueFloat) for `metric`.
  absl::StatusOr<double> GetMetrics(const std::string& ns,
                                    const std::string& policy,
                                    const std::string& metric);
  absl::StatusOr<bool> IsActive(const std::string& ns,
                                const std::string& policy);
  std::unique_ptr<ActiveStream> StreamIsActive(const std::string& ns,
                                               const std::string& policy);
  // The admin API's Push of `value` to a push signal.
  absl::Status Push(const std::string& ns, const std::string& policy,
                    const std::string& signal, double value);
  // The same with the request's sample_time_unix set to `sampled`.
  absl::Status PushSampledAt(const std::string& ns, const std::string& policy,
                             const std::string& signal, double value,
                             absl::Time sampled);
  // The admin API's explanation of one policy's decision.
  absl::StatusOr<admin::v1::PolicyDecision> Explain(const std::string& ns,
                                                    const std::string& policy);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The explanation of `signal` in `decision`, if it is there.
std::optional<admin::v1::SignalExplanation> FindSignal(
    const admin::v1::PolicyDecision& decision, const std::string& signal);

// Calls `done` every `every` until it returns true (true) or `timeout` has
// passed (false). The only way these tests wait.
bool PollUntil(const std::function<bool()>& done, absl::Duration timeout,
               absl::Duration every = absl::Milliseconds(50));

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_KEDA_CLIENT_H_
