// The role table of scaler/server/policy_role.h, row by row, and how a role
// whose lease expired unrenewed acts.
#include "scaler/server/policy_role.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace signalscaler {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(5000);
const absl::Time kBack = absl::FromUnixSeconds(4000);

RoleState S(Role role, std::optional<absl::Time> fresh_after = std::nullopt) {
  RoleState s;
  s.role = role;
  s.fresh_after = fresh_after;
  return s;
}

const Role kAll[] = {Role::kMirror, Role::kAcquired, Role::kHolder,
                     Role::kLocal, Role::kLocalUntilFresh};

void ExpectRole(const RoleState& got, Role role,
                std::optional<absl::Time> fresh_after) {
  EXPECT_EQ(RoleName(got.role), RoleName(role));
  EXPECT_EQ(got.fresh_after, fresh_after);
}

TEST(PolicyRoleTest, StoreDownMakesEveryRoleLocal) {
  for (Role from : kAll) {
    SCOPED_TRACE(RoleName(from));
    ExpectRole(NextRole(S(from, kBack), RoleEvent::kStoreDown, kNow),
               Role::kLocal, std::nullopt);
  }
}

TEST(PolicyRoleTest, StoreBackMakesLocalLocalUntilFreshFromNow) {
  ExpectRole(NextRole(S(Role::kLocal), RoleEvent::kStoreBack, kNow),
             Role::kLocalUntilFresh, kNow);
  ExpectRole(NextRole(S(Role::kMirror), RoleEvent::kStoreBack, kNow),
             Role::kMirror, std::nullopt);
  ExpectRole(NextRole(S(Role::kHolder), RoleEvent::kStoreBack, kNow),
             Role::kHolder, std::nullopt);
}

TEST(PolicyRoleTest, LeaseTakenAcquiresAndKeepsTheReturnTime) {
  for (Role from : kAll) {
    SCOPED_TRACE(RoleName(from));
    ExpectRole(NextRole(S(from), RoleEvent::kLeaseTaken, kNow), Role::kAcquired,
               std::nullopt);
  }
  ExpectRole(
      NextRole(S(Role::kLocalUntilFresh, kBack), RoleEvent::kLeaseTaken, kNow),
      Role::kAcquired, kBack);
}

TEST(PolicyRoleTest, SyncedMakesTheAcquiredTheHolder) {
  ExpectRole(NextRole(S(Role::kAcquired, kBack), RoleEvent::kSynced, kNow),
             Role::kHolder, kBack);
  for (Role from :
       {Role::kMirror, Role::kHolder, Role::kLocal, Role::kLocalUntilFresh}) {
    EXPECT_EQ(NextRole(S(from), RoleEvent::kSynced, kNow).role, from);
  }
}

TEST(PolicyRoleTest, SavedEndsTheWaitForAFreshDecision) {
  ExpectRole(NextRole(S(Role::kHolder, kBack), RoleEvent::kSaved, kNow),
             Role::kHolder, std::nullopt);
  ExpectRole(
      NextRole(S(Role::kLocalUntilFresh, kBack), RoleEvent::kSaved, kNow),
      Role::kLocalUntilFresh, kBack);
}

TEST(PolicyRoleTest, LeaseGoneMirrorsOrWaitsForAFreshDecision) {
  for (Role from : {Role::kAcquired, Role::kHolder}) {
    SCOPED_TRACE(RoleName(from));
    ExpectRole(NextRole(S(from), RoleEvent::kLeaseGone, kNow), Role::kMirror,
               std::nullopt);
    // No decision saved since the store came back: the shared one may be
    // from before the outage.
    ExpectRole(NextRole(S(from, kBack), RoleEvent::kLeaseGone, kNow),
               Role::kLocalUntilFresh, kBack);
  }
  EXPECT_EQ(NextRole(S(Role::kLocal), RoleEvent::kLeaseGone, kNow).role,
            Role::kLocal);
  EXPECT_EQ(NextRole(S(Role::kMirror), RoleEvent::kLeaseGone, kNow).role,
            Role::kMirror);
}

TEST(PolicyRoleTest, FreshSharedEndsLocalAnswers) {
  ExpectRole(
      NextRole(S(Role::kLocalUntilFresh, kBack), RoleEvent::kFreshShared, kNow),
      Role::kMirror, std::nullopt);
  ExpectRole(NextRole(S(Role::kHolder, kBack), RoleEvent::kFreshShared, kNow),
             Role::kHolder, std::nullopt);
  ExpectRole(NextRole(S(Role::kAcquired, kBack), RoleEvent::kFreshShared, kNow),
             Role::kAcquired, std::nullopt);
  ExpectRole(NextRole(S(Role::kMirror), RoleEvent::kFreshShared, kNow),
             Role::kMirror, std::nullopt);
}

TEST(PolicyRoleTest, AnExpiredLeaseActsAsLosingItWould) {
  EXPECT_EQ(ActingRole(S(Role::kHolder), true), Role::kHolder);
  EXPECT_EQ(ActingRole(S(Role::kHolder), false), Role::kMirror);
  EXPECT_EQ(ActingRole(S(Role::kAcquired, kBack), false),
            Role::kLocalUntilFresh);
  EXPECT_EQ(ActingRole(S(Role::kLocal), false), Role::kLocal);
  EXPECT_EQ(ActingRole(S(Role::kMirror), false), Role::kMirror);
  EXPECT_EQ(ActingRole(S(Role::kLocalUntilFresh, kBack), false),
            Role::kLocalUntilFresh);
}

TEST(PolicyRoleTest, NamesAndLeases) {
  std::vector<std::string> names;
  for (Role r : kAll) names.emplace_back(RoleName(r));
  EXPECT_EQ(names, (std::vector<std::string>{"mirror", "acquired", "holder",
                                             "local", "local-until-fresh"}));
  EXPECT_TRUE(HoldsLeaseRole(Role::kAcquired));
  EXPECT_TRUE(HoldsLeaseRole(Role::kHolder));
  EXPECT_FALSE(HoldsLeaseRole(Role::kMirror));
  EXPECT_FALSE(HoldsLeaseRole(Role::kLocal));
  EXPECT_FALSE(HoldsLeaseRole(Role::kLocalUntilFresh));
}

}  // namespace
}  // namespace signalscaler
