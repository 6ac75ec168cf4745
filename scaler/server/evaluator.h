// Runs the engine for every served policy once per its
// evaluationIntervalSeconds (and at once after a push), and publishes each
// decision to the DecisionBoard, where KEDA's calls read it.
//
// A policy's memory (history, last decision) lives in a StateStore. With a
// shared store (Redis) several replicas cooperate:
//   - exactly one replica evaluates a policy at a time: the holder of its
//     lease. Leases are spread by rendezvous hashing over the live replicas
//     (each announces itself with a heartbeat); a dead replica's policies move
//     to another within one lease period.
//   - the holder saves every decision with its history (a fenced write); the
//     others load it and answer KEDA from it ("mirrors").
//   - store unreachable: every replica evaluates locally, from the last
//     decision it knows, with a history that restarts then, so that no
//     scale-down happens before a full scale-down window of local history.
//     Store back: the new holder merges its local history into the shared one
//     and the others keep their local answers until a fresh shared decision
//     exists, so decisions go on without a jump.
//
// The pieces: each policy has one Role (policy_role.h: mirror, acquired,
// holder, local, local-until-fresh; the transition table is there, and
// Transition() below is the one place roles change); LeaseKeeper
// (lease_keeper.h) keeps the heartbeat and the leases; the rules by which a
// local history meets the shared one are pure functions in history_merge.h.
//
//   Evaluator ev(registry, observer, board, clock, options);
//   ev.Start();            // background loop on a thread of its own
//   ev.EvaluateNow(key);   // e.g. right after a pushed value
//   ev.Stop();
#ifndef SIGNALSCALER_SCALER_SERVER_EVALUATOR_H_
#define SIGNALSCALER_SCALER_SERVER_EVALUATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "scaler/engine/decision.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/history_merge.h"
#include "scaler/server/lease_keeper.h"
#include "scaler/server/policy_registry.h"
#include "scaler/server/policy_role.h"
#include "scaler/state/state_store.h"
#include "sources/observer.h"

namespace signalscaler {

class Ticker;

struct EvaluatorOptions {
  // Where histories, decisions and leases live. Null: a private in-memory
  // store (one replica). Must outlive the Evaluator.
  StateStore* store = nullptr;
  // This replica's name among the replicas sharing the store.
  std::string replica_id = "local";
  // --lease-seconds: when a replica dies, its policies are evaluated by
  // another within this period. Leases last 70 % of it and are renewed (and
  // replicas look for free ones) every 20 %.
  absl::Duration lease_period = absl::Seconds(10);
  // --state-ttl-seconds: a policy's record expires this long after its last
  // decision (an abandoned policy goes away).
  absl::Duration record_ttl = absl::Hours(2);
  // --state-timeout-ms: bound on every call to the store.
  absl::Duration store_timeout = absl::Milliseconds(500);
  // --no-history=wait (true) | decide (false): a policy whose current count
  // and history are both unknown (this process has just started, or the
  // store is out of reach) answers UNAVAILABLE until it has seen a full
  // scale-down window, so that a restart never scales a fleet down; with
  // `decide` its first decision is the desired count at once (the HPA's
  // behaviour: fine where no fleet runs yet).
  bool wait_without_history = true;
};

// What the evaluator knows of the store, for metrics and readiness detail.
struct StateStatus {
  std::string kind;       // "memory" | "redis"
  bool degraded = false;  // the store is unreachable: evaluating locally
  std::string why;        // the last store error while degraded
  size_t leases_held = 0;
  size_t replicas_alive = 0;
};

// Thread-safe. Evaluations are serialized.
class Evaluator {
 public:
  Evaluator(const PolicyRegistry& registry, const Observer& observer,
            DecisionBoard& board, const Clock& clock,
            EvaluatorOptions options = {});
  ~Evaluator();

  // Evaluates every policy whose interval has elapsed at clock.Now() (every
  // policy on the first call), and forgets the state of removed policies.
  void EvaluateDue();
  // Evaluates one policy now (when this replica holds its lease, or is
  // degraded). NOT_FOUND if it is not served.
  absl::Status EvaluateNow(const PolicyKey& key);

  // Starts / stops a thread calling EvaluateDue() every `tick` (and at once
  // when the store says another replica saved a decision).
  void Start(absl::Duration tick = absl::Milliseconds(200));
  void Stop();

