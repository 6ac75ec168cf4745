#include "tests/testing/keda_client.h"

#include <deque>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"

namespace signalscaler::testing {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

absl::Status ToAbsl(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

void SetDeadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

externalscaler::ScaledObjectRef Ref(const std::string& ns,
                                    const std::string& policy) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name(policy);
  ref.set_namespace_(ns);
  // KEDA forwards every trigger metadata key, its own included.
  (*ref.mutable_scalermetadata())["scalerAddress"] = "signalscaler:9090";
  (*ref.mutable_scalermetadata())["policy"] = policy;
  return ref;
}

class GrpcActiveStream final : public ActiveStream {
 public:
  GrpcActiveStream(externalscaler::ExternalScaler::Stub& stub,
                   const externalscaler::ScaledObjectRef& ref) {
    reader_ = stub.StreamIsActive(&ctx_, ref);
    thread_ = std::thread([this] { ReadAll(); });
  }
  ~GrpcActiveStream() override {
    ctx_.TryCancel();
    thread_.join();
  }

  std::optional<ActiveMessage> Next(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    const absl::Time due = absl::Now() + timeout;
    while (messages_.empty() && !ended_.has_value() &&
           !cv_.WaitWithDeadline(&mu_, due)) {
    }
    if (messages_.empty()) return std::nullopt;
    ActiveMessage m = messages_.front();
    messages_.pop_front();
    return m;
  }

  std::optional<absl::Status> Ended() const override {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

 private:
  void ReadAll() {
    externalscaler::IsActiveResponse msg;
    while (reader_->Read(&msg)) {
      const absl::Time now = absl::Now();
      absl::MutexLock lock(&mu_);
      messages_.push_back(ActiveMessage{msg.result(), now});
      cv_.SignalAll();
    }
    const absl::Status status = ToAbsl(reader_->Finish());
    absl::MutexLock lock(&mu_);
    ended_ = status;
    cv_.SignalAll();
  }

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> reader_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<ActiveMessage> messages_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> ended_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace

struct KedaClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> scaler;
  std::unique_ptr<admin::v1::Admin::Stub> admin;
};

KedaClient::KedaClient(const std::string& address) : impl_(new Impl) {
  impl_->channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  impl_->scaler = externalscaler::ExternalScaler::NewStub(impl_->channel);
  impl_->admin = admin::v1::Admin::NewStub(impl_->channel);
}

KedaClient::~KedaClient() = default;

absl::StatusOr<externalscaler::GetMetricSpecResponse> KedaClient::GetMetricSpec(
    const std::string& ns, const std::string& policy) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  externalscaler::GetMetricSpecResponse resp;
  absl::Status s =
      ToAbsl(impl_->scaler->GetMetricSpec(&ctx, Ref(ns, policy), &resp));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<std::string> KedaClient::MetricName(const std::string& ns,
                                                   const std::string& policy) {
  absl::StatusOr<externalscaler::GetMetricSpecResponse> resp =
      GetMetricSpec(ns, policy);
  if (!resp.ok()) return resp.status();
  if (resp->metricspecs_size() != 1) {
    return absl::InternalError("GetMetricSpec did not return one spec");
  }
  return resp->metricspecs(0).metricname();
}

absl::StatusOr<double> KedaClient::GetMetrics(const std::string& ns,
                                              const std::string& policy,
                                              const std::string& metric) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  externalscaler::GetMetricsRequest req;
  *req.mutable_scaledobjectref() = Ref(ns, policy);
  req.set_metricname(metric);
  externalscaler::GetMetricsResponse resp;
  absl::Status s = ToAbsl(impl_->scaler->GetMetrics(&ctx, req, &resp));
  if (!s.ok()) return s;
  if (resp.metricvalues_size() != 1) {
    return absl::InternalError("GetMetrics did not return one value");
  }
  return resp.metricvalues(0).metricvaluefloat();
}

absl::StatusOr<bool> KedaClient::IsActive(const std::string& ns,
                                          const std::string& policy) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  externalscaler::IsActiveResponse resp;
  absl::Status s =
      ToAbsl(impl_->scaler->IsActive(&ctx, Ref(ns, policy), &resp));
  if (!s.ok()) return s;
  return resp.result();
}

std::unique_ptr<ActiveStream> KedaClient::StreamIsActive(
    const std::string& ns, const std::string& policy) {
  return std::make_unique<GrpcActiveStream>(*impl_->scaler, Ref(ns, policy));
}

absl::Status KedaClient::Push(const std::string& ns, const std::string& policy,
                              const std::string& signal, double value) {
  return PushSampledAt(ns, policy, signal, value, absl::UnixEpoch());
}

absl::Status KedaClient::PushSampledAt(const std::string& ns,
                                       const std::string& policy,
                                       const std::string& signal, double value,
                                       absl::Time sampled) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  admin::v1::PushRequest req;
  req.set_namespace_(ns);
  req.set_policy(policy);
  req.set_signal(signal);
  req.set_value(value);
  if (sampled != absl::UnixEpoch()) {  // 0: the receipt time
    req.set_sample_time_unix(
        absl::ToDoubleSeconds(sampled - absl::UnixEpoch()));
  }
  admin::v1::PushResponse resp;
  return ToAbsl(impl_->admin->Push(&ctx, req, &resp));
}

absl::StatusOr<admin::v1::PolicyDecision> KedaClient::Explain(
    const std::string& ns, const std::string& policy) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  admin::v1::ExplainRequest req;
  req.set_namespace_(ns);
  req.set_policy(policy);
  admin::v1::ExplainResponse resp;
  absl::Status s = ToAbsl(impl_->admin->Explain(&ctx, req, &resp));
  if (!s.ok()) return s;
  if (resp.decisions_size() != 1) {
    return absl::NotFoundError("Explain did not return one decision");
  }
  return resp.decisions(0);
}

std::optional<admin::v1::SignalExplanation> FindSignal(
    const admin::v1::PolicyDecision& decision, const std::string& signal) {
  for (const admin::v1::SignalExplanation& s : decision.signals()) {
    if (s.name() == signal) return s;
  }
  return std::nullopt;
}

bool PollUntil(const std::function<bool()>& done, absl::Duration timeout,
               absl::Duration every) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(every);
  }
  return true;
}

}  // namespace signalscaler::testing
