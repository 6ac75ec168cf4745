// ValidatePolicy: one test (at least) per rule, through ParsePolicies so that
// messages carry their lines, plus ValidatePolicy called on its own.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"
#include "scaler/policy/warnings.h"

namespace signalscaler {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kPush[] = "{push: {}}";
constexpr char kJobs[] =
    "  - {name: jobs, type: Total, source: {push: {}}, targetPerReplica: 10}\n";

// A policy document: header and metadata, then `spec` (indented by 2).
std::string Doc(const std::string& spec,
                const std::string& metadata = "{name: web, namespace: prod}",
                const std::string& head =
                    "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n") {
  return head + "metadata: " + metadata + "\nspec:\n" + spec;
}

// A spec with maxReplicas 10 and the given signal list items.
std::string Spec(const std::string& signals, const std::string& extra = "") {
  return "  maxReplicas: 10\n  signals:\n" + signals + extra;
}

std::string Signal(const std::string& fields) {
  return "  - {name: s, " + fields + "}\n";
}

std::vector<std::string> Errors(const std::string& yaml) {
  std::vector<std::string> out;
  for (const PolicyError& e : ParsePolicies(yaml, "p.yaml").errors) {
    out.push_back(e.ToString());
  }
  return out;
}

TEST(ValidateTest, MinimalPolicyIsValid) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs))), IsEmpty());
}

TEST(ValidateTest, ApiVersionAndKind) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{name: web}", "kind: ScalingPolicy\n")),
              ElementsAre("p.yaml:1: policy default/web: apiVersion: "
                          "required: must be `signalscaler.io/v1`"));
  EXPECT_THAT(
      Errors(Doc(Spec(kJobs), "{name: web}",
                 "apiVersion: signalscaler.io/v1\nkind: ScaledObject\n")),
      ElementsAre("p.yaml:2: policy default/web: kind: unsupported kind "
                  "\"ScaledObject\": must be `ScalingPolicy` (only policies "
                  "belong in policy files)"));
}

TEST(ValidateTest, NameIsRequired) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{namespace: prod}")),
              ElementsAre("p.yaml:3: metadata.name: required: the policy's "
                          "name, which a ScaledObject names in its `policy` "
                          "metadata"));
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{}")),
              ElementsAre(HasSubstr("metadata.name: required")));
}

TEST(ValidateTest, NameAndNamespaceAreDns1123Labels) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{name: Web_1}")),
              ElementsAre("p.yaml:3: policy default/Web_1: metadata.name: "
                          "\"Web_1\" is not a DNS-1123 label: at most 63 "
                          "lowercase letters, digits and '-', starting and "
                          "ending with a letter or digit"));
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{name: -web}")),
              ElementsAre(HasSubstr("is not a DNS-1123 label")));
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{name: " + std::string(64, 'a') + "}")),
              ElementsAre(HasSubstr("is not a DNS-1123 label")));
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{name: " + std::string(63, 'a') + "}")),
              IsEmpty());
  EXPECT_THAT(Errors(Doc(Spec(kJobs), "{name: web, namespace: Prod}")),
              ElementsAre(HasSubstr("policy Prod/web: metadata.namespace: "
                                    "\"Prod\" is not a DNS-1123 label")));
}

TEST(ValidateTest, MaxReplicas) {
  EXPECT_THAT(Errors(Doc("  signals:\n" + std::string(kJobs))),
              ElementsAre("p.yaml:4: policy prod/web: spec.maxReplicas: "
                          "required: the most replicas the service may have "
                          "(>= 1)"));
  EXPECT_THAT(
      Errors(Doc("  maxReplicas: -2\n  signals:\n" + std::string(kJobs))),
      ElementsAre("p.yaml:5: policy prod/web: spec.maxReplicas: must "
                  "be >= 1, got -2"));
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  minReplicas: 11\n"))),
              ElementsAre("p.yaml:5: policy prod/web: spec.maxReplicas: must "
                          "be >= minReplicas (11), got 10"));
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  minReplicas: 10\n"))), IsEmpty());
}

TEST(ValidateTest, MinReplicasNotNegative) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  minReplicas: -1\n"))),
              ElementsAre("p.yaml:8: policy prod/web: spec.minReplicas: must "
                          "be >= 0, got -1"));
}

TEST(ValidateTest, ScaleToZeroNeedsATotalSignal) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  minReplicas: 0\n"))), IsEmpty());
  EXPECT_THAT(
      Errors(Doc(Spec(Signal("type: Average, source: {push: {}}, "
                             "scaleUpAbove: 0.8, scaleDownBelow: 0.2"),
                      "  minReplicas: 0\n"))),
      ElementsAre(HasSubstr("spec.minReplicas: 0 (scale to zero) needs a "
                            "Total signal to wake the service")));
}

TEST(ValidateTest, EvaluationIntervalRange) {
  EXPECT_THAT(
      Errors(Doc(Spec(kJobs, "  evaluationIntervalSeconds: 0\n"))),
      ElementsAre("p.yaml:8: policy prod/web: spec.evaluationIntervalSeconds: "
                  "must be between 1 and 3600 seconds, got 0"));
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  evaluationIntervalSeconds: 3601\n"))),
              ElementsAre(HasSubstr("got 3601")));
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  evaluationIntervalSeconds: 3600\n"))),
              IsEmpty());
}

