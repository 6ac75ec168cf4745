// ParsePolicies: YAML -> ScalingPolicy (unknown keys, types, enums, oneofs,
// lines, multi-document files) and the error format.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/defaults.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<std::string> Errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const PolicyError& e : r.errors) out.push_back(e.ToString());
  return out;
}

// The DESIGN.md sketch, with the Prometheus addresses the loader requires.
constexpr char kDesignSketch[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: livekit-egress, namespace: media}
spec:
  minReplicas: 2
  maxReplicas: 20
  evaluationIntervalSeconds: 5
  signals:
  - name: cpu
    type: Average            # per-replica average: CPU or memory utilization
    source: {prometheus: {address: 'http://prometheus:9090', query: 'avg(cpu)'}}
    scaleUpAbove: 0.50       # up when >= ; down when <= scaleDownBelow
    scaleDownBelow: 0.30     # target defaults to the middle of the band
  - name: egress_available
    type: Headroom           # spare capacity: falls as load rises
    source: {prometheus: {address: 'http://prometheus:9090', query: 'sum(livekit_egress_available)'}}
    scaleUpBelow: 1          # up when <= 1, down when >= 3
    scaleDownAbove: 3
    capacityPerReplica: 1
  - name: jobs
    type: Total              # service-wide total: requests in flight, queue depth
    source: {redis: {address: 'redis:6379', list: 'egress-jobs'}}
    targetPerReplica: 10
    activationAbove: 0       # a Total signal above this wakes the service from 0
  limits:
  - {name: db-connections, budget: 500, perReplica: 100}   # at most 5 replicas
  behavior:                  # HPA semantics, owned here; the HPA's own is neutralised
    scaleUp:
      stabilizationWindowSeconds: 15
      selectPolicy: Max
      policies: [{type: Pods, value: 2, periodSeconds: 30}, {type: Percent, value: 100, periodSeconds: 30}]
    scaleDown:
      stabilizationWindowSeconds: 300
      policies: [{type: Pods, value: 1, periodSeconds: 60}]
)";

// A valid policy; `extra` is appended inside its first signal's map.
std::string Policy(const std::string& signal_extra = "",
                   const std::string& spec_extra = "") {
  return R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata:
  name: web
  namespace: prod
spec:
  maxReplicas: 10
  signals:
  - name: jobs
    type: Total
    source: {push: {}}
    targetPerReplica: 10
)" + signal_extra +
         spec_extra;
}

