#include "sources/http/http_source.h"

#include <utility>

#include "absl/status/status.h"
#include "sources/http/prometheus_source.h"
#include "sources/http/scrape_source.h"

namespace signalscaler {

absl::StatusOr<std::unique_ptr<Source>> MakeHttpSource(
    const v1::Source& source, const Clock& clock,
    const std::string& credentials_root) {
  switch (source.kind_case()) {
    case v1::Source::kPrometheus: {
      absl::StatusOr<std::unique_ptr<PrometheusSource>> s =
          PrometheusSource::Create(source.prometheus(), clock,
                                   credentials_root);
      if (!s.ok()) return s.status();
      return std::unique_ptr<Source>(*std::move(s));
    }
    case v1::Source::kScrape: {
      absl::StatusOr<std::unique_ptr<ScrapeSource>> s =
          ScrapeSource::Create(source.scrape(), clock);
      if (!s.ok()) return s.status();
      return std::unique_ptr<Source>(*std::move(s));
    }
    default:
      return absl::InvalidArgumentError(
          "not an HTTP source (expected prometheus or scrape)");
  }
}

}  // namespace signalscaler
