// The evaluator's switch of a policy from shadow to active (review finding
// F1, 2 Dec): the windows are kept, but the first active decision's rate
// limits count from what the fleet runs, not from the shadow's own
// decisions, which the fleet never followed.
#include <memory>
#include <string>

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/policy/loader.h"
#include "scaler/server/admin_logic.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/keda_logic.h"
#include "scaler/server/policy_registry.h"
#include "scaler/state/state_store.h"
#include "sources/observer.h"
#include "sources/push/push_source.h"

namespace signalscaler {
namespace {

// Down: one pod per 60 s, no window; up at once.
constexpr char kPolicy[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: worker, namespace: jobs}
spec:
  mode: MODE
  minReplicas: 1
  maxReplicas: 50
  evaluationIntervalSeconds: 1
  replicas: {push: {}}
  signals:
  - name: queue
    type: Total
    source: {push: {}}
    targetPerReplica: 10
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 1, periodSeconds: 60}]
)";

class ShadowSwitchTest : public ::testing::Test {
 protected:
  void Serve(const std::string& mode) {
    LoadResult r = ParsePolicies(absl::StrReplaceAll(kPolicy, {{"MODE", mode}}),
                                 "worker.yaml");
    ASSERT_TRUE(r.errors.empty()) << r.ToStatus();
    registry_.Set(std::make_shared<PolicySnapshot>(std::move(r.policies)));
  }
  void Tick(int64_t fleet, double queue) {
    clock_.Advance(absl::Seconds(1));
    push_.Record(key_, kReplicasSignal, Reading{double(fleet), clock_.Now()});
    push_.Record(key_, "queue", Reading{queue, clock_.Now()});
    evaluator_->EvaluateDue();
  }
  int64_t Decided() {
    absl::StatusOr<std::shared_ptr<const Decision>> d = board_.Get(key_);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? (*d)->replicas : -1;
  }
  int64_t Answered() {
    const LoadedPolicy* p = registry_.Get()->Find(key_);
    EXPECT_NE(p, nullptr);
    absl::StatusOr<int64_t> a = AnswerFor(*p, board_);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : -1;
  }

  const PolicyKey key_{"jobs", "worker"};
  ManualClock clock_{absl::FromUnixSeconds(1'000'000)};
  std::unique_ptr<StateStore> store_ = MakeMemoryStateStore(clock_);
  PolicyRegistry registry_;
  PushStore push_;
  SourceObserver observer_{push_};
  DecisionBoard board_;
  std::unique_ptr<Evaluator> evaluator_;

  void MakeEvaluator() {
    EvaluatorOptions o;
    o.store = store_.get();
    o.replica_id = "r0";
    o.wait_without_history = false;
    evaluator_ =
        std::make_unique<Evaluator>(registry_, observer_, board_, clock_, o);
  }
};

TEST_F(ShadowSwitchTest, TheFirstActiveDecisionCountsItsRateLimitFromTheFleet) {
  Serve("shadow");
  MakeEvaluator();
  // The fleet runs 3 and the queue asks for 3: the shadow decides 3.
  for (int i = 0; i < 5; ++i) Tick(3, 30);
  EXPECT_EQ(Decided(), 3);
  // Today's HPA scales the fleet to 20; the shadow, whose own last
  // decision is 3, keeps deciding 3 (its rate limit counts from 3), while
  // KEDA is answered the fleet's 20.
  for (int i = 0; i < 5; ++i) Tick(20, 30);
  EXPECT_EQ(Decided(), 3);
  EXPECT_EQ(Answered(), 20);

  // Switched to active: until its first active decision, KEDA is answered
  // the fleet's count, never the shadow's 3...
  Serve("active");
  EXPECT_EQ(Answered(), 20);
  // ...and that decision may take one pod off the fleet's 20 (1 per 60 s),
  // not answer 3 at once.
  Tick(20, 30);
  EXPECT_EQ(Decided(), 19);
  EXPECT_EQ(Answered(), 19);
  // And no more within the period.
  for (int i = 0; i < 30; ++i) Tick(19, 30);
  EXPECT_EQ(Decided(), 19);
}

TEST_F(ShadowSwitchTest, WithoutABindingRateLimitTheFirstActiveIsTheShadows) {
  Serve("shadow");
  MakeEvaluator();
  // The fleet runs 6 and the queue asks for 7: the shadow decides 7 (up at
  // once, no limit binds).
  for (int i = 0; i < 5; ++i) Tick(6, 70);
  EXPECT_EQ(Decided(), 7);
  EXPECT_EQ(Answered(), 6);
  Serve("active");
  Tick(6, 70);
  EXPECT_EQ(Decided(), 7);
  EXPECT_EQ(Answered(), 7);
}

// Issue 17: explain's history is built when asked (from the evaluator's
// state), not copied with every decision. It shows what the decision
// looked at: the scale event its rate period counts, and the
// recommendations up to it; none once its evaluator is gone.
TEST_F(ShadowSwitchTest, ExplainShowsTheHistoryTheDecisionLookedAt) {
  Serve("active");
  MakeEvaluator();
  const absl::Time t0 = clock_.Now();
  Tick(3, 30);  // 3 at t0 + 1 s: no step
  Tick(3, 50);  // 5 at t0 + 2 s: up at once, a scale event 3 -> 5
  Tick(5, 50);  // 5 at t0 + 3 s
  admin::v1::ExplainRequest req;
  req.set_namespace_("jobs");
  req.set_policy("worker");
  absl::StatusOr<admin::v1::ExplainResponse> r =
      Explain(req, *registry_.Get(), board_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->decisions_size(), 1);
  const admin::v1::PolicyDecision& d = r->decisions(0);
  ASSERT_TRUE(d.has_decision());
  EXPECT_EQ(d.replicas(), 5);
  const double decided =
      absl::ToDoubleSeconds(t0 + absl::Seconds(3) - absl::UnixEpoch());
  ASSERT_EQ(d.scale_events_size(), 1);
  EXPECT_EQ(d.scale_events(0).from(), 3);
  EXPECT_EQ(d.scale_events(0).replicas(), 5);
  EXPECT_DOUBLE_EQ(d.scale_events(0).time_unix(), decided - 1);
  ASSERT_GT(d.recommendations_size(), 0);
  EXPECT_DOUBLE_EQ(d.recommendations(d.recommendations_size() - 1).time_unix(),
                   decided);
  EXPECT_EQ(d.recommendations(d.recommendations_size() - 1).replicas(), 5);
  for (const admin::v1::HistoryEntry& h : d.recommendations()) {
    EXPECT_LE(h.time_unix(), decided);
  }

  // The decision outlives its evaluator on the board; its history does not.
  evaluator_.reset();
  r = Explain(req, *registry_.Get(), board_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->decisions(0).has_decision());
  EXPECT_EQ(r->decisions(0).recommendations_size(), 0);
  EXPECT_EQ(r->decisions(0).scale_events_size(), 0);
}

}  // namespace
}  // namespace signalscaler
