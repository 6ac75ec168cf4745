#include "bench/grpc_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/externalscaler.grpc.pb.h"

namespace signalscaler::bench {
namespace {

using externalscaler::ExternalScaler;
using externalscaler::GetMetricSpecResponse;
using externalscaler::GetMetricsRequest;
using externalscaler::GetMetricsResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;
using SteadyClock = std::chrono::steady_clock;

// The requests of one target, built once (gRPC serializes them at call).
struct Requests {
  ScaledObjectRef ref;
  GetMetricsRequest metrics;
};

std::vector<Requests> BuildRequests(const std::vector<LoadTarget>& targets) {
  std::vector<Requests> out(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    ScaledObjectRef& ref = out[i].ref;
    ref.set_name(targets[i].policy);
    ref.set_namespace_(targets[i].ns);
    // KEDA forwards every trigger metadata key, its own included.
    (*ref.mutable_scalermetadata())["scalerAddress"] = "signalscaler:9090";
    (*ref.mutable_scalermetadata())["policy"] = targets[i].policy;
    *out[i].metrics.mutable_scaledobjectref() = ref;
    out[i].metrics.set_metricname(targets[i].metric);
  }
  return out;
}

// One outstanding call; its address is the completion queue tag.
struct Call {
  int slot = 0;
  int method = 0;  // index into kMethods
  SteadyClock::time_point start;
  grpc::ClientContext ctx;
  grpc::Status status;
  GetMetricSpecResponse spec;
  GetMetricsResponse metrics;
  IsActiveResponse active;
  std::unique_ptr<grpc::ClientAsyncResponseReader<GetMetricSpecResponse>>
      spec_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<GetMetricsResponse>>
      metrics_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<IsActiveResponse>>
      active_reader;
};

// Where a slot is in its walk: the policy, and the call of its evaluation.
struct Slot {
  size_t policy = 0;
  int step = 0;
};

struct Window {
  SteadyClock::time_point measure_start;
  SteadyClock::time_point measure_end;
};

// What one completion-queue thread saw.
struct ThreadResult {
  std::array<std::vector<double>, 3> latency_us;
  std::map<std::string, int64_t> errors;
};

class Driver {
 public:
  Driver(ExternalScaler::Stub& stub, const std::vector<Requests>& requests,
         const LoadOptions& options, int first_slot, int slots,
         const Window& window)
      : stub_(stub), requests_(requests), options_(options), window_(window) {
    const size_t n = requests.size();
    for (int s = 0; s < slots; ++s) {
      // Slots start spread over the policies and walk them in step.
      Slot slot;
      slot.policy = n * static_cast<size_t>(first_slot + s) /
                    static_cast<size_t>(options.concurrency);
      slots_.push_back(slot);
    }
  }

  ThreadResult Run() {
    for (size_t s = 0; s < slots_.size(); ++s) Start(static_cast<int>(s));
    size_t outstanding = slots_.size();
    void* tag = nullptr;
    bool ok = false;
    while (outstanding > 0 && cq_.Next(&tag, &ok)) {
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      const SteadyClock::time_point end = SteadyClock::now();
      Record(*call, end);
      Slot& slot = slots_[static_cast<size_t>(call->slot)];
      if (++slot.step == 3) {
        slot.step = 0;
        slot.policy = (slot.policy + 1) % requests_.size();
      }
      if (end < window_.measure_end) {
        Start(call->slot);
      } else {
        --outstanding;
      }
    }
    cq_.Shutdown();
    while (cq_.Next(&tag, &ok)) {
    }
    return std::move(result_);
  }

 private:
  void Start(int slot_index) {
    const Slot& slot = slots_[static_cast<size_t>(slot_index)];
    const Requests& req = requests_[slot.policy];
    auto call = std::make_unique<Call>();
    call->slot = slot_index;
    call->method = slot.step;
    call->ctx.set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoNanoseconds(options_.deadline));
    call->start = SteadyClock::now();
    Call* c = call.release();
    switch (c->method) {
      case 0:
        c->spec_reader =
            stub_.PrepareAsyncGetMetricSpec(&c->ctx, req.ref, &cq_);
        c->spec_reader->StartCall();
        c->spec_reader->Finish(&c->spec, &c->status, c);
        break;
      case 1:
        c->metrics_reader =
            stub_.PrepareAsyncGetMetrics(&c->ctx, req.metrics, &cq_);
        c->metrics_reader->StartCall();
        c->metrics_reader->Finish(&c->metrics, &c->status, c);
        break;
      default:
        c->active_reader = stub_.PrepareAsyncIsActive(&c->ctx, req.ref, &cq_);
        c->active_reader->StartCall();
        c->active_reader->Finish(&c->active, &c->status, c);
        break;
    }
  }

