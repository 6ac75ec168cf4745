// Hot reload the way kubelet updates a mounted ConfigMap (a new timestamped
// directory, then an atomic rename of the `..data` symlink), while a client
// polls GetMetrics as KEDA does: a good edit takes effect within one reload
// period plus one evaluation, a broken edit changes no answer and reports its
// error, fixing it recovers, and no call fails throughout.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"
#include "sources/http/http_client.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Policy(const std::string& target_line) {
  return absl::StrCat(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: worker, namespace: jobs}
spec:
  minReplicas: 1
  maxReplicas: 20
  evaluationIntervalSeconds: 1
  behavior:  # no damping: the test is about reloads, not windows
    scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
  signals:
  - name: depth
    type: Total
    source: {push: {}}
)",
                      target_line, "\n");
}

// A ConfigMap volume as kubelet lays it out, updated as kubelet does.
class KubeletVolume {
 public:
  explicit KubeletVolume(std::string dir) : dir_(std::move(dir)) {}

  void Publish(const std::string& content) {
    const std::string ts = absl::StrCat("..2026_11_23_", ++version_);
    fs::create_directory(dir_ + "/" + ts);
    WriteFile(dir_ + "/" + ts + "/worker.yaml", content);
    const std::string tmp = dir_ + "/..data_tmp";
    fs::remove(tmp);
    fs::create_directory_symlink(ts, tmp);
    fs::rename(tmp, dir_ + "/..data");  // the atomic swap
    if (!fs::exists(fs::symlink_status(dir_ + "/worker.yaml"))) {
      fs::create_symlink("..data/worker.yaml", dir_ + "/worker.yaml");
    }
    if (!old_.empty()) fs::remove_all(dir_ + "/" + old_);
    old_ = ts;
  }

