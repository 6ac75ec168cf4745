// deploy/overlays/example rendered with `kubectl kustomize` (no cluster
// needed): every ScaledObject valid against KEDA's CRD, the Deployment
// mounting every policy ConfigMap through its projected volume, and the
// mounted directory loading as the scaler would load it. And for both the
// base and the overlay, what makes the deployment production-grade: 2
// replicas spread over nodes, a PodDisruptionBudget, a grace period longer
// than the drain, native gRPC probes, a locked-down securityContext, the
// admin API on a port of its own, a NetworkPolicy admitting KEDA to the KEDA
// port, Prometheus to metrics and pushing namespaces to the admin port only,
// the
// ServiceMonitor and the PrometheusRule (its rules: alerts_test.cc).
//
// Everything is rendered with kustomize's default load restrictor, the only
// one `kubectl apply -k` has: the overlay takes the examples from the
// kustomization ../../examples, as a directory. Without kubectl this test
// fails; it never skips.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scaler/policy/loader.h"
#include "tests/cli/cli_test_util.h"
#include "tests/manifests/hpa_tolerance.h"
#include "tests/manifests/manifest_files.h"
#include "tests/testing/subprocess.h"

namespace signalscaler {
namespace {

using cli_testing::At;
using manifests::YamlDocument;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kPoliciesPath[] = "/etc/signalscaler/policies";

class KustomizeExampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cli_testing::RenderKustomize(
        testing::SourceDir() + "/deploy/overlays/example", &docs_, &error))
        << error;
    for (const YamlDocument& doc : docs_) {
      const std::string kind = doc.value.value("kind", "");
      const std::string name = At(doc.value, {"metadata", "name"});
      by_kind_[kind][name] = &doc.value;
      if (kind == "ScaledObject") scaled_objects_.push_back(&doc);
    }
  }

  // The only object of `kind` named `name`, or null.
  const json* Find(const std::string& kind, const std::string& name) {
    auto it = by_kind_[kind].find(name);
    return it == by_kind_[kind].end() ? nullptr : it->second;
  }

  // ConfigMaps holding policy files: a key ending in .yaml / .yml.
  std::map<std::string, const json*> PolicyConfigMaps() {
    std::map<std::string, const json*> out;
    for (const auto& [name, cm] : by_kind_["ConfigMap"]) {
      for (const auto& [key, unused] : At(*cm, {"data"}).items()) {
        if (key.size() > 5 && (key.rfind(".yaml") == key.size() - 5 ||
                               key.rfind(".yml") == key.size() - 4)) {
          out[name] = cm;
        }
      }
    }
    return out;
  }

  std::vector<YamlDocument> docs_;
  std::vector<const YamlDocument*> scaled_objects_;
  std::map<std::string, std::map<std::string, const json*>> by_kind_;
};

TEST_F(KustomizeExampleTest, RendersTheScalerAndEveryExample) {
  EXPECT_NE(Find("Namespace", "signalscaler"), nullptr);
  EXPECT_NE(Find("ServiceAccount", "signalscaler"), nullptr);
  EXPECT_NE(Find("Deployment", "signalscaler"), nullptr);
  EXPECT_NE(Find("Service", "signalscaler"), nullptr);
  const size_t examples =
      manifests::FindYamlFiles(testing::SourceDir() +
                               "/deploy/examples/scaledobjects")
          .size();
  EXPECT_EQ(scaled_objects_.size(), examples);
  EXPECT_EQ(PolicyConfigMaps().size(),
            manifests::FindYamlFiles(testing::SourceDir() +
                                     "/deploy/examples/policies")
                .size());
}

