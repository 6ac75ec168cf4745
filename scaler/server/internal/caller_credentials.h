// THE place that reads what a gRPC call presents (its `authorization`
// metadata, its verified TLS peer, its peer address) for authorization
// (authz.h). Internal to the server's gRPC edge.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_CALLER_CREDENTIALS_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_CALLER_CREDENTIALS_H_

#include "scaler/server/authz.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace signalscaler::internal {

CallerCredentials CredentialsOf(const grpc::ServerContextBase& ctx);

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_CALLER_CREDENTIALS_H_
