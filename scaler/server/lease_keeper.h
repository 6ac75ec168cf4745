// Lease and membership upkeep for one replica: its heartbeat (the live
// replicas, since when each has been seen, and what each serves), and per
// policy the lease it should hold. Leases are spread by rendezvous hashing
// over the live replicas that serve the policy (PreferredReplica): a replica
// holds the leases of the policies it is preferred for, hands one to its
// preferred replica once that replica has been alive a whole lease period,
// and takes a policy nobody decided for a while (an orphan). A replica that
// does not serve a policy (its reload rejected the file) is never preferred
// for it, so the policy is not handed to it only to come back as an orphan.
// It talks to the store and logs; it changes no role: the upkeep says what
// happened and the Evaluator turns it into a RoleEvent.
//
// One upkeep is one heartbeat and one batch for every policy (one round
// trip to a Redis store per 1,000 policies), in three steps so that the
// caller can drop its lock while the store is asked:
//
//   LeaseKeeper leases(store, clock, "pod-a", absl::Seconds(10),
//                      absl::Milliseconds(500));
//   leases.SetServed(keys);                      // what the replica serves
//   if (leases.Due(now)) {
//     HeartbeatCall beat = leases.BeginHeartbeat(now);   // under the lock
//     beat.Exchange(store, clock);                       // without it
//     if (leases.FinishHeartbeat(beat, now).ok()) {      // under the lock
//       LeaseBatch batch = leases.Plan(tasks, now);      // under the lock
//       batch.Exchange(store, clock);                    // without it
//       absl::Status s = leases.Apply(tasks, batch, now);  // under the lock
//     }
//   }
//
// Heartbeat(), UpkeepAll() and Upkeep() do the steps in a row.
//
// Not thread-safe: the Evaluator calls it under its lock. HeartbeatCall and
// LeaseBatch hold copies of what they need: their Exchange() touches only
// themselves and the store.
#ifndef SIGNALSCALER_SCALER_SERVER_LEASE_KEEPER_H_
#define SIGNALSCALER_SCALER_SERVER_LEASE_KEEPER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "scaler/common/clock.h"
#include "scaler/policy/policy_key.h"
#include "scaler/state/state_store.h"

namespace signalscaler {

// An error that means the store as a whole cannot be used now (the replica
// then runs degraded), as opposed to one about a single call or record.
bool IsStoreOutage(const absl::Status& s);

// The replica that should hold `key`'s lease among `replicas`: the highest
// rendezvous score (a stable hash of both, the same in every process).
// Empty when `replicas` is.
std::string PreferredReplica(const PolicyKey& key,
                             const std::vector<std::string>& replicas);

// One policy's lease as this replica knows it.
struct LeaseSlot {
  std::optional<Lease> lease;  // ours, while we hold it
  // When this replica began serving the policy.
  absl::Time first_seen = absl::InfinitePast();
  // When it last took the policy as an orphan (it then keeps it a while).
  absl::Time orphan_taken = absl::InfinitePast();
};

enum class LeaseChange {
  kNone,   // as it was (renewed, or still another's)
  kTaken,  // a new lease of ours (none before, or another epoch)
  kGone,   // ours no more: handed over, or another replica's now
};

// One policy's part of an upkeep (Plan / Apply, UpkeepAll).
struct LeaseTask {
  PolicyKey key;
  LeaseSlot slot;  // in: the policy's slot; out (Apply): its new value
  // The time of the last shared decision seen, and the policy's evaluation
  // interval (an orphan is one nobody decided for a while).
  absl::Time last_shared = absl::InfinitePast();
  absl::Duration interval = absl::Seconds(1);
  LeaseChange change = LeaseChange::kNone;  // out (Apply)
};

// The store's part of a heartbeat: a copy of what it announces, then the
// answer. Exchange() is the only call that waits on the store.
class HeartbeatCall {
 public:
  void Exchange(StateStore& store, const Clock& clock);

 private:
  friend class LeaseKeeper;
  std::string replica_;
  std::shared_ptr<const std::string> serves_;
  absl::Duration ttl_;
  absl::Duration timeout_;
  absl::StatusOr<std::vector<LiveReplica>> members_ =
      absl::UnknownError("not exchanged");
};

// The store's part of a lease upkeep: the requests Plan() chose, then the
// store's outcomes. Exchange() is the only call that waits on the store.
class LeaseBatch {
 public:
  // Gives up `lease` of `key` with the others (a policy no longer served;
  // best effort).
  void AddRelease(const PolicyKey& key, const Lease& lease);
  size_t size() const { return requests_.size(); }
  // One UpkeepLeases call: a round trip per 1,000 requests (none if empty).
  void Exchange(StateStore& store, const Clock& clock);

