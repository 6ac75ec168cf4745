#include "sources/http/prometheus_response.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "sources/http/http_text.h"

namespace signalscaler {
namespace {

using nlohmann::json;

// Sample timestamps beyond this (year ~5138) are not Prometheus'.
constexpr double kMaxTimestampSeconds = 1e11;

absl::Status NotApiResponse(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a Prometheus API response (", why, ")"));
}

// The string member `key` of `object`, or "" if absent or not a string.
std::string StringMember(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

absl::Status ServerError(const json& doc, const std::string& status) {
  // Each from the answer, so short and sanitised (BodyExcerpt): they reach
  // explain and the Policies RPC.
  const std::string type = BodyExcerpt(StringMember(doc, "errorType"), 32);
  const std::string error = BodyExcerpt(StringMember(doc, "error"));
  const std::string text =
      absl::StrCat("Prometheus answered status \"", BodyExcerpt(status, 32),
                   "\"", type.empty() ? "" : absl::StrCat(" (", type, ")"),
                   error.empty() ? "" : ": ", error);
  if (type == "timeout") return absl::DeadlineExceededError(text);
  if (type == "unavailable" || type == "canceled") {
    return absl::UnavailableError(text);
  }
  return absl::InvalidArgumentError(text);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// One sample [<unix seconds>, "<value>"], its value possibly NaN or +-Inf.
struct Sample {
  double value = 0;
  absl::Time time;
  std::string text;  // the value as written
};

absl::StatusOr<Sample> ParseSamplePair(const json& pair, absl::Time now) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() ||
      !pair[1].is_string()) {
    return NotApiResponse("a sample is not [<timestamp>, \"<value>\"]");
  }
  const double ts = pair[0].get<double>();
  if (!std::isfinite(ts) || std::fabs(ts) > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample timestamp ", ts, " is out of range"));
  }
  Sample sample;
  sample.text = pair[1].get<std::string>();
  if (!IsPrometheusApiFloat(sample.text) ||
      !absl::SimpleAtod(sample.text, &sample.value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample value \"", BodyExcerpt(sample.text, 40),
                     "\" is not a number as Prometheus writes one"));
  }
  sample.time = absl::FromUnixMillis(std::llround(ts * 1000));
  if (sample.time > now + kMaxSampleFutureSkew) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample timestamp ", absl::FormatTime(sample.time, absl::UTCTimeZone()),
        " is ",
        absl::FormatDuration(absl::Trunc(sample.time - now, absl::Seconds(1))),
        " ahead of this scaler's clock (more than ",
        absl::FormatDuration(kMaxSampleFutureSkew),
        " of skew): Prometheus' clock, or the query, is wrong"));
  }
  sample.time = std::min(sample.time, now);
  return sample;
}

absl::StatusOr<Reading> ToReading(const Sample& sample) {
  if (!std::isfinite(sample.value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample value is ", sample.text, ", not a finite number"));
  }
  Reading reading;
  reading.value = sample.value;
  reading.sample_time = sample.time;
  return reading;
}

// The sample of one series of a vector.
absl::StatusOr<Sample> ParseSeries(const json& series, absl::Time now) {
  if (!series.is_object()) return NotApiResponse("a series is not an object");
  const auto value = series.find("value");
  if (value == series.end()) {
    if (series.contains("histogram")) {
      return absl::InvalidArgumentError(
          "the query returned a native histogram, not a number");
    }
    return NotApiResponse("a series has no value");
  }
  return ParseSamplePair(*value, now);
}

// The `data` object of a successful answer, and its resultType: a matrix
// when `matrix` (a range query's), else a vector or a scalar.
absl::StatusOr<json> ParseData(absl::string_view body, std::string& type,
                               bool matrix = false) {
  json doc = json::parse(body.begin(), body.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded()) return NotApiResponse("not JSON");
  if (!doc.is_object()) return NotApiResponse("not a JSON object");
  const auto status = doc.find("status");
  if (status == doc.end() || !status->is_string()) {
    return NotApiResponse("no \"status\"");
  }
  const std::string& status_text = status->get_ref<const std::string&>();
  if (status_text != "success") return ServerError(doc, status_text);
  const auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) {
    return NotApiResponse("no \"data\" object");
  }
  type = StringMember(*data, "resultType");
  if (type.empty() || !data->contains("result")) {
    return NotApiResponse("no data.resultType or data.result");
  }
  if (matrix ? type != "matrix" : type != "vector" && type != "scalar") {
    return absl::InvalidArgumentError(absl::StrCat(
        "the query returned a ", BodyExcerpt(type, 20), "; it must return ",
        matrix ? "a range vector (matrix)" : "an instant vector or a scalar"));
  }
  if (type != "scalar" && !(*data)["result"].is_array()) {
    return NotApiResponse("data.result is not a list");
  }
  return std::move(*data);
}

}  // namespace

