// The factory of the sources that read over HTTP: `prometheus` and `scrape`.
//
//   absl::StatusOr<std::unique_ptr<Source>> s =
//       MakeHttpSource(signal.source(), clock);
#ifndef SIGNALSCALER_SOURCES_HTTP_HTTP_SOURCE_H_
#define SIGNALSCALER_SOURCES_HTTP_HTTP_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/policy.pb.h"
#include "scaler/common/clock.h"
#include "sources/source.h"

namespace signalscaler {

// A PrometheusSource or ScrapeSource for `source` (timeouts default to 2 s).
// INVALID_ARGUMENT if `source` is of another kind or its spec is unusable
// (see PrometheusSource::Create and ScrapeSource::Create). `clock` must
// outlive the source. `credentials_root` (serve's --credentials-root), when
// set, confines the credentials files (HttpClientOptions).
absl::StatusOr<std::unique_ptr<Source>> MakeHttpSource(
    const v1::Source& source, const Clock& clock,
    const std::string& credentials_root = "");

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_HTTP_SOURCE_H_
