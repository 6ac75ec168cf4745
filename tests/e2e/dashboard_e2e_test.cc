// deploy/grafana: the Grafana dashboard and the kustomize component that
// carries it.
//
// - The JSON loads as a dashboard: schemaVersion, unique panel ids, gridPos
//   inside the 24-column grid and no two panels overlapping, the datasource
//   variable that every panel and target uses, namespace and policy
//   variables read from signalscaler_decision_replicas, and a panel for every
//   family the issue names.
// - The component renders (with deploy/base, through a throwaway overlay)
//   into a ConfigMap labelled grafana_dashboard: "1" holding the file.
// - Every query works: the real `signalscaler serve` and a real Prometheus
//   scraping its metrics port and a small exporter of this test's that stands
//   in for KEDA's operator and kube-state-metrics (their series with their
//   own labels, the values KEDA and the HPA would have, taken from this
//   test's own GetMetrics calls). After pushes, a decision change, a source
//   that fails and an open stream, each variable's label_values() query and
//   each target's expression, with the variables substituted, answers a
//   non-empty result from Prometheus' HTTP API; a few answer known values.
// - The shadow row is evaluated for a second policy, checkout-shadow
//   (`spec.mode: shadow`, the same fleet as its replicas source), every other
//   panel for the active checkout: the shadow series are the scaler's own
//   (the exporter serves no signalscaler_* series), with known values (mode
//   1, decision 7 against the fleet's 4, short > 0, excess 0; checkout's
//   mode 0).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sources/http/http_client.h"
#include "sources/http/http_text.h"
#include "tests/cli/cli_test_util.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/testing/prometheus_test_server.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler::testing {
namespace {

using cli_testing::At;
using nlohmann::json;

constexpr char kPolicy[] = "checkout";
constexpr char kShadowPolicy[] = "checkout-shadow";
constexpr char kScaledObject[] = "checkout-web";  // not the policy's name
constexpr char kDatasource[] = "${datasource}";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

json LoadDashboard() {
  const std::string path = SourceDir() + "/deploy/grafana/signalscaler.json";
  const std::string text = ReadText(path);
  EXPECT_FALSE(text.empty()) << "cannot read " << path;
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// Every panel, those inside collapsed rows included, rows too.
std::vector<json> AllPanels(const json& dashboard) {
  std::vector<json> out;
  for (const json& p : At(dashboard, {"panels"})) {
    out.push_back(p);
    if (p.contains("panels")) {
      for (const json& inner : p["panels"]) out.push_back(inner);
    }
  }
  return out;
}

bool IsDatasourceRef(const json& ds) {
  return At(ds, {"type"}) == "prometheus" && At(ds, {"uid"}) == kDatasource;
}

class DashboardFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dashboard_ = LoadDashboard();
    ASSERT_TRUE(dashboard_.is_object()) << "signalscaler.json is not JSON";
    panels_ = AllPanels(dashboard_);
  }
  json dashboard_;
  std::vector<json> panels_;
};

TEST_F(DashboardFileTest, LoadsAsADashboard) {
  // Grafana 10.x writes 37-39, 11.x 39-41; older files are migrated on load.
  const json& schema = At(dashboard_, {"schemaVersion"});
  ASSERT_TRUE(schema.is_number_integer());
  EXPECT_GE(schema.get<int>(), 37);
  EXPECT_LE(schema.get<int>(), 41);
  EXPECT_EQ(At(dashboard_, {"uid"}), "signalscaler");
  EXPECT_TRUE(At(dashboard_, {"title"}).is_string());
  EXPECT_TRUE(At(dashboard_, {"id"}).is_null()) << "provisioned: no id";

  std::map<std::string, json> vars;
  for (const json& v : At(dashboard_, {"templating", "list"})) {
    vars[v.value("name", "")] = v;
  }
  ASSERT_TRUE(vars.count("datasource"));
  EXPECT_EQ(vars["datasource"]["type"], "datasource");
  EXPECT_EQ(vars["datasource"]["query"], "prometheus");
  for (const char* name : {"namespace", "policy"}) {
    ASSERT_TRUE(vars.count(name)) << name;
    EXPECT_EQ(vars[name]["type"], "query");
    EXPECT_TRUE(IsDatasourceRef(vars[name]["datasource"])) << name;
    EXPECT_TRUE(absl::StartsWith(vars[name].value("definition", ""),
                                 "label_values(signalscaler_decision_replicas"))
        << name;
  }
}

