// KEDA's ExternalScaler on gRPC's callback API: a thin adapter over
// keda_logic.h. Unary answers come from memory; the two streams are fed by
// the DecisionBoard (IsActive transitions) and the PolicyRegistry (specs).
#include "scaler/server/internal/services.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "proto/externalscaler.grpc.pb.h"
#include "scaler/common/metrics.h"
#include "scaler/server/authz.h"
#include "scaler/server/internal/admin_audit.h"
#include "scaler/server/internal/caller_credentials.h"
#include "scaler/server/internal/stream_hub.h"
#include "scaler/server/keda_logic.h"

namespace signalscaler::internal {
namespace {

using externalscaler::GetMetricSpecResponse;
using externalscaler::GetMetricsRequest;
using externalscaler::GetMetricsResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;

// Sends the current active state at once, then `true` on each
// inactive -> active transition only (repeated `true` would delay KEDA's
// cooldown).
class IsActiveStream final : public StreamWriter<IsActiveResponse> {
 public:
  IsActiveStream(StreamHub& hub, DecisionBoard& board, const char* method)
      : StreamWriter(hub, method), board_(board) {}

  void Begin(const PolicyKey& key) {
    key_ = key;
    std::shared_ptr<Handle> h = handle();
    watch_id_ = board_.Watch(key, [h](const Decision& d) {
      absl::MutexLock lock(&h->mu);
      if (h->stream != nullptr) {
        static_cast<IsActiveStream*>(h->stream)->OnDecision(d);
      }
    });
    absl::MutexLock lock(&mu_);
    std::shared_ptr<const Decision> d;
    absl::StatusOr<FleetView> fleet = board_.Fleet(key_, &d);
    last_active_ = fleet.ok() && ActiveAnswer(*d, *fleet);
    started_ = true;
    IsActiveResponse r;
    r.set_result(last_active_);
    Send(r);
  }

 private:
  void OnDecision(const Decision& d) {
    absl::MutexLock lock(&mu_);
    if (!started_) return;  // Begin() reads the newest state itself
    // The view published with `d` (Publish sets both before it notifies).
    absl::StatusOr<FleetView> fleet = board_.Fleet(key_);
    const bool active = fleet.ok() ? ActiveAnswer(d, *fleet) : d.active();
    if (active && !last_active_) {
      IsActiveResponse r;
      r.set_result(true);
      Send(r);
    }
    last_active_ = active;
  }
  void Unsubscribe() override {
    if (watch_id_ != 0) board_.Unwatch(watch_id_);
  }

  DecisionBoard& board_;
  PolicyKey key_;
  uint64_t watch_id_ = 0;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool last_active_ ABSL_GUARDED_BY(mu_) = false;
};

// Sends the spec at once and again whenever a reload changes it; ends with
// NOT_FOUND if the policy is removed.
class MetricSpecStream final : public StreamWriter<GetMetricSpecResponse> {
 public:
  MetricSpecStream(StreamHub& hub, PolicyRegistry& registry, const char* method)
      : StreamWriter(hub, method), registry_(registry) {}

  void Begin(const PolicyKey& key) {
    key_ = key;
    std::shared_ptr<Handle> h = handle();
    listener_id_ = registry_.AddListener([h](const PolicySnapshot& snap) {
      absl::MutexLock lock(&h->mu);
      if (h->stream != nullptr) {
        static_cast<MetricSpecStream*>(h->stream)->OnPolicies(snap);
      }
    });
    OnPolicies(*registry_.Get());
  }

 private:
  void OnPolicies(const PolicySnapshot& snap) {
    absl::MutexLock lock(&mu_);
    const LoadedPolicy* p = snap.Find(key_);
    if (p == nullptr) {
      FinishWith(grpc::Status(grpc::StatusCode::NOT_FOUND,
                              "policy \"" + key_.name +
                                  "\" was removed from namespace \"" + key_.ns +
                                  "\""));
      return;
    }
    GetMetricSpecResponse spec = MetricSpecFor(*p);
    std::string bytes = spec.SerializeAsString();
    if (bytes == last_sent_) return;
    last_sent_ = std::move(bytes);
    Send(std::move(spec));
  }
  void Unsubscribe() override {
    if (listener_id_ != 0) registry_.RemoveListener(listener_id_);
  }

  PolicyRegistry& registry_;
  PolicyKey key_;
  uint64_t listener_id_ = 0;
  absl::Mutex mu_;
  std::string last_sent_ ABSL_GUARDED_BY(mu_);
};

class ExternalScalerService final
    : public externalscaler::ExternalScaler::CallbackService {
 public:
  ExternalScalerService(ServerDeps deps, StreamHub& hub, AdminAudit& audit)
      : deps_(deps), hub_(hub), audit_(audit) {}

  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* ctx,
                                     const ScaledObjectRef* ref,
                                     IsActiveResponse* resp) override {
    const absl::Time start = absl::Now();
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::Status allowed = AuthorizeKeda(*ctx, *ref, "IsActive");
    absl::StatusOr<bool> active =
        allowed.ok() ? IsActiveFor(*ref, *deps_.registry->Get(), *deps_.board,
                                   deps_.namespaces, &deps_.limits)
                     : absl::StatusOr<bool>(allowed);
    if (active.ok()) resp->set_result(*active);
    Finish(reactor, "IsActive", active.status(), start);
    return reactor;
  }

