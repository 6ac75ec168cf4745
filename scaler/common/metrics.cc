#include "scaler/common/metrics.h"

#include <array>
#include <atomic>
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
#include "scaler/common/internal/policy_series.h"

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

  // Every policy's series, rendered at scrape time.
  metrics_internal::PolicySeries policies;

  // The gRPC series of each method, looked up without a lock. KEDA's calls
  // come at tens of thousands per second, and Family::Add builds a label
  // map, hashes it and takes the family's mutex on every call
  // (prometheus-cpp 1.0's Histogram family also builds and drops a whole
  // Histogram). The table only grows: a slot is filled under rpc_mu, then
  // published by rpc_methods (release); readers scan the published slots.
  // The rpc families never remove a series, so the pointers stay valid.
  static constexpr int kRpcCodes = 17;  // absl::StatusCode 0..16
  static constexpr int kRpcMethodSlots = 16;
  struct RpcSeries {
    std::string method;
    prometheus::Histogram* latency = nullptr;
    std::array<std::atomic<prometheus::Counter*>, kRpcCodes> calls{};
  };
  std::array<RpcSeries, kRpcMethodSlots> rpc_series;
  std::atomic<int> rpc_methods{0};
  absl::Mutex rpc_mu;
  // The slot of `method`, made on first use; null once every slot is taken.
  RpcSeries* RpcSeriesOf(absl::string_view method) {
    auto find = [&](int n) -> RpcSeries* {
      for (int i = 0; i < n; ++i) {
        if (rpc_series[i].method == method) return &rpc_series[i];
      }
      return nullptr;
    };
    const int published = rpc_methods.load(std::memory_order_acquire);
    if (RpcSeries* s = find(published)) return s;
    if (published == kRpcMethodSlots) return nullptr;  // full: no lock
    absl::MutexLock lock(&rpc_mu);
    const int n = rpc_methods.load(std::memory_order_relaxed);
    if (RpcSeries* s = find(n)) return s;
    if (n == kRpcMethodSlots) return nullptr;
    RpcSeries& s = rpc_series[n];
    s.method = std::string(method);
    s.latency = &RpcLatencySeries(s.method);
    rpc_methods.store(n + 1, std::memory_order_release);
    return &s;
  }
  prometheus::Counter& RpcCalls(RpcSeries& s, int code) {
    prometheus::Counter* c = s.calls[code].load(std::memory_order_acquire);
    if (c == nullptr) {
      // Family::Add returns the one series of these labels, so two threads
      // racing here store the same pointer.
      c = &RpcCallsSeries(s.method, code);
      s.calls[code].store(c, std::memory_order_release);
    }
    return *c;
  }
  prometheus::Counter& RpcCallsSeries(const std::string& method, int code) {
    return rpc_calls.Add({{"method", method},
                          {"code", absl::StatusCodeToString(
                                       static_cast<absl::StatusCode>(code))}});
  }
  prometheus::Histogram& RpcLatencySeries(const std::string& method) {
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
    return rpc_latency.Add({{"method", method}}, kBuckets);
  }

  // Guards the bookkeeping below (the families are thread-safe).
  absl::Mutex mu;
  // Every labelled series a query owns, to drop them together: one entry
  // per owner ("query/<id>"), not per series.
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
  impl_->policies.AppendText(out);
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
                             absl::Span<const SignalSample> signals,
                             const std::vector<std::string>& change_reasons,
                             const ShadowSample& shadow) {
  impl_->policies.RecordDecision(ns, policy, replicas, current, max_replicas,
                                 signals, change_reasons, &shadow);
}

Metrics::PolicyRowRef Metrics::PolicyRowOf(const std::string& ns,
                                           const std::string& policy) {
  return impl_->policies.Ref(ns, policy);
}

void Metrics::RecordDecision(const PolicyRowRef& row, int64_t replicas,
                             int64_t current, int64_t max_replicas,
                             absl::Span<const SignalSample> signals,
                             const std::vector<std::string>& change_reasons,
                             const ShadowSample& shadow) {
  impl_->policies.RecordDecision(row, replicas, current, max_replicas, signals,
                                 change_reasons, &shadow);
}

void Metrics::RecordDecision(const std::string& ns, const std::string& policy,
                             int64_t replicas, int64_t current,
                             int64_t max_replicas,
                             absl::Span<const SignalSample> signals,
                             const std::vector<std::string>& change_reasons) {
  impl_->policies.RecordDecision(ns, policy, replicas, current, max_replicas,
                                 signals, change_reasons, nullptr);
}

void Metrics::RecordRpc(absl::string_view method, int code,
                        absl::Duration latency) {
  const double seconds = absl::ToDoubleSeconds(latency);
  Impl::RpcSeries* s = impl_->RpcSeriesOf(method);
  if (s == nullptr) {  // more methods than slots: the uncached path
    const std::string m(method);
    impl_->RpcCallsSeries(m, code).Increment();
    impl_->RpcLatencySeries(m).Observe(seconds);
    return;
  }
  if (code >= 0 && code < Impl::kRpcCodes) {
    impl_->RpcCalls(*s, code).Increment();
  } else {
    impl_->RpcCallsSeries(s->method, code).Increment();
  }
  s->latency->Observe(seconds);
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
  impl_->policies.Forget(ns, policy);
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
