// The trace suite (deploy/examples/traces/SUITE, issue 15 item 4): every
// trace runs through the binary beside hpa-cpu, keda-default and the oracle,
// and our policy meets every goal its SUITE line lists (the goals and their
// bounds are documented in SUITE's header): under-provisioned for no more
// than both baselines, within 1.5x of the oracle on a step and 0.5x on a
// ramp (with a forecast), at most 1.1x keda-default's cost (1.3x the
// oracle's where keda-default is cheaper by leaving the service short), at
// most 1 reversal on the flapping trace. A line may hold a goal to another
// bound only with a note, and only while the standard bound is missed. Also:
// a trace of a million rows completes (its speed is bench/sim-suite's).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/sim_test_util.h"

namespace signalscaler {
namespace {

using sim_testing::Read;
using sim_testing::RunNamed;
using sim_testing::Simulate;
using testing::MakeTempDir;
using testing::RunResult;
using testing::SourceDir;

std::string Traces() { return SourceDir() + "/deploy/examples/traces/"; }

struct Goal {
  std::string name;
  std::optional<double> bound;  // an exception: GOAL<=BOUND
};

struct Entry {
  int line = 0;
  std::string trace;
  std::string policy;
  std::string kind;
  std::vector<Goal> goals;
  std::string note;
  std::string error;  // what is wrong with the line, if anything
};

std::vector<Entry> Suite() {
  std::ifstream in(Traces() + "SUITE");
  std::vector<Entry> out;
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.empty() || text[0] == '#') continue;
    Entry e;
    e.line = n;
    const size_t hash = text.find('#');
    if (hash != std::string::npos) {
      e.note = std::string(absl::StripAsciiWhitespace(text.substr(hash + 1)));
      text.resize(hash);
    }
    const std::vector<std::string> words =
        absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() != 4) {
      e.error = absl::StrCat(words.size(), " columns, not 4");
      out.push_back(e);
      continue;
    }
    e.trace = words[0];
    e.policy = words[1];
    e.kind = words[2];
    const std::vector<std::string> goals = absl::StrSplit(words[3], ',');
    for (const std::string& g : goals) {
      Goal goal;
      const size_t le = g.find("<=");
      goal.name = g.substr(0, le);
      if (le != std::string::npos) {
        double bound = 0;
        if (!absl::SimpleAtod(g.substr(le + 2), &bound) || !(bound >= 0)) {
          e.error = "bad bound in " + g;
        }
        goal.bound = bound;
      }
      e.goals.push_back(goal);
    }
    out.push_back(e);
  }
  return out;
}

// The goals each kind must list (SUITE's header).
const std::map<std::string, std::set<std::string>>& GoalsOfKind() {
  static const auto* kGoals = new std::map<std::string, std::set<std::string>>{
      {"step", {"under-baselines", "under-oracle", "cost"}},
      {"ramp", {"under-baselines", "under-oracle", "cost"}},
      {"flap", {"under-baselines", "cost", "reversals"}},
  };
  return *kGoals;
}

bool HasForecast(const std::string& policy_text) {
  std::istringstream in(policy_text);
  std::string line;
  while (std::getline(in, line)) {
    const absl::string_view s = absl::StripLeadingAsciiWhitespace(line);
    if (s.size() < line.size() && absl::StartsWith(s, "forecast:")) {
      return true;
    }
  }
  return false;
}

TEST(SimulateSuiteTest, EveryLineListsItsKindsGoalsAndEveryTraceIsListed) {
  const std::vector<Entry> suite = Suite();
  std::set<std::string> listed;
  for (const Entry& e : suite) {
    SCOPED_TRACE(absl::StrCat("SUITE line ", e.line, " ", e.trace));
    EXPECT_EQ(e.error, "");
    listed.insert(e.trace);
    EXPECT_TRUE(std::filesystem::exists(Traces() + e.trace));
    EXPECT_TRUE(std::filesystem::exists(Traces() + e.policy)) << e.policy;
    const auto kind = GoalsOfKind().find(e.kind);
    ASSERT_NE(kind, GoalsOfKind().end()) << "kind " << e.kind;
    std::multiset<std::string> names;
    bool exception = false;
    for (const Goal& g : e.goals) {
      names.insert(g.name);
      exception = exception || g.bound.has_value();
    }
    EXPECT_EQ(names, std::multiset<std::string>(kind->second.begin(),
                                                kind->second.end()));
    if (exception) {
      EXPECT_THAT(e.note, ::testing::SizeIs(::testing::Gt(20)))
          << "an exception needs a note naming the constraint";
    }
  }
  // Every trace of the folder is on a line; the traces among them,
  // and each kind.
  for (const auto& f : std::filesystem::directory_iterator(Traces())) {
    if (f.path().extension() == ".csv") {
      EXPECT_TRUE(listed.count(f.path().filename().string()))
          << f.path() << " is not in SUITE";
    }
  }
  for (const char* trace : {"linear-ramp.csv", "morning-ramp.csv",
                            "egress-recording-ramp.csv", "flapping.csv"}) {
    EXPECT_TRUE(listed.count(trace)) << trace;
  }
  std::set<std::string> kinds;
  for (const Entry& e : suite) kinds.insert(e.kind);
  EXPECT_EQ(kinds, (std::set<std::string>{"step", "ramp", "flap"}));
}

