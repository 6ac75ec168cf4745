#include "sources/push/push_source.h"

namespace signalscaler {

void PushStore::Record(const PolicyKey& policy, const std::string& signal,
                       const Reading& reading) {
  absl::MutexLock lock(&mu_);
  values_[policy][signal] = reading;
}

std::optional<Reading> PushStore::Get(const PolicyKey& policy,
                                      const std::string& signal) const {
  absl::MutexLock lock(&mu_);
  auto p = values_.find(policy);
  if (p == values_.end()) return std::nullopt;
  auto s = p->second.find(signal);
  if (s == p->second.end()) return std::nullopt;
  return s->second;
}

void PushStore::GetMany(const PolicyKey& policy,
                        absl::Span<const std::string* const> signals,
                        absl::Span<std::optional<Reading>> out) const {
  absl::MutexLock lock(&mu_);
  auto p = values_.find(policy);
  for (size_t i = 0; i < signals.size() && i < out.size(); ++i) {
    out[i].reset();
    if (p == values_.end()) continue;
    auto s = p->second.find(*signals[i]);
    if (s != p->second.end()) out[i] = s->second;
  }
}

void PushStore::RetainOnly(const absl::flat_hash_set<PolicyKey>& keep) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(values_,
                 [&](const auto& kv) { return !keep.contains(kv.first); });
}

}  // namespace signalscaler