struct Rect {
  int x, y, w, h;
};

TEST_F(DashboardFileTest, PanelsHaveUniqueIdsAndFitTheGrid) {
  std::set<int> ids;
  std::vector<std::pair<std::string, Rect>> placed;
  for (const json& p : panels_) {
    const std::string title = p.value("title", "(untitled)");
    ASSERT_TRUE(p.contains("id") && p["id"].is_number_integer()) << title;
    EXPECT_TRUE(ids.insert(p["id"].get<int>()).second)
        << "panel id " << p["id"] << " twice (" << title << ")";
    const json& g = At(p, {"gridPos"});
    ASSERT_TRUE(g.is_object()) << title << " has no gridPos";
    for (const char* k : {"x", "y", "w", "h"}) {
      ASSERT_TRUE(At(g, {k}).is_number_integer()) << title << ": " << k;
    }
    const Rect r{g["x"], g["y"], g["w"], g["h"]};
    EXPECT_TRUE(r.x >= 0 && r.w > 0 && r.h > 0 && r.x + r.w <= 24) << title;
    for (const auto& [other, o] : placed) {
      const bool overlap = r.x < o.x + o.w && o.x < r.x + r.w &&
                           r.y < o.y + o.h && o.y < r.y + r.h;
      EXPECT_FALSE(overlap) << title << " overlaps " << other;
    }
    placed.push_back({title, r});
  }
}

TEST_F(DashboardFileTest, EveryTargetUsesTheDatasourceVariable) {
  int targets = 0;
  for (const json& p : panels_) {
    if (p.value("type", "") == "row") continue;
    const std::string title = p.value("title", "");
    EXPECT_TRUE(IsDatasourceRef(At(p, {"datasource"}))) << title;
    EXPECT_TRUE(p.contains("description")) << title << " says nothing";
    std::set<std::string> refs;
    ASSERT_FALSE(At(p, {"targets"}).empty()) << title << " has no target";
    for (const json& t : p["targets"]) {
      ++targets;
      EXPECT_TRUE(IsDatasourceRef(At(t, {"datasource"}))) << title;
      EXPECT_TRUE(refs.insert(t.value("refId", "")).second) << title;
      EXPECT_FALSE(t.value("expr", "").empty()) << title;
    }
  }
  EXPECT_GE(targets, 20);
}

