// PolicyReloader: all or nothing per file, the last good policies of a
// rejected file keep serving, duplicates across files, served namespaces,
// removed files, and unchanged reloads leaving the registry alone.
#include "scaler/server/policy_reloader.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Policy(const std::string& ns, const std::string& name,
                   int target = 10) {
  return absl::StrCat("apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n",
                      "metadata: {name: ", name, ", namespace: ", ns, "}\n",
                      "spec:\n  maxReplicas: 5\n  signals:\n",
                      "  - {name: q, type: Total, source: {push: {}}, ",
                      "targetPerReplica: ", target, "}\n");
}

class ReloaderTest : public ::testing::Test {
 protected:
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::trunc) << text;
  }
  std::vector<std::string> Served() {
    std::vector<std::string> out;
    for (const LoadedPolicy& p : registry_.Get()->policies()) {
      out.push_back(
          absl::StrCat(KeyOf(p.policy).ToString(), "@",
                       p.policy.spec().signals(0).target_per_replica()));
    }
    return out;
  }

  std::string dir_ = testing::MakeTempDir();
  PolicyRegistry registry_;
};

TEST_F(ReloaderTest, OnlyFilesWhoseBytesChangedAreParsedAgain) {
  Write("a.yaml", Policy("ns", "a", 10));
  Write("b.yaml", Policy("ns", "b", 10) + "  maxReplica: 6\n");  // rejected
  PolicyReloader reloader(dir_, registry_, {});
  ReloadReport r = reloader.Reload();
  EXPECT_EQ(reloader.parses(), 2u);
  const auto before = registry_.Get();
  r = reloader.Reload();
  r = reloader.Reload();
  EXPECT_EQ(reloader.parses(), 2u) << "nothing changed: nothing parsed";
  EXPECT_EQ(registry_.Get(), before) << "and the same policies in force";
  EXPECT_EQ(r.rejected_files, 1) << "a cached rejection still reported";
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("maxReplica"));

  // Same size, rewritten at once in place: the bytes differ, so it counts.
  Write("a.yaml", Policy("ns", "a", 30));
  r = reloader.Reload();
  EXPECT_EQ(reloader.parses(), 3u);
  EXPECT_TRUE(r.changed);
  EXPECT_THAT(Served(), ElementsAre("ns/a@30"));
  Write("c.yaml", Policy("ns", "c", 10));
  r = reloader.Reload();
  EXPECT_EQ(reloader.parses(), 4u);
  EXPECT_THAT(Served(), ElementsAre("ns/a@30", "ns/c@10"));
}

TEST_F(ReloaderTest, BrokenFileKeepsItsPreviousPoliciesOthersApply) {
  Write("a.yaml", Policy("ns", "a", 10));
  Write("b.yaml", Policy("ns", "b", 10));
  PolicyReloader reloader(dir_, registry_, {});
  ReloadReport r = reloader.Reload();
  EXPECT_TRUE(r.changed);
  EXPECT_THAT(Served(), ElementsAre("ns/a@10", "ns/b@10"));

  Write("a.yaml", Policy("ns", "a", 20) + "  maxReplica: 6\n");  // a typo
  Write("b.yaml", Policy("ns", "b", 30));
  r = reloader.Reload();
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.rejected_files, 1);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("a.yaml"));
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("maxReplica"));
  EXPECT_THAT(Served(), ElementsAre("ns/a@10", "ns/b@30"));

  std::vector<PolicyFileStatus> status = reloader.Status();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_FALSE(status[0].ok);
  EXPECT_THAT(status[0].serving, ElementsAre("ns/a"));
  EXPECT_TRUE(status[1].ok);
  EXPECT_EQ(reloader.rejected(), 1u);

  // The same broken content again is not a new rejection.
  reloader.Reload();
  EXPECT_EQ(reloader.rejected(), 1u);

  Write("a.yaml", Policy("ns", "a", 20));
  r = reloader.Reload();
  EXPECT_EQ(r.rejected_files, 0);
  EXPECT_THAT(Served(), ElementsAre("ns/a@20", "ns/b@30"));
}

TEST_F(ReloaderTest, DuplicateAcrossFilesRejectsTheLaterFile) {
  Write("a.yaml", Policy("ns", "same", 10));
  Write("b.yaml", Policy("ns", "same", 20) + "---\n" + Policy("ns", "other"));
  Write("c.yaml", Policy("other-ns", "same", 30));  // another namespace: fine
  PolicyReloader reloader(dir_, registry_, {});
  ReloadReport r = reloader.Reload();
  EXPECT_EQ(r.rejected_files, 1);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("duplicate policy name"));
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("a.yaml"));
  // b.yaml is rejected whole: its `other` is not served either.
  EXPECT_THAT(Served(), ElementsAre("ns/same@10", "other-ns/same@30"));
}

TEST_F(ReloaderTest, NamespacesOutsideTheServedSetAreRejected) {
  Write("a.yaml", Policy("team-a", "x"));
  Write("b.yaml", Policy("team-b", "y"));
  PolicyReloader reloader(dir_, registry_, NamespaceSet{"team-a"});
  ReloadReport r = reloader.Reload();
  EXPECT_EQ(r.rejected_files, 1);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].ToString(),
              HasSubstr("namespace `team-b` is not served"));
  EXPECT_THAT(Served(), ElementsAre("team-a/x@10"));
}

TEST_F(ReloaderTest, RemovedFileRemovesItsPoliciesAndNoChangeIsNoSet) {
  Write("a.yaml", Policy("ns", "a"));
  Write("b.yaml", Policy("ns", "b"));
  PolicyReloader reloader(dir_, registry_, {});
  reloader.Reload();
  int sets = 0;
  registry_.AddListener([&](const PolicySnapshot&) { ++sets; });
  EXPECT_FALSE(reloader.Reload().changed);
  EXPECT_EQ(sets, 0);
  std::filesystem::remove(dir_ + "/b.yaml");
  EXPECT_TRUE(reloader.Reload().changed);
  EXPECT_EQ(sets, 1);
  EXPECT_THAT(Served(), ElementsAre("ns/a@10"));
}

TEST_F(ReloaderTest, UnreadableDirectoryKeepsEverything) {
  Write("a.yaml", Policy("ns", "a"));
  const std::string sub = dir_ + "/mount";
  std::filesystem::create_directory(sub);
  std::filesystem::rename(dir_ + "/a.yaml", sub + "/a.yaml");
  PolicyReloader reloader(sub, registry_, {});
  reloader.Reload();
  EXPECT_THAT(Served(), ElementsAre("ns/a@10"));
  std::filesystem::remove_all(sub);  // the mount disappears
  ReloadReport r = reloader.Reload();
  EXPECT_FALSE(r.changed);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            sub + ": cannot load policies: No such file or directory");
  EXPECT_THAT(Served(), ElementsAre("ns/a@10"));
}

}  // namespace
}  // namespace signalscaler
