// ComposePolicySet (scaler/policy/policy_set.h): duplicates across files
// (the incumbent keeps; with none, none loads), the caps, and what a
// rejected file keeps serving. Pure: no file is read.
#include "scaler/policy/policy_set.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/policy_key.h"

namespace signalscaler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

LoadedPolicy Policy(const std::string& ns, const std::string& name,
                    const std::string& file, int line = 1,
                    int max_replicas = 5) {
  LoadedPolicy p;
  p.policy.Mutable()->mutable_metadata()->set_namespace_(ns);
  p.policy.Mutable()->mutable_metadata()->set_name(name);
  p.policy.Mutable()->mutable_spec()->set_max_replicas(max_replicas);
  p.file = file;
  p.line = line;
  return p;
}

PolicyFileInput File(const std::string& file,
                     std::vector<LoadedPolicy> policies,
                     std::vector<LoadedPolicy> in_force = {}) {
  PolicyFileInput in;
  in.file = file;
  in.policies = std::move(policies);
  in.in_force = std::move(in_force);
  return in;
}

PolicyError OwnError(const std::string& file) {
  PolicyError e;
  e.file = file;
  e.line = 3;
  e.message = "invalid YAML";
  return e;
}

std::vector<std::string> Ids(const std::vector<LoadedPolicy>& policies) {
  std::vector<std::string> out;
  for (const LoadedPolicy& p : policies) {
    out.push_back(KeyOf(p.policy).ToString());
  }
  return out;
}

std::vector<std::string> Messages(const PolicyFileOutcome& o) {
  std::vector<std::string> out;
  for (const PolicyError& e : o.errors) out.push_back(e.ToString());
  return out;
}

TEST(ComposePolicySetTest, DistinctPoliciesAllServe) {
  const auto out =
      ComposePolicySet({File("a.yaml", {Policy("prod", "web", "a.yaml")}),
                        File("b.yaml", {Policy("prod", "api", "b.yaml"),
                                        Policy("staging", "web", "b.yaml")})});
  ASSERT_THAT(out, SizeIs(2));
  EXPECT_EQ(out[0].file, "a.yaml");
  EXPECT_THAT(Ids(out[0].serving), ElementsAre("prod/web"));
  EXPECT_THAT(out[0].errors, IsEmpty());
  EXPECT_THAT(Ids(out[1].serving), ElementsAre("prod/api", "staging/web"));
  EXPECT_THAT(out[1].errors, IsEmpty());
}

// At a start (and in `check`): nothing in force, so no file wins by its name.
TEST(ComposePolicySetTest, NoIncumbentNoneOfTheDuplicatesLoads) {
  const auto out =
      ComposePolicySet({File("a.yaml", {Policy("prod", "web", "a.yaml", 1),
                                        Policy("prod", "other", "a.yaml", 9)}),
                        File("b.yaml", {Policy("prod", "web", "b.yaml", 4)}),
                        File("c.yaml", {Policy("prod", "web", "c.yaml", 7)})});
  ASSERT_THAT(out, SizeIs(3));
  for (const PolicyFileOutcome& o : out) {
    EXPECT_THAT(o.serving, IsEmpty()) << o.file;  // All or nothing per file.
    ASSERT_THAT(o.errors, SizeIs(1)) << o.file;
    EXPECT_EQ(o.errors[0].policy, "prod/web");
    EXPECT_EQ(o.errors[0].field, "metadata.name");
  }
  EXPECT_THAT(Messages(out[0])[0],
              HasSubstr("also defined at b.yaml:4, c.yaml:7; with none of "
                        "them in force, none is loaded"));
  EXPECT_THAT(Messages(out[1])[0], HasSubstr("also defined at a.yaml:1, "
                                             "c.yaml:7"));
  EXPECT_THAT(Messages(out[2])[0], HasSubstr("also defined at a.yaml:1, "
                                             "b.yaml:4"));
}

