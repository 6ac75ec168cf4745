#include "scaler/common/internal/policy_series.h"

#include <functional>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"
#include "prometheus/text_serializer.h"

namespace signalscaler::metrics_internal {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricType;

ClientMetric Labelled(const std::string& ns, const std::string& policy) {
  ClientMetric m;
  // In prometheus-cpp's order (its label maps are sorted by name).
  m.label = {{"namespace", ns}, {"policy", policy}};
  return m;
}

void Set(ClientMetric& m, MetricType type, double value) {
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
}

}  // namespace

const PolicySeries::RowRef& PolicySeries::RowLocked(const std::string& ns,
                                                    const std::string& policy) {
  auto outer = rows_.find(ns);
  if (outer == rows_.end()) outer = rows_.try_emplace(ns).first;
  auto inner = outer->second.find(policy);
  if (inner == outer->second.end()) {
    inner = outer->second.try_emplace(policy).first;
    inner->second = std::make_shared<PolicyRow>();
    inner->second->ns = ns;
    inner->second->policy = policy;
  }
  return inner->second;
}

PolicySeries::RowRef PolicySeries::Ref(const std::string& ns,
                                       const std::string& policy) {
  absl::MutexLock lock(&mu_);
  return RowLocked(ns, policy);
}

void PolicySeries::RecordDecision(
    const std::string& ns, const std::string& policy, int64_t replicas,
    int64_t current, int64_t max_replicas,
    absl::Span<const Metrics::SignalSample> signals,
    const std::vector<std::string>& change_reasons,
    const Metrics::ShadowSample* shadow) {
  absl::MutexLock lock(&mu_);
  RecordLocked(*RowLocked(ns, policy), replicas, current, max_replicas, signals,
               change_reasons, shadow);
}

void PolicySeries::RecordDecision(
    const RowRef& ref, int64_t replicas, int64_t current, int64_t max_replicas,
    absl::Span<const Metrics::SignalSample> signals,
    const std::vector<std::string>& change_reasons,
    const Metrics::ShadowSample* shadow) {
  absl::MutexLock lock(&mu_);
  PolicyRow* row = ref.get();
  if (!row->retained) {
    // Forgotten: back in the map, or into the row made since.
    RowRef& in_map = rows_[row->ns][row->policy];
    if (in_map == nullptr) {
      in_map = ref;
      row->retained = true;
    }
    row = in_map.get();
  }
  RecordLocked(*row, replicas, current, max_replicas, signals, change_reasons,
               shadow);
}

void PolicySeries::RecordLocked(PolicyRow& row, int64_t replicas,
                                int64_t current, int64_t max_replicas,
                                absl::Span<const Metrics::SignalSample> signals,
                                const std::vector<std::string>& change_reasons,
                                const Metrics::ShadowSample* shadow_sample) {
  row.decided = true;
  row.decision = replicas;
  row.current = current;
  row.max_replicas = max_replicas;
  for (size_t i = 0; i < signals.size(); ++i) {
    const Metrics::SignalSample& s = signals[i];
    // A policy's signals come in the same order every time.
    PolicyRow::Signal* sr = nullptr;
    if (i < row.signals.size() && row.signals[i].name == s.name) {
      sr = &row.signals[i];
    } else {
      for (PolicyRow::Signal& candidate : row.signals) {
        if (candidate.name == s.name) sr = &candidate;
      }
      if (sr == nullptr) {
        sr = &row.signals.emplace_back();
        sr->name = std::string(s.name);
      }
    }
    if (s.has_value) {
      sr->value_seen = true;
      sr->value = s.value;
    }
    sr->proposal = s.proposal;
    sr->held = s.held;
  }
  for (const std::string& reason : change_reasons) {
    bool found = false;
    for (auto& [name, count] : row.changes) {
      if (name == reason) {
        count += 1;
        found = true;
      }
    }
    if (!found) row.changes.emplace_back(reason, 1);
  }
  if (shadow_sample == nullptr) return;
  const Metrics::ShadowSample& shadow = *shadow_sample;
  row.shadow = shadow.shadow ? 1 : 0;
  if (!shadow.shadow) return;
  row.shadow_counters = true;
  if (shadow.short_replica_seconds_delta > 0) {
    row.shadow_short += shadow.short_replica_seconds_delta;
  }
  if (shadow.excess_replica_seconds_delta > 0) {
    row.shadow_excess += shadow.excess_replica_seconds_delta;
  }
}

void PolicySeries::Forget(const std::string& ns, const std::string& policy) {
  absl::MutexLock lock(&mu_);
  auto it = rows_.find(ns);
  if (it == rows_.end()) return;
  auto row = it->second.find(policy);
  if (row == it->second.end()) return;
  row->second->retained = false;
  it->second.erase(row);
  if (it->second.empty()) rows_.erase(it);
}