struct Figures {
  double under = 0;
  double cost = 0;
  double reversals = 0;
};

Figures Of(const nlohmann::json& run) {
  return {run.at("under_provisioned_replica_seconds").get<double>(),
          run.at("total_replica_seconds").get<double>(),
          run.at("direction_reversals").get<double>()};
}

TEST(SimulateSuiteTest, EveryPolicyMeetsTheGoalsOfItsLine) {
  const std::vector<Entry> suite = Suite();
  ASSERT_GE(suite.size(), 10u);
  const std::string dir = MakeTempDir();
  for (const Entry& e : suite) {
    SCOPED_TRACE(absl::StrCat("SUITE line ", e.line, ": ", e.trace, " with ",
                              e.policy, " (", e.kind, ")"));
    const std::string json = dir + "/" + e.trace + ".json";
    const RunResult r =
        Simulate({"--policy", Traces() + e.policy, "--trace",
                  Traces() + e.trace, "--summary-json", json, "--compare",
                  "hpa-cpu", "keda-default", "oracle"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json s = nlohmann::json::parse(Read(json));
    ASSERT_EQ(s.at("runs").size(), 4u) << s;
    const Figures ours = Of(RunNamed(s, "signalscaler"));
    const Figures hpa = Of(RunNamed(s, "hpa-cpu"));
    const Figures keda = Of(RunNamed(s, "keda-default"));
    const Figures oracle = Of(RunNamed(s, "oracle"));
    const bool forecast = HasForecast(Read(Traces() + e.policy));
    for (const Goal& g : e.goals) {
      SCOPED_TRACE(g.name);
      // The figure, the standard bound and the bound held to.
      double figure = 0;
      double standard = 0;
      double reference = 1;  // what a factor multiplies
      if (g.name == "under-baselines") {
        figure = ours.under;
        reference = std::min(hpa.under, keda.under);
        standard = reference;
      } else if (g.name == "under-oracle") {
        figure = ours.under;
        reference = oracle.under;
        standard = (e.kind == "ramp" ? 0.5 : 1.5) * reference;
        if (e.kind == "ramp" && !g.bound) {
          EXPECT_TRUE(forecast) << "0.5x the oracle on a ramp needs a forecast";
        }
      } else if (g.name == "cost") {
        figure = ours.cost;
        // keda-default cheaper only because it leaves the service short.
        const bool keda_short = keda.under > ours.under;
        reference = oracle.cost;
        standard = keda_short ? std::max(1.1 * keda.cost, 1.3 * oracle.cost)
                              : 1.1 * keda.cost;
      } else if (g.name == "reversals") {
        figure = ours.reversals;
        standard = 1;
      } else {
        ADD_FAILURE() << "unknown goal";
        continue;
      }
      if (!g.bound) {
        EXPECT_LE(figure, standard) << s;
        continue;
      }
      // An exception: held to its own bound, and only while the standard
      // one is missed (else the line must go back to it).
      const double bound = *g.bound * reference;
      EXPECT_LE(figure, bound)
          << "the stated exception, " << *g.bound << ": " << s;
      EXPECT_GT(figure, standard)
          << "the goal is met: drop the exception from the line. " << s;
    }
  }
}

TEST(SimulateSuiteTest, AMillionRowsComplete) {
  const std::string dir = MakeTempDir();
  {
    std::ofstream out(dir + "/big.csv");
    out << "t,q,cpu\n";
    for (int i = 0; i < 1000000; ++i) {
      out << i << ',' << (int64_t{i} * 7919 % 101) << ",0." << (i % 10) << '\n';
    }
  }
  std::ofstream(dir + "/p.yaml") << sim_testing::kPolicy;
  const RunResult r = testing::RunCommand(
      {testing::SignalscalerBinary(), "simulate", "--policy", dir + "/p.yaml",
       "--trace", dir + "/big.csv", "--tick-seconds", "15", "--compare",
       "keda-default"},
      absl::Seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("1000000 rows"));
}

}  // namespace
}  // namespace signalscaler
