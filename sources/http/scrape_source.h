// The `scrape` source: one metric read straight from pods' /metrics
// endpoints (Prometheus text format), summed or averaged over the pods. The
// pods are a list of URLs, or every address a headless Service's DNS name
// resolves to (with `port` and `path`), looked up at each read.
//
//   v1::ScrapeSource spec;
//   spec.set_service("agent-headless.demo.svc.cluster.local");
//   spec.set_port(9090);
//   spec.set_metric("agent_active_sessions");
//   spec.set_aggregate(v1::ScrapeSource::sum);
//   absl::StatusOr<std::unique_ptr<ScrapeSource>> s =
//       ScrapeSource::Create(spec, clock);
#ifndef SIGNALSCALER_SOURCES_HTTP_SCRAPE_SOURCE_H_
#define SIGNALSCALER_SOURCES_HTTP_SCRAPE_SOURCE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/common/clock.h"
#include "scaler/engine/decision.h"
#include "sources/http/http_client.h"
#include "sources/http/metric_text.h"
#include "sources/source.h"

namespace signalscaler {

// Resolves `host` to its addresses (IPv4 and IPv6, deduplicated, sorted) with
// getaddrinfo, giving up after `timeout` (the lookup then finishes in the
// background). UNAVAILABLE if the name does not resolve, DEADLINE_EXCEEDED
// on timeout.
absl::StatusOr<std::vector<std::string>> ResolveAddresses(
    const std::string& host, absl::Duration timeout);

// Thread-compatible (see Source).
class ScrapeSource final : public Source {
 public:
  static constexpr double kDefaultTimeoutSeconds = 2;

  // INVALID_ARGUMENT when the spec is unusable: neither or both of `urls`
  // and `service`, a URL that is not http(s), `service` without a port in
  // [1, 65535], a `path` not starting with '/', an invalid metric name.
  static absl::StatusOr<std::unique_ptr<ScrapeSource>> Create(
      const v1::ScrapeSource& spec, const Clock& clock,
      absl::Duration timeout = absl::Seconds(kDefaultTimeoutSeconds));

  // Fetches every target in turn, all before the earlier of `deadline` and
  // now + timeout. A target's value is the sum of its matching samples; the
  // reading is the sum, or the average, of the values of the targets that
  // have the metric (a target without it counts for nothing: a pod that has
  // not set its gauge yet). Any target failing fails the read with the
  // client's code and its URL named; no target having the metric is
  // NOT_FOUND; a non-finite value is INVALID_ARGUMENT. The reading's
  // sample_time is when the read finished.
  absl::StatusOr<Reading> Read(absl::Time deadline) override;

  // e.g. `scrape sum of agent_active_sessions{pool="a"} from service
  // agent-headless:9090/metrics`.
  std::string Describe() const override;

 private:
  ScrapeSource(const v1::ScrapeSource& spec, absl::Duration timeout,
               const Clock& clock);
  // The URLs to fetch now (the service resolved, if any).
  absl::StatusOr<std::vector<std::string>> Targets(absl::Time real_deadline);

  const Clock& clock_;
  const std::vector<std::string> urls_;
  const std::string service_;
  const int port_;
  const std::string path_;
  const std::string metric_;
  const std::map<std::string, std::string> labels_;
  const bool average_;
  const absl::Duration timeout_;
  HttpClient client_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_SCRAPE_SOURCE_H_
