// Lease and membership upkeep for one replica: its heartbeat (the live
// replicas, and since when each has been seen), and per policy the lease it
// should hold. Leases are spread by rendezvous hashing (PreferredReplica):
// a replica holds the leases of the policies it is preferred for, hands one
// to its preferred replica once that replica has been alive a whole lease
// period, and takes a policy nobody decided for a while (an orphan). It
// talks to the store and logs; it changes no role: Upkeep() says what
// happened and the Evaluator turns it into a RoleEvent.
//
//   LeaseKeeper leases(store, clock, "pod-a", absl::Seconds(10),
//                      absl::Milliseconds(500));
//   if (leases.Due(now) && leases.Heartbeat(now).ok()) {
//     absl::StatusOr<LeaseChange> c =
//         leases.Upkeep(key, slot, last_shared, interval, now);
//   }
//
// Not thread-safe: the Evaluator calls it under its lock.
#ifndef SIGNALSCALER_SCALER_SERVER_LEASE_KEEPER_H_
#define SIGNALSCALER_SCALER_SERVER_LEASE_KEEPER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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

class LeaseKeeper {
 public:
  // `lease_period`: --lease-seconds. Leases last 70 % of it, and are renewed
  // (free ones looked for) every 20 %. `store_timeout` bounds each call.
  LeaseKeeper(StateStore& store, const Clock& clock, std::string replica_id,
              absl::Duration lease_period, absl::Duration store_timeout);

  const std::string& replica_id() const { return replica_id_; }
  // Whether `slot` holds this replica's lease, in force at `now`.
  bool Holds(const LeaseSlot& slot, absl::Time now) const;

  // Whether the next upkeep (Heartbeat, then Upkeep of every policy) is due.
  bool Due(absl::Time now) const { return now >= next_upkeep_; }
  // Announces this replica alive and refreshes members(); the store's error
  // otherwise (members() then stays as it was). Schedules the next upkeep.
  absl::Status Heartbeat(absl::Time now);
  // The live replicas of the last heartbeat, sorted (this one included).
  const std::vector<std::string>& members() const { return members_; }

  // Keeps one policy's lease in `slot`: hands it over, takes it (preferred,
  // or an orphan: none decided for `lease_period + 2 * interval` after
  // `last_shared`, the time of the last shared decision seen), or renews it.
  // Errors that are not an outage are logged and give kNone; an outage is
  // returned (the caller runs degraded).
  absl::StatusOr<LeaseChange> Upkeep(const PolicyKey& key, LeaseSlot& slot,
                                     absl::Time last_shared,
                                     absl::Duration interval, absl::Time now);

  // Gives up `slot`'s lease if it is held (a removed policy); best effort:
  // it expires by itself anyway.
  void Release(const PolicyKey& key, const LeaseSlot& slot, absl::Time now);

 private:
  absl::Time Deadline() const { return clock_.Now() + store_timeout_; }
  absl::Duration LeaseTtl() const { return lease_period_ * 0.7; }
  // Whether `slot`'s held lease should go to `preferred` now.
  bool ShouldHandOver(const LeaseSlot& slot, const std::string& preferred,
                      absl::Time now) const;
  // Whether a policy this replica is not preferred for should be taken.
  bool IsOrphan(const LeaseSlot& slot, absl::Time last_shared,
                absl::Duration interval, absl::Time now) const;
  absl::StatusOr<LeaseChange> AcquireOrRenew(const PolicyKey& key,
                                             LeaseSlot& slot, bool orphan,
                                             absl::Time now);

  StateStore& store_;
  const Clock& clock_;
  const std::string replica_id_;
  const absl::Duration lease_period_;
  const absl::Duration store_timeout_;
  absl::Time next_upkeep_ = absl::InfinitePast();
  std::vector<std::string> members_;
  // When each live replica was first seen (handoffs wait until it is
  // stable for a lease period).
  absl::flat_hash_map<std::string, absl::Time> member_since_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_LEASE_KEEPER_H_
