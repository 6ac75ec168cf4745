// The KEDA manifests that use a policy correctly, as `signalscaler render`
// prints them: one ScaledObject per policy (and, with TLS, one
// TriggerAuthentication per namespace).
//
//   LoadResult r = LoadPolicies("deploy/examples/policies/sip.yaml");
//   RenderOptions options;
//   options.tls_secret = "signalscaler-client-tls";
//   std::cout << RenderScaledObjects(r.policies, options);
#ifndef SIGNALSCALER_SCALER_CLI_RENDER_H_
#define SIGNALSCALER_SCALER_CLI_RENDER_H_

#include <string>
#include <vector>

#include "scaler/policy/loader.h"

namespace signalscaler {

inline constexpr char kDefaultScalerAddress[] =
    "signalscaler.signalscaler.svc.cluster.local:9090";
// The name of the rendered TriggerAuthentication in each namespace.
inline constexpr char kTlsTriggerAuthenticationName[] = "signalscaler-tls";

struct RenderOptions {
  // The trigger's `scalerAddress`: HOST:PORT of signalscaler's gRPC port.
  std::string address = kDefaultScalerAddress;
  // "external" (KEDA polls) or "external-push" (KEDA also holds a
  // StreamIsActive stream, for an immediate wake-up from zero).
  std::string trigger_type = "external";
  // When set: a TriggerAuthentication taking caCert, tlsClientCert and
  // tlsClientKey from this Secret (keys ca.crt, tls.crt, tls.key, as
  // cert-manager writes them) in the policy's namespace, and the trigger
  // with `enableTLS: "true"` and an authenticationRef to it. Empty: no TLS.
  std::string tls_secret;
  // scaleTargetRef. An empty name means "the policy's name"; callers must
  // set a name only when rendering a single policy.
  std::string target_api_version = "apps/v1";
  std::string target_kind = "Deployment";
  std::string target_name;
};

// The YAML text (documents separated by `---`, each ScaledObject preceded by
// a comment explaining its choices) for `policies`, which must be valid (as
// LoadPolicies returns them). Pure: no I/O.
//
// Per policy: min/maxReplicaCount from the policy (MinReplicas() default);
// metricType AverageValue against signalscaler's target of 1; fallback
// {failureThreshold 3, replicas max(minReplicas, 1) capped by maxReplicas and
// every hard limit, behavior currentReplicasIfHigher}; the HPA's own behavior
// neutralised (both stabilization windows 0, permissive rate policies) so
// that the policy's is the one in force, and both of its tolerances 0 so that
// it carries out every step; pollingInterval 5 when minReplicas is 0 (the
// wake-up from zero is KEDA's poll).
std::string RenderScaledObjects(const std::vector<LoadedPolicy>& policies,
                                const RenderOptions& options);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_CLI_RENDER_H_
