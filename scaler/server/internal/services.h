// Factories of the gRPC services, for scaler_server.cc. Internal.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_SERVICES_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_SERVICES_H_

#include <memory>

#include "scaler/server/scaler_server.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace signalscaler::internal {

class StreamHub;

std::unique_ptr<grpc::Service> MakeExternalScalerService(ServerDeps deps,
                                                         StreamHub& hub);
std::unique_ptr<grpc::Service> MakeAdminService(ServerDeps deps);

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_SERVICES_H_
