// One policy's engine step, for the Evaluator: gather its inputs, run
// Decide(), and tell the DecisionBoard (which KEDA's calls read) either the
// decision, with the decision metrics and a log line when the count changes,
// or why there is none. No store, no lease: the Evaluator decides who runs
// it.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_DECISION_STEP_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_DECISION_STEP_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/common/metrics.h"
#include "scaler/engine/decision.h"
#include "scaler/policy/loader.h"
#include "scaler/policy/policy_key.h"
#include "scaler/server/decision_board.h"
#include "sources/observer.h"

namespace signalscaler {

// Decides for `loaded` (whose key is `key`) from the readings of its
// signals and replicas sources, updating `engine`; when there is no
// decision yet, tells `board` why (with every signal's state) and returns
// null.
std::shared_ptr<const Decision> DecideOrExplain(
    const Observer& observer, DecisionBoard& board, const LoadedPolicy& loaded,
    const PolicyKey& key, EngineState& engine, absl::Time now);

// A policy's FleetView and what its next decision integrates from.
struct ShadowTally {
  FleetView view;
  // The last decision published here while its policy was in shadow mode.
  absl::Time last = absl::InfinitePast();
  int64_t last_decision = 0;
  std::optional<int64_t> last_fleet;
};

// Publishes `d` for `key` on `board`, made by replica `by` (`here`: this
// one). `published` is the count last published for `key` (-1: none), and
// becomes d's. A change is counted (and logged at info) only by the replica
// that made the decision, so that a fleet's sum counts each once. `shadow`:
// the policy's spec.mode is shadow. `tally` takes d's fleet count (when
// read from spec.replicas) and, for a shadow decision after another, the
// replica-seconds since that one; those of a decision made here also go to
// the shadow counters (Metrics::RecordDecision's ShadowSample).
//
// `refs`, when given, are `key`'s handles into the board and the metrics
// (PublishRefsOf): the same publication without looking the key up twice.
struct PublishRefs {
  DecisionBoard::EntryRef board;
  Metrics::PolicyRowRef series;
};
PublishRefs PublishRefsOf(DecisionBoard& board, const PolicyKey& key);
void PublishDecision(DecisionBoard& board, const PolicyKey& key,
                     std::shared_ptr<const Decision> d, absl::string_view by,
                     bool here, int64_t& published, bool shadow,
                     ShadowTally& tally, const PublishRefs* refs = nullptr);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_DECISION_STEP_H_