  // From the policy alone: no decision, source or state store is consulted,
  // so a policy that exists always gets OK (KEDA's `fallback` depends on it).
  grpc::ServerUnaryReactor* GetMetricSpec(
      grpc::CallbackServerContext* ctx, const ScaledObjectRef* ref,
      GetMetricSpecResponse* resp) override {
    const absl::Time start = absl::Now();
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const std::shared_ptr<const PolicySnapshot> snap = deps_.registry->Get();
    absl::Status allowed = AuthorizeKeda(*ctx, *ref, "GetMetricSpec");
    absl::StatusOr<const LoadedPolicy*> p =
        allowed.ok()
            ? ResolvePolicy(*ref, *snap, deps_.namespaces, &deps_.limits)
            : absl::StatusOr<const LoadedPolicy*>(allowed);
    if (p.ok()) *resp = MetricSpecFor(**p);
    Finish(reactor, "GetMetricSpec", p.status(), start);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* ctx,
                                       const GetMetricsRequest* req,
                                       GetMetricsResponse* resp) override {
    const absl::Time start = absl::Now();
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::Status allowed =
        AuthorizeKeda(*ctx, req->scaledobjectref(), "GetMetrics");
    absl::StatusOr<GetMetricsResponse> r =
        allowed.ok() ? MetricsFor(*req, *deps_.registry->Get(), *deps_.board,
                                  deps_.namespaces, &deps_.limits)
                     : absl::StatusOr<GetMetricsResponse>(allowed);
    if (r.ok()) *resp = *std::move(r);
    Finish(reactor, "GetMetrics", r.status(), start);
    return reactor;
  }

  grpc::ServerWriteReactor<IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* ctx, const ScaledObjectRef* ref) override {
    auto* stream = new IsActiveStream(hub_, *deps_.board, "StreamIsActive");
    absl::Status allowed = AuthorizeKeda(*ctx, *ref, "StreamIsActive");
    absl::StatusOr<const LoadedPolicy*> p =
        allowed.ok() ? ResolvePolicy(*ref, *deps_.registry->Get(),
                                     deps_.namespaces, &deps_.limits)
                     : absl::StatusOr<const LoadedPolicy*>(allowed);
    if (!p.ok()) {
      stream->FinishWith(ToGrpcStatus(p.status()));
    } else if (stream->Register()) {
      stream->Begin(KeyOf((*p)->policy));
    }
    return stream;
  }

  grpc::ServerWriteReactor<GetMetricSpecResponse>* StreamMetricSpec(
      grpc::CallbackServerContext* ctx, const ScaledObjectRef* ref) override {
    auto* stream =
        new MetricSpecStream(hub_, *deps_.registry, "StreamMetricSpec");
    absl::Status allowed = AuthorizeKeda(*ctx, *ref, "StreamMetricSpec");
    absl::StatusOr<const LoadedPolicy*> p =
        allowed.ok() ? ResolvePolicy(*ref, *deps_.registry->Get(),
                                     deps_.namespaces, &deps_.limits)
                     : absl::StatusOr<const LoadedPolicy*>(allowed);
    if (!p.ok()) {
      stream->FinishWith(ToGrpcStatus(p.status()));
    } else if (stream->Register()) {
      stream->Begin(KeyOf((*p)->policy));
    }
    return stream;
  }

 private:
  // OK unless the authz file in force has `keda` clients and this call's
  // certificate is not one for the ref's namespace; a refusal is audited.
  absl::Status AuthorizeKeda(const grpc::CallbackServerContext& ctx,
                             const ScaledObjectRef& ref, const char* method) {
    if (deps_.access == nullptr || !deps_.access->keda_restricted()) {
      return absl::OkStatus();
    }
    std::string client;
    absl::Status s = deps_.access->AuthorizeKeda(CredentialsOf(ctx),
                                                 ref.namespace_(), &client);
    if (!s.ok()) {
      audit_.Record(AdminVerb::kKeda, client, s,
                    {{"method", method},
                     {"namespace", ref.namespace_()},
                     {"scaled_object", ref.name()}},
                    absl::Now());
    }
    return s;
  }

  static void Finish(grpc::ServerUnaryReactor* reactor, const char* method,
                     const absl::Status& status, absl::Time start) {
    Metrics::Get().RecordRpc(method, static_cast<int>(status.code()),
                             absl::Now() - start);
    reactor->Finish(ToGrpcStatus(status));
  }

  ServerDeps deps_;
  StreamHub& hub_;
  AdminAudit& audit_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeExternalScalerService(ServerDeps deps,
                                                         StreamHub& hub,
                                                         AdminAudit& audit) {
  return std::make_unique<ExternalScalerService>(deps, hub, audit);
}

}  // namespace signalscaler::internal
