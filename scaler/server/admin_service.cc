// signalscaler's Admin API on gRPC's callback API: an adapter over
// admin_logic.h, with the audit trail and the per-client push rate limit of
// admin_audit.h.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/auth_context.h"
#include "proto/admin.grpc.pb.h"
#include "scaler/server/admin_logic.h"
#include "scaler/server/internal/admin_audit.h"
#include "scaler/server/internal/services.h"
#include "scaler/server/internal/stream_hub.h"

namespace signalscaler::internal {
namespace {

// Longest client name kept (logs and the metric's label).
constexpr size_t kMaxClientName = 128;

// THE place where an admin call's client is established: the verified mTLS
// peer's identity (its first subject alternative name, else its common
// name, as gRPC reports them) when --tls-client-ca made the client present
// a certificate the CA verifies; otherwise "anonymous". Authorization (an
// authz file naming clients by token or certificate) plugs in here.
std::string ClientOf(const grpc::CallbackServerContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return kAnonymousClient;
  for (const grpc::string_ref& id : auth->GetPeerIdentity()) {
    std::string name;
    for (size_t i = 0; i < id.size() && name.size() < kMaxClientName; ++i) {
      const char c = id.data()[i];
      name.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c
                                                                        : '?');
    }
    if (!name.empty()) return name;
  }
  return kAnonymousClient;
}

class AdminService final : public admin::v1::Admin::CallbackService {
 public:
  explicit AdminService(ServerDeps deps)
      : deps_(deps), audit_(deps.limits.max_pushes_per_second) {}

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* ctx,
                                 const admin::v1::PushRequest* req,
                                 admin::v1::PushResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const std::string client = ClientOf(*ctx);
    absl::Status admitted = audit_.AdmitPush(client, absl::Now());
    absl::StatusOr<admin::v1::PushResponse> r =
        admitted.ok() ? RecordPush(*req, *deps_.registry->Get(), *deps_.push,
                                   *deps_.evaluator, deps_.clock->Now())
                      : absl::StatusOr<admin::v1::PushResponse>(admitted);
    audit_.Record(AdminVerb::kPush, client, r.status(),
                  {{"namespace", req->namespace_()},
                   {"policy", req->policy()},
                   {"signal", req->signal()},
                   {"value", absl::StrCat(req->value())}},
                  absl::Now());
    if (r.ok()) *resp = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
    return reactor;
  }

  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* ctx,
                                    const admin::v1::ExplainRequest* req,
                                    admin::v1::ExplainResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const std::string client = ClientOf(*ctx);
    absl::StatusOr<admin::v1::ExplainResponse> r =
        signalscaler::Explain(*req, *deps_.registry->Get(), *deps_.board);
    audit_.Record(AdminVerb::kExplain, client, r.status(),
                  {{"namespace", req->namespace_()}, {"policy", req->policy()}},
                  absl::Now());
    if (r.ok()) *resp = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
    return reactor;
  }

  grpc::ServerUnaryReactor* Policies(
      grpc::CallbackServerContext* ctx,
      const admin::v1::PoliciesRequest* /*req*/,
      admin::v1::PoliciesResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const std::string client = ClientOf(*ctx);
    *resp = ListPolicies(deps_.reloader, deps_.policies_source,
                         *deps_.registry->Get());
    audit_.Record(AdminVerb::kPolicies, client, absl::OkStatus(), {},
                  absl::Now());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  ServerDeps deps_;
  AdminAudit audit_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeAdminService(ServerDeps deps) {
  return std::make_unique<AdminService>(deps);
}

}  // namespace signalscaler::internal
