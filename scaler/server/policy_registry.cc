#include "scaler/server/policy_registry.h"

#include <algorithm>
#include <utility>

namespace signalscaler {

PolicySnapshot::PolicySnapshot(std::vector<LoadedPolicy> policies) {
  std::vector<std::pair<PolicyKey, size_t>> order;
  order.reserve(policies.size());
  for (size_t i = 0; i < policies.size(); ++i) {
    order.emplace_back(KeyOf(policies[i].policy), i);
  }
  std::sort(order.begin(), order.end());
  policies_.reserve(order.size());
  keys_.reserve(order.size());
  for (auto& [key, i] : order) {
    index_.emplace(key, policies_.size());
    policies_.push_back(std::move(policies[i]));
    keys_.push_back(std::move(key));
  }
}

const LoadedPolicy* PolicySnapshot::Find(const PolicyKey& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &policies_[it->second];
}

PolicyRegistry::PolicyRegistry()
    : current_(std::make_shared<PolicySnapshot>(std::vector<LoadedPolicy>{})) {}

std::shared_ptr<const PolicySnapshot> PolicyRegistry::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

bool PolicyRegistry::loaded() const {
  absl::MutexLock lock(&mu_);
  return loaded_;
}

void PolicyRegistry::Set(std::shared_ptr<const PolicySnapshot> snapshot) {
  std::vector<std::shared_ptr<Listener>> listeners;
  {
    absl::MutexLock lock(&mu_);
    current_ = snapshot;
    loaded_ = loaded_ || !snapshot->policies().empty();
    for (const auto& [id, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) (*l)(*snapshot);
}

uint64_t PolicyRegistry::AddListener(Listener listener) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  listeners_[id] = std::make_shared<Listener>(std::move(listener));
  return id;
}

void PolicyRegistry::RemoveListener(uint64_t id) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

}  // namespace signalscaler