TEST(ParseTest, DesignSketchRoundTrips) {
  const LoadResult r = ParsePolicies(kDesignSketch, "egress.yaml");
  ASSERT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.policies, SizeIs(1));
  EXPECT_EQ(r.policies[0].file, "egress.yaml");
  EXPECT_EQ(r.policies[0].line, 1);
  const v1::ScalingPolicy& p = r.policies[0].policy;
  EXPECT_EQ(p.api_version(), "signalscaler.io/v1");
  EXPECT_EQ(p.kind(), "ScalingPolicy");
  EXPECT_EQ(p.metadata().name(), "livekit-egress");
  EXPECT_EQ(p.metadata().namespace_(), "media");
  const v1::PolicySpec& spec = p.spec();
  EXPECT_TRUE(spec.has_min_replicas());
  EXPECT_EQ(spec.min_replicas(), 2);
  EXPECT_EQ(spec.max_replicas(), 20);
  EXPECT_EQ(spec.evaluation_interval_seconds(), 5);
  ASSERT_EQ(spec.signals_size(), 3);

  const v1::Signal& cpu = spec.signals(0);
  EXPECT_EQ(cpu.name(), "cpu");
  EXPECT_EQ(cpu.type(), v1::Signal::Average);
  EXPECT_EQ(cpu.source().prometheus().query(), "avg(cpu)");
  EXPECT_EQ(cpu.source().prometheus().address(), "http://prometheus:9090");
  EXPECT_DOUBLE_EQ(cpu.scale_up_above(), 0.5);
  EXPECT_DOUBLE_EQ(cpu.scale_down_below(), 0.3);
  EXPECT_FALSE(cpu.has_target());
  EXPECT_DOUBLE_EQ(Target(cpu), 0.4);

  const v1::Signal& egress = spec.signals(1);
  EXPECT_EQ(egress.type(), v1::Signal::Headroom);
  EXPECT_EQ(egress.source().prometheus().query(),
            "sum(livekit_egress_available)");
  EXPECT_DOUBLE_EQ(egress.scale_up_below(), 1);
  EXPECT_DOUBLE_EQ(egress.scale_down_above(), 3);
  EXPECT_TRUE(egress.has_capacity_per_replica());
  EXPECT_DOUBLE_EQ(egress.capacity_per_replica(), 1);

  const v1::Signal& jobs = spec.signals(2);
  EXPECT_EQ(jobs.type(), v1::Signal::Total);
  EXPECT_EQ(jobs.source().redis().address(), "redis:6379");
  EXPECT_EQ(jobs.source().redis().list(), "egress-jobs");
  EXPECT_DOUBLE_EQ(jobs.target_per_replica(), 10);
  EXPECT_TRUE(jobs.has_activation_above());  // Explicit 0 has presence.
  EXPECT_DOUBLE_EQ(jobs.activation_above(), 0);
  EXPECT_FALSE(jobs.has_tolerance());

  ASSERT_EQ(spec.limits_size(), 1);
  EXPECT_EQ(spec.limits(0).name(), "db-connections");
  EXPECT_DOUBLE_EQ(spec.limits(0).budget(), 500);
  EXPECT_DOUBLE_EQ(spec.limits(0).per_replica(), 100);

  const v1::ScalingRules& up = spec.behavior().scale_up();
  EXPECT_EQ(up.stabilization_window_seconds(), 15);
  EXPECT_EQ(up.select_policy(), v1::ScalingRules::Max);
  ASSERT_EQ(up.policies_size(), 2);
  EXPECT_EQ(up.policies(0).type(), v1::RatePolicy::Pods);
  EXPECT_EQ(up.policies(0).value(), 2);
  EXPECT_EQ(up.policies(0).period_seconds(), 30);
  EXPECT_EQ(up.policies(1).type(), v1::RatePolicy::Percent);
  EXPECT_EQ(up.policies(1).value(), 100);
  const v1::ScalingRules& down = spec.behavior().scale_down();
  EXPECT_TRUE(down.has_stabilization_window_seconds());
  EXPECT_EQ(down.stabilization_window_seconds(), 300);
  ASSERT_EQ(down.policies_size(), 1);
  EXPECT_EQ(down.policies(0).value(), 1);
  EXPECT_EQ(down.policies(0).period_seconds(), 60);
}

TEST(ParseTest, NamespaceDefaultsToDefault) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: 3
  signals: [{name: q, type: Total, source: {push: {}}, targetPerReplica: 1}]
)",
                                     "p.yaml");
  ASSERT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.policies, SizeIs(1));
  EXPECT_EQ(r.policies[0].policy.metadata().namespace_(), "default");
  EXPECT_FALSE(r.policies[0].policy.spec().has_min_replicas());
}

TEST(ParseTest, MapFieldsAndRepeatedScalars) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata:
  name: web
  labels: {app: web, tier: "1"}
spec:
  maxReplicas: 3
  signals:
  - name: active
    type: Total
    targetPerReplica: 4
    source:
      intervalSeconds: 2
      scrape:
        urls: [http://a:9000/metrics, http://b:9000/metrics]
        metric: active_requests
        labels: {route: /chat}
        aggregate: sum
)",
                                     "p.yaml");
  ASSERT_THAT(Errors(r), IsEmpty());
  const v1::ScalingPolicy& p = r.policies.at(0).policy;
  EXPECT_EQ(p.metadata().labels().at("app"), "web");
  EXPECT_EQ(p.metadata().labels().at("tier"), "1");
  const v1::Source& source = p.spec().signals(0).source();
  EXPECT_EQ(source.interval_seconds(), 2);
  EXPECT_THAT(source.scrape().urls(),
              ElementsAre("http://a:9000/metrics", "http://b:9000/metrics"));
  EXPECT_EQ(source.scrape().labels().at("route"), "/chat");
  EXPECT_EQ(source.scrape().aggregate(), v1::ScrapeSource::sum);
}

