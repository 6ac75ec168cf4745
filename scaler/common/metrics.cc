#include "scaler/common/metrics.h"

#include <sstream>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace signalscaler {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& reloads =
      prometheus::BuildCounter()
          .Name("signalscaler_policy_reloads_total")
          .Help("Policy reloads, by whether every file was accepted")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& rejections =
      prometheus::BuildCounter()
          .Name("signalscaler_policy_file_rejections_total")
          .Help(
              "Policy file versions rejected (the previous policies kept "
              "serving)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& loaded =
      prometheus::BuildGauge()
          .Name("signalscaler_policies_loaded")
          .Help("Policies in force")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& source_latency =
      prometheus::BuildHistogram()
          .Name("signalscaler_source_query_duration_seconds")
          .Help("Latency of source queries (sampler reads), by source kind")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& source_errors =
      prometheus::BuildCounter()
          .Name("signalscaler_source_query_errors_total")
          .Help("Failed source queries, by kind, query id and status code")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& source_success =
      prometheus::BuildGauge()
          .Name("signalscaler_source_last_success_timestamp_seconds")
          .Help("Unix time of the last successful read of a source query")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& decision =
      prometheus::BuildGauge()
          .Name("signalscaler_decision_replicas")
          .Help("The replica count decided for a policy (what KEDA reads)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& current =
      prometheus::BuildGauge()
          .Name("signalscaler_current_replicas")
          .Help("The replica count a decision started from")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& max_replicas =
      prometheus::BuildGauge()
          .Name("signalscaler_policy_max_replicas")
          .Help("A policy's effective maximum: maxReplicas and every limit")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& signal_held =
      prometheus::BuildGauge()
          .Name("signalscaler_signal_held")
          .Help(
              "1 while a signal holds the current count (missing, stale or "
              "failed reading)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& signal_value =
      prometheus::BuildGauge()
          .Name("signalscaler_signal_value")
          .Help("A signal's last reading")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& signal_proposal =
      prometheus::BuildGauge()
          .Name("signalscaler_signal_proposal")
          .Help("A signal's proposed replica count")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& changes =
      prometheus::BuildCounter()
          .Name("signalscaler_decision_changes_total")
          .Help("Decisions that changed the replica count, by reason")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& shadow =
      prometheus::BuildGauge()
          .Name("signalscaler_policy_shadow")
          .Help(
              "1 while a policy is in shadow mode (decides, changes nothing), "
              "else 0")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& shadow_short =
      prometheus::BuildCounter()
          .Name("signalscaler_shadow_fleet_short_replica_seconds_total")
          .Help(
              "Replica-seconds in which the fleet ran fewer pods than a "
              "shadow policy's decision")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& shadow_excess =
      prometheus::BuildCounter()
          .Name("signalscaler_shadow_fleet_excess_replica_seconds_total")
          .Help(
              "Replica-seconds in which the fleet ran more pods than a shadow "
              "policy's decision")
          .Register(*registry);

  prometheus::Family<prometheus::Counter>& rpc_calls =
      prometheus::BuildCounter()
          .Name("signalscaler_grpc_calls_total")
          .Help("gRPC calls answered, by method and status code")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& admin_requests =
      prometheus::BuildCounter()
          .Name("signalscaler_admin_requests_total")
          .Help(
              "Admin API calls (push, explain, policies), by client and "
              "status code")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& authz_reloads =
      prometheus::BuildCounter()
          .Name("signalscaler_authz_reloads_total")
          .Help(
              "Reads of --authz-file: ok (now in force) or rejected (the last "
              "good file stays in force)")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& rpc_latency =
      prometheus::BuildHistogram()
          .Name("signalscaler_grpc_call_duration_seconds")
          .Help("Time to answer a gRPC call (streams: their whole life)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& open_streams =
      prometheus::BuildGauge()
          .Name("signalscaler_open_streams")
          .Help("Open StreamIsActive / StreamMetricSpec calls")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& state_degraded =
      prometheus::BuildGauge()
          .Name("signalscaler_state_store_degraded")
          .Help(
              "1 while the state store is unreachable and this replica "
              "evaluates every policy locally")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& leases_held =
      prometheus::BuildGauge()
          .Name("signalscaler_leases_held")
          .Help("Policies whose lease this replica holds (it evaluates them)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& replicas_alive =
      prometheus::BuildGauge()
          .Name("signalscaler_replicas_alive")
          .Help("Scaler replicas alive according to the state store")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& lease_upkeep =
      prometheus::BuildHistogram()
          .Name("signalscaler_lease_upkeep_seconds")
          .Help(
              "One lease upkeep of this replica: its heartbeat, then every "
              "policy's lease in one batch")
          .Register(*registry);

  // Guards the bookkeeping below (the families are thread-safe). Lock order:
  // cache_mu, then mu.
  absl::Mutex mu ABSL_ACQUIRED_AFTER(cache_mu);
  // Every labelled series a policy or a query owns, to drop them together:
  // one entry per owner ("policy/<ns>/<name>", "query/<id>"), not per series.
  struct Owned {
    std::vector<
        std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>>
        gauges;
    std::vector<std::pair<prometheus::Family<prometheus::Counter>*,
                          prometheus::Counter*>>
        counters;
  };
  absl::flat_hash_map<std::string, Owned> owned ABSL_GUARDED_BY(mu);

  template <typename T>
  static void Remember(
      std::vector<std::pair<prometheus::Family<T>*, T*>>& series,
      prometheus::Family<T>& f, T& m) {
    for (const auto& [family, metric] : series) {
      if (metric == &m) return;
    }
    series.emplace_back(&f, &m);
  }
  prometheus::Gauge& OwnedGauge(const std::string& owner,
                                prometheus::Family<prometheus::Gauge>& f,
                                const prometheus::Labels& labels) {
    prometheus::Gauge& g = f.Add(labels);
    absl::MutexLock lock(&mu);
    Remember(owned[owner].gauges, f, g);
    return g;
  }
  prometheus::Counter& OwnedCounter(const std::string& owner,
                                    prometheus::Family<prometheus::Counter>& f,
                                    const prometheus::Labels& labels) {
    prometheus::Counter& c = f.Add(labels);
    absl::MutexLock lock(&mu);
    Remember(owned[owner].counters, f, c);
    return c;
  }

  // A policy's gauges, found without building a label set or a key string:
  // a decision sets 3 + 3 x signals series, and looking each up by its
  // labels (prometheus-cpp's Family::Add) or by a string key was most of an
  // evaluation's cost. By namespace, then policy name (string_view lookups).
  struct SignalGauges {
    prometheus::Gauge* value = nullptr;
    prometheus::Gauge* proposal = nullptr;
    prometheus::Gauge* held = nullptr;
  };
  struct PolicyGauges {
    prometheus::Gauge* decision = nullptr;
    prometheus::Gauge* current = nullptr;
    prometheus::Gauge* max_replicas = nullptr;
    absl::flat_hash_map<std::string, SignalGauges> signals;
  };
  absl::Mutex cache_mu;
  absl::flat_hash_map<std::string,
                      absl::flat_hash_map<std::string, PolicyGauges>>
      cache ABSL_GUARDED_BY(cache_mu);

  void Forget(const std::string& owner) ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    auto it = owned.find(owner);
    if (it == owned.end()) return;
    for (const auto& [family, gauge] : it->second.gauges) family->Remove(gauge);
    for (const auto& [family, counter] : it->second.counters) {
      family->Remove(counter);
    }
    owned.erase(it);
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  // Label-less series exist from the start (at 0), so that rate() and
  // increase() see their first increment.
  impl_->rejections.Add({});
  impl_->loaded.Add({});
}
Metrics::~Metrics() = default;

Metrics& Metrics::Get() {
  static Metrics* metrics = new Metrics();  // never destroyed: used at exit
  return *metrics;
}

std::string Metrics::Text() const {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, impl_->registry->Collect());
  return out.str();
}

void Metrics::RecordReload(int rejected_files) {
  impl_->reloads.Add({{"result", rejected_files == 0 ? "ok" : "rejected"}})
      .Increment();
}

void Metrics::RecordFileRejected() { impl_->rejections.Add({}).Increment(); }

void Metrics::SetPoliciesLoaded(size_t n) {
  impl_->loaded.Add({}).Set(static_cast<double>(n));
}

void Metrics::RecordSourceRead(absl::string_view kind,
                               absl::string_view query_id,
                               const absl::Status& status,
                               absl::Duration latency, absl::Time now) {
  const std::string k(kind);
  const std::string q(query_id);
  const std::string owner = absl::StrCat("query/", q);
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  impl_->source_latency.Add({{"kind", k}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(latency));
  if (status.ok()) {
    impl_->OwnedGauge(owner, impl_->source_success, {{"kind", k}, {"query", q}})
        .Set(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
  } else {
    impl_
        ->OwnedCounter(owner, impl_->source_errors,
                       {{"kind", k},
                        {"query", q},
                        {"code", absl::StatusCodeToString(status.code())}})
        .Increment();
  }
}

void Metrics::ForgetSourceQuery(absl::string_view kind,
                                absl::string_view query_id) {
  (void)kind;
  impl_->Forget(absl::StrCat("query/", query_id));
}

void Metrics::RecordDecision(const std::string& ns, const std::string& policy,
                             int64_t replicas, int64_t current,
                             int64_t max_replicas,
                             const std::vector<SignalSample>& signals,
                             const std::vector<std::string>& change_reasons) {
  // Built only when a series is new, or for a change's counter.
  std::string owner;
  const auto owner_key = [&]() -> const std::string& {
    if (owner.empty()) owner = absl::StrCat("policy/", ns, "/", policy);
    return owner;
  };
  const auto labels = [&] {
    return prometheus::Labels{{"namespace", ns}, {"policy", policy}};
  };
  {
    absl::MutexLock lock(&impl_->cache_mu);
    Impl::PolicyGauges& own = impl_->cache[ns][policy];
    const auto gauge = [&](prometheus::Gauge*& slot,
                           prometheus::Family<prometheus::Gauge>& f,
                           const auto& labels_of) -> prometheus::Gauge& {
      if (slot == nullptr)
        slot = &impl_->OwnedGauge(owner_key(), f, labels_of());
      return *slot;
    };
    gauge(own.decision, impl_->decision, labels)
        .Set(static_cast<double>(replicas));
    gauge(own.current, impl_->current, labels)
        .Set(static_cast<double>(current));
    gauge(own.max_replicas, impl_->max_replicas, labels)
        .Set(static_cast<double>(max_replicas));
    for (const SignalSample& s : signals) {
      const auto with_signal = [&labels, &s] {
        prometheus::Labels sl = labels();
        sl["signal"] = s.name;
        return sl;
      };
      Impl::SignalGauges& sg = own.signals[s.name];
      if (s.has_value) {
        gauge(sg.value, impl_->signal_value, with_signal).Set(s.value);
      }
      gauge(sg.proposal, impl_->signal_proposal, with_signal)
          .Set(static_cast<double>(s.proposal));
      gauge(sg.held, impl_->signal_held, with_signal).Set(s.held ? 1 : 0);
    }
  }
  for (const std::string& reason : change_reasons) {
    prometheus::Labels rl = labels();
    rl["reason"] = reason;
    impl_->OwnedCounter(owner_key(), impl_->changes, rl).Increment();
  }
}

void Metrics::RecordShadow(const std::string& ns, const std::string& policy,
                           bool shadow, double short_replica_seconds_delta,
                           double excess_replica_seconds_delta) {
  const std::string owner = absl::StrCat("policy/", ns, "/", policy);
  const prometheus::Labels labels{{"namespace", ns}, {"policy", policy}};
  impl_->OwnedGauge(owner, impl_->shadow, labels).Set(shadow ? 1 : 0);
  if (!shadow) return;
  prometheus::Counter& short_counter =
      impl_->OwnedCounter(owner, impl_->shadow_short, labels);
  prometheus::Counter& excess_counter =
      impl_->OwnedCounter(owner, impl_->shadow_excess, labels);
  if (short_replica_seconds_delta > 0) {
    short_counter.Increment(short_replica_seconds_delta);
  }
  if (excess_replica_seconds_delta > 0) {
    excess_counter.Increment(excess_replica_seconds_delta);
  }
}

void Metrics::RecordRpc(absl::string_view method, int code,
                        absl::Duration latency) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
  const std::string m(method);
  impl_->rpc_calls
      .Add({{"method", m},
            {"code",
             absl::StatusCodeToString(static_cast<absl::StatusCode>(code))}})
      .Increment();
  impl_->rpc_latency.Add({{"method", m}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordAdminRequest(absl::string_view client,
                                 absl::string_view verb,
                                 absl::string_view code) {
  impl_->admin_requests
      .Add({{"client", std::string(client)},
            {"verb", std::string(verb)},
            {"code", std::string(code)}})
      .Increment();
}

void Metrics::RecordAuthzReload(bool ok) {
  impl_->authz_reloads.Add({{"result", ok ? "ok" : "rejected"}}).Increment();
}

void Metrics::SetOpenStreams(absl::string_view method, size_t n) {
  impl_->open_streams.Add({{"method", std::string(method)}})
      .Set(static_cast<double>(n));
}

void Metrics::ForgetPolicy(const std::string& ns, const std::string& policy) {
  {
    absl::MutexLock lock(&impl_->cache_mu);
    auto it = impl_->cache.find(ns);
    if (it != impl_->cache.end()) {
      it->second.erase(policy);
      if (it->second.empty()) impl_->cache.erase(it);
    }
  }
  impl_->Forget(absl::StrCat("policy/", ns, "/", policy));
}

void Metrics::RecordLeaseUpkeep(absl::Duration took) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  impl_->lease_upkeep.Add({}, kBuckets).Observe(absl::ToDoubleSeconds(took));
}

void Metrics::SetStateStatus(absl::string_view store, bool degraded,
                             size_t leases_held, size_t replicas_alive) {
  impl_->state_degraded.Add({{"store", std::string(store)}})
      .Set(degraded ? 1 : 0);
  impl_->leases_held.Add({}).Set(static_cast<double>(leases_held));
  impl_->replicas_alive.Add({}).Set(
      static_cast<double>(degraded ? 0 : replicas_alive));
}

}  // namespace signalscaler