TEST_F(KustomizeExampleTest, ScaledObjectsValidAgainstKedaCrd) {
  cli_testing::KedaSchemas keda;
  ASSERT_TRUE(keda.ok()) << keda.error();
  ASSERT_FALSE(scaled_objects_.empty());
  for (const YamlDocument* so : scaled_objects_) {
    EXPECT_THAT(keda.ValidateScaledObject(*so), IsEmpty());
    // Kustomize kept the HPA's tolerance of 0 in both directions.
    EXPECT_THAT(manifests::ZeroToleranceErrors(*so), IsEmpty());
    // Kustomize kept each in its service's namespace (a policy is looked up
    // in the ScaledObject's own namespace).
    EXPECT_NE(At(so->value, {"metadata", "namespace"}), "signalscaler");
  }
}

TEST_F(KustomizeExampleTest, DeploymentMountsEveryPolicyConfigMap) {
  const json* deployment = Find("Deployment", "signalscaler");
  ASSERT_NE(deployment, nullptr);
  const json& pod = At(*deployment, {"spec", "template", "spec"});
  ASSERT_EQ(pod["containers"].size(), 1u);
  const json& container = pod["containers"][0];
  EXPECT_EQ(container["image"], "signalscaler:latest");
  EXPECT_THAT(container["args"].get<std::vector<std::string>>(),
              ::testing::Contains(std::string("--policies=") + kPoliciesPath));
  EXPECT_EQ(
      container["ports"][0],
      json({{"name", "grpc"}, {"containerPort", 9090}, {"protocol", "TCP"}}));
  EXPECT_EQ(At(container, {"securityContext", "readOnlyRootFilesystem"}), true);
  EXPECT_EQ(At(pod, {"securityContext", "runAsNonRoot"}), true);
  EXPECT_TRUE(container.contains("resources"));

  std::string volume_name;
  for (const json& m : container["volumeMounts"]) {
    if (m["mountPath"] == kPoliciesPath) volume_name = m["name"];
  }
  ASSERT_FALSE(volume_name.empty()) << "nothing mounted at " << kPoliciesPath;
  std::set<std::string> projected;
  for (const json& v : pod["volumes"]) {
    if (v["name"] != volume_name) continue;
    ASSERT_TRUE(v.contains("projected")) << v.dump();
    for (const json& source : v["projected"]["sources"]) {
      const std::string name = At(source, {"configMap", "name"});
      EXPECT_TRUE(projected.insert(name).second) << name << " twice";
      EXPECT_NE(Find("ConfigMap", name), nullptr)
          << "the projected volume names ConfigMap " << name
          << ", which the overlay does not create";
    }
  }
  const std::map<std::string, const json*> policies = PolicyConfigMaps();
  ASSERT_FALSE(policies.empty());
  for (const auto& [name, cm] : policies) {
    EXPECT_TRUE(projected.count(name))
        << "policy ConfigMap " << name << " is not in the projected volume "
        << volume_name << ": add it to deploy/overlays/example/"
        << "deployment-policies.yaml";
    EXPECT_EQ(At(*cm, {"metadata", "namespace"}), "signalscaler") << name;
  }
}

// The projected directory, as kubelet would fill it, loads without an error
// and serves the policy of every ScaledObject, in its namespace.
TEST_F(KustomizeExampleTest, MountedPoliciesLoadAndServeEveryScaledObject) {
  const std::string dir = testing::MakeTempDir();
  for (const auto& [name, cm] : PolicyConfigMaps()) {
    for (const auto& [key, text] : At(*cm, {"data"}).items()) {
      ASSERT_FALSE(std::filesystem::exists(dir + "/" + key))
          << "two ConfigMaps project the key " << key;
      std::ofstream(dir + "/" + key) << text.get<std::string>();
    }
  }
  const LoadResult r = LoadPolicies(dir);
  for (const PolicyError& e : r.errors) ADD_FAILURE() << e.ToString();
  std::set<std::string> served;
  for (const LoadedPolicy& p : r.policies) {
    served.insert(p.policy.metadata().namespace_() + "/" +
                  p.policy.metadata().name());
  }
  const json* service = Find("Service", "signalscaler");
  ASSERT_NE(service, nullptr);
  const std::string address =
      "signalscaler." +
      At(*service, {"metadata", "namespace"}).get<std::string>() +
      ".svc.cluster.local:" +
      std::to_string(At(*service, {"spec", "ports"})[0]["port"].get<int>());
  for (const YamlDocument* so : scaled_objects_) {
    const std::string ns = At(so->value, {"metadata", "namespace"});
    for (const json& t : At(so->value, {"spec", "triggers"})) {
      const std::string policy = At(t, {"metadata", "policy"});
      EXPECT_TRUE(served.count(ns + "/" + policy))
          << manifests::Where(*so) << ": policy " << ns << "/" << policy
          << " is not in the mounted policies";
      EXPECT_EQ(At(t, {"metadata", "scalerAddress"}), address)
          << manifests::Where(*so);
    }
  }
}

