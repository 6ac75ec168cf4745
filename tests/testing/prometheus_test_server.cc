#include "tests/testing/prometheus_test_server.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sources/http/http_client.h"

namespace signalscaler::testing {

absl::StatusOr<std::unique_ptr<TestPrometheus>> TestPrometheus::Start(
    const std::vector<std::string>& targets,
    const TestPrometheusOptions& options) {
  if (::access(kPrometheusBinary, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kPrometheusBinary, " is not installed"));
  }
  const std::string dir = MakeTempDir();
  {
    std::ofstream config(dir + "/prometheus.yml");
    config << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
           << "scrape_configs:\n"
           << "- job_name: pods\n"
           << "  scrape_interval: 1s\n"
           << "  scrape_timeout: 1s\n"
           << "  static_configs: [{targets: [";
    for (size_t i = 0; i < targets.size(); ++i) {
      config << (i > 0 ? ", '" : "'") << targets[i] << "'";
    }
    config << "]}]\n";
  }
  // The free port may be taken between our probe and Prometheus' bind: try
  // a few.
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int port = FreePort();
    if (port == 0) return absl::InternalError("cannot find a free port");
    std::unique_ptr<TestPrometheus> p(new TestPrometheus(dir, port, options));
    last = p->Launch();
    if (last.ok()) return p;
  }
  return last;
}

TestPrometheus::~TestPrometheus() { Stop().IgnoreError(); }

std::string TestPrometheus::address() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

std::string TestPrometheus::Output() const {
  return process_ != nullptr ? process_->Output() : "";
}

absl::Status TestPrometheus::Launch() {
  const std::string log = absl::StrCat(dir_, "/prometheus", launches_, ".log");
  ++launches_;
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(
      {kPrometheusBinary, "--config.file=" + dir_ + "/prometheus.yml",
       options_.data_dir.empty()
           ? absl::StrCat("--storage.tsdb.path=", dir_, "/data-", port_)
           : absl::StrCat("--storage.tsdb.path=", options_.data_dir),
       "--storage.tsdb.retention.time=" + options_.retention,
       absl::StrCat("--web.listen-address=127.0.0.1:", port_),
       "--log.level=warn"},
      log);
  if (!p.ok()) return p.status();
  process_ = *std::move(p);
  HttpClient client({});
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (client.Get(address() + "/-/ready", absl::Now() + absl::Seconds(1))
            .ok()) {
      return absl::OkStatus();
    }
    if (process_->Wait(absl::Milliseconds(100)).has_value()) {
      const std::string out = process_->Output();
      process_.reset();
      return absl::UnavailableError(
          absl::StrCat("prometheus exited before it was ready: ", out));
    }
  }
  const std::string out = process_->Output();
  process_.reset();  // killed
  return absl::DeadlineExceededError(
      absl::StrCat("prometheus was not ready after 30 s: ", out));
}

absl::Status TestPrometheus::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  process_->Signal(SIGTERM);
  const bool exited = process_->Wait(absl::Seconds(20)).has_value();
  process_.reset();  // SIGKILL if it is still running
  return exited ? absl::OkStatus()
                : absl::DeadlineExceededError("prometheus ignored SIGTERM");
}

absl::Status TestPrometheus::Restart() {
  if (absl::Status s = Stop(); !s.ok()) return s;
  return Launch();
}

}  // namespace signalscaler::testing