TEST(ParseTest, UnknownFieldSuggestsTheNearestName) {
  const LoadResult r =
      ParsePolicies(Policy("    targetPerReplca: 3\n"), "p.yaml");
  EXPECT_THAT(Errors(r),
              Contains("p.yaml:13: policy prod/web: "
                       "spec.signals[0].targetPerReplca: unknown field "
                       "`targetPerReplca`; did you mean `targetPerReplica`?"));
  EXPECT_THAT(r.policies, IsEmpty());
}

TEST(ParseTest, MisspelledRequiredFieldIsNotAlsoReportedMissing) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: 3
  signals:
  - name: cpu
    type: Average
    source: {push: {}}
    scaleUpAbov: 0.8
    scaleDownBelow: 0.2
)",
                                     "p.yaml");
  EXPECT_THAT(Errors(r), ElementsAre("p.yaml:10: policy default/web: "
                                     "spec.signals[0].scaleUpAbov: unknown "
                                     "field `scaleUpAbov`; did you mean "
                                     "`scaleUpAbove`?"));
}

TEST(ParseTest, ForeignKindIsOneError) {
  const LoadResult r = ParsePolicies(R"(apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web, namespace: prod}
spec:
  scaleTargetRef: {name: web}
  triggers: [{type: external}]
)",
                                     "mixed.yaml");
  EXPECT_THAT(Errors(r), ElementsAre("mixed.yaml:2: policy prod/web: kind: "
                                     "unsupported kind \"ScaledObject\": must "
                                     "be `ScalingPolicy` (only policies belong "
                                     "in policy files)"));
}

TEST(ParseTest, UnknownFieldSuggestsCaseInsensitiveAndProtoSpelling) {
  const LoadResult r = ParsePolicies(
      Policy("", "  MAXREPLICAS: 3\n  evaluation_interval_seconds: 5\n"),
      "p.yaml");
  EXPECT_THAT(Errors(r),
              Contains(HasSubstr("unknown field `MAXREPLICAS`; did you mean "
                                 "`maxReplicas`?")));
  EXPECT_THAT(Errors(r), Contains(HasSubstr(
                             "unknown field `evaluation_interval_seconds`; did "
                             "you mean `evaluationIntervalSeconds`?")));
}

TEST(ParseTest, UnknownFieldWithoutSuggestionListsTheFields) {
  const LoadResult r = ParsePolicies(Policy("    colour: blue\n"), "p.yaml");
  EXPECT_THAT(Errors(r), Contains(AllOf(HasSubstr("unknown field `colour`"),
                                        HasSubstr("Signal has: name, type"))));
}

TEST(ParseTest, WrongTypeNamesExpectedTypeAndValue) {
  const LoadResult r =
      ParsePolicies(Policy("    scaleUpAbove: high\n"), "p.yaml");
  ASSERT_FALSE(r.errors.empty());
  EXPECT_THAT(Errors(r),
              Contains("p.yaml:13: policy prod/web: "
                       "spec.signals[0].scaleUpAbove: expected a number, got "
                       "\"high\""));
}

TEST(ParseTest, IntegersMustBeIntegersInRange) {
  const LoadResult r =
      ParsePolicies(Policy("",
                           "  minReplicas: 2.5\n  evaluationIntervalSeconds: "
                           "99999999999\n"),
                    "p.yaml");
  EXPECT_THAT(Errors(r),
              Contains(HasSubstr("spec.minReplicas: expected an integer, got "
                                 "\"2.5\"")));
  EXPECT_THAT(Errors(r),
              Contains(HasSubstr("spec.evaluationIntervalSeconds: expected an "
                                 "integer between -2147483648 and 2147483647, "
                                 "got 99999999999")));
}

TEST(ParseTest, IntegerSpellings) {
  EXPECT_THAT(Errors(ParsePolicies(Policy("", "  minReplicas: 1e3\n"), "p")),
              Contains(HasSubstr(
                  "spec.minReplicas: expected an integer, got \"1e3\"")));
  EXPECT_THAT(
      Errors(ParsePolicies(Policy("", "  minReplicas: -99999999999999999999\n"),
                           "p")),
      Contains(HasSubstr("spec.minReplicas: expected an integer between "
                         "-2147483648 and 2147483647, got "
                         "-99999999999999999999")));
  const LoadResult ok = ParsePolicies(Policy("", "  minReplicas: 0\n"), "p");
  ASSERT_THAT(Errors(ok), IsEmpty());
  EXPECT_TRUE(ok.policies.at(0).policy.spec().has_min_replicas());
  EXPECT_EQ(ok.policies.at(0).policy.spec().min_replicas(), 0);
}