// The families issue 18 asks a panel for, the scaler's and KEDA's and
// kube-state-metrics' ones to join with.
TEST_F(DashboardFileTest, ShowsEveryFamily) {
  std::string exprs;
  for (const json& p : panels_) {
    for (const json& t : At(p, {"targets"})) exprs += t.value("expr", "");
  }
  for (const char* family :
       {"signalscaler_decision_replicas",
        "signalscaler_current_replicas",
        "signalscaler_policy_max_replicas",
        "signalscaler_signal_value",
        "signalscaler_signal_proposal",
        "signalscaler_decision_changes_total",
        "signalscaler_signal_held",
        "signalscaler_source_last_success_timestamp_seconds",
        "signalscaler_source_query_errors_total",
        "signalscaler_source_query_duration_seconds_bucket",
        "signalscaler_grpc_calls_total",
        "signalscaler_grpc_call_duration_seconds_bucket",
        "signalscaler_open_streams",
        "signalscaler_state_store_degraded",
        "signalscaler_leases_held",
        "signalscaler_policy_shadow",
        "signalscaler_shadow_fleet_short_replica_seconds_total",
        "signalscaler_shadow_fleet_excess_replica_seconds_total",
        "keda_scaler_metrics_value",
        "keda_scaler_detail_errors_total",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas"}) {
    EXPECT_TRUE(absl::StrContains(exprs, family))
        << "no panel reads " << family;
  }
}

// deploy/base with the component, through an overlay in a temporary
// directory (kustomize wants relative paths).
TEST(DashboardComponentTest, RendersAConfigMapForGrafanasSidecar) {
  const std::string overlay = MakeTempDir();
  const std::string up = std::filesystem::relative(SourceDir(), overlay);
  WriteFile(overlay + "/kustomization.yaml",
            absl::StrCat("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                         "kind: Kustomization\nresources: [",
                         up, "/deploy/base]\ncomponents: [", up,
                         "/deploy/grafana]\n"));
  std::vector<manifests::YamlDocument> docs;
  std::string error;
  ASSERT_TRUE(cli_testing::RenderKustomize(overlay, &docs, &error)) << error;
  int found = 0;
  for (const manifests::YamlDocument& doc : docs) {
    if (doc.value.value("kind", "") != "ConfigMap" ||
        At(doc.value, {"metadata", "labels", "grafana_dashboard"}) != "1") {
      continue;
    }
    ++found;
    EXPECT_EQ(At(doc.value, {"metadata", "name"}),
              "signalscaler-grafana-dashboard")
        << "no hash suffix: the sidecar and `kubectl apply` see one name";
    EXPECT_EQ(At(doc.value, {"metadata", "namespace"}), "signalscaler");
    const json& data = At(doc.value, {"data", "signalscaler.json"});
    ASSERT_TRUE(data.is_string());
    EXPECT_EQ(json::parse(data.get<std::string>(), nullptr, false),
              LoadDashboard());
  }
  EXPECT_EQ(found, 1) << "ConfigMaps labelled grafana_dashboard: \"1\"";
}

// ---------------------------------------------------------------------------
// Against a real Prometheus.

// KEDA's operator and kube-state-metrics, as far as the dashboard reads
// them, with the labels they really have (kedacore/keda
// pkg/metricscollector/prommetrics.go; kube-state-metrics' HPA metrics).
struct FakeCluster {
  std::string keda_metric;  // "s0-" + GetMetricSpec's name
  double keda_value = 0;    // what KEDA last read from GetMetrics
  double keda_errors = 0;
  double fleet = 4;  // the Deployment's and the HPA's current replicas

  std::string Text() const {
    const std::string keda = absl::StrFormat(
        R"({namespace="%s",scaledObject="%s",scaler="externalScaler",triggerIndex="0",metric="%s",type="scaledobject"})",
        kNamespace, kScaledObject, keda_metric);
    const std::string hpa = absl::StrFormat(
        R"({namespace="%s",horizontalpodautoscaler="keda-hpa-%s"})", kNamespace,
        kScaledObject);
    std::string out;
    if (!keda_metric.empty()) {
      absl::StrAppend(&out, "keda_scaler_metrics_value", keda, " ", keda_value,
                      "\nkeda_scaler_detail_errors_total", keda, " ",
                      keda_errors, "\n");
      absl::StrAppend(&out,
                      "kube_horizontalpodautoscaler_status_desired_replicas",
                      hpa, " ", keda_value, "\n");
    }
    absl::StrAppend(
        &out, "kube_horizontalpodautoscaler_status_current_replicas", hpa, " ",
        fleet, "\nkube_horizontalpodautoscaler_spec_max_replicas", hpa,
        " 20\nkube_horizontalpodautoscaler_spec_min_replicas", hpa, " 1\n",
        absl::StrFormat("kube_deployment_spec_replicas{namespace=\"%s\","
                        "deployment=\"%s\"} ",
                        kNamespace, kScaledObject),
        fleet, "\n");
    return out;
  }
};

// The fleet's count, as both policies read it.
std::string FleetQuery() {
  return absl::StrFormat(
      R"('max(kube_deployment_spec_replicas{namespace="%s", deployment="%s"})')",
      kNamespace, kScaledObject);
}

// Three signals: two pushed, one whose query Prometheus rejects (source
// errors, and a held signal). The current count comes from
// kube_deployment_spec_replicas, as in deploy/examples.
std::string CheckoutPolicy(const std::string& prometheus) {
  return absl::StrFormat(R"(---
apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: %s, namespace: %s}
spec:
  minReplicas: 1
  maxReplicas: 20
  evaluationIntervalSeconds: 1
  replicas:
    prometheus: {address: "%s", timeoutSeconds: 0.5, query: %s}
  behavior:
    scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
  signals:
  - {name: queue, type: Total, targetPerReplica: 10, source: {intervalSeconds: 120, push: {}}}
  - {name: rps, type: Total, targetPerReplica: 100, source: {intervalSeconds: 120, push: {}}}
  - name: errors
    type: Total
    targetPerReplica: 1
    source: {intervalSeconds: 1, prometheus: {address: "%s", timeoutSeconds: 0.5, query: 'sum(rate('}}
)",
                         kPolicy, kNamespace, prometheus, FleetQuery(),
                         prometheus);
}

