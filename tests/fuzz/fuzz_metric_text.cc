// libFuzzer target: ParseMetricText must be total on any bytes, and every
// sample it returns has the metric's name and the matchers' labels.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "sources/http/metric_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const std::map<std::string, std::string> matchers[] = {
      {}, {{"pool", "a"}}, {{"pool", ""}}};
  for (const auto& labels : matchers) {
    const auto samples =
        signalscaler::ParseMetricText(text, "active_sessions", labels);
    if (!samples.ok()) {
      if (samples.status().message().empty()) __builtin_trap();
      continue;
    }
    for (const signalscaler::MetricSample& s : *samples) {
      if (s.name != "active_sessions") __builtin_trap();
      for (const auto& [name, value] : labels) {
        const auto it = s.labels.find(name);
        if ((it == s.labels.end() ? std::string() : it->second) != value) {
          __builtin_trap();
        }
      }
    }
  }
  return 0;
}
