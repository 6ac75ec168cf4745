#include "scaler/server/scaler_server.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "grpcpp/ext/health_check_service_server_builder_option.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/service_type.h"
#include "scaler/common/log.h"
#include "scaler/server/authz.h"
#include "scaler/server/internal/admin_audit.h"
#include "scaler/server/internal/services.h"
#include "scaler/server/internal/stream_hub.h"
#include "scaler/server/internal/tls_credentials.h"

namespace signalscaler {

// Health checking (grpc.health.v1), for Kubernetes' native gRPC probes:
// - liveness, service "" or "liveness": the process alone, SERVING until
//   shutdown; never NOT_SERVING because Prometheus or Redis is down.
// - readiness, these names: policies in force and not draining.
constexpr const char* kLivenessServices[] = {"", "liveness"};
constexpr const char* kReadinessServices[] = {"readiness",
                                              "externalscaler.ExternalScaler",
                                              "signalscaler.admin.v1.Admin"};

struct ScalerServer::Impl {
  explicit Impl(ServerDeps d)
      : deps(std::move(d)),
        hub(deps.limits.max_open_streams),
        audit(deps.limits.max_pushes_per_second) {}

  ServerDeps deps;
  internal::StreamHub hub;
  internal::AdminAudit audit;
  internal::ServerCredentials credentials;  // its provider outlives `server`
  // The admin port's, when they differ (a client certificate optional).
  internal::ServerCredentials admin_credentials;
  std::unique_ptr<grpc::Service> scaler_service;
  std::unique_ptr<grpc::Service> admin_service;
  std::unique_ptr<grpc::Server> server;
  // Null unless the Admin API has a port of its own.
  std::unique_ptr<grpc::Server> admin_server;
  int port = 0;
  int admin_port = 0;
  mutable absl::Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool draining ABSL_GUARDED_BY(mu) = false;
  bool shut_down ABSL_GUARDED_BY(mu) = false;

  // The one definition of readiness, for gRPC health and Readiness().
  absl::Status ReadinessLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (shut_down) return absl::UnavailableError("shutting down");
    if (!started) return absl::UnavailableError("not started");
    if (draining) return absl::UnavailableError("draining");
    if (!deps.registry->loaded()) {
      return absl::UnavailableError("no policy loaded");
    }
    return absl::OkStatus();
  }

  void SetHealth(bool alive, bool ready) {
    if (server == nullptr) return;
    grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
    if (health == nullptr) return;
    for (const char* name : kLivenessServices) {
      health->SetServingStatus(name, alive);
    }
    for (const char* name : kReadinessServices) {
      health->SetServingStatus(name, ready);
    }
  }
};

ScalerServer::ScalerServer(ServerDeps deps)
    : impl_(std::make_unique<Impl>(std::move(deps))) {}

ScalerServer::~ScalerServer() { Shutdown(absl::ZeroDuration()); }

absl::Status ScalerServer::Start(const std::string& listen) {
  return Start(listen, "");
}

