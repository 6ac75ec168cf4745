#include "scaler/server/scaler_server.h"

#include <memory>
#include <string>
#include <utility>

#include <mutex>
#include "absl/strings/str_cat.h"

#include "absl/base/thread_annotations.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/service_type.h"
#include "scaler/common/log.h"
#include "scaler/server/internal/services.h"
#include "scaler/server/internal/stream_hub.h"

namespace signalscaler {

// The service names health checking answers for (besides "", the server).
constexpr const char* kServiceNames[] = {"externalscaler.ExternalScaler",
                                         "signalscaler.admin.v1.Admin"};

struct ScalerServer::Impl {
  ServerDeps deps;
  internal::StreamHub hub;
  std::unique_ptr<grpc::Service> scaler_service;
  std::unique_ptr<grpc::Service> admin_service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;

  void SetHealth(bool serving) {
    if (server == nullptr) return;
    grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
    if (health == nullptr) return;
    health->SetServingStatus(serving);  // every service, "" included
    for (const char* name : kServiceNames)
      health->SetServingStatus(name, serving);
  }
};

ScalerServer::ScalerServer(ServerDeps deps) : impl_(std::make_unique<Impl>()) {
  impl_->deps = deps;
}

ScalerServer::~ScalerServer() { Shutdown(absl::ZeroDuration()); }

absl::Status ScalerServer::Start(const std::string& listen) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  impl_->scaler_service =
      internal::MakeExternalScalerService(impl_->deps, impl_->hub);
  impl_->admin_service = internal::MakeAdminService(impl_->deps);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(),
                           &impl_->port);
  builder.RegisterService(impl_->scaler_service.get());
  builder.RegisterService(impl_->admin_service.get());
  impl_->server = builder.BuildAndStart();
  if (impl_->server == nullptr || impl_->port == 0) {
    impl_->server.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen,
                     ": the address is invalid or the port is in use"));
  }
  RefreshHealth();
  return absl::OkStatus();
}

int ScalerServer::port() const { return impl_->port; }

void ScalerServer::RefreshHealth() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->shut_down) return;
  impl_->SetHealth(impl_->deps.registry->loaded());
}

size_t ScalerServer::open_streams() const { return impl_->hub.size(); }

void ScalerServer::Shutdown(absl::Duration grace) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->shut_down || impl_->server == nullptr) return;
    impl_->shut_down = true;
    impl_->SetHealth(false);
  }
  const size_t streams = impl_->hub.size();
  impl_->hub.FinishAll();
  LogInfo("shutting down", {{"open_streams", absl::StrCat(streams)},
                            {"grace", absl::FormatDuration(grace)}});
  impl_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  impl_->server->Wait();
}

}  // namespace signalscaler
