// The Metrics facade's per-policy series (scaler/common/metrics.h): what a
// decision records, that recording again updates the same series, and that
// forgetting a policy drops every series it owns and nobody else's.
#include "scaler/common/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signalscaler {
namespace {

// The exposition lines (not comments) that mention `needle`.
std::vector<std::string> Lines(const std::string& text,
                               const std::string& needle) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty() && line[0] != '#' && absl::StrContains(line, needle)) {
      out.emplace_back(line);
    }
  }
  return out;
}

Metrics::SignalSample Sample(const std::string& name, double value,
                             int64_t proposal, bool held) {
  Metrics::SignalSample s;
  s.name = name;
  s.has_value = true;
  s.value = value;
  s.proposal = proposal;
  s.held = held;
  return s;
}

TEST(MetricsTest, ADecisionSetsItsSeriesAndAnotherUpdatesThem) {
  Metrics m;
  m.RecordDecision("team-a", "api", 4, 3, 10,
                   {Sample("queue", 35, 4, false), Sample("cpu", 0.6, 2, true)},
                   {"signal_won"});
  const std::string text = m.Text();
  EXPECT_THAT(
      Lines(text, "signalscaler_decision_replicas{"),
      testing::ElementsAre(
          R"(signalscaler_decision_replicas{namespace="team-a",policy="api"} 4)"));
  EXPECT_THAT(Lines(text, "signalscaler_current_replicas{"),
              testing::ElementsAre(testing::EndsWith("} 3")));
  EXPECT_THAT(Lines(text, "signalscaler_policy_max_replicas{"),
              testing::ElementsAre(testing::EndsWith("} 10")));
  EXPECT_THAT(Lines(text, "signalscaler_signal_value{"),
              testing::UnorderedElementsAre(
                  testing::HasSubstr(R"(signal="queue"} 35)"),
                  testing::HasSubstr(R"(signal="cpu"} 0.6)")));
  EXPECT_THAT(
      Lines(text, "signalscaler_signal_held{"),
      testing::UnorderedElementsAre(testing::HasSubstr(R"(signal="queue"} 0)"),
                                    testing::HasSubstr(R"(signal="cpu"} 1)")));
  EXPECT_THAT(
      Lines(text, "signalscaler_decision_changes_total{"),
      testing::ElementsAre(testing::HasSubstr(R"(reason="signal_won"} 1)")));

  // The same policy again: the same series, new values; a reason counts up.
  m.RecordDecision(
      "team-a", "api", 6, 4, 10,
      {Sample("queue", 55, 6, false), Sample("cpu", 0.7, 2, false)},
      {"signal_won"});
  const std::string again = m.Text();
  EXPECT_THAT(Lines(again, "signalscaler_decision_replicas{"),
              testing::ElementsAre(testing::EndsWith("} 6")));
  EXPECT_THAT(
      Lines(again, "signalscaler_signal_proposal{"),
      testing::UnorderedElementsAre(testing::HasSubstr(R"(signal="queue"} 6)"),
                                    testing::HasSubstr(R"(signal="cpu"} 2)")));
  EXPECT_THAT(Lines(again, "signalscaler_signal_held{"),
              testing::UnorderedElementsAre(testing::EndsWith("} 0"),
                                            testing::EndsWith("} 0")));
  EXPECT_THAT(Lines(again, "signalscaler_decision_changes_total{"),
              testing::ElementsAre(testing::HasSubstr("} 2")));
}

TEST(MetricsTest, ASignalWithoutAValueHasNoValueSeries) {
  Metrics m;
  Metrics::SignalSample missing;
  missing.name = "queue";
  missing.held = true;
  m.RecordDecision("team-a", "api", 1, 1, 5, {missing}, {});
  const std::string text = m.Text();
  EXPECT_THAT(Lines(text, "signalscaler_signal_value{"), testing::IsEmpty());
  EXPECT_THAT(Lines(text, "signalscaler_signal_held{"),
              testing::ElementsAre(testing::EndsWith("} 1")));
}

TEST(MetricsTest, ForgettingAPolicyDropsItsSeriesOnly) {
  Metrics m;
  for (const char* name : {"api", "worker"}) {
    m.RecordDecision("team-a", name, 2, 2, 5, {Sample("queue", 10, 2, false)},
                     {"signal_won"});
  }
  // The same name in another namespace is another policy.
  m.RecordDecision("team-b", "api", 7, 7, 9, {Sample("queue", 70, 7, false)},
                   {});
  m.ForgetPolicy("team-a", "api");
  const std::string text = m.Text();
  EXPECT_THAT(Lines(text, R"(namespace="team-a",policy="api")"),
              testing::IsEmpty());
  // 3 decision series, 3 per signal and the change counter.
  EXPECT_EQ(Lines(text, R"(namespace="team-a",policy="worker")").size(), 7u);
  EXPECT_EQ(Lines(text, R"(namespace="team-b",policy="api")").size(), 6u);

  // Recorded again after it was forgotten: its series come back.
  m.RecordDecision("team-a", "api", 3, 2, 5, {Sample("queue", 30, 3, false)},
                   {});
  EXPECT_THAT(Lines(m.Text(),
                    "signalscaler_decision_replicas{namespace=\"team-a\","
                    "policy=\"api\"}"),
              testing::ElementsAre(testing::EndsWith("} 3")));
}