  void Record(const Call& call, SteadyClock::time_point end) {
    if (!call.status.ok()) {
      ++result_.errors[absl::StrCat(kMethods[static_cast<size_t>(call.method)],
                                    " ", call.status.error_code(), ": ",
                                    call.status.error_message())];
      return;
    }
    if (call.start < window_.measure_start || end > window_.measure_end) {
      return;  // warm-up, or past the end
    }
    result_.latency_us[static_cast<size_t>(call.method)].push_back(
        std::chrono::duration<double, std::micro>(end - call.start).count());
  }

  ExternalScaler::Stub& stub_;
  const std::vector<Requests>& requests_;
  const LoadOptions& options_;
  const Window window_;
  grpc::CompletionQueue cq_;
  std::vector<Slot> slots_;
  ThreadResult result_;
};

std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  grpc::ChannelArguments args;
  // A channel of its own (no subchannel shared with the setup's channel).
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

}  // namespace

int64_t LoadResult::error_count() const {
  int64_t n = 0;
  for (const auto& [what, count] : errors) n += count;
  return n;
}

absl::Status CheckTargets(const std::string& address,
                          const std::vector<LoadTarget>& targets) {
  std::shared_ptr<grpc::Channel> channel = Connect(address);
  std::unique_ptr<ExternalScaler::Stub> stub = ExternalScaler::NewStub(channel);
  const std::vector<Requests> requests = BuildRequests(targets);
  for (size_t i = 0; i < requests.size(); ++i) {
    grpc::ClientContext spec_ctx;
    spec_ctx.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    GetMetricSpecResponse spec;
    grpc::Status s = stub->GetMetricSpec(&spec_ctx, requests[i].ref, &spec);
    if (s.ok() && (spec.metricspecs_size() != 1 ||
                   spec.metricspecs(0).metricname() != targets[i].metric)) {
      s = grpc::Status(grpc::StatusCode::INTERNAL,
                       "GetMetricSpec did not name the expected metric");
    }
    if (s.ok()) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
      GetMetricsResponse metrics;
      s = stub->GetMetrics(&ctx, requests[i].metrics, &metrics);
    }
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          absl::StrCat(targets[i].ns, "/", targets[i].policy,
                                       ": ", s.error_message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadResult> RunLoad(const std::string& address,
                                   const std::vector<LoadTarget>& targets,
                                   const LoadOptions& options) {
  std::shared_ptr<grpc::Channel> channel = Connect(address);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(10))) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", address, " within 10 s"));
  }
  std::unique_ptr<ExternalScaler::Stub> stub = ExternalScaler::NewStub(channel);
  const std::vector<Requests> requests = BuildRequests(targets);

  Window window;
  window.measure_start =
      SteadyClock::now() + absl::ToChronoNanoseconds(options.warmup);
  window.measure_end =
      window.measure_start + absl::ToChronoNanoseconds(options.duration);

  const int threads = std::max(1, options.client_threads);
  std::vector<std::unique_ptr<Driver>> drivers;
  std::vector<ThreadResult> results(static_cast<size_t>(threads));
  int first = 0;
  for (int t = 0; t < threads; ++t) {
    const int slots = options.concurrency / threads +
                      (t < options.concurrency % threads ? 1 : 0);
    drivers.push_back(std::make_unique<Driver>(*stub, requests, options, first,
                                               slots, window));
    first += slots;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      results[static_cast<size_t>(t)] = drivers[static_cast<size_t>(t)]->Run();
    });
  }
  std::this_thread::sleep_until(window.measure_start);
  if (options.on_measure_start) options.on_measure_start();
  std::this_thread::sleep_until(window.measure_end);
  if (options.on_measure_end) options.on_measure_end();
  for (std::thread& t : pool) t.join();

  LoadResult out;
  out.seconds = absl::ToDoubleSeconds(options.duration);
  for (ThreadResult& r : results) {
    for (size_t m = 0; m < 3; ++m) {
      out.method_latency_us[m].insert(out.method_latency_us[m].end(),
                                      r.latency_us[m].begin(),
                                      r.latency_us[m].end());
      out.latency_us.insert(out.latency_us.end(), r.latency_us[m].begin(),
                            r.latency_us[m].end());
    }
    for (const auto& [what, count] : r.errors) out.errors[what] += count;
  }
  for (std::vector<double>& v : out.method_latency_us) {
    std::sort(v.begin(), v.end());
  }
  std::sort(out.latency_us.begin(), out.latency_us.end());
  out.calls = static_cast<int64_t>(out.latency_us.size());
  return out;
}

}  // namespace signalscaler::bench