TEST(ParseTest, QuotedNumberIsAString) {
  const LoadResult r = ParsePolicies(Policy("", "  minReplicas: \"2\"\n"), "p");
  EXPECT_THAT(
      Errors(r),
      Contains(HasSubstr("spec.minReplicas: expected an integer, got \"2\"")));
}

TEST(ParseTest, DoublesAcceptIntegers) {
  const LoadResult r = ParsePolicies(Policy(), "p.yaml");
  ASSERT_THAT(Errors(r), IsEmpty());
  EXPECT_DOUBLE_EQ(
      r.policies.at(0).policy.spec().signals(0).target_per_replica(), 10);
}

TEST(ParseTest, BoolsAreTrueOrFalse) {
  const LoadResult ok = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: 3
  signals:
  - name: q
    type: Total
    targetPerReplica: 1
    source: {prometheus: {address: http://p:9090, query: up, ignoreNullValues: false}}
)",
                                      "p.yaml");
  ASSERT_THAT(Errors(ok), IsEmpty());
  const v1::PrometheusSource& prom =
      ok.policies.at(0).policy.spec().signals(0).source().prometheus();
  EXPECT_TRUE(prom.has_ignore_null_values());
  EXPECT_FALSE(prom.ignore_null_values());

  const LoadResult bad = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: 3
  signals:
  - name: q
    type: Total
    targetPerReplica: 1
    source: {redis: {address: r:6379, list: l, notify: yes}}
)",
                                       "p.yaml");
  EXPECT_THAT(Errors(bad),
              ElementsAre("p.yaml:10: policy default/web: "
                          "spec.signals[0].source.redis.notify: expected true "
                          "or false, got \"yes\""));
}

TEST(ParseTest, EnumTypoListsTheValues) {
  const std::string yaml = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: 3
  signals:
  - name: q
    type: Totl
    source: {push: {}}
    targetPerReplica: 1
)";
  const LoadResult r = ParsePolicies(yaml, "p.yaml");
  // Only the enum error: "type is required" is not piled on top.
  EXPECT_THAT(Errors(r), ElementsAre("p.yaml:8: policy default/web: "
                                     "spec.signals[0].type: expected one of "
                                     "Total, Average, Headroom, got \"Totl\"; "
                                     "did you mean `Total`?"));
}

TEST(ParseTest, EnumValuesAreCaseSensitive) {
  const LoadResult r = ParsePolicies(
      Policy("", "  behavior: {scaleUp: {selectPolicy: max}}\n"), "p.yaml");
  EXPECT_THAT(Errors(r), Contains(HasSubstr(
                             "spec.behavior.scaleUp.selectPolicy: expected one "
                             "of Max, Min, Disabled, got \"max\"; did you mean "
                             "`Max`?")));
}

TEST(ParseTest, UnspecifiedEnumValueIsNotAccepted) {
  const LoadResult r =
      ParsePolicies(Policy("", "").replace(Policy("", "").find("type: Total"),
                                           11, "type: TYPE_UNSPECIFIED"),
                    "p.yaml");
  EXPECT_THAT(Errors(r), Contains(HasSubstr("expected one of Total, Average, "
                                            "Headroom, got "
                                            "\"TYPE_UNSPECIFIED\"")));
}

TEST(ParseTest, RepeatedFieldMustBeAList) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: 3
  signals: {name: q, type: Total}
)",
                                     "p.yaml");
  // Only the type error: "at least one signal is required" is not added.
  EXPECT_THAT(Errors(r), ElementsAre("p.yaml:6: policy default/web: "
                                     "spec.signals: expected a list, got a "
                                     "map"));
}

TEST(ParseTest, MessageFieldMustBeAMap) {
  const LoadResult r =
      ParsePolicies(Policy("", "  behavior: fast\n"), "p.yaml");
  EXPECT_THAT(Errors(r),
              Contains(HasSubstr("spec.behavior: expected a map of Behavior "
                                 "fields, got \"fast\"")));
}