// What both deploy/base and the example overlay must render.
class KustomizeProductionTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cli_testing::RenderKustomize(
        testing::SourceDir() + "/" + GetParam(), &docs_, &error))
        << error;
    for (const YamlDocument& doc : docs_) {
      objects_[doc.value.value("kind", "")].push_back(&doc.value);
    }
    for (const char* kind :
         {"Deployment", "PodDisruptionBudget", "Service", "NetworkPolicy",
          "ServiceMonitor", "PrometheusRule"}) {
      ASSERT_EQ(objects_[kind].size(), 1u) << "one " << kind << " expected";
    }
    deployment_ = objects_["Deployment"][0];
    pod_ = &At(*deployment_, {"spec", "template", "spec"});
    pod_labels_ = At(*deployment_, {"spec", "template", "metadata", "labels"});
    ASSERT_EQ((*pod_)["containers"].size(), 1u);
    container_ = &(*pod_)["containers"][0];
  }

  const json& One(const char* kind) { return *objects_[kind][0]; }

  // The value of `--name=VALUE` in the container's args, or "".
  std::string Arg(const std::string& name) {
    const std::string prefix = "--" + name + "=";
    for (const json& a : At(*container_, {"args"})) {
      const std::string arg = a.get<std::string>();
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
    }
    return "";
  }

  std::vector<YamlDocument> docs_;
  std::map<std::string, std::vector<const json*>> objects_;
  const json* deployment_ = nullptr;
  const json* pod_ = nullptr;
  const json* container_ = nullptr;
  json pod_labels_;
};

TEST_P(KustomizeProductionTest, TwoReplicasSpreadAndProtected) {
  // Two in the base; the ha-redis overlay runs three on a shared store.
  const int replicas = At(*deployment_, {"spec", "replicas"}).get<int>();
  EXPECT_GE(replicas, 2);
  if (std::string(GetParam()).find("ha-redis") != std::string::npos) {
    EXPECT_EQ(replicas, 3);
    EXPECT_NE(At(*container_, {"args"}).dump().find("--state-store=redis://"),
              std::string::npos);
  }
  EXPECT_EQ(
      At(*deployment_, {"spec", "strategy", "rollingUpdate", "maxUnavailable"}),
      0);
  const json& preferred =
      At(*pod_, {"affinity", "podAntiAffinity",
                 "preferredDuringSchedulingIgnoredDuringExecution"});
  ASSERT_EQ(preferred.size(), 1u) << pod_->dump();
  const json& term = At(preferred[0], {"podAffinityTerm"});
  EXPECT_EQ(term["topologyKey"], "kubernetes.io/hostname");
  EXPECT_TRUE(cli_testing::Selects(term["labelSelector"], pod_labels_));

  const json& pdb = One("PodDisruptionBudget");
  EXPECT_EQ(pdb["apiVersion"], "policy/v1");
  EXPECT_EQ(At(pdb, {"spec", "minAvailable"}), 1);
  EXPECT_TRUE(cli_testing::Selects(At(pdb, {"spec", "selector"}), pod_labels_));
}

