// Hot reload the way kubelet updates a mounted ConfigMap (a new timestamped
// directory, then an atomic rename of the `..data` symlink), while a client
// polls GetMetrics as KEDA does: a good edit takes effect within one reload
// period plus one evaluation, a broken edit changes no answer and reports its
// error, fixing it recovers, and no call fails throughout. Then duplicates
// across files (the file in force keeps its policy; with none in force, none
// is served) and a replaced policies directory (watched again at once).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
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
          absl::MutexLock lock(&mu_);
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
    absl::MutexLock lock(&mu_);
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
    absl::MutexLock lock(&mu_);
    return std::vector<double>(values_.begin() + from, values_.end());
  }
  size_t Count() {
    absl::MutexLock lock(&mu_);
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
  absl::Mutex mu_;
  std::vector<double> values_ ABSL_GUARDED_BY(mu_);
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

// One policy of team-b (push signal `load`, 10 per replica, no damping: a
// wrong number would show at once), with `max` replicas at most.
std::string TeamBPolicy(int max) {
  return absl::StrCat(R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: svc, namespace: team-b}
spec:
  minReplicas: 1
  maxReplicas: )",
                      max, R"(
  evaluationIntervalSeconds: 1
  behavior:
    scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
  signals:
  - {name: load, type: Total, source: {push: {}}, targetPerReplica: 10}
)");
}

// A `serve` on a plain policies directory, spoken to as KEDA and the admin
// CLI do.
class ServeDirTest : public ::testing::Test {
 protected:
  void TearDown() override { Stop(); }

