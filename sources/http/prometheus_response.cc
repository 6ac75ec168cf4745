#include "sources/http/prometheus_response.h"

#include <cmath>
#include <string>

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
  const std::string type = StringMember(doc, "errorType");
  const std::string error = StringMember(doc, "error");
  const std::string text =
      absl::StrCat("Prometheus answered status \"", status, "\"",
                   type.empty() ? "" : absl::StrCat(" (", type, ")"),
                   error.empty() ? "" : ": ", error);
  if (type == "timeout") return absl::DeadlineExceededError(text);
  if (type == "unavailable" || type == "canceled") {
    return absl::UnavailableError(text);
  }
  return absl::InvalidArgumentError(text);
}

// A sample pair [<unix seconds>, "<value>"].
absl::StatusOr<Reading> ParseSamplePair(const json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() ||
      !pair[1].is_string()) {
    return NotApiResponse("a sample is not [<timestamp>, \"<value>\"]");
  }
  const double ts = pair[0].get<double>();
  if (!std::isfinite(ts) || std::fabs(ts) > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample timestamp ", ts, " is out of range"));
  }
  const std::string& text = pair[1].get_ref<const std::string&>();
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample value \"", BodyExcerpt(text, 40), "\" is not a number"));
  }
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample value is ", text, ", not a finite number"));
  }
  Reading reading;
  reading.value = value;
  reading.sample_time = absl::FromUnixMillis(std::llround(ts * 1000));
  return reading;
}

absl::StatusOr<Reading> ParseVector(const json& result, bool ignore_null_values,
                                    absl::Time now) {
  if (!result.is_array()) return NotApiResponse("data.result is not a list");
  if (result.empty()) {
    if (!ignore_null_values) {
      return absl::NotFoundError(
          "the query returned no series (ignoreNullValues is false)");
    }
    Reading zero;
    zero.sample_time = now;
    return zero;
  }
  if (result.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the query returned ", result.size(),
                     " series; it must return exactly one (aggregate it, "
                     "e.g. with sum(...))"));
  }
  const json& series = result[0];
  if (!series.is_object()) return NotApiResponse("a series is not an object");
  const auto value = series.find("value");
  if (value == series.end()) {
    if (series.contains("histogram")) {
      return absl::InvalidArgumentError(
          "the query returned a native histogram, not a number");
    }
    return NotApiResponse("a series has no value");
  }
  return ParseSamplePair(*value);
}

}  // namespace

absl::StatusOr<Reading> ParsePrometheusResponse(absl::string_view body,
                                                bool ignore_null_values,
                                                absl::Time now) {
  const json doc = json::parse(body.begin(), body.end(), nullptr,
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
  const std::string type = StringMember(*data, "resultType");
  const auto result = data->find("result");
  if (type.empty() || result == data->end()) {
    return NotApiResponse("no data.resultType or data.result");
  }
  if (type == "vector") return ParseVector(*result, ignore_null_values, now);
  if (type == "scalar") return ParseSamplePair(*result);
  return absl::InvalidArgumentError(
      absl::StrCat("the query returned a ", BodyExcerpt(type, 20),
                   "; it must return an instant vector or a scalar"));
}

}  // namespace signalscaler