TEST(ComposePolicySetTest, IncumbentKeepsWhateverTheFileNames) {
  // z.yaml serves prod/web; a.yaml (first by name) defines it too.
  for (const bool incumbent_first : {true, false}) {
    PolicyFileInput z = File("z.yaml", {Policy("prod", "web", "z.yaml", 2, 7)},
                             {Policy("prod", "web", "z.yaml", 2, 6)});
    PolicyFileInput a = File("a.yaml", {Policy("prod", "web", "a.yaml", 5)});
    const auto out =
        incumbent_first ? ComposePolicySet({z, a}) : ComposePolicySet({a, z});
    const PolicyFileOutcome& oz = out[incumbent_first ? 0 : 1];
    const PolicyFileOutcome& oa = out[incumbent_first ? 1 : 0];
    EXPECT_THAT(oz.errors, IsEmpty());
    ASSERT_THAT(Ids(oz.serving), ElementsAre("prod/web"));
    // Its latest content (the edit) is what serves.
    EXPECT_EQ(oz.serving[0].policy.spec().max_replicas(), 7);
    EXPECT_THAT(oa.serving, IsEmpty());
    ASSERT_THAT(oa.errors, SizeIs(1));
    EXPECT_EQ(oa.errors[0].ToString(),
              "a.yaml:5: policy prod/web: metadata.name: duplicate policy "
              "name `web` in namespace `prod`: already in force from "
              "z.yaml:2, which keeps serving it; this file is rejected until "
              "one of the two no longer defines it");
  }
}

TEST(ComposePolicySetTest, BrokenIncumbentKeepsServingItsPreviousVersion) {
  PolicyFileInput broken =
      File("a.yaml", {}, {Policy("prod", "web", "a.yaml", 1, 3)});
  broken.errors.push_back(OwnError("a.yaml"));
  const auto out = ComposePolicySet(
      {broken, File("b.yaml", {Policy("prod", "web", "b.yaml", 1, 9)})});
  EXPECT_THAT(Messages(out[0]), ElementsAre("a.yaml:3: invalid YAML"));
  ASSERT_THAT(Ids(out[0].serving), ElementsAre("prod/web"));
  EXPECT_EQ(out[0].serving[0].policy.spec().max_replicas(), 3);
  EXPECT_THAT(out[1].serving, IsEmpty());
  ASSERT_THAT(out[1].errors, SizeIs(1));
  EXPECT_THAT(out[1].errors[0].message, HasSubstr("already in force from "
                                                  "a.yaml:1"));
}

TEST(ComposePolicySetTest, ABrokenFileIsNoClaimant) {
  // Nothing in force: a.yaml is rejected on its own account, so b.yaml is
  // the only file defining prod/web.
  PolicyFileInput broken = File("a.yaml", {Policy("prod", "web", "a.yaml")});
  broken.errors.push_back(OwnError("a.yaml"));
  const auto out = ComposePolicySet(
      {broken, File("b.yaml", {Policy("prod", "web", "b.yaml")})});
  EXPECT_THAT(out[0].serving, IsEmpty());
  EXPECT_THAT(Messages(out[0]), ElementsAre("a.yaml:3: invalid YAML"));
  EXPECT_THAT(Ids(out[1].serving), ElementsAre("prod/web"));
  EXPECT_THAT(out[1].errors, IsEmpty());
}

TEST(ComposePolicySetTest, IncumbentThatGivesAPolicyUpLetsTheOtherFileHaveIt) {
  const auto out = ComposePolicySet(
      {File("a.yaml", {Policy("prod", "api", "a.yaml")},
            {Policy("prod", "api", "a.yaml"), Policy("prod", "web", "a.yaml")}),
       File("b.yaml", {Policy("prod", "web", "b.yaml")})});
  EXPECT_THAT(Ids(out[0].serving), ElementsAre("prod/api"));
  EXPECT_THAT(out[0].errors, IsEmpty());
  EXPECT_THAT(Ids(out[1].serving), ElementsAre("prod/web"));
  EXPECT_THAT(out[1].errors, IsEmpty());
}

