// Issue 4's table of malformed policies: each one, run through
// ParsePolicies, gives exactly one error, at the expected field path and
// line, whose message contains the expected fragment (what an operator
// editing a ConfigMap during an incident reads).
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;

struct Malformed {
  const char* name;     // the test's name
  std::string spec;     // `spec:`'s body (indented by 2), or a whole text
  const char* field;    // the expected field path
  const char* message;  // a fragment of the expected message
  int line;             // the expected line (see Text())
  bool whole_text = false;
};

// Line 1-3: header and metadata, 4: `spec:`, 5: maxReplicas, then `extra`,
// then the signals.
constexpr char kHeader[] =
    "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
    "metadata: {name: web, namespace: prod}\nspec:\n";
constexpr char kJobs[] =
    "  - {name: jobs, type: Total, source: {push: {}}, targetPerReplica: 10}\n";

// maxReplicas on line 5, then `extra`, then the list of signals.
std::string Spec(const std::string& signals, const std::string& extra = "") {
  return "  maxReplicas: 10\n" + extra + "  signals:\n" + signals;
}
// One signal named `s` with `fields`, on line 7 (or later after `extra`).
std::string One(const std::string& fields, const std::string& extra = "") {
  return Spec("  - {name: s, " + fields + "}\n", extra);
}
std::string Average(const std::string& band) {
  return One("type: Average, source: {push: {}}, " + band);
}
std::string Headroom(const std::string& band) {
  return One("type: Headroom, source: {push: {}}, " + band);
}
std::string Source(const std::string& source) {
  return One("type: Total, targetPerReplica: 1, source: " + source);
}
std::string Behavior(const std::string& rules) {
  return Spec(kJobs, "  behavior:\n" + rules);
}