bool IsPrometheusApiFloat(absl::string_view text) {
  if (text == "NaN" || text == "+Inf" || text == "-Inf") return true;
  size_t i = 0;
  const auto digits = [&] {
    const size_t start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    return i - start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  const size_t integer_start = i;
  const size_t integer_digits = digits();
  if (integer_digits == 0) return false;
  if (integer_digits > 1 && text[integer_start] == '0') return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < text.size() && text[i] == 'e') {
    ++i;
    if (i >= text.size() || (text[i] != '+' && text[i] != '-')) return false;
    ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

absl::StatusOr<std::optional<Reading>> ParsePrometheusAnswer(
    absl::string_view body, absl::Time now) {
  std::string type;
  absl::StatusOr<json> data = ParseData(body, type);
  if (!data.ok()) return data.status();
  const json& result = (*data)["result"];
  absl::StatusOr<Sample> sample;
  if (type == "scalar") {
    sample = ParseSamplePair(result, now);
  } else {
    if (result.empty()) return std::optional<Reading>();
    if (result.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("the query returned ", result.size(),
                       " series; it must return exactly one (aggregate it, "
                       "e.g. with sum(...))"));
    }
    sample = ParseSeries(result[0], now);
  }
  if (!sample.ok()) return sample.status();
  absl::StatusOr<Reading> reading = ToReading(*sample);
  if (!reading.ok()) return reading.status();
  return std::optional<Reading>(*reading);
}

absl::StatusOr<Reading> ParsePrometheusResponse(absl::string_view body,
                                                bool no_series_is_zero,
                                                absl::Time now) {
  absl::StatusOr<std::optional<Reading>> answer =
      ParsePrometheusAnswer(body, now);
  if (!answer.ok()) return answer.status();
  if (answer->has_value()) return **answer;
  if (!no_series_is_zero) return absl::NotFoundError(kNoSeriesHeld);
  Reading zero;
  zero.sample_time = now;
  return zero;
}

absl::StatusOr<std::optional<absl::Time>> ParsePresenceAnswer(
    absl::string_view body, absl::Time now) {
  std::string type;
  absl::StatusOr<json> data = ParseData(body, type);
  if (!data.ok()) return data.status();
  const json& result = (*data)["result"];
  std::optional<absl::Time> live;
  const auto take = [&](const absl::StatusOr<Sample>& sample) -> absl::Status {
    if (!sample.ok()) return sample.status();
    if (sample->value > 0 && (!live.has_value() || sample->time > *live)) {
      live = sample->time;
    }
    return absl::OkStatus();
  };
  if (type == "scalar") {
    if (absl::Status s = take(ParseSamplePair(result, now)); !s.ok()) return s;
    return live;
  }
  for (const json& series : result) {
    if (absl::Status s = take(ParseSeries(series, now)); !s.ok()) return s;
  }
  return live;
}

absl::StatusOr<std::vector<RangeSample>> ParsePrometheusMatrix(
    absl::string_view body) {
  std::string type;
  absl::StatusOr<json> data = ParseData(body, type, /*matrix=*/true);
  if (!data.ok()) return data.status();
  const json& result = (*data)["result"];
  std::vector<RangeSample> samples;
  if (result.empty()) return samples;
  if (result.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the query returned ", result.size(),
                     " series; it must return exactly one (aggregate it, "
                     "e.g. with sum(...))"));
  }
  if (!result[0].is_object())
    return NotApiResponse("a series is not an object");
  const auto values = result[0].find("values");
  if (values == result[0].end()) {
    if (result[0].contains("histograms")) {
      return absl::InvalidArgumentError(
          "the query returned native histograms, not numbers");
    }
    return NotApiResponse("a series has no values");
  }
  if (!values->is_array()) return NotApiResponse("values is not a list");
  samples.reserve(values->size());
  for (const json& pair : *values) {
    absl::StatusOr<Sample> s = ParseSamplePair(pair, absl::InfiniteFuture());
    if (!s.ok()) return s.status();
    if (!std::isfinite(s->value)) continue;  // not a reading: a gap
    const int64_t ms = absl::ToUnixMillis(s->time);
    if (!samples.empty() && ms <= samples.back().unix_ms) {
      return absl::InvalidArgumentError(
          "the range answer's sample times are not ascending");
    }
    samples.push_back(RangeSample{ms, s->value});
  }
  return samples;
}

}  // namespace signalscaler
