// PolicyReloader: all or nothing per file, the last good policies of a
// rejected file keep serving, duplicates across files (the file in force
// keeps its policy; with none in force, none wins by name), served
// namespaces, removed files, unchanged reloads leaving the registry alone,
// and the watch (a replaced directory or symlink is watched again).
#include "scaler/server/policy_reloader.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using ::testing::AllOf;
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
    // Held for the loop: the reloader's thread may replace the snapshot.
    const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
    for (const LoadedPolicy& p : snap->policies()) {
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

// Issue 13 item 5: the file in force keeps its policy whatever the names; the
// newcomer is rejected (whole: its other policy is not served either),
// naming the file in force.
TEST_F(ReloaderTest, NewFileDuplicatingAPolicyInForceIsRejected) {
  Write("team-b.yaml", Policy("team-b", "svc", 10));
  Write("c.yaml", Policy("other-ns", "svc", 30));  // another namespace: fine
  PolicyReloader reloader(dir_, registry_, {});
  EXPECT_EQ(reloader.Reload().rejected_files, 0);
  EXPECT_THAT(Served(), ElementsAre("other-ns/svc@30", "team-b/svc@10"));

  // Sorts before team-b.yaml, and after it.
  Write("aa-dup.yaml",
        Policy("team-b", "svc", 20) + "---\n" + Policy("team-b", "other"));
  Write("zz-dup.yaml", Policy("team-b", "svc", 40));
  ReloadReport r = reloader.Reload();
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.rejected_files, 2);
  EXPECT_THAT(Served(), ElementsAre("other-ns/svc@30", "team-b/svc@10"));
  EXPECT_EQ(registry_.Get()->Find({"team-b", "svc"})->file,
            dir_ + "/team-b.yaml");
  std::vector<PolicyFileStatus> status = reloader.Status();
  ASSERT_EQ(status.size(), 4u);
  EXPECT_EQ(status[0].file, dir_ + "/aa-dup.yaml");
  EXPECT_FALSE(status[0].ok);
  EXPECT_THAT(status[0].serving, IsEmpty());
  ASSERT_EQ(status[0].errors.size(), 1u);
  EXPECT_THAT(status[0].errors[0],
              HasSubstr("aa-dup.yaml:1: policy team-b/svc"));
  EXPECT_THAT(status[0].errors[0],
              HasSubstr("already in force from " + dir_ + "/team-b.yaml:1"));
  EXPECT_EQ(status[2].file, dir_ + "/team-b.yaml");
  EXPECT_TRUE(status[2].ok);
  EXPECT_THAT(status[2].errors, IsEmpty());
  EXPECT_THAT(status[2].serving, ElementsAre("team-b/svc"));
  EXPECT_FALSE(status[3].ok);
  EXPECT_THAT(status[3].errors,
              ElementsAre(HasSubstr("already in force from " + dir_ +
                                    "/team-b.yaml:1")));

  // The file in force may change; it keeps the policy.
  Write("team-b.yaml", Policy("team-b", "svc", 5));
  r = reloader.Reload();
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.rejected_files, 2);
  EXPECT_THAT(Served(), ElementsAre("other-ns/svc@30", "team-b/svc@5"));

  // Broken, it still keeps it: its previous version serves.
  Write("team-b.yaml", Policy("team-b", "svc", 6) + "  maxReplica: 6\n");
  r = reloader.Reload();
  EXPECT_EQ(r.rejected_files, 3);
  EXPECT_THAT(Served(), ElementsAre("other-ns/svc@30", "team-b/svc@5"));
  EXPECT_THAT(reloader.Status()[0].errors,
              ElementsAre(HasSubstr("already in force from " + dir_ +
                                    "/team-b.yaml:1")));

  // Nothing changed since: the same outcome, every error again, twice (a
  // reload that reads nothing new repeats the last composition's report).
  for (int i = 0; i < 2; ++i) {
    const ReloadReport again = reloader.Reload();
    EXPECT_FALSE(again.changed);
    EXPECT_EQ(again.rejected_files, 3);
    std::vector<std::string> was;
    std::vector<std::string> now;
    for (const PolicyError& e : r.errors) was.push_back(e.ToString());
    for (const PolicyError& e : again.errors) now.push_back(e.ToString());
    EXPECT_EQ(now, was);
    EXPECT_THAT(Served(), ElementsAre("other-ns/svc@30", "team-b/svc@5"));
  }
}

