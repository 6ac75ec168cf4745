#include "scaler/server/evaluator.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/engine/engine.h"
#include "scaler/policy/defaults.h"

namespace signalscaler {

Evaluator::Evaluator(const PolicyRegistry& registry, const Observer& observer,
                     DecisionBoard& board, const Clock& clock)
    : registry_(registry), observer_(observer), board_(board), clock_(clock) {}

Evaluator::~Evaluator() { Stop(); }

Inputs Evaluator::Gather(const LoadedPolicy& loaded) const {
  const PolicyKey key = KeyOf(loaded.policy);
  const v1::PolicySpec& spec = loaded.policy.spec();
  Inputs in;
  for (const v1::Signal& s : spec.signals()) {
    in.signals[s.name()] = observer_.Observe(key, s.name(), s.source());
  }
  if (spec.has_replicas()) {
    in.replicas = observer_.Observe(key, kReplicasSignal, spec.replicas());
  }
  if (spec.has_ready_replicas()) {
    in.ready_replicas =
        observer_.Observe(key, kReadyReplicasSignal, spec.ready_replicas());
  }
  return in;
}

void Evaluator::EvaluateLocked(const LoadedPolicy& loaded, PolicyState& st,
                               absl::Time now) {
  const PolicyKey key = KeyOf(loaded.policy);
  st.next_due = now + EvaluationInterval(loaded.policy.spec());
  const std::optional<int64_t> before = st.engine.last_decision;
  absl::StatusOr<Decision> d =
      Decide(loaded.policy, Gather(loaded), st.engine, now);
  if (!d.ok()) {
    board_.SetUnavailable(key, d.status());
    LogDebug("no decision", {{"policy", key.ToString()},
                             {"reason", std::string(d.status().message())}});
    return;
  }
  std::vector<Metrics::SignalSample> samples;
  for (const SignalExplanation& s : d->signals) {
    Metrics::SignalSample m;
    m.name = s.name;
    m.has_value = s.value.has_value();
    m.value = s.value.value_or(0);
    m.proposal = s.proposal;
    m.held = s.state != SignalState::kOk;
    samples.push_back(std::move(m));
  }
  std::vector<std::string> change_reasons;
  const bool changed = !before.has_value() || *before != d->replicas;
  if (changed && before.has_value()) {
    for (const Reason& r : d->reasons) {
      change_reasons.push_back(ReasonCodeName(r.code));
    }
  }
  Metrics::Get().RecordDecision(key.ns, key.name, d->replicas, d->current,
                                d->max_replicas, samples, change_reasons);
  if (changed) {
    LogInfo("decision changed",
            {{"policy", key.ToString()},
             {"from", before ? absl::StrCat(*before) : "none"},
             {"to", absl::StrCat(d->replicas)},
             {"explanation", d->Summary()}});
  }
  board_.Publish(key, std::make_shared<const Decision>(*std::move(d)));
}

void Evaluator::EvaluateDue() {
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  const absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  absl::flat_hash_set<PolicyKey> live;
  for (const LoadedPolicy& loaded : snap->policies()) {
    const PolicyKey key = KeyOf(loaded.policy);
    live.insert(key);
    PolicyState& st = states_[key];
    std::string fingerprint = loaded.policy.spec().SerializeAsString();
    if (fingerprint != st.fingerprint) {
      // A changed spec (reload) is evaluated at once; its history is kept:
      // it is about the service's replicas, which did not change.
      st.fingerprint = std::move(fingerprint);
      st.next_due = absl::InfinitePast();
    }
    if (now >= st.next_due) EvaluateLocked(loaded, st, now);
  }
  absl::erase_if(states_, [&](const auto& kv) {
    if (live.contains(kv.first)) return false;
    Metrics::Get().ForgetPolicy(kv.first.ns, kv.first.name);
    return true;
  });
  board_.RetainOnly(live);
}

absl::Status Evaluator::EvaluateNow(const PolicyKey& key) {
  const std::shared_ptr<const PolicySnapshot> snap = registry_.Get();
  const LoadedPolicy* loaded = snap->Find(key);
  if (loaded == nullptr) {
    return absl::NotFoundError(absl::StrCat("no policy ", key.ToString()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  EvaluateLocked(*loaded, states_[key], clock_.Now());
  return absl::OkStatus();
}

void Evaluator::Start(absl::Duration tick) {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (thread_ != nullptr) return;
    stopping_ = false;
  }
  thread_ = std::make_unique<std::thread>([this, tick] {
    while (true) {
      EvaluateDue();
      std::unique_lock<std::mutex> lock(run_mu_);
      if (run_cv_.wait_for(lock, absl::ToChronoNanoseconds(tick),
                           [this] { return stopping_; })) {
        return;
      }
    }
  });
}

void Evaluator::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (thread_ == nullptr) return;
    stopping_ = true;
  }
  run_cv_.notify_all();
  thread_->join();
  thread_.reset();
}

}  // namespace signalscaler
