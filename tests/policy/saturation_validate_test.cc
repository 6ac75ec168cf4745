// saturatesAt and saturationFactor (issue 15 item 3): which signal types take
// them, and their ranges, through ParsePolicies so that messages carry their
// lines.
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A policy with one signal `s` of the given fields.
std::string Doc(const std::string& fields) {
  return "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
         "metadata: {name: web, namespace: prod}\nspec:\n"
         "  maxReplicas: 10\n  signals:\n"
         "  - {name: s, source: {push: {}}, " +
         fields + "}\n";
}

std::vector<std::string> Errors(const std::string& yaml) {
  std::vector<std::string> out;
  for (const PolicyError& e : ParsePolicies(yaml, "p.yaml").errors) {
    out.push_back(e.ToString());
  }
  return out;
}

constexpr char kAverage[] =
    "type: Average, scaleUpAbove: 0.8, scaleDownBelow: 0.6, ";
constexpr char kHeadroom[] =
    "type: Headroom, scaleUpBelow: 1, scaleDownAbove: 3, ";

TEST(SaturationValidateTest, AverageTakesSaturatesAtAndAFactor) {
  const LoadResult set = ParsePolicies(
      Doc(std::string(kAverage) + "saturatesAt: 1.0, saturationFactor: 2"),
      "p.yaml");
  ASSERT_THAT(set.errors, IsEmpty());
  ASSERT_EQ(set.policies.size(), 1u);
  const v1::Signal& s = set.policies[0].policy.spec().signals(0);
  EXPECT_EQ(s.saturates_at(), 1.0);
  EXPECT_EQ(s.saturation_factor(), 2);
  // saturatesAt equal to scaleUpAbove is accepted: every scale-up
  // multiplies.
  EXPECT_THAT(Errors(Doc(std::string(kAverage) + "saturatesAt: 0.8")),
              IsEmpty());
}

TEST(SaturationValidateTest, SaturatesAtAtOrAboveScaleUpAbove) {
  EXPECT_THAT(
      Errors(Doc(std::string(kAverage) + "saturatesAt: 0.7")),
      ElementsAre("p.yaml:7: policy prod/web: spec.signals[0].saturatesAt: "
                  "must be >= scaleUpAbove (0.8): the value the signal "
                  "cannot rise past, at which more replicas are needed, got "
                  "0.7"));
  EXPECT_THAT(Errors(Doc(std::string(kAverage) + "saturatesAt: 1e16")),
              ElementsAre(HasSubstr("spec.signals[0].saturatesAt: must be "
                                    "finite, within +/-1e+15, got 1e+16")));
}

TEST(SaturationValidateTest, FactorRange) {
  EXPECT_THAT(Errors(Doc(std::string(kHeadroom) + "saturationFactor: 1")),
              IsEmpty());
  EXPECT_THAT(Errors(Doc(std::string(kHeadroom) + "saturationFactor: 10")),
              IsEmpty());
  for (const char* bad : {"0.5", "0", "-2", "10.5", "1e300"}) {
    EXPECT_THAT(
        Errors(Doc(std::string(kHeadroom) + "saturationFactor: " + bad)),
        ElementsAre(HasSubstr("spec.signals[0].saturationFactor: must be "
                              "within [1, 10] (the multiple of its ready "
                              "replicas a saturated signal proposes; 1 turns "
                              "saturation off), got ")))
        << bad;
  }
}

TEST(SaturationValidateTest, AnAverageFactorNeedsSaturatesAt) {
  EXPECT_THAT(Errors(Doc(std::string(kAverage) + "saturationFactor: 2")),
              ElementsAre(HasSubstr(
                  "spec.signals[0].saturationFactor: needs saturatesAt: an "
                  "Average signal is saturated only at the ceiling it "
                  "states")));
}

TEST(SaturationValidateTest, WhichTypesTakeThem) {
  // A Headroom signal saturates at 0 spare: no saturatesAt.
  EXPECT_THAT(Errors(Doc(std::string(kHeadroom) + "saturatesAt: 0")),
              ElementsAre(HasSubstr(
                  "spec.signals[0].saturatesAt: does not apply to a Headroom "
                  "signal (it is a field of Average signals)")));
  // A Total signal shows any deficit: neither.
  EXPECT_THAT(
      Errors(Doc("type: Total, targetPerReplica: 10, saturatesAt: 5, "
                 "saturationFactor: 2")),
      ElementsAre(HasSubstr("spec.signals[0].saturatesAt: does not apply to "
                            "a Total signal (it is a field of Average "
                            "signals)"),
                  HasSubstr("spec.signals[0].saturationFactor: does not "
                            "apply to a Total signal (it is a field of "
                            "Average and Headroom signals)")));
}

// YAML's .inf and .nan stop at the parser ("expected a number"); a policy
// built in code reaches the checks.
TEST(SaturationValidateTest, NonFiniteValuesBuiltInCode) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double bad : {inf, -inf, nan}) {
    LoadedPolicy loaded;
    loaded.policy.Mutable()->set_api_version("signalscaler.io/v1");
    loaded.policy.Mutable()->set_kind("ScalingPolicy");
    loaded.policy.Mutable()->mutable_metadata()->set_name("web");
    loaded.policy.Mutable()->mutable_spec()->set_max_replicas(3);
    v1::Signal* s = loaded.policy.Mutable()->mutable_spec()->add_signals();
    s->set_name("cpu");
    s->set_type(v1::Signal::Average);
    s->mutable_source()->mutable_push();
    s->set_scale_up_above(0.8);
    s->set_scale_down_below(0.6);
    s->set_saturates_at(bad);
    s->set_saturation_factor(bad);
    std::vector<PolicyError> errors;
    ValidatePolicy(loaded, errors);
    ASSERT_EQ(errors.size(), 2u) << bad;
    EXPECT_EQ(errors[0].field, "spec.signals[0].saturatesAt");
    EXPECT_THAT(errors[0].message, HasSubstr("must be finite"));
    EXPECT_EQ(errors[1].field, "spec.signals[0].saturationFactor");
    EXPECT_THAT(errors[1].message, HasSubstr("must be within [1, 10]"));
  }
}

}  // namespace
}  // namespace signalscaler
