// A real Prometheus server (/usr/bin/prometheus) for integration tests,
// started as this test's own child on 127.0.0.1 and a free port, scraping
// the given targets every second. Stopped (SIGTERM, then SIGKILL) on
// destruction.
//
//   auto prom = TestPrometheus::Start({"127.0.0.1:" + target_port});
//   source.set_address((*prom)->address());
//   (*prom)->Stop();     // mid-run
//   (*prom)->Restart();  // same port, same data
//
// With history written beforehand (promtool tsdb create-blocks-from
// openmetrics FILE DIR), it starts on that TSDB directory:
//
//   TestPrometheusOptions options;
//   options.data_dir = dir;  // blocks hours old: older than the head
//   auto prom = TestPrometheus::Start({}, options);
#ifndef SIGNALSCALER_TESTS_TESTING_PROMETHEUS_TEST_SERVER_H_
#define SIGNALSCALER_TESTS_TESTING_PROMETHEUS_TEST_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {

inline constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

struct TestPrometheusOptions {
  // A TSDB directory to start on (e.g. blocks promtool wrote), kept as it
  // is; empty: a fresh one.
  std::string data_dir;
  // --storage.tsdb.retention.time: long, so that written history of any age
  // is kept.
  std::string retention = "3650d";
};

class TestPrometheus {
 public:
  // Starts Prometheus scraping `targets` (HOST:PORT) at 1 s and waits until
  // it answers /-/ready (a port taken meanwhile is retried on another).
  static absl::StatusOr<std::unique_ptr<TestPrometheus>> Start(
      const std::vector<std::string>& targets,
      const TestPrometheusOptions& options = {});
  ~TestPrometheus();

  int port() const { return port_; }
  std::string address() const;  // "http://127.0.0.1:<port>"
  bool running() const { return process_ != nullptr; }
  std::string Output() const;  // its log so far

  // SIGTERM and wait for the exit: the port stops answering.
  absl::Status Stop();
  // Starts again on the same port with the same data, waits until ready.
  absl::Status Restart();

 private:
  TestPrometheus(std::string dir, int port, TestPrometheusOptions options)
      : dir_(std::move(dir)), port_(port), options_(std::move(options)) {}
  absl::Status Launch();

  const std::string dir_;
  int port_;
  const TestPrometheusOptions options_;
  int launches_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_PROMETHEUS_TEST_SERVER_H_