TEST(ValidateTest, AtLeastOneSignal) {
  EXPECT_THAT(Errors(Doc("  maxReplicas: 3\n")),
              ElementsAre("p.yaml:4: policy prod/web: spec.signals: at least "
                          "one signal is required"));
  EXPECT_THAT(Errors(Doc("  maxReplicas: 3\n  signals: []\n")),
              ElementsAre("p.yaml:6: policy prod/web: spec.signals: at least "
                          "one signal is required"));
}

TEST(ValidateTest, SignalNames) {
  EXPECT_THAT(
      Errors(Doc(Spec("  - {type: Total, source: {push: {}}, "
                      "targetPerReplica: 1}\n"))),
      ElementsAre("p.yaml:7: policy prod/web: spec.signals[0].name: required: "
                  "a name for this signal"));
  EXPECT_THAT(
      Errors(
          Doc(Spec("  - {name: Egress.Free, type: Total, source: {push: {}}, "
                   "targetPerReplica: 1}\n"))),
      ElementsAre(HasSubstr("spec.signals[0].name: \"Egress.Free\" is not a "
                            "valid signal name: use lowercase letters, "
                            "digits, '_' and '-'")));
  EXPECT_THAT(Errors(Doc(Spec(std::string(kJobs) + kJobs))),
              ElementsAre("p.yaml:8: policy prod/web: spec.signals[1].name: "
                          "duplicate signal name `jobs` (also "
                          "spec.signals[0])"));
  EXPECT_THAT(Errors(Doc(Spec(
                  "  - {name: egress_free-2, type: Total, source: {push: {}}, "
                  "targetPerReplica: 1}\n"))),
              IsEmpty());
}

TEST(ValidateTest, SignalTypeAndSourceRequired) {
  EXPECT_THAT(Errors(Doc(Spec("  - {name: s, source: {push: {}}}\n"))),
              ElementsAre("p.yaml:7: policy prod/web: spec.signals[0].type: "
                          "required: one of Total, Average, Headroom"));
  EXPECT_THAT(Errors(Doc(Spec(Signal("type: Total, targetPerReplica: 1")))),
              ElementsAre("p.yaml:7: policy prod/web: "
                          "spec.signals[0].source: required: where the "
                          "signal's value is read"));
  EXPECT_THAT(
      Errors(Doc(Spec(Signal("type: Total, targetPerReplica: 1, source: {}")))),
      ElementsAre("p.yaml:7: policy prod/web: spec.signals[0].source: needs "
                  "exactly one of push, prometheus, redis, scrape"));
  EXPECT_THAT(Errors(Doc(Spec(Signal(
                  "type: Total, targetPerReplica: 1, source: {push: }")))),
              IsEmpty());
}

std::string WithSource(const std::string& source) {
  return Doc(
      Spec(Signal("type: Total, targetPerReplica: 1, source: " + source)));
}

TEST(ValidateTest, SourceInterval) {
  EXPECT_THAT(
      Errors(WithSource("{intervalSeconds: 0, push: {}}")),
      ElementsAre("p.yaml:7: policy prod/web: "
                  "spec.signals[0].source.intervalSeconds: must be between 1 "
                  "and 3600 seconds, got 0"));
  EXPECT_THAT(Errors(WithSource("{intervalSeconds: 3601, push: {}}")),
              ElementsAre(HasSubstr("got 3601")));
  EXPECT_THAT(Errors(WithSource("{intervalSeconds: 1, push: {}}")), IsEmpty());
}

TEST(ValidateTest, PrometheusNeedsAddressAndQuery) {
  EXPECT_THAT(
      Errors(WithSource("{prometheus: {}}")),
      ElementsAre(
          "p.yaml:7: policy prod/web: "
          "spec.signals[0].source.prometheus.address: required: "
          "Prometheus' base URL, e.g. http://prometheus.monitoring:9090",
          "p.yaml:7: policy prod/web: "
          "spec.signals[0].source.prometheus.query: required: a "
          "PromQL query"));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'http://p:9090', "
                                "query: up, timeoutSeconds: 0}}")),
              ElementsAre(HasSubstr("prometheus.timeoutSeconds: must be > 0")));
}

TEST(ValidateTest, RedisNeedsAddressAndOneKey) {
  EXPECT_THAT(Errors(WithSource("{redis: {list: q}}")),
              ElementsAre(HasSubstr("spec.signals[0].source.redis.address: "
                                    "required: host:port")));
  EXPECT_THAT(Errors(WithSource("{redis: {address: 'r:6379'}}")),
              ElementsAre(HasSubstr("spec.signals[0].source.redis: needs "
                                    "exactly one of list, sortedSet, stream; "
                                    "none is set")));
  EXPECT_THAT(
      Errors(WithSource("{redis: {address: 'r:6379', list: a, stream: b}}")),
      ElementsAre(HasSubstr("needs exactly one of list, sortedSet, stream; "
                            "list and stream are set")));
  EXPECT_THAT(Errors(WithSource("{redis: {address: 'r:6379', sortedSet: z}}")),
              IsEmpty());
}

