// End-to-end harness: the real `signalscaler serve` binary as a child of the
// test, serving policies written to a fresh directory, and KEDA's view of it
// (GetMetricSpec -> GetMetrics) plus the admin API's Explain.
//
//   auto scaler = ServedScaler::Start(TotalPolicy("worker", source, 10));
//   EXPECT_TRUE(scaler->WaitForReplicas("worker", 4));
//   EXPECT_TRUE(scaler->HoldsDuringFault("worker", 4, "UNAVAILABLE"));
#ifndef SIGNALSCALER_TESTS_E2E_E2E_HARNESS_H_
#define SIGNALSCALER_TESTS_E2E_E2E_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/keda_client.h"
#include "tests/testing/scaler_process.h"

namespace signalscaler::testing {

// Every policy of these tests lives in this namespace and has one signal.
inline constexpr char kNamespace[] = "e2e";
inline constexpr char kSignal[] = "depth";

// A policy with one Total signal `depth` read from `source` (a YAML flow
// mapping of the source kind, e.g. `redis: {address: "...", list: jobs}`)
// every `interval_seconds`, evaluated every second, with no damping: a
// value that would scale down does so at once.
std::string TotalPolicy(const std::string& name, const std::string& source,
                        double target_per_replica, int min_replicas = 1,
                        int interval_seconds = 1);

class ServedScaler {
 public:
  // Writes `policies` (YAML documents) to a fresh directory and serves it,
  // with `extra` flags. Null (with a test failure) if the server does not
  // start.
  static std::unique_ptr<ServedScaler> Start(
      const std::string& policies, const std::vector<std::string>& extra = {});
  ~ServedScaler();  // SIGTERM, then waits for the exit

  KedaClient& keda() { return *keda_; }
  std::string Log() const { return process_.process->Output(); }
  int metrics_port() const { return process_.metrics_port; }
  // The directory of the policies (rewrite a file there to reload).
  const std::string& dir() const { return dir_; }

  // KEDA's sequence: GetMetricSpec's name, then GetMetrics with it.
  absl::StatusOr<double> Replicas(const std::string& policy);
  // The explanation of the `depth` signal of `policy`.
  absl::StatusOr<admin::v1::SignalExplanation> Signal(
      const std::string& policy);

  // Polls GetMetrics until it answers `want`.
  ::testing::AssertionResult WaitForReplicas(
      const std::string& policy, double want,
      absl::Duration timeout = absl::Seconds(30));
  // Polls Explain until the signal is "ok" with value `want`.
  ::testing::AssertionResult WaitForValue(
      const std::string& policy, double want,
      absl::Duration timeout = absl::Seconds(30));
  // Polls Explain until the signal's state is "error" with a message
  // containing every one of `needles`.
  ::testing::AssertionResult WaitForError(
      const std::string& policy, const std::vector<std::string>& needles,
      absl::Duration timeout = absl::Seconds(30));
  // While the fault lasts (`window`): every GetMetrics answers `held` in
  // less than 200 ms, IsActive stays true, and the signal stays in error.
  ::testing::AssertionResult HoldsDuringFault(
      const std::string& policy, double held,
      absl::Duration window = absl::Seconds(4));

 private:
  ServedScaler() = default;
  std::string dir_;
  ScalerProcess process_;
  std::unique_ptr<KedaClient> keda_;
};

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_E2E_E2E_HARNESS_H_