// The same fleet watched by a shadow policy: queue 70 decides 7, the fleet
// runs 4, so it runs 3 pods short (KEDA is answered 4).
std::string ShadowPolicy(const std::string& prometheus) {
  return absl::StrFormat(R"(---
apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: %s, namespace: %s}
spec:
  mode: shadow
  minReplicas: 1
  maxReplicas: 20
  evaluationIntervalSeconds: 1
  replicas:
    intervalSeconds: 1
    prometheus: {address: "%s", timeoutSeconds: 0.5, query: %s}
  behavior:
    scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 1}]}
  signals:
  - {name: queue, type: Total, targetPerReplica: 10, source: {intervalSeconds: 120, push: {}}}
)",
                         kShadowPolicy, kNamespace, prometheus, FleetQuery());
}

// Grafana's variables as the test resolves them; $__rate_interval is at
// least four scrape intervals (1 s here).
std::string Substitute(std::string expr,
                       const std::map<std::string, std::string>& vars) {
  // Longest names first: $policy must not eat into a longer name.
  std::vector<std::pair<std::string, std::string>> sorted(vars.begin(),
                                                          vars.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.first.size() > b.first.size();
  });
  for (const auto& [name, value] : sorted) {
    expr = absl::StrReplaceAll(
        expr, {{"${" + name + "}", value}, {"$" + name, value}});
  }
  return expr;
}

// One pass over the dashboard: what every target answered, by "panel title
// / refId", and what was wrong.
struct Evaluation {
  std::map<std::string, json> results;  // Prometheus' data.result
  std::vector<std::string> failures;
  size_t targets = 0;

  // The first sample's value, or -1.
  double Value(const std::string& key) const {
    auto it = results.find(key);
    if (it == results.end() || it->second.empty()) return -1;
    return std::stod(At(it->second[0], {"value"})[1].get<std::string>());
  }
  // Label `label` of every sample of `key` whose value is not "0".
  std::set<std::string> NonZero(const std::string& key,
                                const std::string& label) const {
    std::set<std::string> out;
    auto it = results.find(key);
    if (it == results.end()) return out;
    for (const json& s : it->second) {
      if (At(s, {"value"})[1] != "0") {
        out.insert(At(s, {"metric", label.c_str()}).get<std::string>());
      }
    }
    return out;
  }
};

class DashboardPrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    exporter_ = std::make_unique<TestHttpServer>([this](const std::string&) {
      TestResponse r;
      r.content_type = "text/plain; version=0.0.4";
      absl::MutexLock lock(&mu_);
      r.body = cluster_.Text();
      return r;
    });
    scaler_ = ServedScaler::Start(TotalPolicy("idle", "push: {}", 10));
    ASSERT_NE(scaler_, nullptr);
    auto p = TestPrometheus::Start(
        {absl::StrCat("127.0.0.1:", scaler_->metrics_port()),
         absl::StrCat("127.0.0.1:", exporter_->port())});
    ASSERT_TRUE(p.ok()) << p.status();
    prometheus_ = *std::move(p);
    WriteFile(scaler_->dir() + "/checkout.yaml",
              CheckoutPolicy(prometheus_->address()));
    WriteFile(scaler_->dir() + "/checkout-shadow.yaml",
              ShadowPolicy(prometheus_->address()));
    dashboard_ = LoadDashboard();
  }

  // GET /api/v1/<path>: the answer's "data", or null (with `why`).
  json Api(const std::string& path, std::string* why) {
    absl::StatusOr<std::string> body =
        http_.Get(prometheus_->address() + "/api/v1/" + path,
                  absl::Now() + absl::Seconds(5));
    if (!body.ok()) {
      *why = body.status().ToString();
      return nullptr;
    }
    json answer = json::parse(*body, nullptr, false);
    if (At(answer, {"status"}) != "success") {
      *why = *body;
      return nullptr;
    }
    return answer["data"];
  }

  // An instant query's first value, or -1.
  double Query(const std::string& q) {
    std::string why;
    const json result =
        At(Api("query?query=" + UrlEncode(q), &why), {"result"});
    if (result.empty()) return -1;
    return std::stod(At(result[0], {"value"})[1].get<std::string>());
  }

  // Acts as KEDA and the HPA: reads GetMetrics and publishes what KEDA's
  // operator and kube-state-metrics would then export.
  void ActAsKeda() {
    absl::StatusOr<std::string> name =
        scaler_->keda().MetricName(kNamespace, kPolicy);
    absl::StatusOr<double> replicas = scaler_->Replicas(kPolicy);
    absl::MutexLock lock(&mu_);
    if (name.ok()) cluster_.keda_metric = "s0-" + *name;
    if (replicas.ok()) {
      cluster_.keda_value = *replicas;
    } else {
      ++cluster_.keda_errors;
    }
  }

  // The template variables in order (each may use the ones before it), each
  // label_values() query asked of Prometheus' label values API: it must
  // list every value wanted, the first one is used.
  std::map<std::string, std::string> ResolveVariables(Evaluation& e) {
    static const std::map<std::string, std::vector<std::string>> kWant = {
        {"namespace", {kNamespace}},
        {"policy", {kPolicy, kShadowPolicy}},
        {"scaledobject", {kScaledObject}}};
    static const std::regex kLabelValues(
        R"(^label_values\((.*), *([a-zA-Z_]+)\)$)");
    std::map<std::string, std::string> vars = {{"__rate_interval", "1m"},
                                               {"__interval", "15s"},
                                               {"__range", "5m"},
                                               {"__range_s", "300"}};
    for (const json& v : At(dashboard_, {"templating", "list"})) {
      if (v.value("type", "") != "query") continue;
      const std::string name = v["name"];
      const std::string def = Substitute(v.value("definition", ""), vars);
      std::smatch m;
      if (!kWant.count(name) || !std::regex_match(def, m, kLabelValues)) {
        e.failures.push_back("variable " + name + ": " + def);
        continue;
      }
      std::string why;
      const json values =
          Api(absl::StrCat("label/", m[2].str(),
                           "/values?match[]=", UrlEncode(m[1].str())),
              &why);
      for (const std::string& want : kWant.at(name)) {
        if (!values.is_array() ||
            std::find(values.begin(), values.end(), want) == values.end()) {
          e.failures.push_back(absl::StrCat("variable ", name, ": ", def,
                                            " lacks ", want, " ", why));
        }
      }
      vars[name] = kWant.at(name).front();
    }
    return vars;
  }

  Evaluation Evaluate() {
    ActAsKeda();
    Evaluation e;
    const std::map<std::string, std::string> vars = ResolveVariables(e);
    std::map<std::string, std::string> shadow_vars = vars;
    shadow_vars["policy"] = kShadowPolicy;
    bool shadow_row = false;  // the panels after the "Shadow ..." row
    for (const json& p : AllPanels(dashboard_)) {
      if (p.value("type", "") == "row") {
        shadow_row = absl::StartsWith(p.value("title", ""), "Shadow");
      }
      for (const json& t : At(p, {"targets"})) {
        ++e.targets;
        const std::string key =
            p.value("title", "") + " / " + t.value("refId", "");
        const std::string q =
            Substitute(t.value("expr", ""), shadow_row ? shadow_vars : vars);
        std::string why;
        const json data = Api("query?query=" + UrlEncode(q), &why);
        if (absl::StrContains(q, "$")) {
          e.failures.push_back(key + ": unknown variable in " + q);
        } else if (At(data, {"result"}).empty()) {
          e.failures.push_back(key + ": no result for " + q + " " + why);
        }
        e.results[key] = At(data, {"result"});
      }
    }
    return e;
  }

  // Evaluates until `done` holds (up to 60 s); the last evaluation.
  Evaluation EvaluateUntil(const std::function<bool(const Evaluation&)>& done,
                           bool* held) {
    Evaluation e;
    *held = PollUntil(
        [&] {
          e = Evaluate();
          return done(e);
        },
        absl::Seconds(60), absl::Milliseconds(500));
    return e;
  }

  absl::Mutex mu_;
  FakeCluster cluster_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TestHttpServer> exporter_;
  std::unique_ptr<ServedScaler> scaler_;
  std::unique_ptr<TestPrometheus> prometheus_;
  HttpClient http_{HttpClientOptions{}};
  json dashboard_;
};

