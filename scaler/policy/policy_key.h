// Identity of a policy: its namespace and name. Every layer (sources, state,
// server) names a policy by a PolicyKey, and spells its id with ToString():
// "namespace/name", the one spelling of a policy's id.
//
//   const PolicyKey key = KeyOf(loaded.policy);
//   LogInfo("...", {{"policy", key.ToString()}});  // "media/livekit-egress"
#ifndef SIGNALSCALER_SCALER_POLICY_POLICY_KEY_H_
#define SIGNALSCALER_SCALER_POLICY_POLICY_KEY_H_

#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

namespace signalscaler {
namespace v1 {
class ScalingPolicy;
}  // namespace v1

struct PolicyKey {
  std::string ns;
  std::string name;

  // The policy's id, "namespace/name".
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

// The key of a policy (its metadata's namespace and name, as they are: the
// loader fills in "default" for a missing namespace). Its id is
// KeyOf(policy).ToString().
PolicyKey KeyOf(const v1::ScalingPolicy& policy);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_POLICY_KEY_H_
