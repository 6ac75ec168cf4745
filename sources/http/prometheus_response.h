// The parser of Prometheus' instant query answers
// (GET /api/v1/query), pure so that it can be tested and fuzzed alone.
//
//   absl::StatusOr<Reading> r = ParsePrometheusResponse(body, true, now);
#ifndef SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_RESPONSE_H_
#define SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_RESPONSE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/engine/decision.h"

namespace signalscaler {

// Parses the body of an instant query's answer. Pure, total (never throws or
// crashes on any input; a fuzz target holds it to that).
//   - `status` must be "success", else the server's errorType and error are
//     in the message (timeout -> DEADLINE_EXCEEDED, unavailable and canceled
//     -> UNAVAILABLE, others INVALID_ARGUMENT).
//   - resultType `vector`: exactly one series gives its value and sample
//     timestamp; zero series gives 0 at `now` if `ignore_null_values`, else
//     NOT_FOUND; several are INVALID_ARGUMENT naming the count.
//   - resultType `scalar`: its value and timestamp.
//   - NaN, +-Inf, a non-numeric value, a histogram sample, another
//     resultType: INVALID_ARGUMENT.
//   - not JSON, or JSON without the API's shape: INVALID_ARGUMENT
//     "not a Prometheus API response".
absl::StatusOr<Reading> ParsePrometheusResponse(absl::string_view body,
                                                bool ignore_null_values,
                                                absl::Time now);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_RESPONSE_H_
