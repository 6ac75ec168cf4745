#include "sources/observer.h"

#include "absl/strings/str_cat.h"
#include "sources/push/push_source.h"
#include "sources/sampler.h"

namespace signalscaler {

const char* SourceKindName(const v1::Source& source) {
  switch (source.kind_case()) {
    case v1::Source::kPush:
      return "push";
    case v1::Source::kPrometheus:
      return "prometheus";
    case v1::Source::kRedis:
      return "redis";
    case v1::Source::kScrape:
      return "scrape";
    case v1::Source::KIND_NOT_SET:
      break;
  }
  return "none";
}

Observation SourceObserver::Observe(const PolicyKey& policy,
                                    const std::string& signal,
                                    const v1::Source& source) const {
  Observation obs;
  if (source.has_push()) {
    obs.reading = push_.Get(policy, signal);
    return obs;
  }
  if (sampler_ != nullptr) return sampler_->Get(source);
  obs.error = absl::UnimplementedError(
      absl::StrCat("source kind \"", SourceKindName(source),
                   "\" is not sampled by this scaler; the signal holds"));
  return obs;
}

}  // namespace signalscaler
