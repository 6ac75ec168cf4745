#include "sources/factory.h"

#include "sources/http/http_source.h"
#include "sources/redis/redis_source.h"

namespace signalscaler {

absl::StatusOr<std::unique_ptr<Source>> MakeSource(const v1::Source& source,
                                                   const Clock& clock) {
  switch (source.kind_case()) {
    case v1::Source::kPrometheus:
    case v1::Source::kScrape:
      return MakeHttpSource(source, clock);
    case v1::Source::kRedis:
      return MakeRedisSource(source.redis(), clock);
    case v1::Source::kPush:
    case v1::Source::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "push sources are not sampled (their values arrive through the admin "
      "API)");
}

}  // namespace signalscaler
