// Bounded inputs, through the real binary: an oversized request is
// RESOURCE_EXHAUSTED from gRPC, too many or too long trigger metadata entries
// INVALID_ARGUMENT naming the limit and its flag, one stream too many ends at
// once with RESOURCE_EXHAUSTED, and a policy file that would exceed a policy
// cap is rejected while every other policy (and its own previous ones) keeps
// serving.
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/externalscaler.grpc.pb.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

externalscaler::ScaledObjectRef Ref(const std::string& ns,
                                    const std::string& policy) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("app");
  ref.set_namespace_(ns);
  (*ref.mutable_scalermetadata())["policy"] = policy;
  return ref;
}

std::string PolicyDoc(const std::string& ns, const std::string& name) {
  return absl::StrCat("---\napiVersion: signalscaler.io/v1\n",
                      "kind: ScalingPolicy\n", "metadata: {name: ", name,
                      ", namespace: ", ns, "}\n", R"(spec:
  minReplicas: 1
  maxReplicas: 10
  signals:
  - name: depth
    type: Total
    source: {push: {}}
    targetPerReplica: 10
)");
}

// Replaces `path` atomically, as kubelet and editors do.
void Publish(const std::string& path, const std::string& text) {
  WriteFile(path + ".tmp", text);
  fs::rename(path + ".tmp", path);
}

class LimitsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_.process != nullptr) {
      server_.process->Signal(SIGTERM);
      server_.process->Wait(absl::Seconds(20));
    }
  }
  void Start(const std::vector<std::string>& flags) {
    server_ = StartServe(flags);
    ASSERT_NE(server_.port, 0)
        << (server_.process != nullptr
                ? server_.process->Output()
                : "cannot start " + SignalscalerBinary());
    channel_ = grpc::CreateChannel(server_.address(),
                                   grpc::InsecureChannelCredentials());
    scaler_ = externalscaler::ExternalScaler::NewStub(channel_);
    admin_ = admin::v1::Admin::NewStub(channel_);
  }
  grpc::Status GetMetricSpec(const externalscaler::ScaledObjectRef& ref) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    externalscaler::GetMetricSpecResponse resp;
    return scaler_->GetMetricSpec(&ctx, ref, &resp);
  }
  // The admin API's status of one policy file.
  admin::v1::PolicyFile FileStatus(const std::string& path) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    admin::v1::PoliciesResponse resp;
    EXPECT_TRUE(
        admin_->Policies(&ctx, admin::v1::PoliciesRequest(), &resp).ok());
    for (const admin::v1::PolicyFile& f : resp.files()) {
      if (f.path() == path) return f;
    }
    return admin::v1::PolicyFile();
  }

  ScalerProcess server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> scaler_;
  std::unique_ptr<admin::v1::Admin::Stub> admin_;
};

TEST_F(LimitsTest, OversizedRequestIsResourceExhausted) {
  Start({});  // --max-request-bytes defaults to 64 KiB
  externalscaler::ScaledObjectRef ref = Ref("demo", "parlant-agent");
  (*ref.mutable_scalermetadata())["policy"] = std::string(100 * 1024, 'x');
  grpc::Status s = GetMetricSpec(ref);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  // The connection still serves normal requests.
  EXPECT_TRUE(GetMetricSpec(Ref("demo", "parlant-agent")).ok());
}

TEST_F(LimitsTest, TooManyOrTooLongMetadataEntriesAreInvalidArgument) {
  Start({"--max-metadata-bytes=100"});
  externalscaler::ScaledObjectRef many = Ref("demo", "parlant-agent");
  for (int i = 0; i < 16; ++i) {
    (*many.mutable_scalermetadata())[absl::StrCat("k", i)] = "v";
  }
  grpc::Status s = GetMetricSpec(many);  // 17 entries; the default is 16
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              AllOf(HasSubstr("17 entries"), HasSubstr("limit is 16"),
                    HasSubstr("--max-metadata-entries")));

  externalscaler::ScaledObjectRef long_value = Ref("demo", "parlant-agent");
  (*long_value.mutable_scalermetadata())["scalerAddress"] =
      std::string(101, 'a');
  s = GetMetricSpec(long_value);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(
      s.error_message(),
      AllOf(HasSubstr("\"scalerAddress\" is 101 bytes"),
            HasSubstr("limit is 100"), HasSubstr("--max-metadata-bytes")));

  externalscaler::ScaledObjectRef long_key = Ref("demo", "parlant-agent");
  (*long_key.mutable_scalermetadata())[std::string(500, 'k')] = "v";
  s = GetMetricSpec(long_key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("--max-metadata-bytes"));
  EXPECT_LT(s.error_message().size(), 300u) << "the key is not echoed whole";

  // Within the limits: served.
  EXPECT_TRUE(GetMetricSpec(Ref("demo", "parlant-agent")).ok());
}

