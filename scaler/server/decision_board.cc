#include "scaler/server/decision_board.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace signalscaler {

absl::StatusOr<std::shared_ptr<const Decision>> DecisionBoard::Get(
    const PolicyKey& key) const {
  absl::MutexLock lock(&mu_);
  return DecisionOf(key, FindLocked(key));
}

const DecisionBoard::Entry* DecisionBoard::FindLocked(
    const PolicyKey& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::shared_ptr<const Decision>> DecisionBoard::DecisionOf(
    const PolicyKey& key, const Entry* e) const {
  if (e == nullptr || (e->decision == nullptr && e->unavailable.ok())) {
    return absl::UnavailableError(absl::StrCat(
        "policy ", key.ToString(), " has no decision yet (not evaluated)"));
  }
  if (e->decision == nullptr) return e->unavailable;
  return e->decision;
}

const DecisionBoard::EntryRef& DecisionBoard::EntryLocked(
    const PolicyKey& key) {
  EntryRef& e = entries_[key];
  if (e == nullptr) {
    e = std::make_shared<Entry>();
    e->key = key;
  }
  return e;
}

absl::StatusOr<FleetView> DecisionBoard::Fleet(
    const PolicyKey& key, std::shared_ptr<const Decision>* decision) const {
  // One lock for both: a decision published between a look and a second
  // one must not turn "no decision" into an OK status.
  absl::MutexLock lock(&mu_);
  const Entry* e = FindLocked(key);
  absl::StatusOr<std::shared_ptr<const Decision>> d = DecisionOf(key, e);
  if (!d.ok()) return d.status();
  if (decision != nullptr) *decision = *std::move(d);
  return e->fleet;
}

void DecisionBoard::Publish(const PolicyKey& key,
                            std::shared_ptr<const Decision> decision,
                            FleetView fleet) {
  Publish(Ref(key), std::move(decision), std::move(fleet));
}

DecisionBoard::EntryRef DecisionBoard::Ref(const PolicyKey& key) {
  absl::MutexLock lock(&mu_);
  return EntryLocked(key);
}

void DecisionBoard::Publish(const EntryRef& entry,
                            std::shared_ptr<const Decision> decision,
                            FleetView fleet) {
  absl::MutexLock order(&publish_mu_);
  std::vector<std::shared_ptr<Watcher>> to_call;
  std::shared_ptr<const Decision> published;
  {
    absl::MutexLock lock(&mu_);
    Entry* e = entry.get();
    if (!e->retained) {
      // Dropped by RetainOnly: back in the map (or, if another entry was
      // made for the key since, into that one).
      EntryRef& in_map = entries_[e->key];
      if (in_map == nullptr) {
        in_map = entry;
        e->retained = true;
      }
      e = in_map.get();
    }
    // `decision` becomes the previous one, released at the end, outside
    // the lock (when nobody else holds it, that is its free).
    e->decision.swap(decision);
    e->fleet = std::move(fleet);
    if (!e->unavailable.ok()) e->unavailable = absl::OkStatus();
    e->unavailable_signals.clear();
    to_call = WatchersLocked(e->key);
    if (!to_call.empty()) published = e->decision;
  }
  for (const auto& w : to_call) (*w)(*published);
}

std::vector<std::shared_ptr<DecisionBoard::Watcher>>
DecisionBoard::WatchersLocked(const PolicyKey& key) const {
  std::vector<std::shared_ptr<Watcher>> out;
  if (watchers_.empty()) return out;
  auto it = watchers_.find(key);
  if (it == watchers_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [id, w] : it->second) out.push_back(w);
  return out;
}

void DecisionBoard::SetShadow(const PolicyKey& key, bool shadow) {
  absl::MutexLock order(&publish_mu_);
  std::vector<std::shared_ptr<Watcher>> to_call;
  std::shared_ptr<const Decision> decision;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry& e = *it->second;
    if (e.decision == nullptr || e.fleet.mode_shadow == shadow) return;
    e.fleet.mode_shadow = shadow;
    decision = e.decision;
    to_call = WatchersLocked(key);
  }
  for (const auto& w : to_call) (*w)(*decision);
}

void DecisionBoard::SetUnavailable(const PolicyKey& key, absl::Status why,
                                   std::vector<SignalExplanation> signals) {
  absl::MutexLock lock(&mu_);
  Entry& e = *EntryLocked(key);
  if (e.decision != nullptr) return;
  e.unavailable = std::move(why);
  e.unavailable_signals = std::move(signals);
}

std::vector<SignalExplanation> DecisionBoard::SignalsWithoutDecision(
    const PolicyKey& key) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->decision != nullptr) return {};
  return it->second->unavailable_signals;
}

void DecisionBoard::RetainOnly(const absl::flat_hash_set<PolicyKey>& keep) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(entries_, [&](const auto& kv) {
    if (keep.contains(kv.first)) return false;
    kv.second->retained = false;
    return true;
  });
}

uint64_t DecisionBoard::Watch(const PolicyKey& key, Watcher watcher) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  watchers_[key][id] = std::make_shared<Watcher>(std::move(watcher));
  watched_key_[id] = key;
  return id;
}

void DecisionBoard::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto k = watched_key_.find(id);
  if (k == watched_key_.end()) return;
  auto w = watchers_.find(k->second);
  if (w != watchers_.end()) {
    w->second.erase(id);
    if (w->second.empty()) watchers_.erase(w);
  }
  watched_key_.erase(k);
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