// SIGTERM: --drain-seconds of NOT_SERVING while still answering, then a
// short grace for calls in flight (2 s in serve) and the exit, all inside
// terminationGracePeriodSeconds (5 s to spare), or kubelet kills the pod
// mid-drain.
TEST_P(KustomizeProductionTest, GracePeriodLongerThanTheDrain) {
  const std::string drain = Arg("drain-seconds");
  ASSERT_FALSE(drain.empty()) << "no --drain-seconds= in the args";
  const json& grace = At(*pod_, {"terminationGracePeriodSeconds"});
  ASSERT_TRUE(grace.is_number()) << pod_->dump();
  EXPECT_GT(grace.get<double>(), std::stod(drain) + 5);
}

TEST_P(KustomizeProductionTest, PortsAndNativeGrpcProbes) {
  std::map<std::string, int> ports;
  for (const json& p : At(*container_, {"ports"}))
    ports[p["name"].get<std::string>()] = p["containerPort"].get<int>();
  EXPECT_EQ(ports, (std::map<std::string, int>{
                       {"grpc", 9090}, {"metrics", 9091}, {"admin", 9092}}));
  EXPECT_EQ(Arg("listen"), "0.0.0.0:9090");
  EXPECT_EQ(Arg("metrics-listen"), "0.0.0.0:9091");
  // The admin API on its own port (the NetworkPolicy opens it to pushers).
  EXPECT_EQ(Arg("admin-listen"), "0.0.0.0:9092");
  // Readiness ("readiness"): policies in force, not draining. Liveness
  // (service ""): the process alone, never a dependency.
  const json& ready = At(*container_, {"readinessProbe"});
  const json& live = At(*container_, {"livenessProbe"});
  EXPECT_EQ(At(ready, {"grpc", "port"}), 9090) << ready.dump();
  EXPECT_EQ(At(ready, {"grpc", "service"}), json("readiness"));
  EXPECT_EQ(At(live, {"grpc", "port"}), 9090) << live.dump();
  EXPECT_EQ(At(live, {"grpc"}).value("service", ""), "");
  for (const json* probe : {&ready, &live}) {
    EXPECT_FALSE(probe->contains("httpGet") || probe->contains("exec") ||
                 probe->contains("tcpSocket"))
        << probe->dump();
  }

  const json& service = One("Service");
  std::map<std::string, int> service_ports;
  for (const json& p : At(service, {"spec", "ports"})) {
    service_ports[p["name"].get<std::string>()] = p["port"].get<int>();
    EXPECT_TRUE(ports.count(p.value("targetPort", ""))) << p.dump();
  }
  EXPECT_EQ(service_ports, ports);
  EXPECT_TRUE(cli_testing::Selects(
      json({{"matchLabels", At(service, {"spec", "selector"})}}), pod_labels_));
}

TEST_P(KustomizeProductionTest, LockedDownAndBounded) {
  EXPECT_EQ(At(*pod_, {"securityContext", "runAsNonRoot"}), true);
  EXPECT_GT(At(*pod_, {"securityContext", "runAsUser"}).get<int>(), 0);
  const json& sc = At(*container_, {"securityContext"});
  EXPECT_EQ(sc["readOnlyRootFilesystem"], true);
  EXPECT_EQ(sc["allowPrivilegeEscalation"], false);
  EXPECT_EQ(At(sc, {"capabilities", "drop"}), json::array({"ALL"}));
  EXPECT_FALSE(At(sc, {"capabilities"}).contains("add"));
  for (const char* kind : {"requests", "limits"}) {
    for (const char* resource : {"cpu", "memory"}) {
      EXPECT_TRUE(At(*container_, {"resources", kind}).contains(resource))
          << kind << "." << resource << " missing";
    }
  }
}

