// A parser of the Prometheus text exposition format (version 0.0.4), as
// served on pods' /metrics, for the `scrape` source.
//
//   absl::StatusOr<std::vector<MetricSample>> samples = ParseMetricText(
//       "# TYPE active gauge\nactive{pool=\"a\"} 3\n", "active",
//       {{"pool", "a"}});
#ifndef SIGNALSCALER_SOURCES_HTTP_METRIC_TEXT_H_
#define SIGNALSCALER_SOURCES_HTTP_METRIC_TEXT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signalscaler {

struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;                           // may be NaN or +-Inf
  std::optional<int64_t> timestamp_ms;        // when the line has one
};

// Returns, in order of appearance, the samples named `metric` whose labels
// match every (name, value) of `labels` (a matcher with an empty value also
// matches a sample without that label, as in PromQL). Pure and total.
//
// Blank lines and `#` lines (comments, HELP, TYPE) are skipped. A sample line
// is `name[{label="value",...}] value [timestamp_ms]`; label values may
// escape `\\`, `\"` and `\n`; values are floats as Prometheus reads them
// (Go's ParseFloat, decimal only: NaN, +Inf, -Inf, 1.5e3, .5; never hex
// such as 0x1F). Any malformed line, of whichever metric, makes the whole text
// INVALID_ARGUMENT naming the line number, as it would for Prometheus.
absl::StatusOr<std::vector<MetricSample>> ParseMetricText(
    absl::string_view text, absl::string_view metric,
    const std::map<std::string, std::string>& labels);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_METRIC_TEXT_H_
