#include "tests/sim/sim_test_util.h"

#include <fstream>
#include <sstream>

namespace signalscaler::sim_testing {

const char kPolicy[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: q, namespace: t}
spec:
  minReplicas: 1
  maxReplicas: 10
  evaluationIntervalSeconds: 10
  signals:
  - {name: q, type: Total, source: {push: {}}, targetPerReplica: 10}
  - name: cpu
    type: Average
    source: {push: {}}
    scaleUpAbove: 0.8
    scaleDownBelow: 0.2
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0}
    scaleDown: {stabilizationWindowSeconds: 60}
)";

std::string Write(const std::string& dir, const std::string& name,
                  const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

testing::RunResult Simulate(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testing::SignalscalerBinary(), "simulate"};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv, absl::Seconds(120));
}

nlohmann::json RunNamed(const nlohmann::json& summary,
                        const std::string& name) {
  for (const nlohmann::json& r : summary.at("runs")) {
    if (r.at("name") == name) return r;
  }
  return nlohmann::json::object();
}

}  // namespace signalscaler::sim_testing
