// End to end through KEDA's API with `redis` sources: the real
// `signalscaler serve` binary and a real redis-server (our own child on
// 127.0.0.1). Items pushed onto a list, a sorted set and a stream (with a
// consumer group's pending count and lag) show up as the counts in Explain
// and as the replica counts in GetMetrics; Redis killed and restarted and a
// key of the wrong type give clear errors while the decision holds; and with
// keyspace notifications, RPUSH onto an empty list reaches an open
// StreamIsActive long before the next poll.
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler::testing {
namespace {

class RedisE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestRedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
    client_ = std::make_unique<TestRedisClient>(redis_->port());
  }

  // A `redis` source on this test's server; `what` names the key, e.g.
  // `list: jobs`.
  std::string Source(const std::string& what) const {
    return absl::StrCat("redis: {address: \"", redis_->address(), "\", ", what,
                        "}");
  }

  // Pushes `n` items onto the list `key`.
  void Push(const std::string& key, int n) {
    for (int i = 0; i < n; ++i) client_->Run({"RPUSH", key, "job"});
  }

  std::unique_ptr<TestRedisServer> redis_;
  std::unique_ptr<TestRedisClient> client_;
};

TEST_F(RedisE2eTest, CountsShowUpInGetMetricsAndExplain) {
  // The group exists before its stream has entries (a missing group is an
  // error, a missing key is 0).
  ASSERT_EQ(
      client_->Run({"XGROUP", "CREATE", "events", "workers", "$", "MKSTREAM"}),
      "OK");
  // One replica per item: the replica count is the count.
  const std::string policies =
      TotalPolicy("list", Source("list: jobs"), 1, 0) +
      TotalPolicy("zset", Source("sortedSet: delayed"), 1, 0) +
      TotalPolicy("stream", Source("stream: events"), 1, 0) +
      TotalPolicy("pending",
                  Source("stream: events, group: workers, "
                         "groupMeasure: pending"),
                  1, 0) +
      TotalPolicy("lag",
                  Source("stream: events, group: workers, groupMeasure: lag"),
                  1, 0);
  auto scaler = ServedScaler::Start(policies);
  ASSERT_NE(scaler, nullptr);
  for (const char* p : {"list", "zset", "stream", "pending", "lag"}) {
    ASSERT_TRUE(scaler->WaitForValue(p, 0)) << scaler->Log();
    EXPECT_TRUE(scaler->WaitForReplicas(p, 0));
  }

  Push("jobs", 7);
  for (int i = 0; i < 4; ++i) {
    client_->Run({"ZADD", "delayed", absl::StrCat(i), absl::StrCat("job", i)});
  }
  for (int i = 0; i < 9; ++i) {
    client_->Run({"XADD", "events", "*", "n", absl::StrCat(i)});
  }
  // A consumer takes 3 entries: 3 pending (not acknowledged), 6 not yet
  // delivered to the group (its lag).
  client_->Run({"XREADGROUP", "GROUP", "workers", "c1", "COUNT", "3", "STREAMS",
                "events", ">"});

  const std::pair<const char*, double> expected[] = {
      {"list", 7}, {"zset", 4}, {"stream", 9}, {"pending", 3}, {"lag", 6}};
  for (const auto& [policy, count] : expected) {
    EXPECT_TRUE(scaler->WaitForValue(policy, count));
    EXPECT_TRUE(scaler->WaitForReplicas(policy, count));
  }

  // Consumed items leave the count.
  client_->Run({"LPOP", "jobs", "5"});
  EXPECT_TRUE(scaler->WaitForReplicas("list", 2));
  EXPECT_TRUE(scaler->WaitForValue("list", 2));
}

TEST_F(RedisE2eTest, KilledAndRestartedHoldsThenRecovers) {
  auto scaler =
      ServedScaler::Start(TotalPolicy("worker", Source("list: jobs"), 1, 0));
  ASSERT_NE(scaler, nullptr);
  Push("jobs", 7);
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 7)) << scaler->Log();

  // Killed: the data is gone with it (no persistence), so anything read
  // now would scale down.
  client_.reset();
  redis_->Kill();
  EXPECT_TRUE(scaler->WaitForError(
      "worker", {"UNAVAILABLE", absl::StrCat("redis ", redis_->address())}));
  EXPECT_TRUE(scaler->HoldsDuringFault("worker", 7));

  // Back on the same port: the source reconnects by itself.
  ASSERT_TRUE(redis_->Restart().ok());
  client_ = std::make_unique<TestRedisClient>(redis_->port());
  Push("jobs", 2);
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 2));
  EXPECT_TRUE(scaler->WaitForValue("worker", 2));
}

TEST_F(RedisE2eTest, WrongTypeKeyIsAnErrorNamingKeyAndType) {
  auto scaler =
      ServedScaler::Start(TotalPolicy("worker", Source("list: jobs"), 1, 0));
  ASSERT_NE(scaler, nullptr);
  Push("jobs", 6);
  ASSERT_TRUE(scaler->WaitForReplicas("worker", 6)) << scaler->Log();

  client_->Run({"DEL", "jobs"});
  client_->Run({"SET", "jobs", "not a queue"});
  EXPECT_TRUE(scaler->WaitForError(
      "worker", {"INVALID_ARGUMENT", "key \"jobs\" holds a string"}));
  EXPECT_TRUE(scaler->HoldsDuringFault("worker", 6));

  client_->Run({"DEL", "jobs"});
  Push("jobs", 3);
  EXPECT_TRUE(scaler->WaitForReplicas("worker", 3));
  EXPECT_TRUE(scaler->WaitForValue("worker", 3));
}