// Only KEDA to 9090, Prometheus to 9091 and the namespaces labelled
// signalscaler.io/pusher=true to the admin port 9092; an empty `from` would
// admit any source, so every rule names its peers.
TEST_P(KustomizeProductionTest,
       NetworkPolicyAdmitsKedaPrometheusAndPushersOnly) {
  const json& np = One("NetworkPolicy");
  EXPECT_TRUE(
      cli_testing::Selects(At(np, {"spec", "podSelector"}), pod_labels_));
  EXPECT_EQ(At(np, {"spec", "policyTypes"}), json::array({"Ingress"}));
  constexpr char kPusherLabel[] = "signalscaler.io/pusher";
  std::map<std::string, std::set<int>> ports_by_namespace;
  std::set<int> pusher_ports;
  for (const json& rule : At(np, {"spec", "ingress"})) {
    ASSERT_FALSE(At(rule, {"from"}).empty())
        << "admits any source: " << rule.dump();
    ASSERT_FALSE(At(rule, {"ports"}).empty())
        << "admits any port: " << rule.dump();
    for (const json& peer : rule["from"]) {
      const json& labels = At(peer, {"namespaceSelector", "matchLabels"});
      ASSERT_TRUE(labels.is_object()) << peer.dump();
      if (labels.contains(kPusherLabel)) {
        // Every pod of a pushing namespace, to the admin port.
        EXPECT_EQ(labels, json({{kPusherLabel, "true"}})) << peer.dump();
        EXPECT_FALSE(peer.contains("podSelector")) << peer.dump();
        for (const json& p : rule["ports"])
          pusher_ports.insert(p["port"].get<int>());
        continue;
      }
      const json& ns = At(labels, {"kubernetes.io/metadata.name"});
      ASSERT_TRUE(ns.is_string()) << peer.dump();
      ASSERT_TRUE(peer.contains("podSelector")) << peer.dump();
      for (const json& p : rule["ports"])
        ports_by_namespace[ns.get<std::string>()].insert(p["port"].get<int>());
    }
  }
  EXPECT_EQ(ports_by_namespace, (std::map<std::string, std::set<int>>{
                                    {"keda", {9090}}, {"monitoring", {9091}}}));
  EXPECT_EQ(pusher_ports, std::set<int>{9092});
  // KEDA's pods (release YAML and Helm chart labels), and Prometheus'.
  auto admitted = [&np](const char* ns, const json& labels) {
    for (const json& rule : At(np, {"spec", "ingress"})) {
      for (const json& peer : rule["from"]) {
        if (At(peer, {"namespaceSelector", "matchLabels"})
                    .value("kubernetes.io/metadata.name", "") == ns &&
            cli_testing::Selects(peer["podSelector"], labels)) {
          return true;
        }
      }
    }
    return false;
  };
  EXPECT_TRUE(admitted("keda", {{"app", "keda-operator"}}));
  EXPECT_TRUE(admitted("keda", {{"app", "keda-metrics-apiserver"}}));
  EXPECT_TRUE(admitted("keda", {{"app", "keda-operator-metrics-apiserver"}}));
  EXPECT_FALSE(admitted("keda", {{"app", "keda-admission-webhooks"}}));
  EXPECT_TRUE(
      admitted("monitoring", {{"app.kubernetes.io/name", "prometheus"}}));
  EXPECT_FALSE(admitted("monitoring", {{"app.kubernetes.io/name", "grafana"}}));
  // The ports each kind of peer reaches: a pushing namespace never the KEDA
  // port, KEDA never the admin port.
  auto ports_for = [&np](const json& namespace_labels) {
    std::set<int> out;
    for (const json& rule : At(np, {"spec", "ingress"})) {
      for (const json& peer : rule["from"]) {
        if (cli_testing::Selects(peer["namespaceSelector"], namespace_labels)) {
          for (const json& p : rule["ports"]) out.insert(p["port"].get<int>());
        }
      }
    }
    return out;
  };
  EXPECT_EQ(ports_for({{"kubernetes.io/metadata.name", "team-a"},
                       {kPusherLabel, "true"}}),
            std::set<int>{9092});
  EXPECT_EQ(ports_for({{"kubernetes.io/metadata.name", "team-b"}}),
            std::set<int>{});
  EXPECT_EQ(ports_for({{"kubernetes.io/metadata.name", "keda"}}),
            std::set<int>{9090});
  // The Service exposes the admin port under its name.
  std::map<std::string, int> service_ports;
  for (const json& p : At(One("Service"), {"spec", "ports"}))
    service_ports[p["name"].get<std::string>()] = p["port"].get<int>();
  EXPECT_EQ(service_ports["admin"], 9092);
}

