#include "sources/observer.h"

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
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

namespace {

void ObserveReplicas(const Observer& observer, const PolicyKey& policy,
                     const v1::PolicySpec& spec, Inputs& in) {
  if (spec.has_replicas()) {
    in.replicas = observer.Observe(policy, kReplicasSignal, spec.replicas());
  }
  if (spec.has_ready_replicas()) {
    in.ready_replicas =
        observer.Observe(policy, kReadyReplicasSignal, spec.ready_replicas());
  }
}

}  // namespace

Inputs Observer::ObservePolicy(const PolicyKey& policy,
                               const v1::PolicySpec& spec) const {
  Inputs in;
  in.signals.reserve(spec.signals_size());
  for (const v1::Signal& s : spec.signals()) {
    in.signals[s.name()] = Observe(policy, s.name(), s.source());
  }
  ObserveReplicas(*this, policy, spec, in);
  return in;
}

Inputs SourceObserver::ObservePolicy(const PolicyKey& policy,
                                     const v1::PolicySpec& spec) const {
  // The pushed signals first, in one read of the store.
  absl::InlinedVector<const std::string*, 8> pushed;
  for (const v1::Signal& s : spec.signals()) {
    if (s.source().has_push()) pushed.push_back(&s.name());
  }
  absl::InlinedVector<std::optional<Reading>, 8> readings(pushed.size());
  if (!pushed.empty()) push_.GetMany(policy, pushed, absl::MakeSpan(readings));
  Inputs in;
  in.signals.reserve(spec.signals_size());
  size_t next = 0;
  for (const v1::Signal& s : spec.signals()) {
    Observation& obs = in.signals[s.name()];
    if (s.source().has_push()) {
      obs.reading = readings[next++];
    } else {
      obs = Observe(policy, s.name(), s.source());
    }
  }
  ObserveReplicas(*this, policy, spec, in);
  return in;
}

}  // namespace signalscaler