// Issue 14: credentials files are relative to the namespace's directory
// under --credentials-root; an absolute path or `..` is refused by check
// and serve alike, naming the field.
TEST(ValidateTest, CredentialsFilesAreRelativeWithoutDotDot) {
  const std::string relative =
      "must be a path relative to the namespace's credentials directory "
      "(<--credentials-root>/prod/)";
  EXPECT_THAT(
      Errors(WithSource("{prometheus: {address: 'http://p:9090', query: up, "
                        "bearerTokenFile: /var/run/secrets/kubernetes.io/"
                        "serviceaccount/token}}")),
      ElementsAre("p.yaml:7: policy prod/web: "
                  "spec.signals[0].source.prometheus.bearerTokenFile: " +
                  relative +
                  ", got \"/var/run/secrets/kubernetes.io/serviceaccount/"
                  "token\""));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'https://p:9090', "
                                "query: up, caFile: /etc/ssl/ca.pem}}")),
              ElementsAre(HasSubstr(
                  "spec.signals[0].source.prometheus.caFile: " + relative)));
  EXPECT_THAT(
      Errors(WithSource("{redis: {address: 'r:6379', list: q, passwordFile: "
                        "'tls/../../team-b/redis-password'}}")),
      ElementsAre(
          HasSubstr("spec.signals[0].source.redis.passwordFile: " + relative +
                    ", without `..`, got "
                    "\"tls/../../team-b/redis-password\"")));
  EXPECT_THAT(
      Errors(WithSource("{redis: {address: 'r:6379', list: q, "
                        "passwordFile: \"pw\\n\"}}")),
      ElementsAre(HasSubstr(", without control characters, got \"pw\\x0a\"")));
  // Relative, a dot-dot only inside a name, a subdirectory: fine.
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'https://p:9090', "
                                "query: up, bearerTokenFile: token, caFile: "
                                "tls/..ca.pem}}")),
              IsEmpty());
  EXPECT_THAT(Errors(WithSource("{redis: {address: 'r:6379', list: q, "
                                "passwordFile: ./redis/password}}")),
              IsEmpty());
}

TEST(ValidateTest, RedisGroupOnlyWithStream) {
  EXPECT_THAT(
      Errors(WithSource("{redis: {address: 'r:6379', list: a, group: g}}")),
      ElementsAre(HasSubstr("spec.signals[0].source.redis.group: applies only "
                            "to a `stream`")));
  EXPECT_THAT(
      Errors(WithSource(
          "{redis: {address: 'r:6379', stream: s, groupMeasure: lag}}")),
      ElementsAre(HasSubstr("spec.signals[0].source.redis.groupMeasure: "
                            "applies only with a `group`")));
  EXPECT_THAT(Errors(WithSource("{redis: {address: 'r:6379', stream: s, group: "
                                "g, groupMeasure: lag}}")),
              IsEmpty());
}

TEST(ValidateTest, ScrapeNeedsMetricAndOneTarget) {
  EXPECT_THAT(Errors(WithSource("{scrape: {urls: ['http://a/metrics']}}")),
              ElementsAre(HasSubstr("spec.signals[0].source.scrape.metric: "
                                    "required")));
  EXPECT_THAT(Errors(WithSource("{scrape: {metric: m}}")),
              ElementsAre(HasSubstr("spec.signals[0].source.scrape: needs "
                                    "`urls` or `service`")));
  EXPECT_THAT(Errors(WithSource("{scrape: {metric: m, service: s, urls: "
                                "['http://a/metrics']}}")),
              ElementsAre(HasSubstr("set either `urls` or `service`, not "
                                    "both")));
  EXPECT_THAT(
      Errors(WithSource("{scrape: {metric: m, service: s, port: 70000}}")),
      ElementsAre(HasSubstr("scrape.port: must be between 1 and "
                            "65535, got 70000")));
  EXPECT_THAT(
      Errors(WithSource("{scrape: {metric: m, service: s, port: 9000}}")),
      IsEmpty());
}

TEST(ValidateTest, TotalNeedsPositiveTargetPerReplica) {
  EXPECT_THAT(Errors(Doc(Spec(Signal("type: Total, source: {push: {}}")))),
              ElementsAre("p.yaml:7: policy prod/web: "
                          "spec.signals[0].targetPerReplica: required for a "
                          "Total signal: the value one replica handles (> 0)"));
  EXPECT_THAT(Errors(Doc(Spec(Signal(
                  "type: Total, source: {push: {}}, targetPerReplica: -1")))),
              ElementsAre(HasSubstr("spec.signals[0].targetPerReplica: must "
                                    "be > 0 (the value one replica handles), "
                                    "got -1")));
}