TEST_P(KustomizeProductionTest, ServiceMonitorScrapesTheMetricsPort) {
  const json& sm = One("ServiceMonitor");
  const json& service = One("Service");
  EXPECT_EQ(sm["apiVersion"], "monitoring.coreos.com/v1");
  EXPECT_TRUE(cli_testing::Selects(At(sm, {"spec", "selector"}),
                                   At(service, {"metadata", "labels"})));
  EXPECT_EQ(At(sm, {"spec", "namespaceSelector", "matchNames"}),
            json::array({At(service, {"metadata", "namespace"})}));
  const json& endpoints = At(sm, {"spec", "endpoints"});
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0]["port"], "metrics");
  EXPECT_EQ(endpoints[0].value("path", "/metrics"), "/metrics");
  // The policy's `namespace` label must survive the scrape (the alerts use it).
  EXPECT_EQ(endpoints[0]["honorLabels"], true);
  EXPECT_EQ(One("PrometheusRule")["apiVersion"], "monitoring.coreos.com/v1");
}

// Issue 14: each tenant namespace's credentials are a Secret volume of its
// own at --credentials-root/<namespace>/ (a whole volume, so that kubelet
// swaps a rotated Secret in; never subPath), and the policies shipped with
// the overlay name their files relative to it, as `check --credentials-root`
// accepts them.
TEST_P(KustomizeProductionTest, CredentialsAreSecretsPerNamespaceUnderTheRoot) {
  if (std::string(GetParam()).find("credentials") == std::string::npos) {
    // The other deployments mount no credentials under the root, and keep
    // its default.
    for (const json& m : At(*container_, {"volumeMounts"})) {
      EXPECT_NE(m["mountPath"].get<std::string>().rfind(
                    "/etc/signalscaler/credentials", 0),
                0u)
          << m.dump();
    }
    return;
  }
  const std::string root = Arg("credentials-root");
  EXPECT_EQ(root, "/etc/signalscaler/credentials");
  EXPECT_FALSE(Arg("allowed-source-hosts").empty());
  std::map<std::string, std::string> secret_of_volume;
  for (const json& v : At(*pod_, {"volumes"})) {
    if (v.contains("secret")) {
      secret_of_volume[v["name"]] = At(v, {"secret", "secretName"});
    }
  }
  std::set<std::string> namespaces;
  for (const json& m : At(*container_, {"volumeMounts"})) {
    const std::string path = m["mountPath"];
    if (path.rfind(root + "/", 0) != 0) continue;
    const std::string ns = path.substr(root.size() + 1);
    EXPECT_TRUE(IsDns1123Label(ns)) << path;
    EXPECT_EQ(m.value("readOnly", false), true) << path;
    EXPECT_FALSE(m.contains("subPath")) << path;
    ASSERT_EQ(secret_of_volume.count(m["name"]), 1u) << m.dump();
    EXPECT_EQ(secret_of_volume[m["name"]], "credentials-" + ns);
    namespaces.insert(ns);
  }
  EXPECT_EQ(namespaces, (std::set<std::string>{"team-a", "team-b"}));

  // The rendered policies, in a credentials root laid out as mounted.
  const std::string dir = testing::MakeTempDir();
  const std::string creds = dir + "/credentials";
  std::filesystem::create_directories(dir + "/policies");
  size_t files = 0;
  std::set<std::string> policy_namespaces;
  for (const json* cm : objects_["ConfigMap"]) {
    for (const auto& [key, text] : At(*cm, {"data"}).items()) {
      std::ofstream(dir + "/policies/" + key) << text.get<std::string>();
      ++files;
    }
  }
  ASSERT_GT(files, 0u);
  for (const std::string& ns : namespaces) {
    std::filesystem::create_directories(creds + "/" + ns);
  }
  std::ofstream(creds + "/team-a/token") << "t";
  std::ofstream(creds + "/team-b/redis-password") << "p";
  const LoadResult loaded = LoadPolicies(dir + "/policies");
  EXPECT_THAT(loaded.errors, IsEmpty());
  for (const LoadedPolicy& p : loaded.policies) {
    policy_namespaces.insert(p.policy.metadata().namespace_());
  }
  EXPECT_EQ(policy_namespaces, namespaces);
  const testing::RunResult check = testing::RunCommand(
      {testing::SignalscalerBinary(), "check", "--credentials-root=" + creds,
       "--allowed-source-hosts=" + Arg("allowed-source-hosts"),
       dir + "/policies"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

// The authz overlay: --authz-file names a whole Secret volume (no subPath:
// kubelet swaps an edited Secret in, and serve re-reads it), and the file
// it ships is a valid AdminAccess, as `check --authz-file` says. The other
// deployments have no authz file (loopback-only admin API).
TEST_P(KustomizeProductionTest, AuthzFileIsAMountedSecretThatChecks) {
  const std::string file = Arg("authz-file");
  if (std::string(GetParam()).find("authz") == std::string::npos) {
    EXPECT_EQ(file, "");
    EXPECT_EQ(Arg("admin-allow-any"), "");
    return;
  }
  ASSERT_EQ(file, "/etc/signalscaler/authz/authz.yaml");
  std::string volume;
  for (const json& m : At(*container_, {"volumeMounts"})) {
    if (m["mountPath"] == "/etc/signalscaler/authz") {
      volume = m["name"];
      EXPECT_EQ(m.value("readOnly", false), true);
      EXPECT_FALSE(m.contains("subPath"));
    }
  }
  ASSERT_FALSE(volume.empty()) << "nothing mounted at /etc/signalscaler/authz";
  std::string secret_name;
  for (const json& v : At(*pod_, {"volumes"})) {
    if (v["name"] == volume) secret_name = At(v, {"secret", "secretName"});
  }
  EXPECT_EQ(secret_name, "signalscaler-authz");
  const json* secret = nullptr;
  for (const json* s : objects_["Secret"]) {
    if (At(*s, {"metadata", "name"}) == secret_name) secret = s;
  }
  ASSERT_NE(secret, nullptr) << "the overlay renders no Secret " << secret_name;
  std::string text;
  ASSERT_TRUE(absl::Base64Unescape(
      At(*secret, {"data", "authz.yaml"}).get<std::string>(), &text));
  const std::string path = testing::MakeTempDir() + "/authz.yaml";
  std::ofstream(path) << text;
  const testing::RunResult check = testing::RunCommand(
      {testing::SignalscalerBinary(), "check", "--authz-file=" + path});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("AdminAccess OK, 2 clients"));
}

std::string DeployName(const ::testing::TestParamInfo<const char*>& info) {
  switch (info.index) {
    case 0:
      return "Base";
    case 1:
      return "ExampleOverlay";
    case 2:
      return "HaRedisOverlay";
    case 3:
      return "CredentialsOverlay";
    default:
      return "AuthzOverlay";
  }
}

INSTANTIATE_TEST_SUITE_P(BaseAndOverlays, KustomizeProductionTest,
                         ::testing::Values("deploy/base",
                                           "deploy/overlays/example",
                                           "deploy/overlays/ha-redis",
                                           "deploy/overlays/credentials",
                                           "deploy/overlays/authz"),
                         DeployName);

}  // namespace
}  // namespace signalscaler
