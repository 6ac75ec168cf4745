// Runs the engine for every served policy once per its
// evaluationIntervalSeconds (and at once after a push), and publishes each
// decision to the DecisionBoard, where KEDA's calls read it.
//
// A policy's memory (history, last decision) lives in a StateStore. With a
// shared store (Redis) several replicas cooperate:
//   - exactly one replica evaluates a policy at a time: the holder of its
//     lease. Leases are spread by rendezvous hashing over the live replicas
//     that serve the policy (each announces itself, and what it serves, with
//     a heartbeat); a dead replica's policies move to another within one
//     lease period.
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

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "scaler/common/clock.h"
#include "scaler/engine/decision.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/history_merge.h"
#include "scaler/server/internal/decision_step.h"
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

// Thread-safe. No store I/O happens under a lock that a KEDA call, a push,
// `explain` or a health check waits on: a tick takes what it needs under
// mu_, talks to the store without it, and applies the answers under it;
// Status() reads a snapshot of its own.
class Evaluator {
 public:
  Evaluator(const PolicyRegistry& registry, const Observer& observer,
            DecisionBoard& board, const Clock& clock,
            EvaluatorOptions options = {});
  ~Evaluator();

  // Evaluates every policy whose interval has elapsed at clock.Now() (every
  // policy on the first call), and forgets the state of removed policies.
  // One call at a time (others wait); it does the lease upkeep when due.
  void EvaluateDue() ABSL_LOCKS_EXCLUDED(tick_mu_, mu_);
  // Evaluates one policy now (when this replica holds its lease, or is
  // degraded), waiting only for its own store calls: a tick's store I/O in
  // flight never delays it. If the policy's own previous evaluation is
  // still saving, it is evaluated again as soon as that one is done (by the
  // tick thread). Without a running tick thread (Start), it also does the
  // lease upkeep when due; with one, a call before its first upkeep waits
  // for it (at most store_timeout). NOT_FOUND if the policy is not served.
  absl::Status EvaluateNow(const PolicyKey& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Starts / stops a thread calling EvaluateDue() every `tick`, and a
  // second one that loads, at once, a decision another replica saved of a
  // policy mirrored here (the store says so), without waiting for a tick or
  // an upkeep in progress.
  void Start(absl::Duration tick = absl::Milliseconds(200));
  void Stop();
  // Makes the tick thread call EvaluateDue() soon (or at once when it
  // starts).
  void Wake();

  // As of the last tick (or push that changed it); never waits on one.
  StateStatus Status() const ABSL_LOCKS_EXCLUDED(status_mu_);
  // The history `key`'s decision made at `decided` looked at (explain,
  // through the board's HistorySource): its state's, now. Waits for mu_
  // only (a slice of computing), never for store I/O.
  DecisionHistory History(const PolicyKey& key, absl::Time decided) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Whether this replica holds `key`'s lease (evaluates it) now. Waits for
  // mu_ only (computing: a slice of a tick, or a reload's matching), never
  // for store I/O.
  bool HoldsLease(const PolicyKey& key) const ABSL_LOCKS_EXCLUDED(mu_);

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
    uint64_t id = 0;  // this state's own (a removed policy's is not reused)
    RoleState role;   // changed by Transition() only
    // The holder's history, or a local one.
    LocalHistory history = {UnknownHistory()};
    LeaseSlot lease;  // held in kAcquired and kHolder only
    // +1 whenever Transition() drops the lease (outage, lease gone): store
    // answers asked for before then no longer apply to it.
    uint64_t lease_drops = 0;
    // Store I/O of its evaluation in flight (a load, then a save): no other
    // evaluation of it starts meanwhile; `again` asks for one right after.
    bool in_flight = false;
    bool again = false;
    absl::Time next_due = absl::InfinitePast();
    std::string fingerprint;  // the spec it was evaluated with
    // EvaluationInterval() of the spec last matched (MatchSnapshot): a tick
    // and an upkeep read it here rather than from 10,000 specs.
    absl::Duration interval = absl::Seconds(1);
    SharedMark seen;         // the highest record seen or written
    int64_t published = -1;  // replicas of the last decision published
    // The last decision published was another replica's (mirrored): its
    // window, from the record it came with, is what `explain` shows (a
    // mirror keeps its own recommendations for a later merge, not the
    // holder's). Emptied when a decision of this replica's is published.
    bool published_shared = false;
    std::vector<Recommendation> shared_window;  // (no allocation empty)
    bool shadow = false;                        // spec.mode: shadow
    ShadowTally tally;  // the fleet's count, the shadow's totals
    PublishRefs refs;   // its board entry and metrics row
  };
  // Node-based: references to a PolicyState stay valid while others are
  // added (a tick adds every served policy).
  using States = absl::node_hash_map<PolicyKey, PolicyState>;

