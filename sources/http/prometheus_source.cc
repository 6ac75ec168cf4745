#include "sources/http/prometheus_source.h"

#include <algorithm>
#include <optional>
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

std::string QueryUrl(absl::string_view address, absl::string_view query) {
  return absl::StrCat(absl::StripSuffix(address, "/"),
                      "/api/v1/query?query=", UrlEncode(query));
}

// The host[:port] of an http(s) URL, userinfo left out ("" when none).
absl::string_view Authority(absl::string_view url) {
  url = url.substr(url.find("://") + 3);
  url = url.substr(0, url.find('/'));
  const size_t at = url.rfind('@');
  return at == absl::string_view::npos ? url : url.substr(at + 1);
}

}  // namespace

PrometheusSource::PrometheusSource(const v1::PrometheusSource& spec,
                                   absl::Duration timeout, const Clock& clock,
                                   const std::string& credentials_root)
    : clock_(clock),
      query_(spec.query()),
      url_(QueryUrl(spec.address(), spec.query())),
      presence_query_(spec.presence_query()),
      presence_url_(spec.presence_query().empty()
                        ? ""
                        : QueryUrl(spec.address(), spec.presence_query())),
      address_for_messages_(RedactUrl(absl::StripSuffix(spec.address(), "/"))),
      timeout_(timeout),
      no_series_is_zero_(NoSeriesIsZero(spec)),
      client_([&spec, &credentials_root] {
        HttpClientOptions options;
        options.bearer_token_file = spec.bearer_token_file();
        options.ca_file = spec.ca_file();
        options.credentials_root = credentials_root;
        options.accept = "application/json";
        return options;
      }()) {}

absl::StatusOr<std::unique_ptr<PrometheusSource>> PrometheusSource::Create(
    const v1::PrometheusSource& spec, const Clock& clock,
    const std::string& credentials_root) {
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
  if (Authority(spec.address()).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prometheus address \"", RedactUrl(spec.address()), "\" has no host"));
  }
  if (spec.query().empty()) {
    return absl::InvalidArgumentError("prometheus query is empty");
  }
  if (spec.has_ignore_null_values() && spec.has_no_series_is_zero() &&
      spec.ignore_null_values() != spec.no_series_is_zero()) {
    return absl::InvalidArgumentError(
        "prometheus ignoreNullValues and noSeriesIsZero disagree");
  }
  if (!spec.presence_query().empty() && NoSeriesIsZero(spec)) {
    return absl::InvalidArgumentError(
        "prometheus presenceQuery does nothing with noSeriesIsZero: true");
  }
  const double seconds = spec.has_timeout_seconds() ? spec.timeout_seconds()
                                                    : kDefaultTimeoutSeconds;
  if (!(seconds > 0 && seconds <= kMaxTimeoutSeconds)) {
    return absl::InvalidArgumentError(absl::StrCat("prometheus timeoutSeconds ",
                                                   seconds, " is outside (0, ",
                                                   kMaxTimeoutSeconds, "]"));
  }
  return std::unique_ptr<PrometheusSource>(new PrometheusSource(
      spec, absl::Seconds(seconds), clock, credentials_root));
}

bool PrometheusSource::NoSeriesIsZero(const v1::PrometheusSource& spec) {
  if (spec.has_no_series_is_zero()) return spec.no_series_is_zero();
  return spec.has_ignore_null_values() && spec.ignore_null_values();
}

absl::StatusOr<Reading> PrometheusSource::Read(absl::Time deadline) {
  const absl::Duration budget = std::min(timeout_, deadline - clock_.Now());
  const absl::Time real_deadline = absl::Now() + budget;
  absl::StatusOr<std::string> body = client_.Get(url_, real_deadline);
  absl::StatusOr<std::optional<Reading>> answer =
      body.ok() ? ParsePrometheusAnswer(*body, clock_.Now())
                : absl::StatusOr<std::optional<Reading>>(body.status());
  absl::StatusOr<Reading> reading =
      !answer.ok()          ? absl::StatusOr<Reading>(answer.status())
      : answer->has_value() ? absl::StatusOr<Reading>(**answer)
                            : ReadAbsent(real_deadline);
  if (!reading.ok()) {
    return absl::Status(
        reading.status().code(),
        absl::StrCat(Describe(), ": ", reading.status().message()));
  }
  return reading;
}

absl::StatusOr<Reading> PrometheusSource::ReadAbsent(absl::Time real_deadline) {
  if (no_series_is_zero_) {
    Reading zero;
    zero.sample_time = clock_.Now();
    return zero;
  }
  if (presence_url_.empty()) return absl::NotFoundError(kNoSeriesHeld);
  const std::string which =
      absl::StrCat("the presence query \"", presence_query_, "\"");
  absl::StatusOr<std::string> body = client_.Get(presence_url_, real_deadline);
  absl::StatusOr<std::optional<absl::Time>> live =
      body.ok() ? ParsePresenceAnswer(*body, clock_.Now())
                : absl::StatusOr<std::optional<absl::Time>>(body.status());
  if (!live.ok()) {
    return absl::Status(
        live.status().code(),
        absl::StrCat("no series, and ", which, " failed: held (",
                     live.status().message(), ")"));
  }
  if (!live->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no series, and ", which, " found no live target: held"));
  }
  Reading zero;  // Absent while its exporter is up: nothing to do.
  zero.sample_time = **live;
  return zero;
}

std::string PrometheusSource::Describe() const {
  return absl::StrCat("prometheus query \"", query_, "\" at ",
                      address_for_messages_);
}

}  // namespace signalscaler