// Kubernetes validates behavior.scaleUp/scaleDown.tolerance as >= 0 and
// nothing more; so do we, for those and for a signal's own tolerance (it was
// [0, 1) before the per-direction fields). 1 and above are accepted.
TEST(ValidateTest, TotalToleranceRange) {
  const std::string base =
      "type: Total, source: {push: {}}, targetPerReplica: 1";
  EXPECT_THAT(Errors(Doc(Spec(Signal(base + ", tolerance: -0.1")))),
              ElementsAre(HasSubstr("spec.signals[0].tolerance: must be a "
                                    "ratio >= 0 (0.1 is 10 %), got -0.1")));
  EXPECT_THAT(Errors(Doc(Spec(Signal(base + ", tolerance: .nan")))),
              ElementsAre(HasSubstr("spec.signals[0].tolerance: expected a "
                                    "number")));
  EXPECT_THAT(Errors(Doc(Spec(Signal(base + ", tolerance: 0")))), IsEmpty());
  EXPECT_THAT(Errors(Doc(Spec(Signal(base + ", tolerance: 1")))), IsEmpty());
  EXPECT_THAT(Errors(Doc(Spec(Signal(base + ", tolerance: 2.5")))), IsEmpty());
}

TEST(ValidateTest, BehaviorTolerancePerDirection) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs,
                              "  behavior:\n"
                              "    scaleUp: {tolerance: -0.05}\n"
                              "    scaleDown: {tolerance: -1}\n"))),
              ElementsAre(HasSubstr("spec.behavior.scaleUp.tolerance: must be "
                                    "a ratio >= 0 (0.1 is 10 %), got -0.05"),
                          HasSubstr("spec.behavior.scaleDown.tolerance: must "
                                    "be a ratio >= 0 (0.1 is 10 %), got -1")));
  EXPECT_THAT(Errors(Doc(Spec(kJobs,
                              "  behavior:\n"
                              "    scaleUp: {tolerance: 0}\n"
                              "    scaleDown: {tolerance: 1}\n"))),
              IsEmpty());
  EXPECT_THAT(Errors(Doc(Spec(kJobs,
                              "  behavior:\n"
                              "    scaleUp: {tolerance: .inf}\n"))),
              ElementsAre(HasSubstr("spec.behavior.scaleUp.tolerance")));
  EXPECT_THAT(Errors(Doc(Spec(kJobs,
                              "  behavior:\n"
                              "    scaleUp: {tolerance: \"10%\"}\n"))),
              ElementsAre(HasSubstr("spec.behavior.scaleUp.tolerance")));
}

TEST(ValidateTest, TotalRejectsOtherTypesFields) {
  EXPECT_THAT(
      Errors(Doc(Spec(Signal("type: Total, source: {push: {}}, "
                             "targetPerReplica: 1, scaleUpAbove: 3, "
                             "capacityPerReplica: 2, target: 1")))),
      ElementsAre(
          "p.yaml:7: policy prod/web: spec.signals[0].target: does not apply "
          "to a Total signal (it is a field of Average and Headroom signals)",
          "p.yaml:7: policy prod/web: spec.signals[0].scaleUpAbove: does not "
          "apply to a Total signal (it is a field of Average signals)",
          "p.yaml:7: policy prod/web: spec.signals[0].capacityPerReplica: does "
          "not apply to a Total signal (it is a field of Headroom signals)"));
}

std::string Average(const std::string& fields) {
  return Doc(Spec(Signal("type: Average, source: {push: {}}, " + fields)));
}

TEST(ValidateTest, AverageNeedsItsBand) {
  EXPECT_THAT(Errors(Average("scaleUpAbove: 0.8")),
              ElementsAre("p.yaml:7: policy prod/web: "
                          "spec.signals[0].scaleDownBelow: required for an "
                          "Average signal"));
  EXPECT_THAT(Errors(Average("scaleDownBelow: 0.2")),
              ElementsAre(HasSubstr("spec.signals[0].scaleUpAbove: required "
                                    "for an Average signal")));
  EXPECT_THAT(Errors(Average("scaleUpAbove: 0.5, scaleDownBelow: 0.5")),
              ElementsAre(HasSubstr("spec.signals[0].scaleDownBelow: must be "
                                    "below scaleUpAbove (0.5), got 0.5")));
}

TEST(ValidateTest, AverageTargetStrictlyInsideTheBand) {
  EXPECT_THAT(
      Errors(Average("scaleUpAbove: 0.8, scaleDownBelow: 0.2, target: 0.8")),
      ElementsAre("p.yaml:7: policy prod/web: spec.signals[0].target: must "
                  "lie strictly inside the band (scaleDownBelow 0.2, "
                  "scaleUpAbove 0.8), got 0.8"));
  EXPECT_THAT(
      Errors(Average("scaleUpAbove: 0.8, scaleDownBelow: 0.2, target: 0.1")),
      ElementsAre(HasSubstr("got 0.1")));
  EXPECT_THAT(
      Errors(Average("scaleUpAbove: 0.8, scaleDownBelow: 0.2, target: 0.7")),
      IsEmpty());
}

