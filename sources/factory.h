// The real SourceFactory: a Source for every sampled kind.
#ifndef SIGNALSCALER_SOURCES_FACTORY_H_
#define SIGNALSCALER_SOURCES_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "proto/policy.pb.h"
#include "scaler/engine/clock.h"
#include "sources/source.h"

namespace signalscaler {

// prometheus and scrape (HTTP), redis. INVALID_ARGUMENT for push or no kind.
absl::StatusOr<std::unique_ptr<Source>> MakeSource(const v1::Source& source,
                                                   const Clock& clock);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_FACTORY_H_