TEST(ParseTest, MapFieldMustHoldScalars) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata:
  name: web
  labels: {app: [a, b]}
spec:
  maxReplicas: 3
  signals: [{name: q, type: Total, source: {push: {}}, targetPerReplica: 1}]
)",
                                     "p.yaml");
  EXPECT_THAT(Errors(r),
              ElementsAre(HasSubstr(
                  "p.yaml:5: policy default/web: metadata.labels.app: "
                  "expected a string, got a list")));
}

TEST(ParseTest, TwoMembersOfAOneofAreAnError) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: 3
  signals:
  - name: q
    type: Total
    targetPerReplica: 1
    source:
      push: {}
      redis: {address: 'r:6379', list: q}
)",
                                     "p.yaml");
  EXPECT_THAT(Errors(r),
              ElementsAre("p.yaml:12: policy default/web: "
                          "spec.signals[0].source.redis: `push` and `redis` "
                          "are both set, but only one of push, prometheus, "
                          "redis, scrape may be"));
}

TEST(ParseTest, DuplicateKeyIsAnError) {
  const LoadResult r =
      ParsePolicies(Policy("", "  maxReplicas: 4\n"), "p.yaml");
  EXPECT_THAT(Errors(r), ElementsAre("p.yaml:13: policy prod/web: "
                                     "spec.maxReplicas: duplicate key "
                                     "`maxReplicas` (first at line 7)"));
}

TEST(ParseTest, PolicyIsNamedEvenWhenTheErrorComesBeforeMetadata) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v2
kind: ScalingPolicy
spec:
  maxReplicas: 3
  signals: [{name: q, type: Total, source: {push: {}}, targetPerReplica: 1}]
metadata: {namespace: media, name: egress}
)",
                                     "p.yaml");
  EXPECT_THAT(Errors(r), ElementsAre("p.yaml:1: policy media/egress: "
                                     "apiVersion: unsupported apiVersion "
                                     "\"signalscaler.io/v2\": must be "
                                     "`signalscaler.io/v1`"));
}

TEST(ParseTest, SeveralErrorsAreReportedAtOnce) {
  const LoadResult r = ParsePolicies(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: web}
spec:
  maxReplicas: many
  minReplicas: -1
  signals:
  - name: cpu
    type: Average
    source: {prometheus: {address: 'http://p:9090', query: q}}
    scaleUpAbove: 0.3
    scaleDownBelow: 0.5
  - name: q
    type: Total
    source: {push: {}}
    targetPerReplica: 1
    toleranse: 0.2
)",
                                     "p.yaml");
  EXPECT_THAT(
      Errors(r),
      ElementsAre(
          "p.yaml:5: policy default/web: spec.maxReplicas: expected an "
          "integer, got \"many\"",
          "p.yaml:17: policy default/web: spec.signals[1].toleranse: unknown "
          "field `toleranse`; did you mean `tolerance`?",
          "p.yaml:6: policy default/web: spec.minReplicas: must be >= 0, got "
          "-1",
          "p.yaml:12: policy default/web: spec.signals[0].scaleDownBelow: must "
          "be below scaleUpAbove (0.3), got 0.5"));
}

TEST(ParseTest, MultipleDocumentsAndEmptyOnesSkipped) {
  const std::string one = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: one}
spec:
  maxReplicas: 3
  signals: [{name: q, type: Total, source: {push: {}}, targetPerReplica: 1}]
)";
  std::string two = one;
  two.replace(two.find("name: one"), 9, "name: two");
  const LoadResult r = ParsePolicies(
      "---\n" + one + "---\n---\n# nothing here\n---\n" + two, "multi.yaml");
  ASSERT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.policies, SizeIs(2));
  EXPECT_EQ(r.policies[0].policy.metadata().name(), "one");
  EXPECT_EQ(r.policies[0].line, 2);
  EXPECT_EQ(r.policies[1].policy.metadata().name(), "two");
  EXPECT_EQ(r.policies[1].line, 12);
}

TEST(ParseTest, ErrorLinesCountFromTheFileNotTheDocument) {
  const std::string one = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: one}