TEST(ComposePolicySetTest, RejectedFileKeepsOnlyWhatNoOtherFileTookOver) {
  // a.yaml served web and api; its new content drops api and clashes on
  // prod/db with c.yaml's policy in force. b.yaml now serves api.
  const auto out = ComposePolicySet(
      {File("a.yaml",
            {Policy("prod", "web", "a.yaml"), Policy("prod", "db", "a.yaml")},
            {Policy("prod", "web", "a.yaml"), Policy("prod", "api", "a.yaml")}),
       File("b.yaml", {Policy("prod", "api", "b.yaml")}),
       File("c.yaml", {Policy("prod", "db", "c.yaml")},
            {Policy("prod", "db", "c.yaml")})});
  ASSERT_THAT(out[0].errors, SizeIs(1));
  EXPECT_EQ(out[0].errors[0].policy, "prod/db");
  EXPECT_THAT(Ids(out[0].serving), ElementsAre("prod/web"));
  EXPECT_THAT(Ids(out[1].serving), ElementsAre("prod/api"));
  EXPECT_THAT(Ids(out[2].serving), ElementsAre("prod/db"));
}

TEST(ComposePolicySetTest, NamespaceCapRejectsTheFileThatWouldPassIt) {
  PolicySetLimits limits;
  limits.max_policies_per_namespace = 2;
  const auto out = ComposePolicySet(
      {File("a.yaml",
            {Policy("prod", "a1", "a.yaml"), Policy("prod", "a2", "a.yaml")}),
       File("b.yaml",
            {Policy("prod", "b1", "b.yaml"), Policy("dev", "b2", "b.yaml")}),
       File("c.yaml", {Policy("dev", "c1", "c.yaml")})},
      limits);
  EXPECT_THAT(Ids(out[0].serving), ElementsAre("prod/a1", "prod/a2"));
  EXPECT_THAT(out[1].serving, IsEmpty());
  EXPECT_THAT(Messages(out[1]),
              ElementsAre("b.yaml: namespace `prod` would hold 3 policies; "
                          "the limit is 2 per namespace "
                          "(--max-policies-per-namespace)"));
  // b.yaml counts for nothing, so c.yaml fits.
  EXPECT_THAT(Ids(out[2].serving), ElementsAre("dev/c1"));
  EXPECT_THAT(out[2].errors, IsEmpty());
}

TEST(ComposePolicySetTest, TotalCapKeepsPreviousPoliciesThatStillFit) {
  // a.yaml: two policies; b.yaml: two now, of which one served before.
  const std::vector<PolicyFileInput> files = {
      File("a.yaml",
           {Policy("prod", "a1", "a.yaml"), Policy("prod", "a2", "a.yaml")}),
      File("b.yaml",
           {Policy("dev", "b1", "b.yaml"), Policy("dev", "b2", "b.yaml")},
           {Policy("dev", "b1", "b.yaml")})};
  PolicySetLimits limits;
  limits.max_policies = 3;
  const auto out = ComposePolicySet(files, limits);
  EXPECT_THAT(out[0].errors, IsEmpty());
  EXPECT_THAT(Messages(out[1]),
              ElementsAre("b.yaml: the scaler would hold 4 policies; the "
                          "limit is 3 (--max-policies)"));
  EXPECT_THAT(Ids(out[1].serving), ElementsAre("dev/b1"));  // Still fits.

  limits.max_policies = 2;
  const auto full = ComposePolicySet(files, limits);
  EXPECT_THAT(full[1].serving, IsEmpty());  // Its previous one no longer fits.
  EXPECT_THAT(full[1].errors, SizeIs(1));
}

TEST(ComposePolicySetTest, NoLimitsByDefault) {
  std::vector<LoadedPolicy> many;
  for (int i = 0; i < 2000; ++i) {
    many.push_back(Policy("prod", "p" + std::to_string(i), "a.yaml", i + 1));
  }
  const auto out = ComposePolicySet({File("a.yaml", many)});
  EXPECT_THAT(out[0].errors, IsEmpty());
  EXPECT_THAT(out[0].serving, SizeIs(2000));
}

}  // namespace
}  // namespace signalscaler