// The evaluator records through a handle (PolicyRowOf): the same series as
// by name, nothing shown before a decision, and a handle kept across a
// ForgetPolicy brings the series back with its next decision.
TEST(MetricsTest, ARowHandleRecordsTheSameSeriesAndSurvivesAForget) {
  Metrics m;
  const Metrics::PolicyRowRef row = m.PolicyRowOf("team-a", "api");
  EXPECT_THAT(Lines(m.Text(), R"(namespace="team-a",policy="api")"),
              testing::IsEmpty())
      << "a row without a decision has no series";
  m.RecordDecision(row, 4, 3, 10, {Sample("queue", 35, 4, false)}, {},
                   Metrics::ShadowSample{});
  m.RecordDecision("team-a", "api", 5, 4, 10, {Sample("queue", 45, 5, false)},
                   {"signal_won"});
  std::string text = m.Text();
  EXPECT_THAT(Lines(text, "signalscaler_decision_replicas{"),
              testing::ElementsAre(testing::EndsWith("} 5")))
      << "by name and by handle: one series";
  EXPECT_THAT(
      Lines(text, "signalscaler_signal_value{"),
      testing::ElementsAre(testing::HasSubstr(R"(signal="queue"} 45)")));
  m.ForgetPolicy("team-a", "api");
  EXPECT_THAT(Lines(m.Text(), R"(namespace="team-a",policy="api")"),
              testing::IsEmpty());
  m.RecordDecision(row, 6, 5, 10, {Sample("queue", 55, 6, false)}, {},
                   Metrics::ShadowSample{});
  text = m.Text();
  EXPECT_THAT(Lines(text, "signalscaler_decision_replicas{"),
              testing::ElementsAre(testing::EndsWith("} 6")));
  // Forgotten, then made again by name: the old handle records into it.
  m.ForgetPolicy("team-a", "api");
  m.RecordDecision("team-a", "api", 2, 2, 10, {Sample("queue", 15, 2, false)},
                   {});
  m.RecordDecision(row, 7, 2, 10, {Sample("queue", 65, 7, false)}, {},
                   Metrics::ShadowSample{});
  EXPECT_THAT(Lines(m.Text(), "signalscaler_decision_replicas{"),
              testing::ElementsAre(testing::EndsWith("} 7")));
}

TEST(MetricsTest, PerPolicyFamiliesKeepTheirTypesAndHelp) {
  Metrics m;
  m.RecordDecision("team-a", "api", 2, 2, 5, {Sample("queue", 10, 2, false)},
                   {"signal_won"});
  const std::string text = m.Text();
  for (const char* gauge :
       {"signalscaler_decision_replicas", "signalscaler_current_replicas",
        "signalscaler_policy_max_replicas", "signalscaler_signal_value",
        "signalscaler_signal_proposal", "signalscaler_signal_held",
        "signalscaler_policy_shadow"}) {
    EXPECT_THAT(text,
                testing::HasSubstr(absl::StrCat("# TYPE ", gauge, " gauge\n")));
    EXPECT_THAT(text, testing::HasSubstr(absl::StrCat("# HELP ", gauge, " ")));
  }
  for (const char* counter :
       {"signalscaler_decision_changes_total",
        "signalscaler_shadow_fleet_short_replica_seconds_total",
        "signalscaler_shadow_fleet_excess_replica_seconds_total"}) {
    EXPECT_THAT(text, testing::HasSubstr(
                          absl::StrCat("# TYPE ", counter, " counter\n")));
  }
  // The registry's own families are still there.
  EXPECT_THAT(text, testing::HasSubstr("# TYPE signalscaler_policies_loaded"));
}