  void Start(const std::vector<std::string>& flags) {
    server_ = StartServe(flags);
    ASSERT_NE(server_.port, 0) << server_.process->Output();
    channel_ = grpc::CreateChannel(server_.address(),
                                   grpc::InsecureChannelCredentials());
    scaler_ = externalscaler::ExternalScaler::NewStub(channel_);
    admin_ = admin::v1::Admin::NewStub(channel_);
  }
  void Stop() {
    if (server_.process != nullptr) {
      server_.process->Signal(SIGTERM);
      server_.process->Wait(absl::Seconds(20));
      server_.process.reset();
    }
  }
  static void Deadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }
  grpc::Status Push(const std::string& ns, const std::string& policy,
                    const std::string& signal, double value) {
    admin::v1::PushRequest req;
    req.set_namespace_(ns);
    req.set_policy(policy);
    req.set_signal(signal);
    req.set_value(value);
    admin::v1::PushResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    return admin_->Push(&ctx, req, &resp);
  }
  // GetMetrics as KEDA calls it: the decided replicas, or the error.
  absl::StatusOr<double> Metric(const std::string& ns,
                                const std::string& policy) {
    externalscaler::GetMetricsRequest req;
    req.mutable_scaledobjectref()->set_name(policy);
    req.mutable_scaledobjectref()->set_namespace_(ns);
    (*req.mutable_scaledobjectref()->mutable_scalermetadata())["policy"] =
        policy;
    req.set_metricname(absl::StrCat("signalscaler-", ns, "-", policy));
    externalscaler::GetMetricsResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    grpc::Status s = scaler_->GetMetrics(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    if (resp.metricvalues_size() != 1) {
      return absl::InternalError("not one metric value");
    }
    return resp.metricvalues(0).metricvaluefloat();
  }
  // Polls until GetMetrics answers `want`; how long it took, or infinite.
  absl::Duration WaitForMetric(const std::string& ns, const std::string& policy,
                               double want, absl::Duration limit) {
    const absl::Time start = absl::Now();
    while (absl::Now() - start < limit) {
      absl::StatusOr<double> v = Metric(ns, policy);
      if (v.ok() && *v == want) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::InfiniteDuration();
  }
  admin::v1::PoliciesResponse Policies() {
    admin::v1::PoliciesResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    EXPECT_TRUE(
        admin_->Policies(&ctx, admin::v1::PoliciesRequest(), &resp).ok());
    return resp;
  }
  const admin::v1::PolicyFile* FileStatus(
      const admin::v1::PoliciesResponse& resp, const std::string& path) {
    for (const admin::v1::PolicyFile& f : resp.files()) {
      if (f.path() == path) return &f;
    }
    ADD_FAILURE() << "no file " << path << " in " << resp.DebugString();
    return nullptr;
  }
  std::string MetricsText() {
    absl::StatusOr<std::string> text =
        HttpClient(HttpClientOptions())
            .Get(absl::StrCat("http://127.0.0.1:", server_.metrics_port,
                              "/metrics"),
                 absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }

  std::string dir_ = MakeTempDir();
  ScalerProcess server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> scaler_;
  std::unique_ptr<admin::v1::Admin::Stub> admin_;
};

// Issue 13 item 5: a new file repeating a policy in force (and sorting
// first) never takes it over; it is rejected naming the file in force, in
// the Policies RPC, the log and the metrics, and the decision stays.
TEST_F(ServeDirTest, DuplicateInANewFileNeverTakesOver) {
  const std::string team_b = dir_ + "/team-b.yaml";
  const std::string dup = dir_ + "/aa-dup.yaml";
  WriteFile(team_b, TeamBPolicy(10));
  Start({"--policies=" + dir_, "--policy-reload-seconds=1"});
  ASSERT_TRUE(Push("team-b", "svc", "load", 40).ok());
  ASSERT_LT(WaitForMetric("team-b", "svc", 4, absl::Seconds(10)),
            absl::Seconds(10));

  WriteFile(dup, TeamBPolicy(3));
  ASSERT_TRUE(server_.process->WaitForOutput("aa-dup.yaml", absl::Seconds(10)))
      << server_.process->Output();
  // Three evaluations later (1 s each), every answer is still 4.
  const absl::Time until = absl::Now() + absl::Seconds(3);
  std::vector<double> answers;
  while (absl::Now() < until) {
    if (answers.size() % 10 == 0) {
      ASSERT_TRUE(Push("team-b", "svc", "load", 40).ok());
    }
    absl::StatusOr<double> v = Metric("team-b", "svc");
    ASSERT_TRUE(v.ok()) << v.status();
    answers.push_back(*v);
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_GT(answers.size(), 20u);
  EXPECT_THAT(answers, ::testing::Each(4));
  const std::string log = server_.process->Output();
  EXPECT_THAT(log, HasSubstr("policy file rejected"));
  EXPECT_THAT(log, HasSubstr("already in force from " + team_b + ":1"));

  const admin::v1::PoliciesResponse resp = Policies();
  ASSERT_EQ(resp.files_size(), 2) << resp.DebugString();
  const admin::v1::PolicyFile* d = FileStatus(resp, dup);
  const admin::v1::PolicyFile* t = FileStatus(resp, team_b);
  ASSERT_TRUE(d != nullptr && t != nullptr);
  EXPECT_FALSE(d->ok());
  EXPECT_THAT(d->policies(), ::testing::IsEmpty());
  ASSERT_EQ(d->errors_size(), 1);
  EXPECT_THAT(d->errors(0), HasSubstr(dup + ":1: policy team-b/svc"));
  EXPECT_THAT(d->errors(0), HasSubstr("already in force from " + team_b));
  EXPECT_TRUE(t->ok());
  EXPECT_THAT(t->errors(), ::testing::IsEmpty());
  EXPECT_THAT(t->policies(), ::testing::ElementsAre("team-b/svc"));
  EXPECT_EQ(resp.rejected_files(), 1u);

  // explain: the decision is team-b.yaml's (max 10), not the newcomer's.
  {
    admin::v1::ExplainRequest req;
    req.set_namespace_("team-b");
    req.set_policy("svc");
    admin::v1::ExplainResponse explain;
    grpc::ClientContext ctx;
    Deadline(ctx);
    ASSERT_TRUE(admin_->Explain(&ctx, req, &explain).ok());
    ASSERT_EQ(explain.decisions_size(), 1);
    EXPECT_EQ(explain.decisions(0).max_replicas(), 10);
    EXPECT_EQ(explain.decisions(0).replicas(), 4);
  }
  const std::string metrics = MetricsText();
  EXPECT_THAT(metrics,
              HasSubstr("signalscaler_policy_file_rejections_total 1"));
  EXPECT_THAT(metrics, HasSubstr("signalscaler_policies_loaded 1"));
}

// With no file in force (a start; so also a restart: nothing remembers which
// file had the policy), a policy two files define is served from neither,
// whatever their names, on every start alike; each file is named as
// rejected, naming the other. When one of them goes, the other serves.
TEST_F(ServeDirTest, DuplicateWithNoFileInForceServesNeither) {
  const std::string team_b = dir_ + "/team-b.yaml";
  const std::string dup = dir_ + "/aa-dup.yaml";
  WriteFile(team_b, TeamBPolicy(10));
  WriteFile(dup, TeamBPolicy(3));
  WriteFile(dir_ + "/team-c.yaml",
            absl::StrReplaceAll(TeamBPolicy(10), {{"team-b", "team-c"}}));
  for (int start = 0; start < 2; ++start) {
    SCOPED_TRACE(absl::StrCat("start ", start));
    Start({"--policies=" + dir_, "--policy-reload-seconds=1"});
    absl::StatusOr<double> v = Metric("team-b", "svc");
    EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound) << v.status();
    EXPECT_EQ(Push("team-b", "svc", "load", 40).error_code(),
              grpc::StatusCode::NOT_FOUND);
    // Other policies are not affected.
    ASSERT_TRUE(Push("team-c", "svc", "load", 40).ok());
    EXPECT_LT(WaitForMetric("team-c", "svc", 4, absl::Seconds(10)),
              absl::Seconds(10));

    const admin::v1::PoliciesResponse resp = Policies();
    ASSERT_EQ(resp.files_size(), 3) << resp.DebugString();
    const admin::v1::PolicyFile* d = FileStatus(resp, dup);
    const admin::v1::PolicyFile* t = FileStatus(resp, team_b);
    ASSERT_TRUE(d != nullptr && t != nullptr);
    EXPECT_FALSE(d->ok());
    EXPECT_FALSE(t->ok());
    EXPECT_THAT(d->policies(), ::testing::IsEmpty());
    EXPECT_THAT(t->policies(), ::testing::IsEmpty());
    ASSERT_EQ(d->errors_size(), 1);
    ASSERT_EQ(t->errors_size(), 1);
    EXPECT_THAT(d->errors(0), HasSubstr("also defined at " + team_b + ":1"));
    EXPECT_THAT(t->errors(0), HasSubstr("also defined at " + dup + ":1"));
    EXPECT_THAT(t->errors(0), HasSubstr("none is loaded"));
    EXPECT_EQ(resp.rejected_files(), 2u);
    EXPECT_THAT(server_.process->Output(),
                HasSubstr("policy file rejected; it serves no policy"));
    EXPECT_THAT(MetricsText(),
                HasSubstr("signalscaler_policy_file_rejections_total 2"));
    Stop();
  }
  Start({"--policies=" + dir_, "--policy-reload-seconds=1"});
  std::filesystem::remove(dup);
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (!Push("team-b", "svc", "load", 40).ok() && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_LT(WaitForMetric("team-b", "svc", 4, absl::Seconds(10)),
            absl::Seconds(10));
  const admin::v1::PoliciesResponse resp = Policies();
  ASSERT_EQ(resp.files_size(), 2) << resp.DebugString();
  const admin::v1::PolicyFile* t = FileStatus(resp, team_b);
  ASSERT_TRUE(t != nullptr);
  EXPECT_TRUE(t->ok());
  EXPECT_THAT(t->policies(), ::testing::ElementsAre("team-b/svc"));
}

// Issue 13 item 10: after `mv dir dir.old; mkdir dir; write files`, an edit
// takes effect through inotify, not the safety net (set to a minute here, so
// that it cannot be what makes the test pass).
TEST_F(ServeDirTest, ReplacedPoliciesDirectoryIsWatchedAgain) {
  const std::string dir = dir_ + "/policies";
  std::filesystem::create_directory(dir);
  WriteFile(dir + "/svc.yaml", TeamBPolicy(10));
  Start({"--policies=" + dir, "--policy-reload-seconds=60"});
  ASSERT_TRUE(Push("team-b", "svc", "load", 40).ok());
  ASSERT_LT(WaitForMetric("team-b", "svc", 4, absl::Seconds(10)),
            absl::Seconds(10));
  // An edit in place: maxReplicas 3 caps 4 at 3.
  WriteFile(dir + "/svc.yaml", TeamBPolicy(3));
  ASSERT_LT(WaitForMetric("team-b", "svc", 3, absl::Seconds(10)),
            absl::Seconds(10));

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string old = absl::StrCat(dir, ".old", round);
    std::filesystem::rename(dir, old);
    std::filesystem::create_directory(dir);
    WriteFile(dir + "/svc.yaml", TeamBPolicy(10));
    // One reload (inotify, debounced 0.1 s) and one evaluation (1 s).
    absl::Duration took = WaitForMetric("team-b", "svc", 4, absl::Seconds(10));
    EXPECT_LT(took, absl::Milliseconds(1500)) << "took " << took;
    // An edit inside the new directory.
    WriteFile(dir + "/svc.yaml", TeamBPolicy(3));
    took = WaitForMetric("team-b", "svc", 3, absl::Seconds(10));
    EXPECT_LT(took, absl::Milliseconds(1500)) << "took " << took;
    // The old directory is no longer ours.
    WriteFile(old + "/svc.yaml", TeamBPolicy(5));
  }
  const admin::v1::PoliciesResponse resp = Policies();
  ASSERT_EQ(resp.files_size(), 1);
  EXPECT_EQ(resp.files(0).path(), dir + "/svc.yaml");
  absl::SleepFor(absl::Milliseconds(500));
  absl::StatusOr<double> v = Metric("team-b", "svc");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 3);
}

}  // namespace
}  // namespace signalscaler::testing
