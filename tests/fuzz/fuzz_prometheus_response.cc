// libFuzzer target: ParsePrometheusResponse and ParsePrometheusMatrix must be
// total on any bytes; a reading is always a finite number, and a range's
// samples are finite and strictly ascending.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sources/http/prometheus_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  for (const bool ignore_null_values : {true, false}) {
    const absl::StatusOr<signalscaler::Reading> reading =
        signalscaler::ParsePrometheusResponse(body, ignore_null_values, now);
    if (reading.ok() && !std::isfinite(reading->value)) __builtin_trap();
    if (!reading.ok() && reading.status().message().empty()) __builtin_trap();
  }
  const absl::StatusOr<std::vector<signalscaler::RangeSample>> range =
      signalscaler::ParsePrometheusMatrix(body);
  if (range.ok()) {
    for (size_t i = 0; i < range->size(); ++i) {
      if (!std::isfinite((*range)[i].value)) __builtin_trap();
      if (i > 0 && (*range)[i].unix_ms <= (*range)[i - 1].unix_ms) {
        __builtin_trap();
      }
    }
  } else if (range.status().message().empty()) {
    __builtin_trap();
  }
  return 0;
}
