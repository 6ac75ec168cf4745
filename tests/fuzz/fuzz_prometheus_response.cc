// libFuzzer target: ParsePrometheusResponse must be total on any bytes, and a
// reading it returns is always a finite number.
#include <cmath>
#include <cstddef>
#include <cstdint>

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
  return 0;
}