const std::vector<Malformed>& Table() {
  static const auto* table = new std::vector<Malformed>{
      // Unknown fields, with a "did you mean" for near misses.
      {"UnknownSpecFieldNearMiss", Spec(kJobs, "  minReplica: 2\n"),
       "spec.minReplica",
       "unknown field `minReplica`; did you mean `minReplicas`?", 6},
      {"UnknownSignalFieldNearMiss",
       One("type: Total, source: {push: {}}, targetPerReplca: 10"),
       "spec.signals[0].targetPerReplca",
       "unknown field `targetPerReplca`; did you mean `targetPerReplica`?", 7},
      {"UnknownSourceFieldNearMiss",
       Source("{prometheus: {address: 'http://p:9090', querry: up}}"),
       "spec.signals[0].source.prometheus.querry",
       "unknown field `querry`; did you mean `query`?", 7},
      {"UnknownFieldFarFromAny", Spec(kJobs, "  colour: red\n"), "spec.colour",
       "unknown field `colour`", 6},
      {"UnknownSignalType",
       One("type: Totl, source: {push: {}}, targetPerReplica: 1"),
       "spec.signals[0].type", "did you mean `Total`?", 7},
      // Wrong types.
      {"MaxReplicasNotAnInteger",
       "  maxReplicas: ten\n  signals:\n" + std::string(kJobs),
       "spec.maxReplicas", "expected an integer", 5},
      {"ThresholdNotANumber",
       Average("scaleUpAbove: high, scaleDownBelow: 0.2"),
       "spec.signals[0].scaleUpAbove", "expected a number", 7},
      {"SignalsNotAList", "  maxReplicas: 10\n  signals: {jobs: 1}\n",
       "spec.signals", "expected a list", 6},
      {"BooleanNotABoolean",
       Source("{redis: {address: 'r:6379', list: q, notify: maybe}}"),
       "spec.signals[0].source.redis.notify", "expected true", 7},
      // Negative or zero targets.
      {"NegativeTargetPerReplica",
       One("type: Total, source: {push: {}}, targetPerReplica: -5"),
       "spec.signals[0].targetPerReplica", "must be > 0", 7},
      {"ZeroTargetPerReplica",
       One("type: Total, source: {push: {}}, targetPerReplica: 0"),
       "spec.signals[0].targetPerReplica", "must be > 0", 7},
      {"ZeroCapacityPerReplica",
       Headroom("scaleUpBelow: 1, scaleDownAbove: 3, capacityPerReplica: 0"),
       "spec.signals[0].capacityPerReplica", "must be > 0", 7},
      {"ZeroLimitBudget",
       Spec(kJobs, "  limits: [{name: db, budget: 0, perReplica: 10}]\n"),
       "spec.limits[0].budget", "must be > 0", 6},
      // Replica bounds.
      {"MinReplicasAboveMaxReplicas", Spec(kJobs, "  minReplicas: 11\n"),
       "spec.maxReplicas", "must be >= minReplicas (11), got 10", 5},
      {"NegativeMinReplicas", Spec(kJobs, "  minReplicas: -1\n"),
       "spec.minReplicas", "must be >= 0, got -1", 6},
      {"ScaleToZeroWithoutATotalSignal",
       "  maxReplicas: 10\n  minReplicas: 0\n  signals:\n"
       "  - {name: cpu, type: Average, source: {push: {}}, scaleUpAbove: 0.8, "
       "scaleDownBelow: 0.2}\n",
       "spec.minReplicas", "needs a Total signal to wake the service", 6},
      // A target outside its band.
      {"AverageTargetOutsideTheBand",
       Average("scaleUpAbove: 0.8, scaleDownBelow: 0.2, target: 0.9"),
       "spec.signals[0].target",
       "must lie strictly inside the band (scaleDownBelow 0.2, scaleUpAbove "
       "0.8), got 0.9",
       7},
      {"HeadroomTargetOutsideTheBand",
       Headroom("scaleUpBelow: 1, scaleDownAbove: 3, target: 1"),
       "spec.signals[0].target",
       "inside the band (scaleUpBelow 1, "
       "scaleDownAbove 3), got 1",
       7},
      // Band thresholds in the wrong order, for each signal type.
      {"AverageBandInverted", Average("scaleUpAbove: 0.2, scaleDownBelow: 0.8"),
       "spec.signals[0].scaleDownBelow", "must be below scaleUpAbove (0.2)", 7},
      {"HeadroomBandInverted", Headroom("scaleUpBelow: 3, scaleDownAbove: 1"),
       "spec.signals[0].scaleUpBelow",
       "must be below scaleDownAbove (1), got 3", 7},
      {"TotalToleranceOutOfRange",
       One("type: Total, source: {push: {}}, targetPerReplica: 1, "
           "tolerance: -1.5"),
       "spec.signals[0].tolerance",
       "must be a ratio >= 0 (0.1 is 10 %), got -1.5", 7},
      {"AverageMissingHalfItsBand", Average("scaleUpAbove: 0.8"),
       "spec.signals[0].scaleDownBelow", "required for an Average signal", 7},
      {"TotalWithAnAverageThreshold",
       One("type: Total, source: {push: {}}, targetPerReplica: 1, "
           "scaleUpAbove: 3"),
       "spec.signals[0].scaleUpAbove", "does not apply to a Total signal", 7},
      // Duplicates.
      {"DuplicateSignalNames", Spec(std::string(kJobs) + kJobs),
       "spec.signals[1].name",
       "duplicate signal name `jobs` (also spec.signals[0])", 8},
      {"DuplicateLimitNames",
       Spec(kJobs,
            "  limits:\n  - {name: db, budget: 100, perReplica: 10}\n"
            "  - {name: db, budget: 50, perReplica: 10}\n"),
       "spec.limits[1].name", "duplicate", 8},
      {"DuplicatePolicyNameInANamespace",
       std::string(kHeader) + Spec(kJobs) + "---\n" + kHeader + Spec(kJobs),
       "metadata.name",
       "duplicate policy name `web` in namespace `prod`: also defined at "
       "p.yaml:1",
       9, /*whole_text=*/true},
      // Durations out of range.
      {"EvaluationIntervalZero",
       Spec(kJobs, "  evaluationIntervalSeconds: 0\n"),
       "spec.evaluationIntervalSeconds",
       "must be between 1 and 3600 seconds, got 0", 6},
      {"StabilizationWindowTooLong",
       Behavior("    scaleDown: {stabilizationWindowSeconds: 3601}\n"),
       "spec.behavior.scaleDown.stabilizationWindowSeconds",
       "between 0 and 3600 seconds, got 3601", 7},
      {"NegativeScaleUpTolerance", Behavior("    scaleUp: {tolerance: -0.1}\n"),
       "spec.behavior.scaleUp.tolerance",
       "must be a ratio >= 0 (0.1 is 10 %), got -0.1", 7},
      {"RatePolicyPeriodTooLong",
       Behavior("    scaleUp:\n      policies: [{type: Pods, value: 2, "
                "periodSeconds: 1801}]\n"),
       "spec.behavior.scaleUp.policies[0].periodSeconds",
       "between 1 and 1800 seconds, got 1801", 8},
      {"RatePolicyValueZero",
       Behavior("    scaleUp:\n      policies: [{type: Pods, value: 0, "
                "periodSeconds: 60}]\n"),
       "spec.behavior.scaleUp.policies[0].value", "must be > 0", 8},
      {"SourceIntervalZero", Source("{intervalSeconds: 0, push: {}}"),
       "spec.signals[0].source.intervalSeconds",
       "must be between 1 and 3600 seconds, got 0", 7},
      {"PrometheusTimeoutZero",
       Source("{prometheus: {address: 'http://p:9090', query: up, "
              "timeoutSeconds: 0}}"),
       "spec.signals[0].source.prometheus.timeoutSeconds", "must be > 0", 7},
      // Sources missing their required fields.
      {"SignalWithoutSource", One("type: Total, targetPerReplica: 1"),
       "spec.signals[0].source", "required: where the signal's value is read",
       7},
      {"PrometheusWithoutQuery",
       Source("{prometheus: {address: 'http://p:9090'}}"),
       "spec.signals[0].source.prometheus.query", "required: a PromQL query",
       7},
      {"RedisWithoutAddress", Source("{redis: {list: jobs}}"),
       "spec.signals[0].source.redis.address", "required: host:port", 7},
      {"RedisWithoutAKey", Source("{redis: {address: 'r:6379'}}"),
       "spec.signals[0].source.redis",
       "needs exactly one of list, sortedSet, stream; none is set", 7},
      {"ScrapeWithoutMetric", Source("{scrape: {service: pods, port: 9000}}"),
       "spec.signals[0].source.scrape.metric", "required", 7},
      {"ScrapePortOutOfRange",
       Source("{scrape: {metric: m, service: s, port: 70000}}"),
       "spec.signals[0].source.scrape.port",
       "must be between 1 and 65535, got 70000", 7},
      {"ReplicasSourceWithoutQuery",
       Spec(kJobs, "  replicas: {prometheus: {address: 'http://p:9090'}}\n"),
       "spec.replicas.prometheus.query", "required: a PromQL query", 6},
  };
  return *table;
}

