// Helpers for the simulate tests: files in a temp dir, running the binary,
// reading its JSON summary.
#ifndef SIGNALSCALER_TESTS_SIM_SIM_TEST_UTIL_H_
#define SIGNALSCALER_TESTS_SIM_SIM_TEST_UTIL_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/testing/subprocess.h"

namespace signalscaler::sim_testing {

// A policy "t/q": q (Total, 10 per replica, tolerance 0.1) and cpu (Average,
// up at 0.8, down at 0.2, target 0.5); min 1, max 10, evaluated every 10 s;
// scale-up window 0, scale-down window 60 s, the HPA's default rates.
extern const char kPolicy[];

std::string Write(const std::string& dir, const std::string& name,
                  const std::string& text);
std::string Read(const std::string& path);
// `signalscaler simulate ARGS...`.
testing::RunResult Simulate(const std::vector<std::string>& args);
// The run called `name` in a --summary-json file.
nlohmann::json RunNamed(const nlohmann::json& summary, const std::string& name);

}  // namespace signalscaler::sim_testing

#endif  // SIGNALSCALER_TESTS_SIM_SIM_TEST_UTIL_H_
