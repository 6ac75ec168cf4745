// signalscaler's Admin API on gRPC's callback API: an adapter over
// admin_logic.h, behind authorization (authz.h), with the audit trail and
// the per-client push rate limit of admin_audit.h.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/admin.grpc.pb.h"
#include "scaler/server/admin_logic.h"
#include "scaler/server/authz.h"
#include "scaler/server/internal/admin_audit.h"
#include "scaler/server/internal/caller_credentials.h"
#include "scaler/server/internal/services.h"
#include "scaler/server/internal/stream_hub.h"

namespace signalscaler::internal {
namespace {

// Who the call comes from, or why it is refused; `audit_name` gets the name
// a refusal is recorded under.
absl::StatusOr<Caller> Identify(const ServerDeps& deps,
                                const grpc::CallbackServerContext& ctx,
                                std::string& audit_name) {
  const CallerCredentials creds = CredentialsOf(ctx);
  if (deps.access == nullptr) {
    return Caller::Unrestricted(creds.certificate_name.empty()
                                    ? kAnonymousClient
                                    : creds.certificate_name);
  }
  return deps.access->IdentifyAdmin(creds, &audit_name);
}

// What `caller` may read: null when every namespace.
NamespaceVisible ReadableBy(const Caller& caller) {
  if (caller.MayEverywhere(AccessVerb::kExplain)) return nullptr;
  return [&caller](const std::string& ns) {
    return caller.May(AccessVerb::kExplain, ns);
  };
}

// OK when `caller` may explain in `ns`, or (ns empty) in some namespace.
absl::Status AuthorizeRead(const Caller& caller, const std::string& ns) {
  if (!ns.empty()) return caller.Authorize(AccessVerb::kExplain, ns);
  if (caller.MayAnywhere(AccessVerb::kExplain)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "client \"", caller.name(), "\" may not explain in any namespace"));
}

class AdminService final : public admin::v1::Admin::CallbackService {
 public:
  AdminService(ServerDeps deps, AdminAudit& audit)
      : deps_(deps), audit_(audit) {}

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* ctx,
                                 const admin::v1::PushRequest* req,
                                 admin::v1::PushResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    std::string client;
    absl::StatusOr<Caller> caller = Identify(deps_, *ctx, client);
    absl::Status admitted = caller.status();
    if (caller.ok()) {
      client = caller->name();
      admitted = caller->Authorize(AccessVerb::kPush, req->namespace_());
      if (admitted.ok()) admitted = audit_.AdmitPush(client, absl::Now());
    }
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
    std::string client;
    absl::StatusOr<Caller> caller = Identify(deps_, *ctx, client);
    absl::Status allowed = caller.status();
    if (caller.ok()) {
      client = caller->name();
      allowed = AuthorizeRead(*caller, req->namespace_());
    }
    absl::StatusOr<admin::v1::ExplainResponse> r =
        allowed.ok() ? signalscaler::Explain(*req, *deps_.registry->Get(),
                                             *deps_.board, ReadableBy(*caller))
                     : absl::StatusOr<admin::v1::ExplainResponse>(allowed);
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
    std::string client;
    absl::StatusOr<Caller> caller = Identify(deps_, *ctx, client);
    absl::Status status = caller.status();
    if (caller.ok()) {
      client = caller->name();
      status = AuthorizeRead(*caller, "");
    }
    if (status.ok()) {
      *resp = ListPolicies(deps_.reloader, deps_.policies_source,
                           *deps_.registry->Get(), ReadableBy(*caller));
    }
    audit_.Record(AdminVerb::kPolicies, client, status, {}, absl::Now());
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

 private:
  ServerDeps deps_;
  AdminAudit& audit_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeAdminService(ServerDeps deps,
                                                AdminAudit& audit) {
  return std::make_unique<AdminService>(deps, audit);
}

}  // namespace signalscaler::internal