TEST(ValidateTest, AverageRejectsOtherTypesFields) {
  const std::vector<std::string> errors =
      Errors(Average("scaleUpAbove: 0.8, scaleDownBelow: 0.2, "
                     "targetPerReplica: 1, activationAbove: 0, "
                     "capacityPerReplica: 1, scaleUpBelow: 1, tolerance: 0.1"));
  EXPECT_THAT(errors, SizeIs(5));
  for (const char* field :
       {"targetPerReplica", "activationAbove", "capacityPerReplica",
        "scaleUpBelow", "tolerance"}) {
    EXPECT_THAT(errors,
                Contains(HasSubstr(std::string("spec.signals[0].") + field +
                                   ": does not apply to an Average "
                                   "signal")))
        << field;
  }
}

std::string Headroom(const std::string& fields) {
  return Doc(Spec(Signal("type: Headroom, source: {push: {}}, " + fields)));
}

TEST(ValidateTest, HeadroomBand) {
  EXPECT_THAT(Errors(Headroom("scaleUpBelow: 1, scaleDownAbove: 3")),
              IsEmpty());
  EXPECT_THAT(Errors(Headroom("scaleUpBelow: 1")),
              ElementsAre("p.yaml:7: policy prod/web: "
                          "spec.signals[0].scaleDownAbove: required for a "
                          "Headroom signal"));
  EXPECT_THAT(Errors(Headroom("scaleUpBelow: 3, scaleDownAbove: 1")),
              ElementsAre(HasSubstr("spec.signals[0].scaleUpBelow: must be "
                                    "below scaleDownAbove (1), got 3")));
  EXPECT_THAT(
      Errors(Headroom("scaleUpBelow: 1, scaleDownAbove: 3, target: 3")),
      ElementsAre(HasSubstr("spec.signals[0].target: must lie strictly "
                            "inside the band (scaleUpBelow 1, scaleDownAbove "
                            "3), got 3")));
}

TEST(ValidateTest, HeadroomCapacityPerReplicaPositive) {
  EXPECT_THAT(Errors(Headroom("scaleUpBelow: 1, scaleDownAbove: 3, "
                              "capacityPerReplica: 0")),
              ElementsAre(HasSubstr("spec.signals[0].capacityPerReplica: must "
                                    "be > 0 (the spare capacity one replica "
                                    "adds), got 0")));
}

TEST(ValidateTest, HeadroomRejectsOtherTypesFields) {
  EXPECT_THAT(Errors(Headroom("scaleUpBelow: 1, scaleDownAbove: 3, "
                              "scaleDownBelow: 2")),
              ElementsAre(HasSubstr("spec.signals[0].scaleDownBelow: does not "
                                    "apply to a Headroom signal (it is a field "
                                    "of Average signals)")));
}

TEST(ValidateTest, Limits) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs,
                              "  limits:\n  - {name: db, budget: 500, "
                              "perReplica: 100}\n"))),
              IsEmpty());
  EXPECT_THAT(
      Errors(Doc(Spec(kJobs,
                      "  limits:\n  - {budget: 500, perReplica: 100}\n"
                      "  - {name: db, budget: 0, perReplica: -1}\n"
                      "  - {name: db, budget: 5, perReplica: 1}\n"))),
      ElementsAre("p.yaml:9: policy prod/web: spec.limits[0].name: required: "
                  "a name for this limit",
                  "p.yaml:10: policy prod/web: spec.limits[1].budget: must be "
                  "> 0 (the total to share), got 0",
                  "p.yaml:10: policy prod/web: spec.limits[1].perReplica: must "
                  "be > 0 (what one replica uses), got -1",
                  "p.yaml:11: policy prod/web: spec.limits[2].name: duplicate "
                  "limit name `db` (also spec.limits[1])"));
}

TEST(ValidateTest, LimitBelowMinReplicas) {
  EXPECT_THAT(
      Errors(Doc(Spec(kJobs,
                      "  minReplicas: 3\n  limits:\n  - {name: db, "
                      "budget: 250, perReplica: 100}\n"))),
      ElementsAre("p.yaml:10: policy prod/web: spec.limits[0]: allows at most "
                  "2 replicas, fewer than 3 (minReplicas, or 1)"));
}

TEST(ValidateTest, BehaviorWindowRange) {
  EXPECT_THAT(
      Errors(Doc(Spec(kJobs,
                      "  behavior:\n    scaleUp: "
                      "{stabilizationWindowSeconds: -1}\n"
                      "    scaleDown: {stabilizationWindowSeconds: "
                      "3601}\n"))),
      ElementsAre("p.yaml:9: policy prod/web: "
                  "spec.behavior.scaleUp.stabilizationWindowSeconds: must be "
                  "between 0 and 3600 seconds, got -1",
                  "p.yaml:10: policy prod/web: "
                  "spec.behavior.scaleDown.stabilizationWindowSeconds: must be "
                  "between 0 and 3600 seconds, got 3601"));
  EXPECT_THAT(Errors(Doc(Spec(kJobs,
                              "  behavior: {scaleUp: "
                              "{stabilizationWindowSeconds: 0}}\n"))),
              IsEmpty());
}