// With no file in force for a policy (at a start, which is also a restart:
// nothing remembers who had it), no file defining it twice wins by its name:
// none is loaded, each error names the other files. The same answer on every
// start, whatever the names.
TEST_F(ReloaderTest, DuplicateWithNoneInForceLoadsNoneOfThem) {
  Write("aa-dup.yaml", Policy("team-b", "svc", 20));
  Write("team-b.yaml",
        Policy("team-b", "svc", 10) + "---\n" + Policy("team-b", "other"));
  Write("c.yaml", Policy("team-c", "svc", 30));
  for (int start = 0; start < 2; ++start) {
    PolicyRegistry registry;
    PolicyReloader reloader(dir_, registry, {});
    ReloadReport r = reloader.Reload();
    EXPECT_EQ(r.rejected_files, 2);
    ASSERT_EQ(registry.Get()->policies().size(), 1u);
    EXPECT_EQ(KeyOf(registry.Get()->policies()[0].policy).ToString(),
              "team-c/svc");
    std::vector<PolicyFileStatus> status = reloader.Status();
    ASSERT_EQ(status.size(), 3u);
    EXPECT_FALSE(status[0].ok);
    EXPECT_THAT(status[0].serving, IsEmpty());
    EXPECT_THAT(status[0].errors,
                ElementsAre(AllOf(
                    HasSubstr("aa-dup.yaml:1: policy team-b/svc"),
                    HasSubstr("also defined at " + dir_ + "/team-b.yaml:1"),
                    HasSubstr("none is loaded"))));
    EXPECT_FALSE(status[2].ok);
    EXPECT_THAT(status[2].serving, IsEmpty());
    EXPECT_THAT(status[2].errors,
                ElementsAre(AllOf(
                    HasSubstr("team-b.yaml:1: policy team-b/svc"),
                    HasSubstr("also defined at " + dir_ + "/aa-dup.yaml:1"))));
  }
  // One of them goes: the other serves.
  PolicyReloader reloader(dir_, registry_, {});
  reloader.Reload();
  std::filesystem::remove(dir_ + "/team-b.yaml");
  EXPECT_EQ(reloader.Reload().rejected_files, 0);
  EXPECT_THAT(Served(), ElementsAre("team-b/svc@20", "team-c/svc@30"));
}

// The file in force removed while two others define its policy: neither
// takes over by name; when only one is left, it serves.
TEST_F(ReloaderTest, FileInForceRemovedTwoDuplicatesRemain) {
  Write("team-b.yaml", Policy("team-b", "svc", 10));
  PolicyReloader reloader(dir_, registry_, {});
  reloader.Reload();
  Write("aa-dup.yaml", Policy("team-b", "svc", 20));
  Write("zz-dup.yaml", Policy("team-b", "svc", 40));
  EXPECT_EQ(reloader.Reload().rejected_files, 2);
  EXPECT_THAT(Served(), ElementsAre("team-b/svc@10"));

  std::filesystem::remove(dir_ + "/team-b.yaml");
  ReloadReport r = reloader.Reload();
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.rejected_files, 2);
  EXPECT_THAT(Served(), IsEmpty());
  std::vector<PolicyFileStatus> status = reloader.Status();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_THAT(
      status[0].errors,
      ElementsAre(HasSubstr("also defined at " + dir_ + "/zz-dup.yaml:1")));
  EXPECT_THAT(
      status[1].errors,
      ElementsAre(HasSubstr("also defined at " + dir_ + "/aa-dup.yaml:1")));
  // A new rejection (new reason) of each file.
  EXPECT_EQ(reloader.rejected(), 4u);

  std::filesystem::remove(dir_ + "/aa-dup.yaml");
  r = reloader.Reload();
  EXPECT_EQ(r.rejected_files, 0);
  EXPECT_THAT(Served(), ElementsAre("team-b/svc@40"));
}

// A policy moved from one file to another in one update is not a duplicate:
// the file in force gave it up.
TEST_F(ReloaderTest, PolicyMovedBetweenFilesInOneUpdate) {
  Write("b.yaml", Policy("ns", "x", 10) + "---\n" + Policy("ns", "y", 10));
  Write("a.yaml", Policy("ns", "z", 10));
  PolicyReloader reloader(dir_, registry_, {});
  reloader.Reload();
  Write("b.yaml", Policy("ns", "y", 10));
  Write("a.yaml", Policy("ns", "z", 10) + "---\n" + Policy("ns", "x", 20));
  ReloadReport r = reloader.Reload();
  EXPECT_EQ(r.rejected_files, 0);
  EXPECT_THAT(Served(), ElementsAre("ns/x@20", "ns/y@10", "ns/z@10"));
  EXPECT_EQ(registry_.Get()->Find({"ns", "x"})->file, dir_ + "/a.yaml");
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

// Watched (Start) with a safety-net period far longer than the test: every
// change below is seen through inotify or not at all.
class WatchTest : public ReloaderTest {
 protected:
  static constexpr absl::Duration kNoSafetyNet = absl::Seconds(600);

  // Polls until Served() is `want`; false after `limit`.
  bool WaitServed(const std::vector<std::string>& want, absl::Duration limit) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (Served() == want) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return Served() == want;
  }
  static void WriteAt(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  }
};

