// LoadPolicies: files, directories (including kubelet's symlinked ConfigMap
// layout), duplicates across files (none wins by its name) and the errors of
// a bad path.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"
#include "scaler/policy/policy_key.h"

namespace signalscaler {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string PolicyYaml(const std::string& name, const std::string& ns = "") {
  return "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\nmetadata: "
         "{name: " +
         name + (ns.empty() ? "" : ", namespace: " + ns) +
         "}\nspec:\n  maxReplicas: 3\n  signals: [{name: q, type: Total, "
         "source: {push: {}}, targetPerReplica: 1}]\n";
}

std::vector<std::string> Errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const PolicyError& e : r.errors) out.push_back(e.ToString());
  return out;
}

std::vector<std::string> Names(const LoadResult& r) {
  std::vector<std::string> out;
  for (const LoadedPolicy& p : r.policies) {
    out.push_back(KeyOf(p.policy).ToString());
  }
  return out;
}

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (fs::temp_directory_path() / "policy_load_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& relative, const std::string& text) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  fs::path dir_;
};

TEST_F(LoadTest, SingleFile) {
  const std::string file = Write("web.yaml", PolicyYaml("web"));
  const LoadResult r = LoadPolicies(file);
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Names(r), ElementsAre("default/web"));
  EXPECT_THAT(r.files, ElementsAre(file));
  EXPECT_EQ(r.policies[0].file, file);
  EXPECT_TRUE(r.ToStatus().ok());
}

TEST_F(LoadTest, DirectoryLoadsYamlAndYmlSorted) {
  Write("b.yml", PolicyYaml("bravo"));
  Write("a.yaml", PolicyYaml("alpha") + "---\n" + PolicyYaml("charlie"));
  Write("notes.txt", "not a policy");
  Write(".hidden.yaml", "this: is skipped");
  Write("sub/nested.yaml", "this: is not recursed into");
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Names(r),
              ElementsAre("default/alpha", "default/charlie", "default/bravo"));
  EXPECT_THAT(r.files, ElementsAre((dir_ / "a.yaml").string(),
                                   (dir_ / "b.yml").string()));
}

TEST_F(LoadTest, PathDoesNotExist) {
  const std::string missing = (dir_ / "nope").string();
  const LoadResult r = LoadPolicies(missing);
  EXPECT_THAT(Errors(r),
              ElementsAre(AllOf(HasSubstr(missing + ": cannot load policies: "),
                                HasSubstr("o such file or directory"))));
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LoadTest, UnreadableFile) {
  const std::string file = Write("web.yaml", PolicyYaml("web"));
  fs::permissions(file, fs::perms::none);
  // The directory stays traversable: only reading the file fails.
  fs::permissions(dir_, fs::perms::others_exec, fs::perm_options::add);
  // Root reads any file, so the load runs in a child that drops to the
  // unprivileged `nobody` first (a no-op when the test is not root).
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 &&
            (::setgid(65534) != 0 || ::setuid(65534) != 0)) {
          std::fprintf(stderr, "cannot drop privileges\n");
          std::exit(2);
        }
        const LoadResult r = LoadPolicies(file);
        for (const std::string& e : Errors(r))
          std::fprintf(stderr, "%s\n", e.c_str());
        std::exit(r.errors.size() == 1 && r.policies.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "web.yaml: cannot read: Permission denied");
}

TEST_F(LoadTest, EmptyDirectory) {
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(r),
              ElementsAre(dir_.string() +
                          ": no policy file: the directory has no *.yaml or "
                          "*.yml file (names starting with '.' are skipped)"));
  EXPECT_THAT(r.policies, IsEmpty());
}

TEST_F(LoadTest, DirectoryWithOnlyEmptyDocuments) {
  Write("empty.yaml", "");
  Write("comments.yaml", "# nothing yet\n---\n");
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(
      Errors(r),
      ElementsAre(AllOf(HasSubstr(dir_.string() + ": no policy document in the "
                                                  "directory's 2 file(s)"),
                        HasSubstr("empty.yaml"))));
}

