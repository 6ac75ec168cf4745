// The `prometheus` source: one instant query against Prometheus' HTTP API
// (GET {address}/api/v1/query?query=...), whose answer must be exactly one
// series (or a scalar).
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
#include "scaler/engine/clock.h"
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
  // http(s)://..., an empty query, a timeout outside (0, 300].
  static absl::StatusOr<std::unique_ptr<PrometheusSource>> Create(
      const v1::PrometheusSource& spec, const Clock& clock);

  // Gives up at the earlier of `deadline` and now + timeoutSeconds. Errors
  // are HttpClient::Get's and ParsePrometheusResponse's, prefixed with
  // Describe().
  absl::StatusOr<Reading> Read(absl::Time deadline) override;

  // `prometheus query "<query>" at <address without credentials>`.
  std::string Describe() const override;

 private:
  PrometheusSource(const v1::PrometheusSource& spec, absl::Duration timeout,
                   const Clock& clock);

  const Clock& clock_;
  const std::string query_;
  const std::string url_;  // with the encoded query
  const std::string address_for_messages_;
  const absl::Duration timeout_;
  const bool ignore_null_values_;
  HttpClient client_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_PROMETHEUS_SOURCE_H_