TEST(ValidateTest, RatePolicies) {
  EXPECT_THAT(
      Errors(Doc(Spec(kJobs,
                      "  behavior:\n    scaleDown:\n      policies:\n"
                      "      - {value: 1, periodSeconds: 60}\n"
                      "      - {type: Pods, value: 0, periodSeconds: 0}\n"
                      "      - {type: Percent, value: 10, "
                      "periodSeconds: 1801}\n"
                      "      - {type: Percent, value: 10, "
                      "periodSeconds: 1800}\n"))),
      ElementsAre("p.yaml:11: policy prod/web: "
                  "spec.behavior.scaleDown.policies[0].type: required: Pods "
                  "or Percent",
                  "p.yaml:12: policy prod/web: "
                  "spec.behavior.scaleDown.policies[1].value: must be > 0, "
                  "got 0",
                  "p.yaml:12: policy prod/web: "
                  "spec.behavior.scaleDown.policies[1].periodSeconds: must be "
                  "between 1 and 1800 seconds, got 0",
                  "p.yaml:13: policy prod/web: "
                  "spec.behavior.scaleDown.policies[2].periodSeconds: must be "
                  "between 1 and 1800 seconds, got 1801"));
}

TEST(ValidateTest, ReplicaSourcesValidatedLikeSignalSources) {
  EXPECT_THAT(
      Errors(Doc(Spec(kJobs,
                      "  replicas: {prometheus: {address: 'http://p:9090'}}\n"
                      "  readyReplicas: {}\n"))),
      ElementsAre("p.yaml:8: policy prod/web: "
                  "spec.replicas.prometheus.query: required: a PromQL query",
                  "p.yaml:9: policy prod/web: spec.readyReplicas: needs "
                  "exactly one of push, prometheus, redis, scrape"));
  EXPECT_THAT(Errors(Doc(Spec(kJobs,
                              "  replicas: {prometheus: {address: "
                              "'http://p:9090', query: "
                              "'kube_deployment_spec_replicas'}}\n"))),
              IsEmpty());
}

TEST(ValidateTest, ValidatePolicyOnItsOwn) {
  LoadedPolicy loaded;
  loaded.file = "built.yaml";
  loaded.line = 4;
  loaded.policy.Mutable()->set_api_version(kPolicyApiVersion);
  loaded.policy.Mutable()->set_kind(kPolicyKind);
  loaded.policy.Mutable()->mutable_metadata()->set_name("web");
  loaded.policy.Mutable()->mutable_spec()->set_max_replicas(3);
  std::vector<PolicyError> errors;
  ValidatePolicy(loaded, errors);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].ToString(),
            "built.yaml:4: policy default/web: spec.signals: at least one "
            "signal is required");

  v1::Signal* s = loaded.policy.Mutable()->mutable_spec()->add_signals();
  s->set_name("q");
  s->set_type(v1::Signal::Total);
  s->set_target_per_replica(2);
  s->mutable_source()->mutable_push();
  errors.clear();
  ValidatePolicy(loaded, errors);
  EXPECT_THAT(errors, IsEmpty());
}

TEST(ValidateTest, PushSourceNeedsNothing) {
  EXPECT_THAT(Errors(Doc(Spec(Signal(std::string("type: Total, "
                                                 "targetPerReplica: 1, "
                                                 "source: ") +
                                     kPush)))),
              Not(Contains(HasSubstr("source"))));
}

// Issue 13 item 3: targets, capacities and budgets are bounded, so that a
// division can neither overflow to a count no fleet has nor underflow to 0.
TEST(ValidateTest, PositiveSettingsAreBounded) {
  const std::string total = "type: Total, source: {push: {}}";
  EXPECT_THAT(Errors(Doc(Spec(Signal(total + ", targetPerReplica: 1e-300")))),
              ElementsAre(HasSubstr("spec.signals[0].targetPerReplica: must be "
                                    "between 1e-09 and 1e+15")));
  EXPECT_THAT(Errors(Doc(Spec(Signal(total + ", targetPerReplica: 1e300")))),
              ElementsAre(HasSubstr("spec.signals[0].targetPerReplica: must be "
                                    "between 1e-09 and 1e+15")));
  EXPECT_THAT(Errors(Doc(Spec(Signal(total + ", targetPerReplica: 1e-9")))),
              IsEmpty());
  EXPECT_THAT(Errors(Doc(Spec(Signal(total + ", targetPerReplica: 1e15")))),
              IsEmpty());
  EXPECT_THAT(
      Errors(Doc(Spec(Signal("type: Headroom, source: {push: {}}, "
                             "scaleUpBelow: 1, scaleDownAbove: 3, "
                             "capacityPerReplica: 1e-12")))),
      ElementsAre(HasSubstr("spec.signals[0].capacityPerReplica: must be "
                            "between")));
  EXPECT_THAT(
      Errors(Doc(Spec(Signal("type: Average, source: {push: {}}, "
                             "scaleUpAbove: 1e300, scaleDownBelow: 0.2")))),
      ElementsAre(HasSubstr("spec.signals[0].scaleUpAbove: must be within "
                            "+/-1e+15, got 1e+300")));
}

