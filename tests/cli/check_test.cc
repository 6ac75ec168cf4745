// `signalscaler check` through the binary: exit codes, every error with its
// file:line, the summary, --quiet, and duplicates across paths.
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using ::testing::Not;
using testing::RunCommand;
using testing::RunResult;
using testing::SignalscalerBinary;
using testing::SourceDir;

std::string Policy(const std::string& name, const std::string& ns,
                   const std::string& spec_extra = "") {
  return "apiVersion: signalscaler.io/v1\n"  // 1
         "kind: ScalingPolicy\n"             // 2
         "metadata: {name: " +               // 3
         name +
         ", namespace: " + ns +
         "}\n"
         "spec:\n"               // 4
         "  maxReplicas: 5\n" +  // 5
         spec_extra +            //
         "  signals:\n"
         "  - {name: q, type: Total, source: {push: {}}, targetPerReplica: "
         "1}\n";
}

std::string Write(const std::string& dir, const std::string& name,
                  const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

RunResult Check(std::vector<std::string> args) {
  args.insert(args.begin(), {SignalscalerBinary(), "check"});
  return RunCommand(args);
}

TEST(CheckCommandTest, ExamplePoliciesAreValid) {
  const RunResult r = Check({SourceDir() + "/deploy/examples/policies"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "9 policies OK in 9 files\n");
}

TEST(CheckCommandTest, SeveralPathsAndTheSameFileTwice) {
  const std::string examples = SourceDir() + "/deploy/examples";
  // sip.yaml is also in the directory: one file, one policy, no duplicate.
  const RunResult r =
      Check({examples + "/policies", examples + "/policies/sip.yaml",
             examples + "/quickstart/policies.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "12 policies OK in 10 files\n");
}

TEST(CheckCommandTest, EveryErrorOfEveryFileWithFileAndLine) {
  const std::string dir = MakeTempDir();
  Write(dir, "good.yaml", Policy("good", "prod"));
  // An unknown field (a near miss) and, in the same file, a second document
  // whose minReplicas is above maxReplicas: both reported.
  const std::string typo =
      Write(dir, "typo.yaml",
            Policy("typo", "prod", "  minReplica: 2\n") + "---\n" +
                Policy("bounds", "prod", "  minReplicas: 7\n"));
  // Not YAML at all.
  const std::string syntax =
      Write(dir, "syntax.yaml", "apiVersion: [signalscaler.io/v1\nkind: x\n");
  // A Total signal without its target, and a negative one.
  const std::string target = Write(
      dir, "target.yml",
      "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
      "metadata: {name: target, namespace: prod}\nspec:\n  maxReplicas: 5\n"
      "  signals:\n  - {name: a, type: Total, source: {push: {}}}\n"
      "  - {name: b, type: Total, source: {push: {}}, targetPerReplica: -1}\n");

  const RunResult r = Check({dir});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(
      r.output,
      AllOf(HasSubstr(typo + ":6: policy prod/typo: spec.minReplica: unknown "
                             "field `minReplica`"),
            HasSubstr("did you mean `minReplicas`?"),
            HasSubstr(typo + ":14: policy prod/bounds: spec.maxReplicas: must "
                             "be >= minReplicas (7), got 5\n"),
            HasSubstr(syntax +
                      ":2: invalid YAML: end of sequence flow not found"),
            HasSubstr(target + ":7: policy prod/target: "
                               "spec.signals[0].targetPerReplica: required"),
            HasSubstr(target + ":8: policy prod/target: "
                               "spec.signals[1].targetPerReplica: must be > 0"),
            HasSubstr("5 errors (1 policy OK in 4 files)\n")));
  EXPECT_THAT(r.output, Not(HasSubstr("good.yaml")));
}

TEST(CheckCommandTest, ErrorsAreOneALineThenTheSummary) {
  const std::string dir = MakeTempDir();
  Write(dir, "a.yaml", Policy("a", "prod", "  minReplicas: -1\n"));
  const RunResult r = Check({dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, dir +
                          "/a.yaml:6: policy prod/a: spec.minReplicas: must "
                          "be >= 0, got -1\n"
                          "1 error (0 policies OK in 1 file)\n");
}

TEST(CheckCommandTest, QuietPrintsErrorsOnly) {
  const RunResult ok =
      Check({"--quiet", SourceDir() + "/deploy/examples/policies"});
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.output, "");
  const std::string dir = MakeTempDir();
  Write(dir, "a.yaml", Policy("a", "prod", "  minReplicas: -1\n"));
  const RunResult bad = Check({dir, "-q"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.output, dir +
                            "/a.yaml:6: policy prod/a: spec.minReplicas: "
                            "must be >= 0, got -1\n");
}

TEST(CheckCommandTest, DuplicateNamesAcrossPaths) {
  const std::string one = MakeTempDir();
  const std::string two = MakeTempDir();
  const std::string first = Write(one, "web.yaml", Policy("web", "prod"));
  const std::string again = Write(two, "web.yaml", Policy("web", "prod"));
  Write(two, "other.yaml", Policy("web", "staging"));  // another namespace
  const RunResult r = Check({one, two});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr(again +
                        ":1: policy prod/web: metadata.name: duplicate policy "
                        "name `web` in namespace `prod`: also defined at " +
                        first + ":1\n"));
  EXPECT_THAT(r.output, HasSubstr("1 error (2 policies OK in 3 files)"));
}

TEST(CheckCommandTest, MissingPathIsAnError) {
  const RunResult r = Check({"/nonexistent/policies"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("/nonexistent/policies: cannot load"));
}

TEST(CheckCommandTest, UsageErrorsExitTwo) {
  RunResult r = Check({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("no PATH given"));
  r = Check({"--strict", SourceDir() + "/deploy/examples/policies"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown flag --strict"));
  r = Check({"--quiet=maybe", "x.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  r = Check({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--quiet"));
}

// A policy with one Total signal read from `source` (a YAML flow mapping).
std::string SourcePolicy(const std::string& name, const std::string& min,
                         const std::string& source) {
  return "apiVersion: signalscaler.io/v1\n"  // 1
         "kind: ScalingPolicy\n"             // 2
         "metadata: {name: " +
         name +
         ", namespace: prod}\n"  // 3
         "spec:\n"               // 4
         "  minReplicas: " +
         min +
         "\n"                          // 5
         "  maxReplicas: 5\n"          // 6
         "  signals:\n"                // 7
         "  - name: jobs\n"            // 8
         "    type: Total\n"           // 9
         "    targetPerReplica: 10\n"  // 10
         "    source:\n"               // 11
         "      " +
         source + "\n";  // 12
}

// Regression (issue 13 item 9): these passed `check`, then `serve` refused
// them ("cannot create source") and the policy never decided.
TEST(CheckCommandTest, AddressesServeCannotUseAreErrorsNamingTheField) {
  const std::string dir = MakeTempDir();
  const std::string gopher = Write(
      dir, "gopher.yaml",
      SourcePolicy("gopher", "1",
                   "prometheus: {address: 'gopher://p:70', query: 'sum(q)'}"));
  const std::string file = Write(
      dir, "file.yaml",
      SourcePolicy("file", "1",
                   "prometheus: {address: 'file:///etc/passwd', query: q}"));
  const std::string redis =
      Write(dir, "redis.yaml",
            SourcePolicy("redis", "1",
                         "redis: {address: 'redis://r:6379', list: q}"));
  const std::string scrape = Write(
      dir, "scrape.yaml",
      SourcePolicy("scrape", "1",
                   "scrape: {urls: ['ftp://a/metrics'], metric: active}"));
  const RunResult r = Check({dir});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(
      r.output,
      AllOf(HasSubstr(gopher +
                      ":12: policy prod/gopher: "
                      "spec.signals[0].source.prometheus.address: must start "
                      "with http:// or https://, not gopher://"),
            HasSubstr(file +
                      ":12: policy prod/file: "
                      "spec.signals[0].source.prometheus.address: must start "
                      "with http:// or https://, not file://"),
            HasSubstr(redis + ":12: policy prod/redis: "
                              "spec.signals[0].source.redis.address: must be "
                              "host:port (e.g. redis:6379), not a URL"),
            HasSubstr(scrape +
                      ":12: policy prod/scrape: "
                      "spec.signals[0].source.scrape.urls[0]: must start with "
                      "http:// or https://, not ftp://"),
            HasSubstr("4 errors (0 policies OK in 4 files)\n")));
}

// Issue 13 item 2: a warning has its file:line and field like an error, and
// leaves the exit code at 0.
TEST(CheckCommandTest, WarningsAreReportedAndDoNotFail) {
  const std::string dir = MakeTempDir();
  const std::string zero = Write(
      dir, "zero.yaml",
      SourcePolicy("zero", "0",
                   "prometheus: {address: 'http://p:9090', query: 'sum(q)'}"));
  Write(dir, "presence.yaml",
        SourcePolicy("presence", "0",
                     "prometheus: {address: 'http://p:9090', query: 'sum(q)', "
                     "presenceQuery: 'up{job=\"q\"}'}"));
  const std::string warning =
      zero +
      ":12: warning: policy prod/zero: spec.signals[0].source.prometheus: "
      "minReplicas is 0, but signal `jobs` holds when its query returns no "
      "series, so if its exporter drops the series when idle the service "
      "never reaches 0; set presenceQuery (e.g. up{job=\"...\"}: no series "
      "while a target is up reads as 0), or noSeriesIsZero: true (an exporter "
      "outage then reads as zero load)\n";
  RunResult r = Check({dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, warning + "2 policies OK in 2 files, 1 warning\n");
  r = Check({"--quiet", dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, warning);
  // Beside an error, both are listed and counted; the exit code is the
  // error's.
  Write(dir, "bad.yaml", Policy("bad", "prod", "  minReplicas: -1\n"));
  r = Check({dir});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr(warning),
                    HasSubstr("1 error, 1 warning (2 policies OK in 3 "
                              "files)\n")));
}

// Issue 12 item 3 and issue 13 item 3 through `signalscaler check`: a
// negative per-direction tolerance and an unbounded target are errors that
// name the field (a target of 1e-300 used to pass, then a value of 1e300
// gave proposal 0).
TEST(CheckCommandTest, NegativeToleranceAndUnboundedTargetNameTheField) {
  const std::string dir = MakeTempDir();
  const std::string tol = Write(
      dir, "tol.yaml",
      Policy("tol", "prod", "  behavior: {scaleDown: {tolerance: -0.1}}\n"));
  RunResult r = Check({tol});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("policy prod/tol: "
                                  "spec.behavior.scaleDown.tolerance: must be "
                                  "a ratio >= 0 (0.1 is 10 %), got -0.1"));
  const std::string tiny =
      Write(dir, "tiny.yaml",
            "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
            "metadata: {name: tiny, namespace: prod}\nspec:\n"
            "  maxReplicas: 5\n  signals:\n"
            "  - {name: q, type: Total, source: {push: {}}, "
            "targetPerReplica: 1e-300}\n");
  r = Check({tiny});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("spec.signals[0].targetPerReplica: must be between "
                        "1e-09 and 1e+15"));
}

}  // namespace
}  // namespace signalscaler