TEST_F(LoadTest, FileWithNoDocument) {
  const std::string file = Write("empty.yaml", "---\n");
  EXPECT_THAT(Errors(LoadPolicies(file)),
              ElementsAre(file + ": no policy document in this file"));
}

// With no file in force (what `serve` does at a start), a duplicate across
// files is not settled by file names: every file defining it is rejected,
// naming the others, whole (b.yaml's `other` is not loaded either).
TEST_F(LoadTest, DuplicateNameInOneNamespaceAcrossFiles) {
  const std::string a = Write("a.yaml", PolicyYaml("web", "prod"));
  const std::string b = Write("b.yaml", PolicyYaml("other", "prod") + "---\n" +
                                            PolicyYaml("web", "prod"));
  Write("c.yaml", PolicyYaml("web", "staging"));
  const LoadResult r = LoadPolicies(dir_.string());
  const std::string rule =
      "; with none of them in force, none is loaded while more than one "
      "defines it, whatever their names (remove all but one)";
  EXPECT_THAT(Errors(r),
              ElementsAre(a +
                              ":1: policy prod/web: metadata.name: duplicate "
                              "policy name `web` in namespace `prod`: also "
                              "defined at " +
                              b + ":8" + rule,
                          b +
                              ":8: policy prod/web: metadata.name: duplicate "
                              "policy name `web` in namespace `prod`: also "
                              "defined at " +
                              a + ":1" + rule));
  // Both files have an error: none of their policies is loaded.
  EXPECT_THAT(Names(r), ElementsAre("staging/web"));
  EXPECT_THAT(r.files, SizeIs(3));
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.ToStatus().message()),
              HasSubstr("duplicate policy name `web`"));
}

// The answer does not depend on the names: renaming the files gives the same
// policies, and a third copy is named by each error.
TEST_F(LoadTest, DuplicateAcrossFilesDoesNotDependOnFileNames) {
  Write("zz.yaml", PolicyYaml("web", "prod"));
  Write("aa.yaml", PolicyYaml("web", "prod"));
  Write("mm.yaml", PolicyYaml("web", "prod"));
  Write("ok.yaml", PolicyYaml("api", "prod"));
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Names(r), ElementsAre("prod/api"));
  const std::string aa = (dir_ / "aa.yaml").string();
  const std::string mm = (dir_ / "mm.yaml").string();
  const std::string zz = (dir_ / "zz.yaml").string();
  EXPECT_THAT(
      Errors(r),
      ElementsAre(HasSubstr("also defined at " + mm + ":1, " + zz + ":1"),
                  HasSubstr("also defined at " + aa + ":1, " + zz + ":1"),
                  HasSubstr("also defined at " + aa + ":1, " + mm + ":1")));
  fs::remove(dir_ / "aa.yaml");
  fs::remove(dir_ / "mm.yaml");
  const LoadResult one = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(one), IsEmpty());
  EXPECT_THAT(Names(one), ElementsAre("prod/api", "prod/web"));
}

