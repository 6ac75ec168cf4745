#include "sources/push/push_source.h"

namespace signalscaler {

const Reading* PushStore::Find(const Signals& signals, const std::string& name,
                               size_t hint) {
  // Pushed in the order declared, the i-th signal asked for is the i-th.
  if (hint < signals.size() && signals[hint].first == name) {
    return &signals[hint].second;
  }
  for (const auto& [signal, reading] : signals) {
    if (signal == name) return &reading;
  }
  return nullptr;
}

void PushStore::Record(const PolicyKey& policy, const std::string& signal,
                       const Reading& reading) {
  absl::MutexLock lock(&mu_);
  Signals& signals = values_[policy];
  for (auto& [name, value] : signals) {
    if (name == signal) {
      value = reading;
      return;
    }
  }
  signals.emplace_back(signal, reading);
}

std::optional<Reading> PushStore::Get(const PolicyKey& policy,
                                      const std::string& signal) const {
  absl::MutexLock lock(&mu_);
  auto p = values_.find(policy);
  if (p == values_.end()) return std::nullopt;
  const Reading* r = Find(p->second, signal, 0);
  if (r == nullptr) return std::nullopt;
  return *r;
}

void PushStore::GetMany(const PolicyKey& policy,
                        absl::Span<const std::string* const> signals,
                        absl::Span<std::optional<Reading>> out) const {
  absl::MutexLock lock(&mu_);
  auto p = values_.find(policy);
  for (size_t i = 0; i < signals.size() && i < out.size(); ++i) {
    out[i].reset();
    if (p == values_.end()) continue;
    if (const Reading* r = Find(p->second, *signals[i], i)) out[i] = *r;
  }
}
void PushStore::RetainOnly(const absl::flat_hash_set<PolicyKey>& keep) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(values_,
                 [&](const auto& kv) { return !keep.contains(kv.first); });
}

}  // namespace signalscaler