TEST_F(RedisE2eTest, RpushOntoEmptyListWakesStreamIsActiveBeforeAnyPoll) {
  // Polled every 30 s: only the notification can explain a fast `true`.
  auto scaler = ServedScaler::Start(
      TotalPolicy("wake", Source("list: wake, notify: true"), 1, 0, 30));
  ASSERT_NE(scaler, nullptr);
  // The source subscribes (PSUBSCRIBE) at startup.
  ASSERT_TRUE(PollUntil(
      [&] {
        return client_->Run({"PUBSUB", "NUMPAT"}) != "0";
      },
      absl::Seconds(10)))
      << scaler->Log();

  // As KEDA's external-push does: the stream stays open.
  std::unique_ptr<ActiveStream> stream =
      scaler->keda().StreamIsActive(kNamespace, "wake");
  std::optional<ActiveMessage> first = stream->Next(absl::Seconds(10));
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->result);

  // Twice: from a fresh start, then after the list was drained (which
  // the notification also reports, so the service goes back to 0 at once).
  for (int round = 0; round < 2; ++round) {
    const absl::Time pushed = absl::Now();
    client_->Run({"RPUSH", "wake", "job"});
    std::optional<ActiveMessage> m = stream->Next(absl::Seconds(10));
    ASSERT_TRUE(m.has_value()) << "no message after RPUSH\n" << scaler->Log();
    EXPECT_TRUE(m->result);
    const absl::Duration latency = m->received - pushed;
    std::cout << "round " << round << ": RPUSH -> true in " << latency << "\n";
    EXPECT_LT(latency, absl::Seconds(3));

    client_->Run({"LPOP", "wake"});
    EXPECT_TRUE(PollUntil(
        [&] {
          absl::StatusOr<bool> active =
              scaler->keda().IsActive(kNamespace, "wake");
          return active.ok() && !*active;
        },
        absl::Seconds(5)))
        << "the drained list did not deactivate the service";
  }
  // Deactivations send nothing (KEDA ignores `false`).
  EXPECT_FALSE(stream->Next(absl::Milliseconds(300)).has_value());
}

// Issue 13 item 8: a source that never worked (a wrong Redis password, an
// unreachable Prometheus) is named with its error in explain from the first
// attempt on, before any decision; it said only "no signal ... has a
// reading yet", with no signal listed.
TEST_F(RedisE2eTest, ExplainNamesEverySignalsErrorBeforeAnyReading) {
  auto locked = TestRedisServer::Start({"--requirepass", "right-secret-42"});
  ASSERT_TRUE(locked.ok()) << locked.status();
  // passwordFile is relative to --credentials-root/<namespace>/.
  const std::string root = MakeTempDir();
  ASSERT_EQ(::mkdir((root + "/" + kNamespace).c_str(), 0700), 0);
  WriteFile(absl::StrCat(root, "/", kNamespace, "/password"), "wrong-guess-7");
  const std::string policies = absl::StrCat(
      TotalPolicy("locked",
                  absl::StrCat("redis: {address: \"", (*locked)->address(),
                               "\", list: jobs, passwordFile: password}"),
                  1, 0),
      TotalPolicy("nowhere",
                  "prometheus: {address: \"http://127.0.0.1:1\", query: up}", 1,
                  0));
  auto scaler = ServedScaler::Start(policies, {"--credentials-root=" + root});
  ASSERT_NE(scaler, nullptr);
  for (const char* policy : {"locked", "nowhere"}) {
    SCOPED_TRACE(policy);
    absl::StatusOr<admin::v1::PolicyDecision> d;
    const bool listed = PollUntil(
        [&] {
          d = scaler->keda().Explain(kNamespace, policy);
          return d.ok() && d->signals_size() == 1 &&
                 d->signals(0).state() == "error";
        },
        absl::Seconds(20));
    ASSERT_TRUE(listed) << (d.ok() ? d->DebugString() : d.status().ToString())
                        << scaler->Log();
    EXPECT_FALSE(d->has_decision());
    EXPECT_EQ(d->signals(0).name(), kSignal);
    EXPECT_FALSE(d->signals(0).message().empty());
    // No secret in what a client sees.
    EXPECT_EQ(d->DebugString().find("wrong-guess-7"), std::string::npos);
    EXPECT_EQ(d->DebugString().find("right-secret-42"), std::string::npos);
  }
  const absl::StatusOr<admin::v1::PolicyDecision> locked_d =
      scaler->keda().Explain(kNamespace, "locked");
  ASSERT_TRUE(locked_d.ok());
  EXPECT_NE(locked_d->signals(0).message().find(
                "AUTH: the server refused the password from passwordFile"),
            std::string::npos)
      << locked_d->signals(0).message();
  EXPECT_EQ(scaler->Log().find("wrong-guess-7"), std::string::npos);
}

}  // namespace
}  // namespace signalscaler::testing
