#include "scaler/policy/policy_key.h"

#include "proto/policy.pb.h"

namespace signalscaler {

PolicyKey KeyOf(const v1::ScalingPolicy& policy) {
  return PolicyKey{policy.metadata().namespace_(), policy.metadata().name()};
}

}  // namespace signalscaler