 private:
  friend class LeaseKeeper;
  static constexpr size_t kNoTask = ~size_t{0};
  std::string replica_;
  absl::Duration ttl_;
  absl::Duration timeout_;
  std::vector<LeaseRequest> requests_;
  std::vector<size_t> task_;  // each request's task, or kNoTask
  std::vector<bool> orphan_;  // each request's: taking an orphan
  absl::StatusOr<std::vector<LeaseOutcome>> outcomes_ =
      absl::UnknownError("not exchanged");
};

class LeaseKeeper {
 public:
  // `lease_period`: --lease-seconds. Leases last 70 % of it, and are renewed
  // (free ones looked for) every 20 %. `store_timeout` bounds each call.
  LeaseKeeper(StateStore& store, const Clock& clock, std::string replica_id,
              absl::Duration lease_period, absl::Duration store_timeout);

  const std::string& replica_id() const { return replica_id_; }
  // Whether `slot` holds this replica's lease, in force at `now`.
  bool Holds(const LeaseSlot& slot, absl::Time now) const;

  // The policies this replica serves, announced with every heartbeat from
  // now on (other replicas then prefer it only for these).
  void SetServed(const std::vector<PolicyKey>& keys);

  // Whether the next upkeep (a heartbeat, then every policy's lease) is due.
  bool Due(absl::Time now) const { return now >= next_upkeep_; }
  // A heartbeat in three steps; schedules the next upkeep. Finish returns
  // the store's error (members() then stays as it was), or refreshes
  // members() and what each serves.
  HeartbeatCall BeginHeartbeat(absl::Time now);
  absl::Status FinishHeartbeat(HeartbeatCall& call, absl::Time now);
  // The three steps at once.
  absl::Status Heartbeat(absl::Time now);
  // The live replicas of the last heartbeat, sorted (this one included).
  const std::vector<std::string>& members() const { return members_; }
  // The replica that should hold `key`'s lease: the preferred one among the
  // members that serve it (a member that announced nothing, and this one
  // before SetServed, count as serving every policy).
  std::string Preferred(const PolicyKey& key) const;

  // Keeps each task's lease: hands it over, takes it (preferred, or an
  // orphan: none decided for `lease_period + 2 * interval` after
  // `last_shared`), or renews it. Plan chooses the requests (none for a
  // policy another replica should hold, unless it is an orphan); Apply
  // writes each task's new slot and change. Errors that are not an outage
  // are logged and give kNone for their policy; an outage is returned (the
  // caller runs degraded) and changes no task.
  LeaseBatch Plan(absl::Span<const LeaseTask> tasks, absl::Time now) const;
  absl::Status Apply(absl::Span<LeaseTask> tasks, const LeaseBatch& batch,
                     absl::Time now);
  // Plan, Exchange, Apply.
  absl::Status UpkeepAll(absl::Span<LeaseTask> tasks, absl::Time now);
  // One policy's, in `slot`.
  absl::StatusOr<LeaseChange> Upkeep(const PolicyKey& key, LeaseSlot& slot,
                                     absl::Time last_shared,
                                     absl::Duration interval, absl::Time now);

 private:
  // What a member announced it serves: stable hashes of the policies' ids.
  using ServedIndex = absl::flat_hash_set<uint64_t>;
  struct Known {
    std::shared_ptr<const std::string> bytes;  // as announced
    std::shared_ptr<const ServedIndex> index;  // null: serves everything
  };

  absl::Duration LeaseTtl() const { return lease_period_ * 0.7; }
  // The preferred replica of `key`: the rendezvous winner among the members
  // that serve it.
  // One of members_, or null when no member serves it. No allocation: it
  // runs for every policy at every upkeep.
  const std::string* PreferredOf(const PolicyKey& key) const;
  // Whether `slot`'s held lease should go to `preferred` now.
  bool ShouldHandOver(const LeaseSlot& slot, const std::string& preferred,
                      absl::Time now) const;
  // Whether a policy this replica is not preferred for should be taken.
  bool IsOrphan(const LeaseSlot& slot, absl::Time last_shared,
                absl::Duration interval, absl::Time now) const;
  // One acquisition's outcome into `task`.
  LeaseChange Acquired(LeaseTask& task, const Lease& lease, bool orphan,
                       absl::Time now) const;

  StateStore& store_;
  const Clock& clock_;
  const std::string replica_id_;
  const absl::Duration lease_period_;
  const absl::Duration store_timeout_;
  absl::Time next_upkeep_ = absl::InfinitePast();
  std::shared_ptr<const std::string> serves_;  // this replica's announcement
  std::shared_ptr<const ServedIndex> own_;     // and its index (null: all)
  std::vector<std::string> members_;
  // What each member serves (by id; absent: announced nothing).
  absl::flat_hash_map<std::string, Known> known_;
  // When each live replica was first seen (handoffs wait until it is
  // stable for a lease period).
  absl::flat_hash_map<std::string, absl::Time> member_since_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_LEASE_KEEPER_H_