spec:
  maxReplicas: 3
  signals: [{name: q, type: Total, source: {push: {}}, targetPerReplica: 1}]
)";
  std::string two = one;
  two.replace(two.find("name: one"), 9, "name: two");
  two.replace(two.find("targetPerReplica: 1"), 19, "targetPerReplica: 0");
  const LoadResult r = ParsePolicies(one + "---\n" + two, "multi.yaml");
  EXPECT_THAT(Errors(r),
              ElementsAre("multi.yaml:13: policy default/two: "
                          "spec.signals[0].targetPerReplica: must be > 0 "
                          "(the value one replica handles), got 0"));
  // All or nothing: the valid first document is not loaded either.
  EXPECT_THAT(r.policies, IsEmpty());
}

TEST(ParseTest, DuplicatePolicyInOneFile) {
  const std::string one = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: one}
spec:
  maxReplicas: 3
  signals: [{name: q, type: Total, source: {push: {}}, targetPerReplica: 1}]
)";
  const LoadResult r = ParsePolicies(one + "---\n" + one, "dup.yaml");
  EXPECT_THAT(Errors(r),
              ElementsAre("dup.yaml:8: policy default/one: metadata.name: "
                          "duplicate policy name `one` in namespace "
                          "`default`: also defined at dup.yaml:1"));
  EXPECT_THAT(r.policies, IsEmpty());
}

TEST(ParseTest, SyntaxErrorIsOneErrorWithLine) {
  const LoadResult r = ParsePolicies(
      "apiVersion: signalscaler.io/v1\nspec:\n  signals: [a, b\n", "bad.yaml");
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].file, "bad.yaml");
  EXPECT_GT(r.errors[0].line, 0);
  EXPECT_THAT(r.errors[0].ToString(),
              AllOf(HasSubstr("bad.yaml:"), HasSubstr("invalid YAML: "),
                    HasSubstr("end of sequence flow not found")));
  EXPECT_THAT(r.policies, IsEmpty());
}

TEST(ParseTest, SyntaxErrorLine) {
  const LoadResult r = ParsePolicies(
      "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\nmetadata: {name: "
      "x\n  bad: : :\n",
      "bad.yaml");
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].line, 4) << r.errors[0].ToString();
}

TEST(ParseTest, DocumentMustBeAMap) {
  const LoadResult r = ParsePolicies("- a\n- b\n", "list.yaml");
  EXPECT_THAT(Errors(r), ElementsAre("list.yaml:1: expected a ScalingPolicy "
                                     "document (a YAML map), got a list"));
}

TEST(PolicyErrorTest, ToStringLeavesOutAbsentParts) {
  PolicyError e;
  e.message = "boom";
  EXPECT_EQ(e.ToString(), "boom");
  e.field = "spec.maxReplicas";
  EXPECT_EQ(e.ToString(), "spec.maxReplicas: boom");
  e.policy = "ns/name";
  EXPECT_EQ(e.ToString(), "policy ns/name: spec.maxReplicas: boom");
  e.file = "f.yaml";
  EXPECT_EQ(e.ToString(), "f.yaml: policy ns/name: spec.maxReplicas: boom");
  e.line = 7;
  EXPECT_EQ(e.ToString(), "f.yaml:7: policy ns/name: spec.maxReplicas: boom");
}

TEST(LoadResultTest, ToStatusJoinsEveryError) {
  LoadResult r;
  EXPECT_TRUE(r.ToStatus().ok());
  r.errors.push_back({"a.yaml", 1, "", "", "one"});
  r.errors.push_back({"b.yaml", 2, "ns/x", "kind", "two"});
  const absl::Status s = r.ToStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "a.yaml:1: one\nb.yaml:2: policy ns/x: kind: two");
}

}  // namespace
}  // namespace signalscaler