  // A policy whose store I/O is in flight, as it was when it was asked for.
  struct InFlight {
    PolicyKey key;
    uint64_t id = 0;
    uint64_t lease_drops = 0;
    // Where it was in the snapshot it was asked for from, if known: then
    // StillThere() finds it without a lookup while that snapshot is the
    // one matched last.
    const PolicySnapshot* snap = nullptr;
    size_t index = 0;
  };
  // A holder's decision, waiting for its fenced save.
  struct PendingSave {
    InFlight of;
    std::shared_ptr<const Decision> decision;
    PolicyRecord record;
    Lease lease;
  };
  // The store I/O of one tick (or push), done without mu_: one Load of
  // every mirrored and newly acquired policy, then one SaveMany.
  struct StoreWork {
    std::vector<InFlight> mirrors;   // mirror, local-until-fresh: load first
    std::vector<InFlight> acquired;  // kAcquired: load, merge, decide, save
    std::vector<PendingSave> saves;
    bool again = false;  // an evaluation asked for meanwhile is due now
  };

  // The one place a role changes: NextRole(), then the event's side effects.
  void Transition(PolicyState& st, RoleEvent event, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How `st` acts now (its lease may have expired unrenewed).
  Role Acting(const PolicyState& st, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `key`'s state, made (as a mirror, or local while degraded) if new.
  PolicyState& StateOf(const PolicyKey& key, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state of snap.keys()[i]: slots_[i] when `snap` is the snapshot
  // matched last, else StateOf().
  PolicyState& StateAt(const PolicySnapshot& snap, size_t i, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // EvaluationInterval() of snap.policies()[i], for its state `st`.
  absl::Duration IntervalAt(const PolicySnapshot& snap, size_t i,
                            const PolicyState& st) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state `of` was asked for, if it still exists (not removed since).
  PolicyState* StillThere(const InFlight& of)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  InFlight Mark(const PolicyKey& key, PolicyState& st)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MatchSnapshot(const std::shared_ptr<const PolicySnapshot>& snap,
                     absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetRemoved(const absl::flat_hash_set<PolicyKey>& live, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The due policies of `snap` from `begin` on, evaluated or put in `work`;
  // returns where it stopped (it takes mu_ for a slice at a time).
  size_t CollectDue(const PolicySnapshot& snap, size_t begin, StoreWork& work)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Decides for a policy this replica evaluates (local, or holder: its save,
  // or for kAcquired its load first, goes into `work`).
  void Evaluate(const LoadedPolicy& loaded, const PolicyKey& key,
                PolicyState& st, absl::Time now, StoreWork& work)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvaluateLocally(const LoadedPolicy& loaded, const PolicyKey& key,
                       PolicyState& st, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvaluateAsHolder(const LoadedPolicy& loaded, const PolicyKey& key,
                        PolicyState& st, absl::Time now, StoreWork& work)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the engine on `st.history`; null (and the board told why) when
  // there is no decision yet.
  std::shared_ptr<const Decision> Run(const LoadedPolicy& loaded,
                                      const PolicyKey& key, PolicyState& st,
                                      absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(const PolicyKey& key, PolicyState& st,
               std::shared_ptr<const Decision> d, absl::string_view by)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // evaluator_store.cc: the store I/O, in three steps each (take what is
  // needed under mu_, ask the store without it, apply the answers under
  // it; a state removed or changed meanwhile is skipped). Every step that
  // evaluates reads the clock under mu_, so that a policy's decisions are
  // made in time order whoever makes them.
  // Whether this caller is to do the lease upkeep now (then it must call
  // Upkeep).
  bool UpkeepDue(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The heartbeat, then every policy's lease in one batch.
  void Upkeep(const PolicySnapshot& snap) ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyLeases(absl::Span<LeaseTask> tasks, const std::vector<InFlight>& of,
                   const LeaseBatch& batch, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads the records the store said were saved (saved_) of the policies
  // mirrored here, and publishes the newer ones (the second thread of
  // Start(); without it, EvaluateDue does this with a tick's loads).
  void LoadSaved() ABSL_LOCKS_EXCLUDED(mu_, saved_mu_);
  // `work`'s loads, then its saves. Returns whether an evaluation asked for
  // meanwhile (`again`) is now due (the caller then wakes the tick thread).
  bool RunStoreWork(const PolicySnapshot& snap, StoreWork& work)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyLoads(
      const PolicySnapshot& snap, StoreWork& work,
      absl::StatusOr<std::vector<std::optional<PolicyRecord>>> records,
      absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A mirror's record: adopted when newer.
  void ApplyMirrored(const PolicySnapshot& snap, const InFlight& of,
                     const std::optional<PolicyRecord>& rec, absl::Time now,
                     StoreWork& work) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new holder's record: merged, then the first decision (to save).
  void ApplySynced(const PolicySnapshot& snap, const InFlight& of,
                   std::optional<PolicyRecord> rec, absl::Time now,
                   StoreWork& work) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplySaves(StoreWork& work,
                  const absl::StatusOr<std::vector<absl::Status>>& saved,
                  absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `st`'s store I/O is over: an evaluation asked for meanwhile is due.
  void Land(PolicyState& st, StoreWork& work)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A decision of `st` to save with the others of `work`.
  void SaveLater(const PolicyKey& key, PolicyState& st,
                 std::shared_ptr<const Decision> d, absl::Time now,
                 StoreWork& work) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A decision that could not be saved: KEDA still gets it, and the policy
  // goes on from a history the store does not have.
  void PublishUnsaved(PendingSave& save, StoreWork& work)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void EnterDegraded(const absl::Status& why, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveDegraded(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes what Status() reads, and the store metrics.
  void ExportStatus() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_)
      ABSL_LOCKS_EXCLUDED(status_mu_);
  // Each store call's own deadline (a tick's many calls do not share one).
  absl::Time Deadline() const { return clock_.Now() + options_.store_timeout; }

  const PolicyRegistry& registry_;
  const Observer& observer_;
  DecisionBoard& board_;
  const Clock& clock_;
  EvaluatorOptions options_;
  std::unique_ptr<StateStore> own_store_;  // when options.store was null
  StateStore& store_;

  // Locks, in this order: tick_mu_ (one EvaluateDue at a time, held across
  // its store I/O; nothing but another tick waits on it), mu_ (the policies'
  // state; held for computing only, never across a store call), status_mu_
  // (the snapshot Status() reads). saved_mu_ (the Watch
  // thread's keys) and the Ticker's own lock are never held with another.
  absl::Mutex tick_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(tick_mu_);
  States states_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  LeaseKeeper leases_ ABSL_GUARDED_BY(mu_);
  // An upkeep is between its heartbeat and its leases' answers.
  bool upkeep_running_ ABSL_GUARDED_BY(mu_) = false;
  // An upkeep has ended (leases known, or the store found out of reach);
  // upkept_cv_ is signalled then (a CondVar, not Mutex::Await: the TSan
  // shim, cmake/tsan/grpc_sync.cc, sees CondVar waits, not Await's).
  bool upkept_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar upkept_cv_;
  // Leases of removed policies, given up with the next upkeep.
  std::vector<std::pair<PolicyKey, Lease>> releases_ ABSL_GUARDED_BY(mu_);
  // Start()ed: the tick thread keeps the leases, pushes never do.
  bool ticking_ ABSL_GUARDED_BY(mu_) = false;
  // The policies states_ was last matched with, and slots_[i] the state of
  // its keys()[i] (node_hash_map: stable; states are removed only when a
  // new snapshot is matched). A tick looks up no key.
  std::shared_ptr<const PolicySnapshot> last_snapshot_ ABSL_GUARDED_BY(mu_);
  std::vector<PolicyState*> slots_ ABSL_GUARDED_BY(mu_);
  // Every state is kLocal while set.
  bool degraded_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time degraded_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string degraded_why_ ABSL_GUARDED_BY(mu_);
  // What ExportStatus last published differs from the state now.
  bool status_dirty_ ABSL_GUARDED_BY(mu_) = true;

  mutable absl::Mutex status_mu_ ABSL_ACQUIRED_AFTER(mu_);
  StateStatus status_ ABSL_GUARDED_BY(status_mu_);
  // Until when each lease held at the last export is valid (Status()
  // counts those still in force; no key: a map of 10,000 keys rebuilt at
  // every upkeep was 3.5 % of the evaluation's CPU).
  std::vector<absl::Time> held_until_ ABSL_GUARDED_BY(status_mu_);

  // Keys another replica saved (from the store's Watch thread).
  absl::Mutex saved_mu_;
  absl::flat_hash_set<PolicyKey> saved_ ABSL_GUARDED_BY(saved_mu_);

  // Calls EvaluateDue() from Start() to Stop() (internal/ticker.h).
  std::unique_ptr<Ticker> ticker_;
  // Calls LoadSaved() from Start() to Stop(), woken by the store's Watch;
  // `loading_` while it runs (else a notification wakes ticker_).
  std::unique_ptr<Ticker> loader_;
  std::atomic<bool> loading_{false};
};

// PreferredReplica(): see lease_keeper.h.

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_EVALUATOR_H_