// Issue 13 item 9: `check` accepted addresses that `serve` then refused
// ("cannot create source"). Source addresses are checked here, in what both
// run, naming the field, and never quoting the address (it may hold a
// password).
TEST(ValidateTest, SourceAddressesAreUrlsOrHostPorts) {
  const std::string prom = "spec.signals[0].source.prometheus.address: ";
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'gopher://p:70', "
                                "query: up}}")),
              ElementsAre("p.yaml:7: policy prod/web: " + prom +
                          "must start with http:// or https://, not gopher:// "
                          "(Prometheus' base URL, e.g. "
                          "http://prometheus.monitoring:9090)"));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'file:///etc/passwd', "
                                "query: up}}")),
              ElementsAre(HasSubstr(prom + "must start with http:// or "
                                           "https://, not file://")));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'prometheus:9090', "
                                "query: up}}")),
              ElementsAre(HasSubstr(prom + "must start with http://")));
  EXPECT_THAT(
      Errors(WithSource("{prometheus: {address: 'http://', query: up}}")),
      ElementsAre(HasSubstr(prom + "has no host")));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'http://p:0', "
                                "query: up}}")),
              ElementsAre(HasSubstr(prom + "host: the port must be a number "
                                           "in [1, 65535]")));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'http://p /x', "
                                "query: up}}")),
              ElementsAre(HasSubstr(prom + "a URL has no blank")));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: 'http://p:9090/?a=1', "
                                "query: up}}")),
              ElementsAre(HasSubstr(prom + "must not have a query string")));
  EXPECT_THAT(Errors(WithSource("{prometheus: {address: "
                                "'https://u:p@prom.example:443/x/', query: "
                                "up}}")),
              IsEmpty());

  const std::string redis = "spec.signals[0].source.redis.address: ";
  EXPECT_THAT(
      Errors(WithSource("{redis: {address: 'redis://:pw@r:6379', list: q}}")),
      ElementsAre("p.yaml:7: policy prod/web: " + redis +
                  "must be host:port (e.g. redis:6379), not a URL; the "
                  "password goes in passwordFile"));
  EXPECT_THAT(Errors(WithSource("{redis: {address: 'r', list: q}}")),
              ElementsAre(HasSubstr(redis + "must be host:port (e.g. "
                                            "redis:6379): no port")));
  EXPECT_THAT(Errors(WithSource("{redis: {address: 'r:65536', list: q}}")),
              ElementsAre(HasSubstr(redis + "must be host:port (e.g. "
                                            "redis:6379): the port must be")));
  EXPECT_THAT(Errors(WithSource("{redis: {address: '::1:6379', list: q}}")),
              ElementsAre(HasSubstr("an IPv6 address goes in brackets")));
  EXPECT_THAT(Errors(WithSource("{redis: {address: '[::1]:6379', list: q}}")),
              IsEmpty());

  const std::string scrape = "spec.signals[0].source.scrape";
  EXPECT_THAT(
      Errors(WithSource("{scrape: {metric: m, urls: ['http://a:9000/metrics', "
                        "'gopher://b/metrics']}}")),
      ElementsAre(HasSubstr(scrape + ".urls[1]: must start with http:// or "
                                     "https://, not gopher://")));
  EXPECT_THAT(Errors(WithSource("{scrape: {metric: m, urls: ['http://a/x?y=1'],"
                                " path: metrics}}")),
              ElementsAre(HasSubstr(scrape + ".path: must start with '/'")));
  EXPECT_THAT(Errors(WithSource("{scrape: {metric: 'a-b', service: s, "
                                "port: 9000}}")),
              ElementsAre(HasSubstr(scrape + ".metric: \"a-b\" is not a "
                                             "metric name")));
  EXPECT_THAT(Errors(WithSource("{scrape: {metric: m, service: s}}")),
              ElementsAre(HasSubstr(scrape + ".port: required with "
                                             "`service`")));
}

// Serve refused what check accepted here too: a timeout above 300 s, and
// the no-series settings that contradict each other.
TEST(ValidateTest, PrometheusTimeoutAndNoSeriesSettings) {
  const std::string at = "spec.signals[0].source.prometheus.";
  const std::string source =
      "{prometheus: {address: 'http://p:9090', query: up";
  EXPECT_THAT(Errors(WithSource(source + ", timeoutSeconds: 301}}")),
              ElementsAre(HasSubstr(at + "timeoutSeconds: must be at most 300 "
                                         "seconds, got 301")));
  EXPECT_THAT(Errors(WithSource(source + ", timeoutSeconds: 300}}")),
              IsEmpty());
  EXPECT_THAT(Errors(WithSource(source +
                                ", presenceQuery: up, noSeriesIsZero: true}}")),
              ElementsAre(HasSubstr(at + "presenceQuery: set presenceQuery or "
                                         "noSeriesIsZero: true, not both")));
  EXPECT_THAT(Errors(WithSource(
                  source + ", presenceQuery: up, ignoreNullValues: true}}")),
              ElementsAre(HasSubstr(at + "presenceQuery: set presenceQuery or "
                                         "ignoreNullValues: true, not both")));
  EXPECT_THAT(
      Errors(WithSource(source +
                        ", ignoreNullValues: true, noSeriesIsZero: false}}")),
      ElementsAre(HasSubstr(at + "ignoreNullValues: contradicts "
                                 "noSeriesIsZero: false")));
  for (const char* fine :
       {", presenceQuery: 'up{job=\"w\"} == 1'}}", ", noSeriesIsZero: true}}",
        ", ignoreNullValues: true, noSeriesIsZero: true}}",
        ", ignoreNullValues: false, presenceQuery: up}}",
        ", ignoreNullValues: false}}"}) {
    EXPECT_THAT(Errors(WithSource(source + fine)), IsEmpty()) << fine;
  }
}