// The per-file check (`check` passes serve's source confinement) rejects a
// file before the composition, as serve's reloader does: the rejected file
// is then no duplicate of another, which loads.
TEST_F(LoadTest, FileCheckRejectsTheFileBeforeDuplicatesAreSettled) {
  const std::string a = Write("a.yaml", PolicyYaml("web", "prod") + "---\n" +
                                            PolicyYaml("api", "prod"));
  Write("b.yaml", PolicyYaml("web", "prod"));
  std::vector<std::string> checked;
  const PolicyFileCheck refuse_a = [&](std::vector<LoadedPolicy>& policies,
                                       std::vector<PolicyError>& errors) {
    checked.push_back(policies.front().file);
    if (policies.front().file != a) return;
    PolicyError e;
    e.file = a;
    e.message = "refused";
    errors.push_back(std::move(e));
  };
  const LoadResult r = LoadPolicies(dir_.string(), refuse_a);
  EXPECT_THAT(checked, ElementsAre(a, (dir_ / "b.yaml").string()));
  EXPECT_THAT(Errors(r), ElementsAre(a + ": refused"));
  EXPECT_THAT(Names(r), ElementsAre("prod/web"));  // From b.yaml only.
  // Without the check both define prod/web: neither file loads.
  EXPECT_THAT(Names(LoadPolicies(dir_.string())), IsEmpty());

  // A single file is checked too, all or nothing.
  const LoadResult one = LoadPolicies(a, refuse_a);
  EXPECT_THAT(Errors(one), ElementsAre(a + ": refused"));
  EXPECT_THAT(one.policies, IsEmpty());
}

TEST_F(LoadTest, SameNameInTwoNamespacesIsFine) {
  Write("a.yaml", PolicyYaml("web", "prod"));
  Write("b.yaml", PolicyYaml("web", "staging") + "---\n" + PolicyYaml("web"));
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Names(r), ElementsAre("prod/web", "staging/web", "default/web"));
}

TEST_F(LoadTest, FileWithAnErrorContributesNothingOthersLoad) {
  Write("a.yaml", PolicyYaml("alpha") + "---\n" + PolicyYaml("Bad_Name"));
  Write("b.yaml", PolicyYaml("bravo"));
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(r), ElementsAre(HasSubstr("is not a DNS-1123 label")));
  EXPECT_THAT(Names(r), ElementsAre("default/bravo"));
  EXPECT_THAT(r.files, SizeIs(2));
}

TEST_F(LoadTest, ErrorsFromSeveralFilesAreAllReported) {
  const std::string a = Write("a.yaml", "spec: [\n");
  const std::string b = Write("b.yaml", PolicyYaml("web") + "colour: red\n");
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(r),
              ElementsAre(HasSubstr(a + ":"),
                          b + ":7: policy default/web: colour: unknown field "
                              "`colour`; ScalingPolicy has: apiVersion, kind, "
                              "metadata, spec"));
}

// A ConfigMap as kubelet mounts it: the files live in a timestamped
// directory, `..data` points at it, and each key is a symlink through
// `..data`. Every policy must load exactly once.
TEST_F(LoadTest, KubeletConfigMapLayout) {
  Write("..2024_01_01_00_00_00.123/egress.yaml", PolicyYaml("egress", "media"));
  Write("..2024_01_01_00_00_00.123/agents.yml", PolicyYaml("agents", "media"));
  fs::create_directory_symlink("..2024_01_01_00_00_00.123", dir_ / "..data");
  fs::create_symlink("..data/egress.yaml", dir_ / "egress.yaml");
  fs::create_symlink("..data/agents.yml", dir_ / "agents.yml");
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Names(r), ElementsAre("media/agents", "media/egress"));
  EXPECT_THAT(r.files, ElementsAre((dir_ / "agents.yml").string(),
                                   (dir_ / "egress.yaml").string()));
}

TEST_F(LoadTest, DanglingSymlinkIsSkipped) {
  Write("web.yaml", PolicyYaml("web"));
  fs::create_symlink("..data/gone.yaml", dir_ / "gone.yaml");
  const LoadResult r = LoadPolicies(dir_.string());
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Names(r), ElementsAre("default/web"));
}

// The shipped test data, if any, must load cleanly.
TEST(TestDataTest, ExamplePolicyLoads) {
  const char* source_dir = std::getenv("SIGNALSCALER_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr)
      << "SIGNALSCALER_SOURCE_DIR is unset: run this test through ctest";
  const LoadResult r =
      LoadPolicies(std::string(source_dir) + "/tests/policy/testdata/valid");
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Names(r), Contains("media/livekit-egress"));
}

}  // namespace
}  // namespace signalscaler
