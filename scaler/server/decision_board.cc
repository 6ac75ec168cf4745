#include "scaler/server/decision_board.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace signalscaler {

absl::StatusOr<std::shared_ptr<const Decision>> DecisionBoard::Get(
    const PolicyKey& key) const {
  absl::MutexLock lock(&mu_);
  return GetLocked(key);
}

absl::StatusOr<std::shared_ptr<const Decision>> DecisionBoard::GetLocked(
    const PolicyKey& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return absl::UnavailableError(absl::StrCat(
        "policy ", key.ToString(), " has no decision yet (not evaluated)"));
  }
  if (it->second.decision == nullptr) {
    return it->second.unavailable.ok()
               ? absl::UnavailableError(absl::StrCat("policy ", key.ToString(),
                                                     " has no decision yet"))
               : it->second.unavailable;
  }
  return it->second.decision;
}

absl::StatusOr<FleetView> DecisionBoard::Fleet(
    const PolicyKey& key, std::shared_ptr<const Decision>* decision) const {
  // One lock for both: a decision published between a look and a second
  // one must not turn "no decision" into an OK status.
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<const Decision>> d = GetLocked(key);
  if (!d.ok()) return d.status();
  if (decision != nullptr) *decision = *d;
  return entries_.find(key)->second.fleet;
}

void DecisionBoard::Publish(const PolicyKey& key,
                            std::shared_ptr<const Decision> decision,
                            FleetView fleet) {
  absl::MutexLock order(&publish_mu_);
  std::vector<std::shared_ptr<Watcher>> to_call;
  {
    absl::MutexLock lock(&mu_);
    Entry& e = entries_[key];
    e.decision = decision;
    e.fleet = std::move(fleet);
    e.unavailable = absl::OkStatus();
    e.unavailable_signals.clear();
    for (const auto& [id, w] : watchers_) {
      if (w.key == key) to_call.push_back(w.watcher);
    }
  }
  for (const auto& w : to_call) (*w)(*decision);
}

void DecisionBoard::SetShadow(const PolicyKey& key, bool shadow) {
  absl::MutexLock order(&publish_mu_);
  std::vector<std::shared_ptr<Watcher>> to_call;
  std::shared_ptr<const Decision> decision;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.decision == nullptr ||
        it->second.fleet.mode_shadow == shadow) {
      return;
    }
    it->second.fleet.mode_shadow = shadow;
    decision = it->second.decision;
    for (const auto& [id, w] : watchers_) {
      if (w.key == key) to_call.push_back(w.watcher);
    }
  }
  for (const auto& w : to_call) (*w)(*decision);
}

void DecisionBoard::SetUnavailable(const PolicyKey& key, absl::Status why,
                                   std::vector<SignalExplanation> signals) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[key];
  if (e.decision != nullptr) return;
  e.unavailable = std::move(why);
  e.unavailable_signals = std::move(signals);
}

std::vector<SignalExplanation> DecisionBoard::SignalsWithoutDecision(
    const PolicyKey& key) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.decision != nullptr) return {};
  return it->second.unavailable_signals;
}

void DecisionBoard::RetainOnly(const absl::flat_hash_set<PolicyKey>& keep) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(entries_,
                 [&](const auto& kv) { return !keep.contains(kv.first); });
}

uint64_t DecisionBoard::Watch(const PolicyKey& key, Watcher watcher) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  watchers_[id] =
      WatchEntry{key, std::make_shared<Watcher>(std::move(watcher))};
  return id;
}

void DecisionBoard::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void DecisionBoard::SetHistorySource(HistorySource source) {
  absl::MutexLock lock(&history_mu_);
  history_ = std::move(source);
}

DecisionHistory DecisionBoard::History(const PolicyKey& key,
                                       absl::Time decided) const {
  absl::MutexLock lock(&history_mu_);
  if (!history_) return {};
  return history_(key, decided);
}

}  // namespace signalscaler
