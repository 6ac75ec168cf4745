// Bounds on what clients and policy files can make the scaler hold. Every
// field is a `serve` flag; the defaults here ARE the flags' defaults (serve.cc
// prints them from these structs), so this is the one place they are set.
//
//   ServerLimits limits;             // the defaults
//   limits.max_open_streams = 100;   // --max-open-streams=100
#ifndef SIGNALSCALER_SCALER_SERVER_LIMITS_H_
#define SIGNALSCALER_SCALER_SERVER_LIMITS_H_

#include <cstddef>

namespace signalscaler {

// Limits of the gRPC port (KEDA's ExternalScaler and the admin API).
struct ServerLimits {
  // --max-request-bytes: the largest request message gRPC accepts; a larger
  // one is refused by gRPC itself with RESOURCE_EXHAUSTED. KEDA's requests
  // are a few hundred bytes.
  int max_request_bytes = 64 * 1024;
  // --max-metadata-entries: trigger metadata entries per ScaledObjectRef
  // (INVALID_ARGUMENT beyond). KEDA sends at most a handful.
  size_t max_metadata_entries = 16;
  // --max-metadata-bytes: the length of each trigger metadata key and each
  // value (INVALID_ARGUMENT beyond).
  size_t max_metadata_bytes = 4096;
  // --max-open-streams: StreamIsActive plus StreamMetricSpec streams open at
  // once; one more ends at once with RESOURCE_EXHAUSTED. KEDA keeps one
  // StreamIsActive per external-push trigger.
  size_t max_open_streams = 10000;
  // --max-pushes-per-second: Push calls each admin client may make per
  // second (a token bucket holding one second's worth); beyond it,
  // RESOURCE_EXHAUSTED naming the limit, so that one client cannot flood the
  // evaluator. Until clients authenticate, every unauthenticated client is
  // the one client "anonymous".
  int max_pushes_per_second = 1000;
};

// Limits of the policies in force (enforced by the PolicyReloader, per file:
// a file that would exceed one is rejected).
struct PolicyLimits {
  // --max-policies-per-namespace
  size_t max_policies_per_namespace = 1000;
  // --max-policies: in the whole scaler.
  size_t max_policies = 20000;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_LIMITS_H_
