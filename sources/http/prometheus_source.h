// The `prometheus` source: one instant query against Prometheus' HTTP API
// (GET {address}/api/v1/query?query=...), whose answer must be exactly one
// series (or a scalar). No series holds (NOT_FOUND "no series: held"),
// unless the spec's presenceQuery finds a live target (then 0) or it says
// noSeriesIsZero (then 0 at once): see proto/policy.proto.
//
//   v1::PrometheusSource spec;
//   spec.set_address("http://prometheus.monitoring:9090");
//   spec.set_query("sum(livekit_egress_available)");
//   absl::StatusOr<std::unique_ptr<PrometheusSource>> s =
//       PrometheusSource::Create(spec, clock);
//   absl::StatusOr<Reading> r = (*s)->Read(clock.Now() + absl::Seconds(2));
#ifndef SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_SOURCE_H_
#define SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/common/clock.h"
#include "scaler/engine/decision.h"
#include "sources/http/http_client.h"
#include "sources/http/prometheus_response.h"
#include "sources/source.h"

namespace signalscaler {

// Thread-compatible (see Source).
class PrometheusSource final : public Source {
 public:
  static constexpr double kDefaultTimeoutSeconds = 2;

  // INVALID_ARGUMENT when the spec is unusable: an address that is not
  // http(s)://..., an empty query, a timeout outside (0, 300],
  // ignoreNullValues contradicting noSeriesIsZero, a presenceQuery with
  // noSeriesIsZero. `credentials_root` (serve's --credentials-root), when
  // set, confines bearerTokenFile and caFile (HttpClientOptions).
  static absl::StatusOr<std::unique_ptr<PrometheusSource>> Create(
      const v1::PrometheusSource& spec, const Clock& clock,
      const std::string& credentials_root = "");

  // Whether no series reads as 0 at once: noSeriesIsZero, else
  // ignoreNullValues (true means the same), else false.
  static bool NoSeriesIsZero(const v1::PrometheusSource& spec);

  // Gives up at the earlier of `deadline` and now + timeoutSeconds (one
  // budget for the query and its presence query). Errors are
  // HttpClient::Get's and ParsePrometheusAnswer's, prefixed with Describe();
  // no series is NOT_FOUND kNoSeriesHeld, or, with a presence query,
  // NOT_FOUND "no series, and the presence query ... found no live target:
  // held" (or the presence query's own error, with its code).
  absl::StatusOr<Reading> Read(absl::Time deadline) override;

  // `prometheus query "<query>" at <address without credentials>`.
  std::string Describe() const override;

 private:
  PrometheusSource(const v1::PrometheusSource& spec, absl::Duration timeout,
                   const Clock& clock, const std::string& credentials_root);

  // The reading when `query_` returned no series.
  absl::StatusOr<Reading> ReadAbsent(absl::Time real_deadline);

  const Clock& clock_;
  const std::string query_;
  const std::string url_;  // with the encoded query
  const std::string presence_query_;
  const std::string presence_url_;  // empty without a presence query
  const std::string address_for_messages_;
  const absl::Duration timeout_;
  const bool no_series_is_zero_;
  HttpClient client_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_SOURCE_H_
