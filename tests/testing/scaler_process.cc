#include "tests/testing/scaler_process.h"

#include <fstream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace signalscaler::testing {

std::string ScalerProcess::address() const {
  return absl::StrCat("127.0.0.1:", port);
}

std::string ScalerProcess::admin_address() const {
  return absl::StrCat("127.0.0.1:", admin_port);
}

ScalerProcess StartServe(const std::vector<std::string>& extra) {
  ScalerProcess s;
  std::vector<std::string> argv = {
      SignalscalerBinary(),   "serve",
      "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
      "--drain-seconds=0",    "--log-format=json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> p =
      Subprocess::Start(argv, MakeTempDir() + "/serve.log");
  if (!p.ok()) return s;
  s.process = *std::move(p);
  std::optional<std::string> rest =
      s.process->WaitForOutput("\"port\":\"", absl::Seconds(30));
  int port = 0;
  if (rest.has_value() &&
      absl::SimpleAtoi(rest->substr(0, rest->find('"')), &port)) {
    s.port = port;
  }
  std::optional<std::string> metrics =
      s.process->WaitForOutput("\"metrics_port\":\"", absl::Seconds(1));
  if (metrics.has_value() &&
      absl::SimpleAtoi(metrics->substr(0, metrics->find('"')), &port)) {
    s.metrics_port = port;
  }
  std::optional<std::string> admin =
      s.process->WaitForOutput("\"admin_port\":\"", absl::Seconds(1));
  if (admin.has_value() &&
      absl::SimpleAtoi(admin->substr(0, admin->find('"')), &port)) {
    s.admin_port = port;
  }
  return s;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

}  // namespace signalscaler::testing
