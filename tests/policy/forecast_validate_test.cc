// spec.podStartupSeconds and a signal's forecast (issue 15 item 2): the
// YAML keys, their defaults (scaler/policy/defaults.h) and their ranges,
// through ParsePolicies so that messages carry their fields.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/defaults.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// One Total signal with `signal` fields, and `spec` lines in the spec.
std::string Doc(const std::string& signal, const std::string& spec = "") {
  return "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
         "metadata: {name: web, namespace: prod}\nspec:\n"
         "  maxReplicas: 10\n  evaluationIntervalSeconds: 5\n" +
         spec +
         "  signals:\n"
         "  - {name: s, type: Total, targetPerReplica: 10, "
         "source: {push: {}}" +
         signal + "}\n";
}

std::vector<std::string> Errors(const std::string& yaml) {
  std::vector<std::string> out;
  for (const PolicyError& e : ParsePolicies(yaml, "p.yaml").errors) {
    out.push_back(e.field + ": " + e.message);
  }
  return out;
}

TEST(ForecastValidateTest, LeadDefaultsToPodStartupAndHistoryToTwoLeads) {
  const LoadResult r = ParsePolicies(
      Doc(", forecast: {}", "  podStartupSeconds: 45\n"), "p.yaml");
  ASSERT_THAT(r.errors, IsEmpty());
  const v1::PolicySpec& spec = r.policies[0].policy.spec();
  EXPECT_TRUE(spec.signals(0).has_forecast());
  EXPECT_EQ(ForecastLead(spec, spec.signals(0)), absl::Seconds(45));
  // max(2 x 45 s, 12 x 5 s).
  EXPECT_EQ(ForecastHistory(spec, spec.signals(0)), absl::Seconds(90));
}

TEST(ForecastValidateTest, OwnLeadAndHistory) {
  const LoadResult r =
      ParsePolicies(Doc(", forecast: {leadSeconds: 10, historySeconds: 40}",
                        "  podStartupSeconds: 45\n"),
                    "p.yaml");
  ASSERT_THAT(r.errors, IsEmpty());
  const v1::PolicySpec& spec = r.policies[0].policy.spec();
  EXPECT_EQ(ForecastLead(spec, spec.signals(0)), absl::Seconds(10));
  EXPECT_EQ(ForecastHistory(spec, spec.signals(0)), absl::Seconds(40));
  // Without a history of its own: max(2 x 10 s, 12 x 5 s) = 60 s.
  const LoadResult short_lead =
      ParsePolicies(Doc(", forecast: {leadSeconds: 10}"), "p.yaml");
  ASSERT_THAT(short_lead.errors, IsEmpty());
  const v1::PolicySpec& s2 = short_lead.policies[0].policy.spec();
  EXPECT_EQ(ForecastHistory(s2, s2.signals(0)), absl::Seconds(60));
}

TEST(ForecastValidateTest, ALeadIsRequired) {
  EXPECT_THAT(Errors(Doc(", forecast: {}")),
              ElementsAre("spec.signals[0].forecast.leadSeconds: required "
                          "without spec.podStartupSeconds: how far ahead to "
                          "forecast (a new pod's start-up time)"));
}

TEST(ForecastValidateTest, Ranges) {
  EXPECT_THAT(Errors(Doc(", forecast: {leadSeconds: 0}")),
              ElementsAre(HasSubstr("spec.signals[0].forecast.leadSeconds: "
                                    "must be within (0, 3600] seconds")));
  EXPECT_THAT(Errors(Doc(", forecast: {leadSeconds: 7200}")),
              ElementsAre(HasSubstr("forecast.leadSeconds: must be within")));
  // At least 4 evaluation intervals (20 s).
  EXPECT_THAT(Errors(Doc(", forecast: {leadSeconds: 10, historySeconds: 15}")),
              ElementsAre(HasSubstr("spec.signals[0].forecast.historySeconds: "
                                    "must be within [20, 86400] seconds")));
  EXPECT_THAT(Errors(Doc("", "  podStartupSeconds: -1\n")),
              ElementsAre(HasSubstr("spec.podStartupSeconds: must be within "
                                    "(0, 3600] seconds, got -1")));
  EXPECT_THAT(Errors(Doc(", forecast: {leadSeconds: 10, lead: 3}")),
              ElementsAre(HasSubstr("lead")));
}

}  // namespace
}  // namespace signalscaler
