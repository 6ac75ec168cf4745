// What a running `serve` child says: its JSON log lines (it runs with
// --log-format=json) and the series of its GET /metrics.
//
//   std::vector<nlohmann::json> lines = LogLines(server, "admin call denied");
//   double n = Series(MetricsText(server), AdminSeries("a", "OK", "push"));
#ifndef SIGNALSCALER_TESTS_TESTING_OBSERVE_H_
#define SIGNALSCALER_TESTS_TESTING_OBSERVE_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/testing/scaler_process.h"

namespace signalscaler::testing {

// The JSON lines of the server's log whose "msg" is `msg`.
std::vector<nlohmann::json> LogLines(const ScalerProcess& s,
                                     const std::string& msg);

// GET /metrics on the server's metrics port ("" unless it answers 200).
std::string MetricsText(const ScalerProcess& s);

// The value of the series `series` (name{labels}) in `text`; -1 if absent.
double Series(const std::string& text, const std::string& series);

// signalscaler_admin_requests_total's series for client, code and verb.
std::string AdminSeries(const std::string& client, const std::string& code,
                        const std::string& verb);

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_OBSERVE_H_