absl::Status ScalerServer::Start(const std::string& listen,
                                 const std::string& admin_listen) {
  absl::StatusOr<internal::ServerCredentials> credentials =
      internal::MakeServerCredentials(impl_->deps.tls);
  if (!credentials.ok()) return credentials.status();
  impl_->credentials = *std::move(credentials);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  impl_->scaler_service = internal::MakeExternalScalerService(
      impl_->deps, impl_->hub, impl_->audit);
  impl_->admin_service = internal::MakeAdminService(impl_->deps, impl_->audit);
  const bool own_admin_port = !admin_listen.empty();
  // Token clients of the authz file present no certificate: on a port of
  // its own, the admin API asks for one (verified when presented) without
  // requiring it. Sharing --listen, mTLS stays required for everyone.
  const bool optional_client_certificate =
      own_admin_port && impl_->deps.access != nullptr &&
      impl_->deps.access->mode() == AccessMode::kFile &&
      !impl_->deps.tls.client_ca_file.empty();
  if (optional_client_certificate) {
    absl::StatusOr<internal::ServerCredentials> admin =
        internal::MakeServerCredentials(impl_->deps.tls,
                                        /*client_certificate_optional=*/true);
    if (!admin.ok()) return admin.status();
    impl_->admin_credentials = *std::move(admin);
  } else {
    impl_->admin_credentials = impl_->credentials;
  }

  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, impl_->credentials.credentials,
                           &impl_->port);
  // Larger requests get RESOURCE_EXHAUSTED from gRPC before any handler.
  builder.SetMaxReceiveMessageSize(impl_->deps.limits.max_request_bytes);
  builder.RegisterService(impl_->scaler_service.get());
  if (!own_admin_port) builder.RegisterService(impl_->admin_service.get());
  impl_->server = builder.BuildAndStart();
  if (impl_->server == nullptr || impl_->port == 0) {
    impl_->server.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen,
                     ": the address is invalid or the port is in use"));
  }
  impl_->admin_port = impl_->port;
  if (own_admin_port) {
    grpc::ServerBuilder admin;
    // The admin port answers the Admin API only: no health service (the
    // probes ask --listen), and no SO_REUSEPORT, so that it can share a
    // port with nothing, --listen's included.
    admin.SetOption(
        std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
    admin.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    admin.AddListeningPort(admin_listen, impl_->admin_credentials.credentials,
                           &impl_->admin_port);
    admin.SetMaxReceiveMessageSize(impl_->deps.limits.max_request_bytes);
    admin.RegisterService(impl_->admin_service.get());
    impl_->admin_server = admin.BuildAndStart();
    if (impl_->admin_server == nullptr || impl_->admin_port == 0) {
      impl_->admin_server.reset();
      impl_->server->Shutdown(absl::ToChronoTime(absl::Now()));
      impl_->server->Wait();
      impl_->server.reset();
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", admin_listen,
          " (--admin-listen): the address is invalid or the port is in use"));
    }
  }
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->started = true;
  }
  RefreshHealth();
  if (impl_->deps.tls.enabled()) {
    LogInfo(
        own_admin_port ? "TLS on the gRPC and admin ports"
                       : "TLS on the gRPC port",
        {{"cert", impl_->deps.tls.cert_file},
         {"client_ca", impl_->deps.tls.client_ca_file.empty()
                           ? "none (no client certificate asked)"
                           : impl_->deps.tls.client_ca_file},
         {"refresh_seconds", absl::StrCat(impl_->deps.tls.refresh_seconds)}});
  }
  return absl::OkStatus();
}

int ScalerServer::port() const { return impl_->port; }

int ScalerServer::admin_port() const { return impl_->admin_port; }

void ScalerServer::RefreshHealth() {
  absl::MutexLock lock(&impl_->mu);
  if (impl_->shut_down) return;
  impl_->SetHealth(/*alive=*/true, /*ready=*/impl_->ReadinessLocked().ok());
}

absl::Status ScalerServer::Liveness() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->shut_down ? absl::UnavailableError("shutting down")
                          : absl::OkStatus();
}

absl::Status ScalerServer::Readiness() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->ReadinessLocked();
}

void ScalerServer::StartDrain() {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->draining = true;
  }
  RefreshHealth();
}

size_t ScalerServer::open_streams() const { return impl_->hub.size(); }

void ScalerServer::EndOpenStreams() {
  const size_t n = impl_->hub.size();
  impl_->hub.FinishOpen();
  LogInfo("open streams ended, to be authorized again",
          {{"streams", absl::StrCat(n)}});
}

void ScalerServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->shut_down || impl_->server == nullptr) return;
    impl_->shut_down = true;
    impl_->SetHealth(false, false);
  }
  const size_t streams = impl_->hub.size();
  impl_->hub.FinishAll();
  LogInfo("shutting down", {{"open_streams", absl::StrCat(streams)},
                            {"grace", absl::FormatDuration(grace)}});
  const auto deadline = absl::ToChronoTime(absl::Now() + grace);
  // Both ports at once: Shutdown() blocks until its calls end or the
  // deadline, and KEDA's calls in flight must get the whole grace too.
  std::thread admin;
  if (impl_->admin_server != nullptr) {
    admin = std::thread([this, deadline] {
      impl_->admin_server->Shutdown(deadline);
      impl_->admin_server->Wait();
    });
  }
  impl_->server->Shutdown(deadline);
  impl_->server->Wait();
  if (admin.joinable()) admin.join();
}

}  // namespace signalscaler
