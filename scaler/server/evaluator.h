// Runs the engine for every served policy once per its
// evaluationIntervalSeconds (and at once after a push), and publishes each
// decision to the DecisionBoard, where KEDA's calls read it.
//
//   Evaluator ev(registry, observer, board, clock);
//   ev.Start();            // background loop on a thread of its own
//   ev.EvaluateNow(key);   // e.g. right after a pushed value
//   ev.Stop();
#ifndef SIGNALSCALER_SCALER_SERVER_EVALUATOR_H_
#define SIGNALSCALER_SCALER_SERVER_EVALUATOR_H_

#include <condition_variable>
#include <memory>
#include <thread>

#include <mutex>
#include "absl/container/flat_hash_map.h"

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "scaler/engine/clock.h"
#include "scaler/engine/decision.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/policy_registry.h"
#include "sources/observer.h"

namespace signalscaler {

// Thread-safe. Evaluations are serialized.
class Evaluator {
 public:
  Evaluator(const PolicyRegistry& registry, const Observer& observer,
            DecisionBoard& board, const Clock& clock);
  ~Evaluator();

  // Evaluates every policy whose interval has elapsed at clock.Now() (every
  // policy on the first call), and forgets the state of removed policies.
  void EvaluateDue();
  // Evaluates one policy now. NOT_FOUND if it is not served.
  absl::Status EvaluateNow(const PolicyKey& key);

  // Starts / stops a thread calling EvaluateDue() every `tick`.
  void Start(absl::Duration tick = absl::Milliseconds(200));
  void Stop();

 private:
  struct PolicyState {
    EngineState engine;
    absl::Time next_due = absl::InfinitePast();
    std::string fingerprint;  // the spec it was evaluated with
  };
  void EvaluateLocked(const LoadedPolicy& loaded, PolicyState& st,
                      absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Inputs Gather(const LoadedPolicy& loaded) const;

  const PolicyRegistry& registry_;
  const Observer& observer_;
  DecisionBoard& board_;
  const Clock& clock_;

  std::mutex mu_;
  absl::flat_hash_map<PolicyKey, PolicyState> states_ ABSL_GUARDED_BY(mu_);

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ ABSL_GUARDED_BY(run_mu_) = false;
  std::unique_ptr<std::thread> thread_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_EVALUATOR_H_
