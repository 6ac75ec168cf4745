// Factories of the gRPC services, for scaler_server.cc. Internal.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_SERVICES_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_SERVICES_H_

#include <memory>

#include "scaler/server/scaler_server.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace signalscaler::internal {

class AdminAudit;
class StreamHub;

// Both services record into one audit trail: KEDA calls refused by the
// authz file, and every admin call.
std::unique_ptr<grpc::Service> MakeExternalScalerService(ServerDeps deps,
                                                         StreamHub& hub,
                                                         AdminAudit& audit);
std::unique_ptr<grpc::Service> MakeAdminService(ServerDeps deps,
                                                AdminAudit& audit);

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_SERVICES_H_
