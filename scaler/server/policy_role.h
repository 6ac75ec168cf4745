// A policy's role on one replica: whose decisions this replica answers KEDA
// with, and whether it decides itself. NextRole() is the one place a role
// changes; the Evaluator feeds it events and does their side effects (the
// lease dropped, the history restarted) in Evaluator::Transition.
//
// Roles:
//   kMirror          another replica holds the lease: answer the decisions
//                    it saved (never an older one).
//   kAcquired        this replica has just taken the lease: load the shared
//                    record (and merge an unshared local history into it)
//                    before deciding.
//   kHolder          lease held, history synced: decide, save (fenced), and
//                    publish.
//   kLocal           the store is out of reach (every policy of the
//                    replica): decide alone, from a history restarted at the
//                    outage.
//   kLocalUntilFresh the store is back, another replica holds the lease:
//                    decide alone until the store holds a decision made after
//                    `fresh_after` (then kMirror), so answers do not jump back
//                    to the decision saved before the outage.
//
// Transitions (from, event, to); any other pair leaves the role as it is:
//   any               kStoreDown    kLocal (fresh_after cleared)
//   kLocal            kStoreBack    kLocalUntilFresh (fresh_after = now)
//   any               kLeaseTaken   kAcquired (fresh_after kept)
//   kAcquired         kSynced       kHolder
//   kHolder           kSaved        kHolder (fresh_after cleared)
//   kAcquired|kHolder kLeaseGone    kLocalUntilFresh if fresh_after is set
//                                   (no decision saved since the store came
//                                   back), else kMirror
//   kLocalUntilFresh  kFreshShared  kMirror (fresh_after cleared)
//   kAcquired|kHolder kFreshShared  unchanged role, fresh_after cleared
//
// A lease that expires unrenewed (a slow tick, a store error that is not an
// outage) changes no role: ActingRole() treats kAcquired / kHolder without a
// valid lease as the role losing it would give, until it is renewed or gone.
#ifndef SIGNALSCALER_SCALER_SERVER_POLICY_ROLE_H_
#define SIGNALSCALER_SCALER_SERVER_POLICY_ROLE_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace signalscaler {

enum class Role { kMirror, kAcquired, kHolder, kLocal, kLocalUntilFresh };

enum class RoleEvent {
  kStoreDown,    // a store call failed with an outage (every policy)
  kStoreBack,    // the heartbeat answers again (every policy)
  kLeaseTaken,   // a new lease of ours: none before, or another epoch
  kLeaseGone,    // another replica's lease, handed over, or a fenced save lost
  kSynced,       // the shared record loaded (merged) by the new holder
  kSaved,        // a decision saved (alone on a store of this process: made)
  kFreshShared,  // a load found a shared decision made after fresh_after
};

struct RoleState {
  Role role = Role::kMirror;
  // When the store came back, while no shared decision made after it has
  // been seen or saved here.
  std::optional<absl::Time> fresh_after;
};

// The role after `event` at `now` (see the table above).
RoleState NextRole(RoleState from, RoleEvent event, absl::Time now);

// How `state` acts when `lease_valid` says whether its lease is in force.
Role ActingRole(const RoleState& state, bool lease_valid);

// Whether `role` holds a lease (kAcquired, kHolder).
bool HoldsLeaseRole(Role role);

// "mirror", "acquired", "holder", "local", "local-until-fresh".
absl::string_view RoleName(Role role);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_POLICY_ROLE_H_
