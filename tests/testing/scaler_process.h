// `signalscaler serve` as a child process of a test, on a free loopback port.
//
//   ScalerProcess s = StartServe({"--policies=" + dir});
//   ASSERT_NE(s.port, 0);
//   auto stub = ExternalScaler::NewStub(grpc::CreateChannel(s.address(), ...));
#ifndef SIGNALSCALER_TESTS_TESTING_SCALER_PROCESS_H_
#define SIGNALSCALER_TESTS_TESTING_SCALER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "tests/testing/subprocess.h"

namespace signalscaler::testing {

struct ScalerProcess {
  std::unique_ptr<Subprocess> process;
  int port = 0;          // 0 when it did not start
  int metrics_port = 0;  // of GET /metrics
  // Of the admin API: its own with --admin-listen, else `port`.
  int admin_port = 0;
  std::string address() const;
  std::string admin_address() const;
};

// Starts `serve --listen=127.0.0.1:0 --metrics-listen=127.0.0.1:0
// --drain-seconds=0 --log-format=json` plus `extra` (a later flag wins), and
// waits (up to 30 s) for the ports it logs (its JSON "serving" line).
ScalerProcess StartServe(const std::vector<std::string>& extra);

// Writes `text` to `path`, replacing it.
void WriteFile(const std::string& path, const std::string& text);

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_SCALER_PROCESS_H_
