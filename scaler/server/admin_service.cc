// signalscaler's Admin API on gRPC's callback API: an adapter over
// admin_logic.h.
#include <memory>

#include "proto/admin.grpc.pb.h"
#include "scaler/server/admin_logic.h"
#include "scaler/server/internal/services.h"
#include "scaler/server/internal/stream_hub.h"

namespace signalscaler::internal {
namespace {

class AdminService final : public admin::v1::Admin::CallbackService {
 public:
  explicit AdminService(ServerDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* ctx,
                                 const admin::v1::PushRequest* req,
                                 admin::v1::PushResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::StatusOr<admin::v1::PushResponse> r =
        RecordPush(*req, *deps_.registry->Get(), *deps_.push, *deps_.evaluator,
                   deps_.clock->Now());
    if (r.ok()) *resp = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
    return reactor;
  }

  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* ctx,
                                    const admin::v1::ExplainRequest* req,
                                    admin::v1::ExplainResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::StatusOr<admin::v1::ExplainResponse> r =
        signalscaler::Explain(*req, *deps_.registry->Get(), *deps_.board);
    if (r.ok()) *resp = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
    return reactor;
  }

  grpc::ServerUnaryReactor* Policies(
      grpc::CallbackServerContext* ctx,
      const admin::v1::PoliciesRequest* /*req*/,
      admin::v1::PoliciesResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    *resp = ListPolicies(deps_.reloader, deps_.policies_source,
                         *deps_.registry->Get());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  ServerDeps deps_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeAdminService(ServerDeps deps) {
  return std::make_unique<AdminService>(deps);
}

}  // namespace signalscaler::internal
