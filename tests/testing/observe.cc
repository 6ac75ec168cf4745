#include "tests/testing/observe.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing/raw_http.h"

namespace signalscaler::testing {

std::vector<nlohmann::json> LogLines(const ScalerProcess& s,
                                     const std::string& msg) {
  std::vector<nlohmann::json> out;
  if (s.process == nullptr) return out;
  for (absl::string_view line : absl::StrSplit(s.process->Output(), '\n')) {
    nlohmann::json j =
        nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("msg", "") == msg) out.push_back(j);
  }
  return out;
}

std::string MetricsText(const ScalerProcess& s) {
  RawHttpAnswer a = HttpGet(s.metrics_port, "/metrics");
  return a.status == 200 ? a.body : "";
}

double Series(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double v = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

std::string AdminSeries(const std::string& client, const std::string& code,
                        const std::string& verb) {
  return absl::StrCat("signalscaler_admin_requests_total{client=\"", client,
                      "\",code=\"", code, "\",verb=\"", verb, "\"}");
}

}  // namespace signalscaler::testing