  StateStatus Status() const;
  // Whether this replica holds `key`'s lease (evaluates it) now.
  bool HoldsLease(const PolicyKey& key) const;

 private:
  // A state this process starts with: it may have lost a history (it
  // restarted, or the policy's fleet is older than the policy), so the
  // engine waits a full scale-down window before its first decision unless
  // it knows the current count.
  static EngineState UnknownHistory() {
    EngineState e;
    e.history_unknown = true;
    return e;
  }
  struct PolicyState {
    RoleState role;  // changed by Transition() only
    // The holder's history, or a local one.
    LocalHistory history = {UnknownHistory()};
    LeaseSlot lease;  // held in kAcquired and kHolder only
    absl::Time next_due = absl::InfinitePast();
    std::string fingerprint;  // the spec it was evaluated with
    SharedMark seen;          // the highest record seen or written
    int64_t published = -1;   // replicas of the last decision published
  };
  // Node-based: references to a PolicyState stay valid while others are
  // added (Housekeep adds every served policy).
  using States = absl::node_hash_map<PolicyKey, PolicyState>;

  // The one place a role changes: NextRole(), then the event's side effects.
  void Transition(PolicyState& st, RoleEvent event, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How `st` acts now (its lease may have expired unrenewed).
  Role Acting(const PolicyState& st, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `key`'s state, made (as a mirror, or local while degraded) if new.
  PolicyState& StateOf(const PolicyKey& key, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Housekeep(const PolicySnapshot& snap, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MatchSnapshot(const std::shared_ptr<const PolicySnapshot>& snap,
                     absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Decides for a policy this replica evaluates (local or holder).
  void Evaluate(const LoadedPolicy& loaded, PolicyState& st, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvaluateLocally(const LoadedPolicy& loaded, PolicyState& st,
                       absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvaluateAsHolder(const LoadedPolicy& loaded, PolicyState& st,
                        absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kAcquired: loads the shared record and merges; false when it cannot
  // (the policy is then not decided by the holder this time).
  bool Sync(const LoadedPolicy& loaded, PolicyState& st, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SaveAndPublish(const PolicyKey& key, PolicyState& st,
                      std::shared_ptr<const Decision> d, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Mirror(const PolicySnapshot& snap, const std::vector<PolicyKey>& keys,
              absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the engine on `st.history`; null (and the board told why) when
  // there is no decision yet.
  std::shared_ptr<const Decision> Run(const LoadedPolicy& loaded,
                                      PolicyState& st, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(const PolicyKey& key, PolicyState& st,
               std::shared_ptr<const Decision> d, absl::string_view by)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnterDegraded(const absl::Status& why, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveDegraded(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetRemoved(const absl::flat_hash_set<PolicyKey>& live, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StateStatus StatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExportStatus() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Each store call's own deadline (a tick's many calls do not share one).
  absl::Time Deadline() const { return clock_.Now() + options_.store_timeout; }

  const PolicyRegistry& registry_;
  const Observer& observer_;
  DecisionBoard& board_;
  const Clock& clock_;
  EvaluatorOptions options_;
  std::unique_ptr<StateStore> own_store_;  // when options.store was null
  StateStore& store_;

  // Locks: mu_ (every evaluation and all the state below it), saved_mu_
  // (the Watch thread's keys) and the Ticker's own are never held together,
  // so they have no order.
  mutable absl::Mutex mu_;
  States states_ ABSL_GUARDED_BY(mu_);
  LeaseKeeper leases_ ABSL_GUARDED_BY(mu_);
  // The policies states_ was last matched with.
  std::shared_ptr<const PolicySnapshot> last_snapshot_ ABSL_GUARDED_BY(mu_);
  // Every state is kLocal while set.
  bool degraded_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time degraded_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string degraded_why_ ABSL_GUARDED_BY(mu_);

  // Keys another replica saved (from the store's Watch thread).
  absl::Mutex saved_mu_;
  absl::flat_hash_set<PolicyKey> saved_ ABSL_GUARDED_BY(saved_mu_);

  // Calls EvaluateDue() from Start() to Stop() (internal/ticker.h).
  std::unique_ptr<Ticker> ticker_;
};

// PreferredReplica(): see lease_keeper.h.

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_EVALUATOR_H_
