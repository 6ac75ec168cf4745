// The parsers of Prometheus' instant query answers (GET /api/v1/query) and
// range query answers (GET /api/v1/query_range, for `signalscaler trace`),
// pure so that they can be tested and fuzzed alone.
//
//   absl::StatusOr<std::optional<Reading>> r = ParsePrometheusAnswer(body,
//   now); if (r.ok() && !r->has_value()) { /* no series: hold, or ask presence
//   */ }
#ifndef SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_RESPONSE_H_
#define SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_RESPONSE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/engine/decision.h"

namespace signalscaler {

// How far ahead of our clock a sample timestamp may be. Up to it, the time
// is Prometheus' clock running ahead and is clamped to `now` (a value is
// never younger than its receipt, so it can never outlive its staleness);
// beyond it, the answer is INVALID_ARGUMENT and the signal holds: a clock
// (or a query) that far off says nothing about when the value was true, and
// an error is what `explain` can show, where a silent clamp would hide it.
// The same skew as a push's (kMaxPushFutureSkew).
inline constexpr absl::Duration kMaxSampleFutureSkew = absl::Seconds(60);

// The message of the NOT_FOUND error of a query that returned no series and
// that nothing lets read as 0.
inline constexpr char kNoSeriesHeld[] =
    "no series: held (an absent series is not read as 0: its exporter may be "
    "down; set presenceQuery, or noSeriesIsZero: true, if absent means zero)";

// Whether `text` is a sample value as Prometheus writes it in its API
// (Go's strconv.FormatFloat, 'f' or 'e' form, shortest): an optional '-',
// digits without a leading zero (save "0"), an optional fraction, an
// optional exponent "e+NN" / "e-NN"; or "NaN", "+Inf", "-Inf". Nothing
// else: no blank, no '+' on a number, no hex, no "inf" or "1_000".
bool IsPrometheusApiFloat(absl::string_view text);

// Parses the body of an instant query's answer. Pure, total (never throws or
// crashes on any input; a fuzz target holds it to that).
//   - `status` must be "success", else the server's errorType and error are
//     in the message (timeout -> DEADLINE_EXCEEDED, unavailable and canceled
//     -> UNAVAILABLE, others INVALID_ARGUMENT).
//   - resultType `vector`: exactly one series gives its value and sample
//     timestamp; zero series gives nullopt (the caller decides what absence
//     means); several are INVALID_ARGUMENT naming the count.
//   - resultType `scalar`: its value and timestamp.
//   - a value not written as IsPrometheusApiFloat says, NaN, +-Inf, a
//     histogram sample, another resultType: INVALID_ARGUMENT.
//   - a sample time more than kMaxSampleFutureSkew after `now`:
//     INVALID_ARGUMENT; a time ahead by less is clamped to `now`.
//   - not JSON, or JSON without the API's shape: INVALID_ARGUMENT
//     "not a Prometheus API response".
absl::StatusOr<std::optional<Reading>> ParsePrometheusAnswer(
    absl::string_view body, absl::Time now);

// ParsePrometheusAnswer, with no series read as 0 at `now` if
// `no_series_is_zero`, else NOT_FOUND kNoSeriesHeld.
absl::StatusOr<Reading> ParsePrometheusResponse(absl::string_view body,
                                                bool no_series_is_zero,
                                                absl::Time now);

// Parses the answer of a presence query (e.g. `up{job="worker"}`): any number
// of series, or a scalar. Returns the sample time of the newest series whose
// value is > 0 (a live target), nullopt when there is none (no series, or
// all 0 or NaN). Malformed answers, values and timestamps are errors as in
// ParsePrometheusAnswer.
absl::StatusOr<std::optional<absl::Time>> ParsePresenceAnswer(
    absl::string_view body, absl::Time now);

// One sample of a range query's series: its time and a finite value.
struct RangeSample {
  int64_t unix_ms = 0;
  double value = 0;
};

// Parses the body of a range query's answer (GET /api/v1/query_range), pure
// and total like ParsePrometheusAnswer, with its errors for `status`, the
// shape and the sample pairs. resultType must be `matrix`: no series gives
// an empty list; several are INVALID_ARGUMENT naming the count. A NaN or
// +-Inf sample is no reading and is left out (a gap); the rest come in
// strictly ascending time, else INVALID_ARGUMENT.
absl::StatusOr<std::vector<RangeSample>> ParsePrometheusMatrix(
    absl::string_view body);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_RESPONSE_H_