TEST_F(LimitsTest, OneStreamTooManyEndsAtOnceWithResourceExhausted) {
  Start({"--max-open-streams=2"});
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> r;
  };
  std::vector<std::unique_ptr<Stream>> open;
  for (int i = 0; i < 2; ++i) {
    auto s = std::make_unique<Stream>();
    s->r = scaler_->StreamIsActive(&s->ctx, Ref("demo", "parlant-agent"));
    externalscaler::IsActiveResponse msg;
    ASSERT_TRUE(s->r->Read(&msg));
    open.push_back(std::move(s));
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto r = scaler_->StreamIsActive(&ctx, Ref("demo", "parlant-agent"));
    externalscaler::IsActiveResponse msg;
    EXPECT_FALSE(r->Read(&msg));
    grpc::Status s = r->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(s.error_message(), AllOf(HasSubstr("too many open streams"),
                                         HasSubstr("--max-open-streams")));
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto r = scaler_->StreamMetricSpec(&ctx, Ref("demo", "parlant-agent"));
    externalscaler::GetMetricSpecResponse msg;
    EXPECT_FALSE(r->Read(&msg));
    EXPECT_EQ(r->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // Unary calls are not streams: still served.
  EXPECT_TRUE(GetMetricSpec(Ref("demo", "parlant-agent")).ok());

  // A stream that ends frees its place.
  open[0]->ctx.TryCancel();
  open[0]->r->Finish().IgnoreError();
  bool reopened = false;
  for (const absl::Time start = absl::Now();
       !reopened && absl::Now() - start < absl::Seconds(5);) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto r = scaler_->StreamMetricSpec(&ctx, Ref("demo", "parlant-agent"));
    externalscaler::GetMetricSpecResponse msg;
    reopened = r->Read(&msg);
    ctx.TryCancel();
    r->Finish().IgnoreError();
    if (!reopened) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(reopened);
}

TEST_F(LimitsTest, FileOverThePerNamespaceCapIsRejectedOthersServe) {
  const std::string dir = MakeTempDir();
  const std::string a = dir + "/a.yaml", b = dir + "/b.yaml",
                    c = dir + "/c.yaml";
  Publish(a, PolicyDoc("jobs", "a1"));
  Publish(b, PolicyDoc("jobs", "b1"));
  Publish(c, PolicyDoc("web", "c1"));
  Start({"--policies=" + dir, "--policy-reload-seconds=1",
         "--max-policies-per-namespace=2"});
  for (const auto& [ns, name] :
       std::vector<std::pair<std::string, std::string>>{
           {"jobs", "a1"}, {"jobs", "b1"}, {"web", "c1"}}) {
    EXPECT_TRUE(GetMetricSpec(Ref(ns, name)).ok()) << ns << "/" << name;
  }

  // b.yaml grows to two policies: `jobs` would hold three.
  Publish(b, PolicyDoc("jobs", "b1") + PolicyDoc("jobs", "b2"));
  admin::v1::PolicyFile status;
  for (const absl::Time start = absl::Now();
       absl::Now() - start < absl::Seconds(10);
       absl::SleepFor(absl::Milliseconds(100))) {
    status = FileStatus(b);
    if (!status.ok()) break;
  }
  ASSERT_FALSE(status.ok()) << "b.yaml was not rejected";
  ASSERT_EQ(status.errors_size(), 1);
  EXPECT_THAT(status.errors(0),
              AllOf(HasSubstr("namespace `jobs` would hold 3 policies"),
                    HasSubstr("limit is 2"),
                    HasSubstr("--max-policies-per-namespace")));
  EXPECT_THAT(status.policies(), ::testing::ElementsAre("jobs/b1"));
  EXPECT_EQ(GetMetricSpec(Ref("jobs", "b2")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (const auto& [ns, name] :
       std::vector<std::pair<std::string, std::string>>{
           {"jobs", "a1"}, {"jobs", "b1"}, {"web", "c1"}}) {
    EXPECT_TRUE(GetMetricSpec(Ref(ns, name)).ok()) << ns << "/" << name;
  }
  EXPECT_THAT(server_.process->Output(),
              HasSubstr("--max-policies-per-namespace"));
}

TEST_F(LimitsTest, FileOverTheScalerCapIsRejectedAtStartup) {
  const std::string dir = MakeTempDir();
  Publish(dir + "/a.yaml", PolicyDoc("jobs", "a1") + PolicyDoc("web", "a2"));
  Publish(dir + "/b.yaml", PolicyDoc("batch", "b1"));
  Start({"--policies=" + dir, "--max-policies=2"});
  EXPECT_TRUE(GetMetricSpec(Ref("jobs", "a1")).ok());
  EXPECT_TRUE(GetMetricSpec(Ref("web", "a2")).ok());
  EXPECT_EQ(GetMetricSpec(Ref("batch", "b1")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  admin::v1::PolicyFile status = FileStatus(dir + "/b.yaml");
  EXPECT_FALSE(status.ok());
  ASSERT_EQ(status.errors_size(), 1);
  EXPECT_THAT(status.errors(0),
              AllOf(HasSubstr("would hold 3 policies"),
                    HasSubstr("limit is 2 (--max-policies)")));
}

TEST_F(LimitsTest, BadLimitFlagsAreUsageErrors) {
  for (const char* flag : {"--max-open-streams=0", "--max-request-bytes=ten",
                           "--max-policies=-1", "--tls-refresh-seconds=0"}) {
    RunResult r = RunCommand({SignalscalerBinary(), "serve", flag});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(std::string(flag).substr(
                              0, std::string(flag).find('='))));
  }
}

}  // namespace
}  // namespace signalscaler::testing
