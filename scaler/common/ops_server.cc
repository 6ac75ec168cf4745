#include "scaler/common/ops_server.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace signalscaler {
namespace {

HttpServerOptions OpsOptions() {
  HttpServerOptions options;
  options.name = "metrics";
  return options;
}

}  // namespace

OpsServer::OpsServer(const Metrics& metrics)
    : metrics_(metrics), http_(OpsOptions()) {
  http_.Handle("/metrics", [this] {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.Text();
    return r;
  });
  http_.Handle("/livez", [this] { return Probe(/*ready=*/false); });
  http_.Handle("/readyz", [this] { return Probe(/*ready=*/true); });
}

OpsServer::~OpsServer() { Stop(); }

void OpsServer::SetHealthChecks(HealthCheck liveness, HealthCheck readiness) {
  absl::MutexLock lock(&mu_);
  liveness_ = std::move(liveness);
  readiness_ = std::move(readiness);
}

void OpsServer::SetReadyDetail(std::function<std::string()> detail) {
  absl::MutexLock lock(&mu_);
  ready_detail_ = std::move(detail);
}

absl::Status OpsServer::Start(const std::string& listen) {
  return http_.Start(listen);
}

int OpsServer::port() const { return http_.port(); }

void OpsServer::Stop() { http_.Stop(); }

HttpResponse OpsServer::Probe(bool ready) const {
  HealthCheck check;
  std::function<std::string()> detail;
  {
    absl::MutexLock lock(&mu_);
    check = ready ? readiness_ : liveness_;
    if (ready) detail = ready_detail_;
  }
  absl::Status s = absl::OkStatus();
  if (check != nullptr) {
    s = check();
  } else if (ready) {
    s = absl::UnavailableError("not started");
  }
  HttpResponse r;
  r.status = s.ok() ? 200 : 503;
  if (s.ok() && detail != nullptr) {
    if (std::string d = detail(); !d.empty()) {
      r.body = absl::StrCat("ok (", d, ")\n");
      return r;
    }
  }
  r.body = s.ok()
               ? "ok\n"
               : absl::StrCat(ready ? "not ready: " : "not live: ", s.message(),
                              "\n");
  return r;
}

}  // namespace signalscaler
