#include "sources/http/prometheus_source.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace signalscaler {
namespace {

constexpr double kMaxTimeoutSeconds = 300;

}  // namespace

PrometheusSource::PrometheusSource(const v1::PrometheusSource& spec,
                                   absl::Duration timeout, const Clock& clock)
    : clock_(clock),
      query_(spec.query()),
      url_(absl::StrCat(absl::StripSuffix(spec.address(), "/"),
                        "/api/v1/query?query=", UrlEncode(spec.query()))),
      address_for_messages_(RedactUrl(absl::StripSuffix(spec.address(), "/"))),
      timeout_(timeout),
      ignore_null_values_(
          spec.has_ignore_null_values() ? spec.ignore_null_values() : true),
      client_([&spec] {
        HttpClientOptions options;
        options.bearer_token_file = spec.bearer_token_file();
        options.ca_file = spec.ca_file();
        options.accept = "application/json";
        return options;
      }()) {}

absl::StatusOr<std::unique_ptr<PrometheusSource>> PrometheusSource::Create(
    const v1::PrometheusSource& spec, const Clock& clock) {
  if (!absl::StartsWith(spec.address(), "http://") &&
      !absl::StartsWith(spec.address(), "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("prometheus address \"", RedactUrl(spec.address()),
                     "\" must start with http:// or https://"));
  }
  if (absl::StrContains(spec.address(), "?") ||
      absl::StrContains(spec.address(), "#")) {
    return absl::InvalidArgumentError(
        absl::StrCat("prometheus address \"", RedactUrl(spec.address()),
                     "\" must not have a query string or fragment"));
  }
  if (spec.query().empty()) {
    return absl::InvalidArgumentError("prometheus query is empty");
  }
  const double seconds = spec.has_timeout_seconds() ? spec.timeout_seconds()
                                                    : kDefaultTimeoutSeconds;
  if (!(seconds > 0 && seconds <= kMaxTimeoutSeconds)) {
    return absl::InvalidArgumentError(absl::StrCat("prometheus timeoutSeconds ",
                                                   seconds, " is outside (0, ",
                                                   kMaxTimeoutSeconds, "]"));
  }
  return std::unique_ptr<PrometheusSource>(
      new PrometheusSource(spec, absl::Seconds(seconds), clock));
}

absl::StatusOr<Reading> PrometheusSource::Read(absl::Time deadline) {
  const absl::Duration budget = std::min(timeout_, deadline - clock_.Now());
  absl::StatusOr<std::string> body = client_.Get(url_, absl::Now() + budget);
  absl::StatusOr<Reading> reading =
      body.ok()
          ? ParsePrometheusResponse(*body, ignore_null_values_, clock_.Now())
          : absl::StatusOr<Reading>(body.status());
  if (!reading.ok()) {
    return absl::Status(
        reading.status().code(),
        absl::StrCat(Describe(), ": ", reading.status().message()));
  }
  return reading;
}

std::string PrometheusSource::Describe() const {
  return absl::StrCat("prometheus query \"", query_, "\" at ",
                      address_for_messages_);
}

}  // namespace signalscaler