// Issue 13 item 10: `mv dir dir.old; mkdir dir` used to leave the watch on
// dir.old, and edits waited for the safety net.
TEST_F(WatchTest, ReplacedDirectoryIsWatchedAgain) {
  const std::string sub = dir_ + "/policies";
  std::filesystem::create_directory(sub);
  WriteAt(sub + "/a.yaml", Policy("ns", "a", 10));
  PolicyReloader reloader(sub, registry_, {});
  reloader.Reload();
  reloader.Start(kNoSafetyNet);
  // An edit in place: the watch is armed.
  WriteAt(sub + "/a.yaml", Policy("ns", "a", 11));
  ASSERT_TRUE(WaitServed({"ns/a@11"}, absl::Seconds(5)));

  std::filesystem::rename(sub, sub + ".old");
  std::filesystem::create_directory(sub);
  WriteAt(sub + "/a.yaml", Policy("ns", "a", 20));
  EXPECT_TRUE(WaitServed({"ns/a@20"}, absl::Seconds(1)));
  // Edits in the new directory are seen; those in the old one are not ours.
  WriteAt(sub + "/a.yaml", Policy("ns", "a", 21));
  EXPECT_TRUE(WaitServed({"ns/a@21"}, absl::Seconds(1)));
  WriteAt(sub + ".old/a.yaml", Policy("ns", "a", 99));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_THAT(Served(), ElementsAre("ns/a@21"));

  // Removed and made again, the files written a moment later.
  std::filesystem::remove_all(sub);
  absl::SleepFor(absl::Milliseconds(300));
  std::filesystem::create_directory(sub);
  absl::SleepFor(absl::Milliseconds(300));
  WriteAt(sub + "/a.yaml", Policy("ns", "a", 30));
  EXPECT_TRUE(WaitServed({"ns/a@30"}, absl::Seconds(1)));
  WriteAt(sub + "/b.yaml", Policy("ns", "b", 31));
  EXPECT_TRUE(WaitServed({"ns/a@30", "ns/b@31"}, absl::Seconds(1)));
  reloader.Stop();
}

// A policies path that is a symlink (`current -> v1`), swapped atomically to
// another directory: the new target is watched.
TEST_F(WatchTest, SwappedSymlinkToTheDirectoryIsFollowed) {
  for (const char* v : {"/v1", "/v2"}) {
    std::filesystem::create_directory(dir_ + v);
  }
  WriteAt(dir_ + "/v1/a.yaml", Policy("ns", "a", 10));
  WriteAt(dir_ + "/v2/a.yaml", Policy("ns", "a", 20));
  std::filesystem::create_directory_symlink("v1", dir_ + "/current");
  PolicyReloader reloader(dir_ + "/current", registry_, {});
  reloader.Reload();
  reloader.Start(kNoSafetyNet);
  WriteAt(dir_ + "/v1/a.yaml", Policy("ns", "a", 11));
  ASSERT_TRUE(WaitServed({"ns/a@11"}, absl::Seconds(5)));

  std::filesystem::create_directory_symlink("v2", dir_ + "/next");
  std::filesystem::rename(dir_ + "/next", dir_ + "/current");
  EXPECT_TRUE(WaitServed({"ns/a@20"}, absl::Seconds(1)));
  WriteAt(dir_ + "/v2/a.yaml", Policy("ns", "a", 21));
  EXPECT_TRUE(WaitServed({"ns/a@21"}, absl::Seconds(1)));
  reloader.Stop();
}

// kubelet's ConfigMap update (a new timestamped directory, then a rename of
// the `..data` symlink inside the watched directory) is still seen at once.
TEST_F(WatchTest, KubeletDataSwapIsSeenAtOnce) {
  const auto publish = [this](int version, int target) {
    const std::string ts = absl::StrCat("..2026_01_01_", version);
    std::filesystem::create_directory(dir_ + "/" + ts);
    WriteAt(dir_ + "/" + ts + "/a.yaml", Policy("ns", "a", target));
    std::filesystem::create_directory_symlink(ts, dir_ + "/..data_tmp");
    std::filesystem::rename(dir_ + "/..data_tmp", dir_ + "/..data");
    if (!std::filesystem::exists(
            std::filesystem::symlink_status(dir_ + "/a.yaml"))) {
      std::filesystem::create_symlink("..data/a.yaml", dir_ + "/a.yaml");
    }
  };
  publish(1, 10);
  PolicyReloader reloader(dir_, registry_, {});
  reloader.Reload();
  ASSERT_THAT(Served(), ElementsAre("ns/a@10"));
  reloader.Start(kNoSafetyNet);
  publish(2, 20);
  EXPECT_TRUE(WaitServed({"ns/a@20"}, absl::Seconds(1)));
  publish(3, 30);
  EXPECT_TRUE(WaitServed({"ns/a@30"}, absl::Seconds(1)));
  reloader.Stop();
}

}  // namespace
}  // namespace signalscaler
