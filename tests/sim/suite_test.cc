// The trace suite (deploy/examples/traces/SUITE): every trace runs through
// the binary with both baselines, and where the seed says so, our policy has
// fewer under-provisioned replica-seconds than the CPU-only HPA. Also: a
// trace of a million rows completes (its speed is bench/sim-suite's).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/sim_test_util.h"

namespace signalscaler {
namespace {

using sim_testing::Read;
using sim_testing::RunNamed;
using sim_testing::Simulate;
using testing::MakeTempDir;
using testing::RunResult;
using testing::SourceDir;

struct Entry {
  std::string trace;
  std::string policy;
  std::string expect;
};

std::vector<Entry> Suite() {
  std::ifstream in(SourceDir() + "/deploy/examples/traces/SUITE");
  std::vector<Entry> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    Entry e;
    words >> e.trace >> e.policy >> e.expect;
    out.push_back(e);
  }
  return out;
}

TEST(SimulateSuiteTest, EveryTraceRunsAndBeatsTheCpuHpaWhereItShould) {
  const std::string traces = SourceDir() + "/deploy/examples/traces/";
  const std::vector<Entry> suite = Suite();
  ASSERT_EQ(suite.size(), 7u);
  const std::string dir = MakeTempDir();
  for (const Entry& e : suite) {
    SCOPED_TRACE(e.trace);
    const std::string json = dir + "/" + e.trace + ".json";
    const RunResult r = Simulate({"--policy", traces + e.policy, "--trace",
                                  traces + e.trace, "--summary-json", json,
                                  "--compare", "hpa-cpu", "keda-default"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json s = nlohmann::json::parse(Read(json));
    ASSERT_EQ(s.at("runs").size(), 3u) << s;
    const double ours =
        RunNamed(s, "signalscaler").at("under_provisioned_replica_seconds");
    const double hpa =
        RunNamed(s, "hpa-cpu").at("under_provisioned_replica_seconds");
    if (e.expect == "beats-hpa-cpu") {
      EXPECT_LT(ours, hpa) << s;
    } else {
      EXPECT_EQ(e.expect, "-");
    }
  }
}

TEST(SimulateSuiteTest, AMillionRowsComplete) {
  const std::string dir = MakeTempDir();
  {
    std::ofstream out(dir + "/big.csv");
    out << "t,q,cpu\n";
    for (int i = 0; i < 1000000; ++i) {
      out << i << ',' << (int64_t{i} * 7919 % 101) << ",0." << (i % 10) << '\n';
    }
  }
  std::ofstream(dir + "/p.yaml") << sim_testing::kPolicy;
  const RunResult r = testing::RunCommand(
      {testing::SignalscalerBinary(), "simulate", "--policy", dir + "/p.yaml",
       "--trace", dir + "/big.csv", "--tick-seconds", "15", "--compare",
       "keda-default"},
      absl::Seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("1000000 rows"));
}

}  // namespace
}  // namespace signalscaler
