// The `push` source: values for signals declared `source: {push: {}}`,
// recorded through the admin API (`signalscaler push`) and read by the
// evaluator. In memory, per scaler replica.
//
//   PushStore store;
//   store.Record({"demo", "agent"}, "active_requests", {42, now});
//   std::optional<Reading> r = store.Get({"demo", "agent"}, "active_requests");
#ifndef SIGNALSCALER_SOURCES_PUSH_PUSH_SOURCE_H_
#define SIGNALSCALER_SOURCES_PUSH_PUSH_SOURCE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

#include "scaler/engine/decision.h"
#include "scaler/policy/policy_key.h"

namespace signalscaler {

// Thread-safe.
class PushStore {
 public:
  // Keeps the latest received reading per (policy, signal), whatever its
  // sample time: a reading dated ahead (a pusher's fast clock, or a hostile
  // one) must never lock the value against the honest pushes after it. The
  // caller clamps sample times to the receipt time.
  void Record(const PolicyKey& policy, const std::string& signal,
              const Reading& reading);
  std::optional<Reading> Get(const PolicyKey& policy,
                             const std::string& signal) const;
  // Get() of several signals of one policy, under one lock and one lookup
  // of the policy: out[i] is signals[i]'s reading (the evaluator reads
  // every pushed signal of a policy at once).
  void GetMany(const PolicyKey& policy,
               absl::Span<const std::string* const> signals,
               absl::Span<std::optional<Reading>> out) const;
  // Drops the values of every policy not in `keep` (removed on reload).
  void RetainOnly(const absl::flat_hash_set<PolicyKey>& keep);

 private:
  // A policy's pushed signals, in the order first pushed: a handful (the
  // push API takes only the policy's declared push signals), so a scan
  // beats hashing each name at every evaluation (the hashed map was 13 %
  // of the evaluation's CPU at 10,000 policies of 5 signals).
  using Signals = std::vector<std::pair<std::string, Reading>>;
  static const Reading* Find(const Signals& signals, const std::string& name,
                             size_t hint);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<PolicyKey, Signals> values_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_PUSH_PUSH_SOURCE_H_