namespace signalscaler {
namespace {

using ::testing::HasSubstr;

// fuzz_policy_yaml found this 1.3 KB file: yaml-cpp 0.7's YAML::LoadAll
// allocated without bound on it (16 GB in 60 s). The loader must answer with
// errors, at once (a regression shows as this test's ctest timeout).
TEST(ParseRegressionTest, LoadAllUnboundedAllocationIsAnErrorAtOnce) {
  const char* dir = std::getenv("SIGNALSCALER_SOURCE_DIR");
  ASSERT_NE(dir, nullptr) << "run through ctest";
  std::ifstream in(std::string(dir) +
                   "/tests/policy/testdata/regression/"
                   "loadall_unbounded_alloc.yaml");
  std::stringstream text;
  text << in.rdbuf();
  ASSERT_GT(text.str().size(), 1000u);
  const LoadResult r = ParsePolicies(text.str(), "fuzz.yaml");
  EXPECT_FALSE(r.errors.empty());
  EXPECT_TRUE(r.policies.empty());
}

TEST(ParseRegressionTest, OversizedFileIsRejected) {
  const std::string big(kMaxPolicyFileBytes + 1, '#');
  const LoadResult r = ParsePolicies(big, "big.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("the limit is 1048576"));
}

TEST(ParseRegressionTest, DocumentMarkersKeepLineNumbers) {
  const LoadResult r = ParsePolicies(
      "# one\n---\napiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
      "metadata: {name: a}\nspec:\n  maxReplicas: 2\n  signals:\n"
      "  - {name: q, type: Total, source: {push: {}}, targetPerReplica: 1}\n"
      "...\n--- \napiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
      "metadata: {name: b}\nspec:\n  maxReplica: 2\n",
      "m.yaml");
  ASSERT_FALSE(r.errors.empty());
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("m.yaml:16:"));
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("maxReplica"));
}

// EffectiveScaleRules is EffectiveScaleUp/Down without the copy: the same
// rules for behaviours that set everything, nothing, or a part (a window
// alone, rate policies alone, a tolerance alone).
TEST(DefaultsTest, EffectiveScaleRulesEqualsTheFilledCopy) {
  const std::vector<std::string> behaviours = {
      "",
      "behavior: {scaleUp: {stabilizationWindowSeconds: 5, policies: [{type: "
      "Pods, value: 2, periodSeconds: 30}]}, scaleDown: "
      "{stabilizationWindowSeconds: 60, selectPolicy: Min, policies: [{type: "
      "Percent, value: 10, periodSeconds: 60}]}}",
      "behavior: {scaleUp: {stabilizationWindowSeconds: 7}, scaleDown: "
      "{policies: [{type: Pods, value: 1, periodSeconds: 15}]}}",
      "behavior: {scaleUp: {tolerance: 0.2}, scaleDown: {selectPolicy: "
      "Disabled}}",
  };
  for (const std::string& behaviour : behaviours) {
    const std::string yaml = absl::StrCat(
        "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
        "metadata: {name: api, namespace: team}\n"
        "spec:\n  minReplicas: 1\n  maxReplicas: 10\n",
        behaviour.empty() ? "" : absl::StrCat("  ", behaviour, "\n"),
        "  signals:\n  - name: q\n    type: Total\n"
        "    targetPerReplica: 5\n    source: {push: {}}\n");
    LoadResult r = ParsePolicies(yaml, "p.yaml");
    ASSERT_THAT(Errors(r), IsEmpty()) << yaml;
    ASSERT_THAT(r.policies, SizeIs(1));
    const v1::PolicySpec& spec = r.policies[0].policy.spec();
    for (const bool up : {true, false}) {
      v1::ScalingRules storage;
      const v1::ScalingRules& got = EffectiveScaleRules(spec, up, storage);
      const v1::ScalingRules want =
          up ? EffectiveScaleUp(spec) : EffectiveScaleDown(spec);
      EXPECT_EQ(got.stabilization_window_seconds(),
                want.stabilization_window_seconds())
          << behaviour << (up ? " up" : " down");
      EXPECT_EQ(got.select_policy() == v1::ScalingRules::Min,
                want.select_policy() == v1::ScalingRules::Min);
      EXPECT_EQ(got.select_policy() == v1::ScalingRules::Disabled,
                want.select_policy() == v1::ScalingRules::Disabled);
      EXPECT_EQ(got.has_tolerance(), want.has_tolerance());
      EXPECT_EQ(got.tolerance(), want.tolerance());
      ASSERT_EQ(got.policies_size(), want.policies_size()) << behaviour;
      for (int i = 0; i < got.policies_size(); ++i) {
        EXPECT_EQ(got.policies(i).SerializeAsString(),
                  want.policies(i).SerializeAsString());
      }
    }
  }
}

}  // namespace
}  // namespace signalscaler
