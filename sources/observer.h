// Where the evaluator gets what is known of a signal's source right now.
// Reads memory only (pushed values, the sampler's cache): never blocks on I/O.
#ifndef SIGNALSCALER_SOURCES_OBSERVER_H_
#define SIGNALSCALER_SOURCES_OBSERVER_H_

#include <string>

#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"
#include "scaler/policy/policy_key.h"

namespace signalscaler {

// Pseudo-signal names under which the policy's `replicas` and `readyReplicas`
// sources are observed (and pushed). A signal name cannot contain '.'.
inline constexpr char kReplicasSignal[] = "spec.replicas";
inline constexpr char kReadyReplicasSignal[] = "spec.readyReplicas";

class PushStore;
class Sampler;

// Thread-safe in every implementation.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual Observation Observe(const PolicyKey& policy,
                              const std::string& signal,
                              const v1::Source& source) const = 0;
  // Everything the engine reads for one policy (its signals and its
  // replicas sources): Observe() of each, unless an implementation has a
  // cheaper way to read them together.
  virtual Inputs ObservePolicy(const PolicyKey& policy,
                               const v1::PolicySpec& spec) const;
};

// Push sources from a PushStore, every other kind from the Sampler's cache
// (without a sampler they report UNIMPLEMENTED, and the signal holds).
class SourceObserver final : public Observer {
 public:
  explicit SourceObserver(const PushStore& push,
                          const Sampler* sampler = nullptr)
      : push_(push), sampler_(sampler) {}
  Observation Observe(const PolicyKey& policy, const std::string& signal,
                      const v1::Source& source) const override;
  // The pushed signals read from the PushStore under one lock.
  Inputs ObservePolicy(const PolicyKey& policy,
                       const v1::PolicySpec& spec) const override;

 private:
  const PushStore& push_;
  const Sampler* sampler_;
};

// The source kind's YAML name: "push", "prometheus", "redis", "scrape".
const char* SourceKindName(const v1::Source& source);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_OBSERVER_H_