constexpr char kDecision[] =
    "Decision against current replicas and the effective max / ";
constexpr char kKedaRead[] = "What KEDA read against the decision / A";
constexpr char kChanges[] = "Decision changes by reason / A";
constexpr char kMode[] = "Mode / A";
constexpr char kShadowDecision[] =
    "What the policy would decide against what the fleet runs / ";
constexpr char kShadowRate[] =
    "Fleet short of / in excess of the shadow decision / ";
constexpr char kShadowHours[] =
    "Replica-hours short / in excess over the time range / ";

TEST_F(DashboardPrometheusTest, EveryQueryAnswers) {
  // Decisions: queue 55 -> 6, then 85 -> 9 (rps 250 proposes 3, errors
  // holds at the current 4).
  ASSERT_TRUE(PollUntil(
      [&] {
        return scaler_->keda().Push(kNamespace, kPolicy, "rps", 250).ok();
      },
      absl::Seconds(30)))
      << scaler_->Log();
  ASSERT_TRUE(PollUntil(
      [&] {
        return scaler_->keda()
            .Push(kNamespace, kShadowPolicy, "queue", 70)
            .ok();
      },
      absl::Seconds(30)))
      << scaler_->Log();
  ASSERT_TRUE(scaler_->keda().Push(kNamespace, kPolicy, "queue", 55).ok());
  ASSERT_TRUE(scaler_->WaitForReplicas(kPolicy, 6)) << scaler_->Log();
  ASSERT_TRUE(scaler_->keda().Push(kNamespace, kPolicy, "queue", 85).ok());
  ASSERT_TRUE(scaler_->WaitForReplicas(kPolicy, 9));
  std::unique_ptr<ActiveStream> stream =
      scaler_->keda().StreamIsActive(kNamespace, kPolicy);
  ASSERT_TRUE(stream->Next(absl::Seconds(10)).has_value());

  // KEDA reads the fleet's count from the shadow policy, never its 7.
  ASSERT_TRUE(scaler_->WaitForReplicas(kShadowPolicy, 4)) << scaler_->Log();
  {
    absl::MutexLock lock(&mu_);
    ASSERT_FALSE(absl::StrContains(cluster_.Text(), "signalscaler_"))
        << "the stand-in must not serve the scaler's series";
  }

  bool ok = false;
  Evaluation e = EvaluateUntil(
      [](const Evaluation& x) {
        return x.failures.empty() &&
               x.Value(std::string(kShadowRate) + "A") > 0 &&
               x.Value(std::string(kShadowHours) + "A") > 0;
      },
      &ok);
  EXPECT_TRUE(ok) << e.failures.size() << " of " << e.targets
                  << " queries gave nothing:\n"
                  << absl::StrJoin(e.failures, "\n") << "\nshort rate "
                  << e.Value(std::string(kShadowRate) + "A") << ", short hours "
                  << e.Value(std::string(kShadowHours) + "A");
  EXPECT_GT(e.targets, 20u);
  EXPECT_EQ(e.Value(std::string(kDecision) + "A"), 9);
  EXPECT_EQ(e.Value(std::string(kDecision) + "B"), 4) << "the fleet's";
  EXPECT_EQ(e.Value(std::string(kDecision) + "C"), 20);
  EXPECT_EQ(e.Value(kKedaRead), 9);
  EXPECT_EQ(e.Value("Decided minus what the HPA wants / A"), 0);
  EXPECT_EQ(e.Value("Now / D"), 1) << "errors holds";
  EXPECT_EQ(e.NonZero("Held signals / A", "signal"),
            std::set<std::string>{"errors"});
  EXPECT_TRUE(e.NonZero("Source query errors by kind and code / A", "code")
                  .count("INVALID_ARGUMENT"));
  EXPECT_EQ(e.NonZero("Open streams / A", "method"),
            std::set<std::string>{"StreamIsActive"});
  // The shadow row, for checkout-shadow: 7 decided, the fleet's 4 run, 3
  // pods short and none in excess.
  EXPECT_EQ(e.Value(kMode), 1);
  EXPECT_EQ(e.Value(std::string(kShadowDecision) + "A"), 7);
  EXPECT_EQ(e.Value(std::string(kShadowDecision) + "B"), 4);
  EXPECT_EQ(e.Value(std::string(kShadowRate) + "B"), 0);
  EXPECT_EQ(e.Value(std::string(kShadowHours) + "B"), 0);
  EXPECT_EQ(
      Query(absl::StrFormat(
          R"(max(signalscaler_policy_shadow{namespace="%s", policy="%s"}))",
          kNamespace, kPolicy)),
      0)
      << "checkout is active";

  // A change once Prometheus has the counters: 115 -> 12, seen as an
  // increase by reason, and by KEDA.
  ASSERT_TRUE(scaler_->keda().Push(kNamespace, kPolicy, "queue", 115).ok());
  ASSERT_TRUE(scaler_->WaitForReplicas(kPolicy, 12));
  e = EvaluateUntil(
      [](const Evaluation& x) {
        return x.Value(std::string(kDecision) + "A") == 12 &&
               x.Value(kKedaRead) == 12 &&
               x.NonZero(kChanges, "reason").count("signal_won");
      },
      &ok);
  EXPECT_TRUE(ok) << "decision " << e.Value(std::string(kDecision) + "A")
                  << ", KEDA read " << e.Value(kKedaRead) << ", changes "
                  << e.results[kChanges].dump();
  EXPECT_TRUE(e.failures.empty()) << absl::StrJoin(e.failures, "\n");
}

}  // namespace
}  // namespace signalscaler::testing