void PolicySeries::AppendText(std::ostream& out) const {
  // Per family: the metrics of one row.
  using Fill = std::function<void(
      const std::string& ns, const std::string& policy, const PolicyRow& row,
      MetricType type, std::vector<ClientMetric>& metrics)>;
  const auto one = [](auto value_of, auto present) -> Fill {
    return [value_of, present](const std::string& ns, const std::string& p,
                               const PolicyRow& row, MetricType type,
                               std::vector<ClientMetric>& metrics) {
      if (!present(row)) return;
      ClientMetric& m = metrics.emplace_back(Labelled(ns, p));
      Set(m, type, value_of(row));
    };
  };
  const auto per_signal = [](auto value_of, auto present) -> Fill {
    return [value_of, present](const std::string& ns, const std::string& p,
                               const PolicyRow& row, MetricType type,
                               std::vector<ClientMetric>& metrics) {
      for (const PolicyRow::Signal& s : row.signals) {
        if (!present(s)) continue;
        ClientMetric& m = metrics.emplace_back(Labelled(ns, p));
        m.label.push_back({"signal", s.name});
        Set(m, type, value_of(s));
      }
    };
  };
  const auto decided = [](const PolicyRow& r) { return r.decided; };
  const auto always = [](const PolicyRow::Signal&) { return true; };
  struct Spec {
    const char* name;
    const char* help;
    MetricType type;
    Fill fill;
  };
  const Spec specs[] = {
      {"signalscaler_decision_replicas",
       "The replica count decided for a policy (what KEDA reads)",
       MetricType::Gauge,
       one([](const PolicyRow& r) { return static_cast<double>(r.decision); },
           decided)},
      {"signalscaler_current_replicas",
       "The replica count a decision started from", MetricType::Gauge,
       one([](const PolicyRow& r) { return static_cast<double>(r.current); },
           decided)},
      {"signalscaler_policy_max_replicas",
       "A policy's effective maximum: maxReplicas and every limit",
       MetricType::Gauge,
       one(
           [](const PolicyRow& r) {
             return static_cast<double>(r.max_replicas);
           },
           decided)},
      {"signalscaler_signal_held",
       "1 while a signal holds the current count (missing, stale or failed "
       "reading)",
       MetricType::Gauge,
       per_signal([](const PolicyRow::Signal& s) { return s.held ? 1.0 : 0.0; },
                  always)},
      {"signalscaler_signal_value", "A signal's last reading",
       MetricType::Gauge,
       per_signal([](const PolicyRow::Signal& s) { return s.value; },
                  [](const PolicyRow::Signal& s) { return s.value_seen; })},
      {"signalscaler_signal_proposal", "A signal's proposed replica count",
       MetricType::Gauge,
       per_signal(
           [](const PolicyRow::Signal& s) {
             return static_cast<double>(s.proposal);
           },
           always)},
      {"signalscaler_decision_changes_total",
       "Decisions that changed the replica count, by reason",
       MetricType::Counter,
       [](const std::string& ns, const std::string& p, const PolicyRow& row,
          MetricType, std::vector<ClientMetric>& metrics) {
         for (const auto& [reason, count] : row.changes) {
           ClientMetric& m = metrics.emplace_back(Labelled(ns, p));
           m.label.push_back({"reason", reason});
           m.counter.value = count;
         }
       }},
      {"signalscaler_policy_shadow",
       "1 while a policy is in shadow mode (decides, changes nothing), else 0",
       MetricType::Gauge,
       one([](const PolicyRow& r) { return static_cast<double>(r.shadow); },
           [](const PolicyRow& r) { return r.shadow >= 0; })},
      {"signalscaler_shadow_fleet_short_replica_seconds_total",
       "Replica-seconds in which the fleet ran fewer pods than a shadow "
       "policy's decision",
       MetricType::Counter,
       one([](const PolicyRow& r) { return r.shadow_short; },
           [](const PolicyRow& r) { return r.shadow_counters; })},
      {"signalscaler_shadow_fleet_excess_replica_seconds_total",
       "Replica-seconds in which the fleet ran more pods than a shadow "
       "policy's decision",
       MetricType::Counter,
       one([](const PolicyRow& r) { return r.shadow_excess; },
           [](const PolicyRow& r) { return r.shadow_counters; })},
  };
  prometheus::TextSerializer serializer;
  for (const Spec& spec : specs) {
    std::vector<prometheus::MetricFamily> family(1);
    family[0].name = spec.name;
    family[0].help = spec.help;
    family[0].type = spec.type;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [ns, policies] : rows_) {
        for (const auto& [policy, row] : policies) {
          spec.fill(ns, policy, *row, spec.type, family[0].metric);
        }
      }
    }
    serializer.Serialize(out, family);
  }
}

}  // namespace signalscaler::metrics_internal
