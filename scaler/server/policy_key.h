// Identity of a policy: its namespace and name.
#ifndef SIGNALSCALER_SCALER_SERVER_POLICY_KEY_H_
#define SIGNALSCALER_SCALER_SERVER_POLICY_KEY_H_

#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

namespace signalscaler {

struct PolicyKey {
  std::string ns;
  std::string name;

  std::string ToString() const { return absl::StrCat(ns, "/", name); }
  friend bool operator==(const PolicyKey& a, const PolicyKey& b) {
    return a.ns == b.ns && a.name == b.name;
  }
  friend bool operator<(const PolicyKey& a, const PolicyKey& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  }
  template <typename H>
  friend H AbslHashValue(H h, const PolicyKey& k) {
    return H::combine(std::move(h), k.ns, k.name);
  }
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_POLICY_KEY_H_