// For gtest's messages: the case's name rather than its bytes.
void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

class MalformedPolicyTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedPolicyTest, GivesExactlyTheExpectedError) {
  const Malformed& m = GetParam();
  const std::string text = m.whole_text ? m.spec : kHeader + m.spec;
  const LoadResult r = ParsePolicies(text, "p.yaml");
  std::string all;
  for (const PolicyError& e : r.errors) all += "\n  " + e.ToString();
  ASSERT_EQ(r.errors.size(), 1u) << "errors:" << all << "\nfor:\n" << text;
  const PolicyError& e = r.errors[0];
  EXPECT_EQ(e.field, m.field) << e.ToString();
  EXPECT_THAT(e.message, HasSubstr(m.message)) << e.ToString();
  EXPECT_EQ(e.file, "p.yaml");
  EXPECT_EQ(e.line, m.line) << e.ToString() << "\nfor:\n" << text;
  EXPECT_EQ(e.policy, "prod/web") << e.ToString();
  EXPECT_TRUE(r.policies.empty()) << "a file with an error loads nothing";
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedPolicyTest,
                         ::testing::ValuesIn(Table()),
                         [](const ::testing::TestParamInfo<Malformed>& info) {
                           return std::string(info.param.name);
                         });

TEST(MalformedPolicyTableTest, CoversAtLeast25Cases) {
  EXPECT_GE(Table().size(), 25u);
}

}  // namespace
}  // namespace signalscaler
