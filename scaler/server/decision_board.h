// The latest decision of every policy, read by the KEDA-facing RPCs without
// any I/O, and watched by open StreamIsActive calls.
//
//   board.Publish(key, decision);          // evaluator
//   auto d = board.Get(key);                // GetMetrics: from memory
//   board.Watch(key, [](const Decision& d) { ... });  // streams
#ifndef SIGNALSCALER_SCALER_SERVER_DECISION_BOARD_H_
#define SIGNALSCALER_SCALER_SERVER_DECISION_BOARD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "scaler/engine/decision.h"
#include "scaler/policy/policy_key.h"

namespace signalscaler {

// Beside a policy's decision: the fleet's own count and, in shadow mode
// (spec.mode: shadow), how its decisions compare with it so far.
struct FleetView {
  bool shadow = false;  // the decision was made in shadow mode
  // The last count read from spec.replicas (held while that source fails);
  // unset before the first good reading, or without the source.
  std::optional<int64_t> fleet;
  // Replica-seconds, integrated over the shadow decisions this process
  // published (made here or mirrored from the holder; a step function: each
  // decision and fleet count hold until the next decision), in which the
  // fleet ran fewer pods than the shadow decision (short) or more (excess).
  // In memory, per policy: kept across reloads of the same policy (a switch
  // to active keeps them, frozen), not across a restart.
  double short_replica_seconds = 0;
  double excess_replica_seconds = 0;
  // The policy's mode now in force: as `shadow` when published, then as a
  // reload sets it (SetShadow) until the next decision.
  bool mode_shadow = false;
};

// Thread-safe. Watchers are called on the publishing thread, outside the
// board's lock, in publication order for a given key.
class DecisionBoard {
 private:
  struct Entry;

 public:
  using Watcher = std::function<void(const Decision& decision)>;
  // A handle to one policy's entry (Ref): publishing through it looks no key
  // up (the evaluator keeps one per policy). Still valid after RetainOnly
  // dropped the entry: a publication through it then puts it back.
  using EntryRef = std::shared_ptr<Entry>;

  // The latest decision, or UNAVAILABLE saying why there is none yet.
  absl::StatusOr<std::shared_ptr<const Decision>> Get(
      const PolicyKey& key) const;

  // The fleet view published with the latest decision, or Get()'s error;
  // with `decision`, that decision too (read together).
  absl::StatusOr<FleetView> Fleet(
      const PolicyKey& key,
      std::shared_ptr<const Decision>* decision = nullptr) const;

  void Publish(const PolicyKey& key, std::shared_ptr<const Decision> decision,
               FleetView fleet = {});
  // `key`'s entry (made, empty, if there is none), and Publish through it.
  EntryRef Ref(const PolicyKey& key);
  void Publish(const EntryRef& entry, std::shared_ptr<const Decision> decision,
               FleetView fleet = {});
  // A reload changed the policy's mode: the latest decision's view says so
  // at once (a StreamIsActive opened or answering before the next decision
  // must answer as the mode now in force), and watchers are called with
  // that decision. Nothing when there is no decision yet.
  void SetShadow(const PolicyKey& key, bool shadow);
  // Records why `key` has no decision, and what its signals look like (kept
  // only while it has none).
  void SetUnavailable(const PolicyKey& key, absl::Status why,
                      std::vector<SignalExplanation> signals = {});
  // The signals recorded with the last SetUnavailable, while `key` has no
  // decision; empty otherwise.
  std::vector<SignalExplanation> SignalsWithoutDecision(
      const PolicyKey& key) const;
  // Forgets every policy not in `keep`.
  void RetainOnly(const absl::flat_hash_set<PolicyKey>& keep);

  uint64_t Watch(const PolicyKey& key, Watcher watcher);
  void Unwatch(uint64_t id);

  // Where `explain` reads a decision's history (HistoryAsOf in engine.h):
  // the evaluator that publishes here sets it (null: none), and History()
  // calls it, never under the board's own lock; SetHistorySource waits for
  // a call in progress. Empty without a source or a policy.
  using HistorySource =
      std::function<DecisionHistory(const PolicyKey& key, absl::Time decided)>;
  void SetHistorySource(HistorySource source);
  DecisionHistory History(const PolicyKey& key, absl::Time decided) const;

 private:
  // Guarded by mu_ (a handle outlives the map's hold).
  struct Entry {
    PolicyKey key;
    bool retained = true;  // in entries_ (RetainOnly drops it)
    std::shared_ptr<const Decision> decision;
    FleetView fleet;
    absl::Status unavailable;
    std::vector<SignalExplanation> unavailable_signals;
  };
  // Lock order: publish_mu_, then mu_.
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(publish_mu_);
  absl::flat_hash_map<PolicyKey, EntryRef> entries_ ABSL_GUARDED_BY(mu_);
  // `key`'s entry, made if absent.
  const EntryRef& EntryLocked(const PolicyKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // The watchers of each watched key, by id (the order they are called
  // in), and each id's key. Indexed by key: a publication looks at its own
  // key's watchers, not at every open stream's (KEDA opens one per
  // ScaledObject with an external-push trigger).
  absl::flat_hash_map<PolicyKey, std::map<uint64_t, std::shared_ptr<Watcher>>>
      watchers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, PolicyKey> watched_key_ ABSL_GUARDED_BY(mu_);
  // `key`'s entry, or null.
  const Entry* FindLocked(const PolicyKey& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The decision of `e` (`key`'s entry or null), or why there is none.
  absl::StatusOr<std::shared_ptr<const Decision>> DecisionOf(
      const PolicyKey& key, const Entry* e) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `key`'s watchers, in order (none when unwatched).
  std::vector<std::shared_ptr<Watcher>> WatchersLocked(
      const PolicyKey& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Serializes notification so that watchers see decisions in order.
  absl::Mutex publish_mu_;

  // Held across a call of the source (taken with no other lock of the
  // board's held).
  mutable absl::Mutex history_mu_;
  HistorySource history_ ABSL_GUARDED_BY(history_mu_);
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_DECISION_BOARD_H_
