#include "scaler/server/policy_role.h"

namespace signalscaler {

bool HoldsLeaseRole(Role role) {
  return role == Role::kAcquired || role == Role::kHolder;
}

RoleState NextRole(RoleState from, RoleEvent event, absl::Time now) {
  RoleState to = from;
  switch (event) {
    case RoleEvent::kStoreDown:
      to.role = Role::kLocal;
      to.fresh_after.reset();
      break;
    case RoleEvent::kStoreBack:
      if (from.role == Role::kLocal) {
        to.role = Role::kLocalUntilFresh;
        to.fresh_after = now;
      }
      break;
    case RoleEvent::kLeaseTaken:
      to.role = Role::kAcquired;
      break;
    case RoleEvent::kLeaseGone:
      if (HoldsLeaseRole(from.role)) {
        to.role = from.fresh_after.has_value() ? Role::kLocalUntilFresh
                                               : Role::kMirror;
      }
      break;
    case RoleEvent::kSynced:
      if (from.role == Role::kAcquired) to.role = Role::kHolder;
      break;
    case RoleEvent::kSaved:
      if (from.role == Role::kHolder) to.fresh_after.reset();
      break;
    case RoleEvent::kFreshShared:
      if (from.role == Role::kLocalUntilFresh) {
        to.role = Role::kMirror;
        to.fresh_after.reset();
      } else if (HoldsLeaseRole(from.role)) {
        to.fresh_after.reset();
      }
      break;
  }
  return to;
}

Role ActingRole(const RoleState& state, bool lease_valid) {
  if (HoldsLeaseRole(state.role) && !lease_valid) {
    return state.fresh_after.has_value() ? Role::kLocalUntilFresh
                                         : Role::kMirror;
  }
  return state.role;
}

absl::string_view RoleName(Role role) {
  // In the order of the enum.
  static constexpr absl::string_view kNames[] = {"mirror", "acquired", "holder",
                                                 "local", "local-until-fresh"};
  return kNames[static_cast<int>(role)];
}

}  // namespace signalscaler