TEST(MetricsTest, ShadowSeriesCountReplicaSecondsAndGoWithThePolicy) {
  Metrics m;
  m.RecordDecision("team-a", "api", 6, 4, 10, {Sample("queue", 60, 6, false)},
                   {}, {true, 2.5, 0});
  m.RecordDecision("team-a", "api", 6, 4, 10, {Sample("queue", 60, 6, false)},
                   {}, {true, 1.5, 0.25});
  m.RecordDecision("team-a", "web", 3, 3, 10, {Sample("queue", 30, 3, false)},
                   {}, {false, 0, 0});
  const std::string text = m.Text();
  EXPECT_THAT(
      Lines(text, "signalscaler_policy_shadow{"),
      testing::UnorderedElementsAre(
          R"(signalscaler_policy_shadow{namespace="team-a",policy="api"} 1)",
          R"(signalscaler_policy_shadow{namespace="team-a",policy="web"} 0)"));
  EXPECT_THAT(Lines(text, "signalscaler_shadow_fleet_short_replica_seconds"),
              testing::ElementsAre(
                  testing::EndsWith(R"({namespace="team-a",policy="api"} 4)")));
  EXPECT_THAT(Lines(text, "signalscaler_shadow_fleet_excess_replica_seconds"),
              testing::ElementsAre(testing::EndsWith("} 0.25")));

  // Switched to active: the gauge says so, the counters stay as they were.
  m.RecordDecision("team-a", "api", 6, 4, 10, {Sample("queue", 60, 6, false)},
                   {}, {false, 7, 7});
  const std::string active = m.Text();
  EXPECT_THAT(
      Lines(active,
            R"(signalscaler_policy_shadow{namespace="team-a",policy="api"})"),
      testing::ElementsAre(testing::EndsWith("} 0")));
  EXPECT_THAT(Lines(active, "signalscaler_shadow_fleet_short_replica_seconds"),
              testing::ElementsAre(testing::EndsWith("} 4")));

  m.ForgetPolicy("team-a", "api");
  EXPECT_THAT(Lines(m.Text(), R"(policy="api")"), testing::IsEmpty());
}

TEST(MetricsTest, ManyPoliciesEachHaveTheirOwnSeries) {
  Metrics m;
  for (int i = 0; i < 500; ++i) {
    m.RecordDecision(absl::StrCat("ns-", i % 7), absl::StrCat("p", i), i, i,
                     1000, {Sample("queue", i, i, false)}, {});
  }
  const std::string text = m.Text();
  const std::vector<std::string> lines =
      Lines(text, "signalscaler_decision_replicas{");
  ASSERT_EQ(lines.size(), 500u);
  for (int i : {0, 123, 499}) {
    EXPECT_THAT(lines, testing::Contains(absl::StrCat(
                           "signalscaler_decision_replicas{namespace=\"ns-",
                           i % 7, "\",policy=\"p", i, "\"} ", i)));
  }
}

// RecordRpc caches each method's series (16 slots, codes 0..16). Every call
// still counts once, in its own {method,code} series: from several threads
// at once, past the slots (20 methods), and with a code outside absl's.
TEST(MetricsTest, EveryRpcCountsInItsMethodsAndCodesSeries) {
  Metrics m;
  constexpr int kMethods = 20;
  constexpr int kThreads = 4;
  constexpr int kCalls = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kCalls; ++i) {
        for (int method = 0; method < kMethods; ++method) {
          m.RecordRpc(absl::StrCat("Method", method), method % 3 == 0 ? 0 : 5,
                      absl::Microseconds(300));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  m.RecordRpc("Method1", 42, absl::Seconds(2));
  const std::string text = m.Text();
  for (int method = 0; method < kMethods; ++method) {
    const std::string label = absl::StrCat("method=\"Method", method, "\"");
    const std::string code = method % 3 == 0 ? "OK" : "NOT_FOUND";
    EXPECT_THAT(Lines(text, "signalscaler_grpc_calls_total{"),
                testing::Contains(
                    absl::StrCat("signalscaler_grpc_calls_total{code=\"", code,
                                 "\",", label, "} ", kThreads * kCalls)))
        << label;
    EXPECT_THAT(Lines(text, "signalscaler_grpc_call_duration_seconds_count{"),
                testing::Contains(absl::StrCat(
                    "signalscaler_grpc_call_duration_seconds_count{", label,
                    "} ", kThreads * kCalls + (method == 1 ? 1 : 0))))
        << label;
    // 300 us: above the 250 us bucket, within the 500 us one.
    EXPECT_THAT(Lines(text, "signalscaler_grpc_call_duration_seconds_bucket{"),
                testing::Contains(absl::StrCat(
                    "signalscaler_grpc_call_duration_seconds_bucket{", label,
                    ",le=\"0.0005\"} ", kThreads * kCalls)))
        << label;
  }
  // absl names no code 42: its series has an empty code label.
  EXPECT_THAT(Lines(text, "signalscaler_grpc_calls_total{"),
              testing::Contains("signalscaler_grpc_calls_total{code=\"\","
                                "method=\"Method1\"} 1"));
}

}  // namespace
}  // namespace signalscaler
