// SharedPolicy (scaler/policy/loader.h): copies of a LoadedPolicy share one
// message; Mutable() copies it only when another holder shares it.
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

LoadedPolicy Named(const std::string& name) {
  LoadedPolicy p;
  p.policy.Mutable()->mutable_metadata()->set_name(name);
  p.file = "p.yaml";
  return p;
}

TEST(SharedPolicyTest, CopiesShareOneMessage) {
  const LoadedPolicy a = Named("web");
  const LoadedPolicy b = a;  // NOLINT: the copy is the point
  EXPECT_EQ(&a.policy.get(), &b.policy.get());
  EXPECT_EQ(b.policy.metadata().name(), "web");
}

TEST(SharedPolicyTest, MutableCopiesASharedMessageOnly) {
  LoadedPolicy a = Named("web");
  const v1::ScalingPolicy* before = &a.policy.get();
  // The sole holder changes its message in place.
  a.policy.Mutable()->mutable_spec()->set_min_replicas(2);
  EXPECT_EQ(&a.policy.get(), before);

  LoadedPolicy b = a;
  b.policy.Mutable()->mutable_spec()->set_min_replicas(5);
  EXPECT_NE(&b.policy.get(), &a.policy.get());
  EXPECT_EQ(a.policy.spec().min_replicas(), 2);  // untouched
  EXPECT_EQ(b.policy.spec().min_replicas(), 5);
}

TEST(SharedPolicyTest, DefaultPoliciesDoNotShareTheirEmptyMessageOnWrite) {
  LoadedPolicy a;
  LoadedPolicy b;
  EXPECT_EQ(&a.policy.get(), &b.policy.get());  // one empty message
  a.policy.Mutable()->mutable_metadata()->set_name("a");
  EXPECT_EQ(a.policy.metadata().name(), "a");
  EXPECT_TRUE(b.policy.metadata().name().empty());
  EXPECT_TRUE(LoadedPolicy().policy.metadata().name().empty());
}

TEST(SharedPolicyTest, AssignsFromAndReadsAsTheMessage) {
  v1::ScalingPolicy m;
  m.mutable_metadata()->set_namespace_("team-a");
  LoadedPolicy p;
  p.policy = m;
  const v1::ScalingPolicy& read = p.policy;
  EXPECT_EQ(read.metadata().namespace_(), "team-a");
  EXPECT_EQ(p.policy->metadata().namespace_(), "team-a");
  EXPECT_EQ(p.policy.SerializeAsString(), m.SerializeAsString());
}

}  // namespace
}  // namespace signalscaler