std::vector<std::string> Warnings(const std::string& yaml) {
  std::vector<std::string> out;
  for (const PolicyError& w : ParsePolicies(yaml, "p.yaml").warnings) {
    out.push_back(PolicyWarningToString(w));
  }
  return out;
}

// Issue 13 item 2: with no series held by default, a minReplicas 0 policy
// whose Total signal reads Prometheus can never see "nothing to do" when the
// exporter drops the series while idle: a warning, never an error.
TEST(ValidateTest, ShadowModeNeedsAReplicasSource) {
  // Shadow answers KEDA the fleet's own count: without `replicas` it has
  // none. The message names the policy and the field.
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  mode: shadow\n"))),
              ElementsAre(AllOf(
                  HasSubstr("policy prod/web: spec.replicas: required with "
                            "`mode: shadow`"),
                  HasSubstr("the fleet's own count"))));
  const std::string replicas = "  replicas: {push: {}}\n";
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  mode: shadow\n" + replicas))),
              IsEmpty());
  // Active (explicit or by default) needs none.
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  mode: active\n"))), IsEmpty());
  const LoadResult shadow =
      ParsePolicies(Doc(Spec(kJobs, "  mode: shadow\n" + replicas)), "p.yaml");
  ASSERT_THAT(shadow.policies, SizeIs(1));
  EXPECT_EQ(shadow.policies[0].policy.spec().mode(), v1::PolicySpec::shadow);
  const LoadResult plain = ParsePolicies(Doc(Spec(kJobs)), "p.yaml");
  ASSERT_THAT(plain.policies, SizeIs(1));
  EXPECT_EQ(plain.policies[0].policy.spec().mode(),
            v1::PolicySpec::MODE_UNSPECIFIED);
}

TEST(ValidateTest, ModeIsActiveOrShadow) {
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  mode: shadw\n"))),
              ElementsAre(AllOf(HasSubstr("spec.mode"),
                                HasSubstr("expected one of active, shadow"),
                                HasSubstr("did you mean `shadow`?"))));
  EXPECT_THAT(Errors(Doc(Spec(kJobs, "  mode: MODE_UNSPECIFIED\n"))),
              ElementsAre(HasSubstr("expected one of active, shadow")));
}

TEST(WarningsTest, ScaleToZeroOnAPrometheusTotalWithoutPresenceQuery) {
  const auto policy = [](const std::string& min, const std::string& extra,
                         const std::string& type = "Total") {
    return Doc("  minReplicas: " + min +
               "\n  maxReplicas: 10\n  signals:\n"
               "  - name: jobs\n"
               "    type: " +
               type +
               "\n"
               "    targetPerReplica: 10\n"
               "    source:\n"
               "      prometheus: {address: 'http://p:9090', query: "
               "'sum(jobs)'" +
               extra + "}\n");
  };
  EXPECT_THAT(
      Warnings(policy("0", "")),
      ElementsAre(
          "p.yaml:12: warning: policy prod/web: "
          "spec.signals[0].source.prometheus: minReplicas is 0, but signal "
          "`jobs` holds when its query returns no series, so if its exporter "
          "drops the series when idle the service never reaches 0; set "
          "presenceQuery (e.g. up{job=\"...\"}: no series while a target is "
          "up reads as 0), or noSeriesIsZero: true (an exporter outage then "
          "reads as zero load)"));
  EXPECT_THAT(ParsePolicies(policy("0", ""), "p.yaml").errors, IsEmpty());
  EXPECT_THAT(ParsePolicies(policy("0", ""), "p.yaml").policies, SizeIs(1));
  // Said how absence reads, or not scaling to zero: nothing to warn about.
  EXPECT_THAT(Warnings(policy("0", ", presenceQuery: 'up{job=\"w\"}'")),
              IsEmpty());
  EXPECT_THAT(Warnings(policy("0", ", noSeriesIsZero: true")), IsEmpty());
  EXPECT_THAT(Warnings(policy("0", ", ignoreNullValues: true")), IsEmpty());
  EXPECT_THAT(Warnings(policy("0", ", ignoreNullValues: false")), SizeIs(1));
  EXPECT_THAT(Warnings(policy("1", "")), IsEmpty());
  // An invalid policy has errors, not warnings.
  EXPECT_THAT(Warnings(policy("0", ", timeoutSeconds: 0")), IsEmpty());
}

}  // namespace
}  // namespace signalscaler