 private:
  std::string dir_;
  std::string old_;
  int version_ = 0;
};

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    volume_ = std::make_unique<KubeletVolume>(dir_);
    volume_->Publish(Policy("    targetPerReplica: 10"));
    server_ = StartServe({"--policies=" + dir_, "--policy-reload-seconds=1"});
    ASSERT_NE(server_.port, 0) << server_.process->Output();
    channel_ = grpc::CreateChannel(server_.address(),
                                   grpc::InsecureChannelCredentials());
    scaler_ = externalscaler::ExternalScaler::NewStub(channel_);
    admin_ = admin::v1::Admin::NewStub(channel_);
    ASSERT_TRUE(PushDepth().ok());
  }
  void TearDown() override {
    StopPolling();
    if (server_.process != nullptr) {
      server_.process->Signal(SIGTERM);
      server_.process->Wait(absl::Seconds(20));
    }
  }

  grpc::Status PushDepth() {
    admin::v1::PushRequest req;
    req.set_namespace_("jobs");
    req.set_policy("worker");
    req.set_signal("depth");
    req.set_value(25);
    admin::v1::PushResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return admin_->Push(&ctx, req, &resp);
  }

  // KEDA's loop: GetMetrics every 20 ms; the pushed value is refreshed
  // every few calls so that it never goes stale.
  void StartPolling() {
    poller_ = std::thread([this] {
      for (int i = 0; !stop_.load(); ++i) {
        if (i % 10 == 0 && !PushDepth().ok()) ++failures_;
        externalscaler::GetMetricsRequest req;
        req.mutable_scaledobjectref()->set_name("worker");
        req.mutable_scaledobjectref()->set_namespace_("jobs");
        (*req.mutable_scaledobjectref()->mutable_scalermetadata())["policy"] =
            "worker";
        req.set_metricname("signalscaler-jobs-worker");
        externalscaler::GetMetricsResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
        grpc::Status s = scaler_->GetMetrics(&ctx, req, &resp);
        if (!s.ok() || resp.metricvalues_size() != 1) {
          ++failures_;
        } else {
          std::lock_guard<std::mutex> lock(mu_);
          values_.push_back(resp.metricvalues(0).metricvaluefloat());
        }
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
  }
  void StopPolling() {
    stop_ = true;
    if (poller_.joinable()) poller_.join();
  }
  double Latest() {
    std::lock_guard<std::mutex> lock(mu_);
    return values_.empty() ? -1 : values_.back();
  }
  // Polls until the latest answer is `want`; returns how long it took.
  absl::Duration WaitForValue(double want, absl::Duration limit) {
    const absl::Time start = absl::Now();
    while (absl::Now() - start < limit) {
      if (Latest() == want) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::InfiniteDuration();
  }
  std::vector<double> ValuesSince(size_t from) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::vector<double>(values_.begin() + from, values_.end());
  }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return values_.size();
  }

  std::string dir_;
  std::unique_ptr<KubeletVolume> volume_;
  ScalerProcess server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> scaler_;
  std::unique_ptr<admin::v1::Admin::Stub> admin_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::mutex mu_;
  std::vector<double> values_;
};

TEST_F(ReloadTest, KubeletSwapGoodBrokenFixedWhileKedaPolls) {
  StartPolling();
  // ceil(25 / 10) = 3.
  ASSERT_LT(WaitForValue(3, absl::Seconds(10)), absl::Seconds(10));

  // A good edit: 5 per replica -> ceil(25 / 5) = 5, within one reload
  // period (1 s; inotify usually sees it at once) plus one evaluation (1 s),
  // with a margin for a loaded machine.
  volume_->Publish(Policy("    targetPerReplica: 5"));
  const absl::Duration took = WaitForValue(5, absl::Seconds(10));
  EXPECT_LT(took, absl::Seconds(4)) << "good edit took " << took;

  // A broken edit: rejected with its error, every answer unchanged.
  volume_->Publish(Policy("    targetPerReplica: 5\n    targetPerRepilca: 1"));
  ASSERT_TRUE(
      server_.process->WaitForOutput("targetPerRepilca", absl::Seconds(10)))
      << server_.process->Output();
  const size_t before = Count();
  absl::SleepFor(absl::Seconds(2));  // let answers accumulate, by design
  for (double v : ValuesSince(before)) EXPECT_EQ(v, 5);
  admin::v1::PoliciesResponse policies;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    ASSERT_TRUE(
        admin_->Policies(&ctx, admin::v1::PoliciesRequest(), &policies).ok());
  }
  ASSERT_EQ(policies.files_size(), 1);
  EXPECT_FALSE(policies.files(0).ok());
  ASSERT_EQ(policies.files(0).errors_size(), 1);
  EXPECT_THAT(policies.files(0).errors(0), HasSubstr("targetPerRepilca"));
  EXPECT_THAT(policies.files(0).errors(0), HasSubstr("did you mean"));
  EXPECT_THAT(policies.files(0).policies(),
              ::testing::ElementsAre("jobs/worker"));
  EXPECT_GE(policies.rejected_files(), 1u);
  // ...and counted in the metrics.
  ASSERT_NE(server_.metrics_port, 0);
  absl::StatusOr<std::string> metrics =
      HttpClient(HttpClientOptions())
          .Get(absl::StrCat("http://127.0.0.1:", server_.metrics_port,
                            "/metrics"),
               absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(*metrics,
              HasSubstr("signalscaler_policy_file_rejections_total 1"));

  // Fixed: 2 per replica -> ceil(25 / 2) = 13.
  volume_->Publish(Policy("    targetPerReplica: 2"));
  EXPECT_LT(WaitForValue(13, absl::Seconds(10)), absl::Seconds(4));

  StopPolling();
  EXPECT_EQ(failures_.load(), 0) << "a GetMetrics or push call failed";
  EXPECT_GT(Count(), 100u);
}

TEST_F(ReloadTest, SighupReloadsAtOnce) {
  volume_->Publish(Policy("    targetPerReplica: 25"));
  server_.process->Signal(SIGHUP);
  ASSERT_TRUE(server_.process->WaitForOutput("SIGHUP", absl::Seconds(10)));
  StartPolling();
  EXPECT_LT(WaitForValue(1, absl::Seconds(10)), absl::Seconds(10));
}

}  // namespace
}  // namespace signalscaler::testing
