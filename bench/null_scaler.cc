// null_scaler: a KEDA ExternalScaler that answers constants from memory,
// the floor grpc_load_bench measures signalscaler against. Same gRPC API as
// the real server (the callback API, DefaultReactor, Finish at once), so the
// difference between the two is the work signalscaler does per call:
// metadata checks, the policy and decision lookups, the metric name, the
// call metrics.
//
//   null_scaler [--listen=127.0.0.1:0]
//
// Prints "null_scaler listening port=<port>" once it serves; SIGTERM or
// SIGINT stop it.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/externalscaler.grpc.pb.h"

namespace {

using externalscaler::GetMetricSpecResponse;
using externalscaler::GetMetricsRequest;
using externalscaler::GetMetricsResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;

constexpr char kName[] = "signalscaler-bench-00-p00000";

class NullScaler final
    : public externalscaler::ExternalScaler::CallbackService {
 public:
  NullScaler() {
    externalscaler::MetricSpec* spec = spec_.add_metricspecs();
    externalscaler::MetricValue* value = metrics_.add_metricvalues();
    // The shape of signalscaler's answers: a name as long, both fields set.
    spec->set_metricname(kName);
    value->set_metricname(kName);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    spec->set_targetsize(1);
    value->set_metricvalue(4);
#pragma GCC diagnostic pop
    spec->set_targetsizefloat(1);
    value->set_metricvaluefloat(4);
  }

  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* ctx,
                                     const ScaledObjectRef* /*ref*/,
                                     IsActiveResponse* resp) override {
    resp->set_result(true);
    return Done(ctx);
  }
  grpc::ServerUnaryReactor* GetMetricSpec(
      grpc::CallbackServerContext* ctx, const ScaledObjectRef* /*ref*/,
      GetMetricSpecResponse* resp) override {
    *resp = spec_;
    return Done(ctx);
  }
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* ctx,
                                       const GetMetricsRequest* /*req*/,
                                       GetMetricsResponse* resp) override {
    *resp = metrics_;
    return Done(ctx);
  }

 private:
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  GetMetricSpecResponse spec_;
  GetMetricsResponse metrics_;
};

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // As signalscaler's optimized build (scaler/main.cc): no Mutex deadlock
  // detector, so that both sides of the comparison pay gRPC's locks alike.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--listen=", 0) == 0) {
      listen = arg.substr(9);
    } else {
      std::fprintf(stderr, "usage: null_scaler [--listen=HOST:PORT]\n");
      return 2;
    }
  }
  // Wait for SIGTERM / SIGINT on this thread; gRPC's threads never see them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  NullScaler service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "null_scaler: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("null_scaler listening port=%d\n", port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown();
  return 0;
}
