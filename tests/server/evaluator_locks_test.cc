// The Evaluator does no store I/O under a lock that a push or a health
// check waits on: while the tick thread is stuck in a store call (a lease
// upkeep, a save), Status(), HoldsLease() and a push's EvaluateNow() still
// return at once, and a push of a policy whose own save is in flight is
// evaluated right after it; and a mirror answers a decision another replica
// saved as soon as the store says so, while its own tick is stuck. The store
// here gates the tick thread's calls of one kind until the test opens it.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/policy/loader.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/evaluator.h"
#include "scaler/server/policy_registry.h"
#include "scaler/state/state_store.h"
#include "sources/observer.h"
#include "sources/push/push_source.h"

namespace signalscaler {
namespace {

constexpr char kPolicy[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: NAME, namespace: locks}
spec:
  minReplicas: 1
  maxReplicas: 50
  evaluationIntervalSeconds: INTERVAL
  signals:
  - name: jobs
    type: Total
    source: {push: {}}
    targetPerReplica: 10
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
)";

enum class Gate { kNone, kUpkeep, kSave };

// A shared store (as Redis is) over the in-process one, whose calls of the
// gated kind made by the tick thread (the thread of the first lease upkeep)
// wait until Open().
class GatedStore final : public StateStore {
 public:
  explicit GatedStore(StateStore& inner) : inner_(inner) {}

  void Close(Gate g) {
    absl::MutexLock lock(&mu_);
    gate_ = g;
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
    changed_.SignalAll();
  }
  // Whether a call waits at the gate now (false after `limit`).
  bool AwaitWaiter(absl::Duration limit) {
    // CondVar, not Mutex::Await: the TSan shim (cmake/tsan/grpc_sync.cc)
    // interposes Lock/Unlock/CondVar::Wait*, not Await's internal wakeups.
    absl::MutexLock lock(&mu_);
    const absl::Time due = absl::Now() + limit;
    while (waiting_ == 0 && !changed_.WaitWithDeadline(&mu_, due)) {
    }
    return waiting_ > 0;
  }
  // What the store's Watch() would say: another replica saved `key`.
  void Notify(const PolicyKey& key) {
    std::function<void(const PolicyKey&)> watcher;
    {
      absl::MutexLock lock(&mu_);
      watcher = watcher_;
    }
    if (watcher) watcher(key);
  }

  absl::string_view kind() const override { return "gated"; }
  bool shared() const override { return true; }
  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey> keys, absl::Time deadline) override {
    return inner_.Load(keys, deadline);
  }
  absl::Status Save(const PolicyKey& key, const PolicyRecord& record,
                    const Lease& lease, absl::Duration ttl,
                    absl::Time deadline) override {
    return inner_.Save(key, record, lease, ttl, deadline);
  }
  absl::StatusOr<std::vector<absl::Status>> SaveMany(
      absl::Span<const SaveRequest> requests, absl::Duration ttl,
      absl::Time deadline) override {
    Pass(Gate::kSave);
    return inner_.SaveMany(requests, ttl, deadline);
  }
  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                       const std::string& replica,
                                       absl::Duration ttl,
                                       absl::Time deadline) override {
    return inner_.AcquireOrRenew(key, replica, ttl, deadline);
  }
  absl::Status Release(const PolicyKey& key, const Lease& lease,
                       absl::Time deadline) override {
    return inner_.Release(key, lease, deadline);
  }
  absl::StatusOr<std::vector<LeaseOutcome>> UpkeepLeases(
      absl::Span<const LeaseRequest> requests, const std::string& replica,
      absl::Duration ttl, absl::Time deadline) override {
    Pass(Gate::kUpkeep);
    return inner_.UpkeepLeases(requests, replica, ttl, deadline);
  }
  absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration ttl,
      absl::Time deadline) override {
    return inner_.Heartbeat(replica, ttl, deadline);
  }
  void Watch(std::function<void(const PolicyKey&)> on_saved) override {
    absl::MutexLock lock(&mu_);
    watcher_ = std::move(on_saved);
  }

 private:
  void Pass(Gate g) {
    absl::MutexLock lock(&mu_);
    if (!ticker_.has_value()) ticker_ = std::this_thread::get_id();
    if (gate_ != g || *ticker_ != std::this_thread::get_id()) return;
    ++waiting_;
    changed_.SignalAll();
    while (!open_) changed_.Wait(&mu_);
    --waiting_;
  }

  StateStore& inner_;
  absl::Mutex mu_;
  absl::CondVar changed_;
  std::optional<std::thread::id> ticker_ ABSL_GUARDED_BY(mu_);
  Gate gate_ ABSL_GUARDED_BY(mu_) = Gate::kNone;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void(const PolicyKey&)> watcher_ ABSL_GUARDED_BY(mu_);
};

class EvaluatorLocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string yaml;
    const std::pair<const char*, const char*> policies[] = {{"fast", "1"},
                                                            {"slow", "60"}};
    for (const auto& [name, interval] : policies) {
      if (!yaml.empty()) yaml += "---\n";
      yaml += absl::StrReplaceAll(kPolicy,
                                  {{"NAME", name}, {"INTERVAL", interval}});
    }
    LoadResult r = ParsePolicies(yaml, "locks.yaml");
    ASSERT_TRUE(r.errors.empty()) << r.ToStatus();
    registry_.Set(std::make_shared<PolicySnapshot>(std::move(r.policies)));
    Push(fast_, 42);
    Push(slow_, 42);
    evaluator_ = std::make_unique<Evaluator>(registry_, observer_, board_,
                                             clock_, Options(store_, "a"));
    // One tick now, then only when woken (Wake): the test drives it.
    evaluator_->Start(absl::Hours(1));
    ASSERT_TRUE(Eventually([&] { return Answer(fast_) == 5; }));
    ASSERT_TRUE(Eventually([&] { return Answer(slow_) == 5; }));
  }
  void TearDown() override {
    store_.Open();
    if (evaluator_ != nullptr) evaluator_->Stop();
    for (std::thread& t : threads_) t.join();
  }

  // Every evaluator here: 10 s leases, deciding without history.
  static EvaluatorOptions Options(StateStore& store, const std::string& id) {
    EvaluatorOptions o;
    o.store = &store;
    o.replica_id = id;
    o.lease_period = absl::Seconds(10);
    o.wait_without_history = false;
    return o;
  }
  void Push(const PolicyKey& key, double jobs) {
    push_.Record(key, "jobs", Reading{jobs, clock_.Now()});
  }
  int64_t Answer(const PolicyKey& key) {
    auto d = board_.Get(key);
    return d.ok() ? (*d)->replicas : -1;
  }
  static bool Eventually(const std::function<bool()>& done) {
    const absl::Time limit = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() > limit) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }
  // Runs `call` on a thread of its own: whether it returned within a
  // second (it is joined at the end of the test either way).
  bool ReturnsAtOnce(std::function<void()> call) {
    auto done = std::make_shared<absl::Notification>();
    threads_.emplace_back([call = std::move(call), done] {
      call();
      done->Notify();
    });
    return done->WaitForNotificationWithTimeout(absl::Seconds(1));
  }
  // Makes the tick thread run, and waits until it is stuck at the gate.
  void TickIntoTheGate(Gate g) {
    store_.Close(g);
    evaluator_->Wake();
    ASSERT_TRUE(store_.AwaitWaiter(absl::Seconds(10)))
        << "the tick did not reach the store";
  }

  ManualClock clock_{absl::FromUnixSeconds(1'000'000)};
  std::unique_ptr<StateStore> memory_ = MakeMemoryStateStore(clock_);
  GatedStore store_{*memory_};
  PolicyRegistry registry_;
  PushStore push_;
  SourceObserver observer_{push_};
  DecisionBoard board_;
  std::unique_ptr<Evaluator> evaluator_;
  std::vector<std::thread> threads_;
  const PolicyKey fast_{"locks", "fast"};
  const PolicyKey slow_{"locks", "slow"};
};

TEST_F(EvaluatorLocksTest, StatusHoldsLeaseAndPushDoNotWaitForAnUpkeep) {
  clock_.Advance(absl::Seconds(2));  // the next upkeep is due
  TickIntoTheGate(Gate::kUpkeep);
  EXPECT_TRUE(ReturnsAtOnce([&] {
    const StateStatus s = evaluator_->Status();
    EXPECT_FALSE(s.degraded);
    EXPECT_EQ(s.leases_held, 2u);
  }));
  EXPECT_TRUE(
      ReturnsAtOnce([&] { EXPECT_TRUE(evaluator_->HoldsLease(slow_)); }));
  Push(slow_, 95);
  EXPECT_TRUE(
      ReturnsAtOnce([&] { EXPECT_TRUE(evaluator_->EvaluateNow(slow_).ok()); }));
  EXPECT_EQ(Answer(slow_), 10) << "decided and saved at once";
  store_.Open();
  EXPECT_TRUE(Eventually([&] { return Answer(fast_) == 5; }));
}

TEST_F(EvaluatorLocksTest, APushDoesNotWaitForATicksSaves) {
  clock_.Advance(absl::Seconds(1));  // fast is due, slow is not
  TickIntoTheGate(Gate::kSave);
  // Another policy's push is decided and saved at once.
  Push(slow_, 95);
  EXPECT_TRUE(
      ReturnsAtOnce([&] { EXPECT_TRUE(evaluator_->EvaluateNow(slow_).ok()); }));
  EXPECT_EQ(Answer(slow_), 10);
  EXPECT_TRUE(ReturnsAtOnce([&] { evaluator_->Status(); }));
  // A push of the policy being saved returns at once too, and is decided
  // right after that save.
  Push(fast_, 75);
  EXPECT_TRUE(
      ReturnsAtOnce([&] { EXPECT_TRUE(evaluator_->EvaluateNow(fast_).ok()); }));
  EXPECT_EQ(Answer(fast_), 5) << "its save in flight: not yet";
  store_.Open();
  EXPECT_TRUE(Eventually([&] { return Answer(fast_) == 8; }));
  // What was saved is the newest decision.
  auto recs = memory_->Load({fast_, slow_}, absl::InfiniteFuture());
  ASSERT_TRUE(recs.ok());
  ASSERT_TRUE((*recs)[0].has_value());
  EXPECT_EQ((*recs)[0]->decision->replicas, 8);
  ASSERT_TRUE((*recs)[1].has_value());
  EXPECT_EQ((*recs)[1]->decision->replicas, 10);
}

// Issue 17 (decision propagation): a mirror loads a decision the store says
// another replica saved from a thread of its own, so that neither a tick nor
// a lease upkeep in progress (here stuck in the store) delays its answer.
TEST_F(EvaluatorLocksTest, AMirrorAnswersANotifiedSaveWhileItsTickIsStuck) {
  GatedStore store_b{*memory_};
  DecisionBoard board_b;
  Evaluator b(registry_, observer_, board_b, clock_, Options(store_b, "b"));
  b.Start(absl::Hours(1));
  // (Declared after b: the gate opens before b stops, whatever happens.)
  const absl::Cleanup open_b = [&] { store_b.Open(); };
  const auto answer_b = [&] {
    auto d = board_b.Get(slow_);
    return d.ok() ? (*d)->replicas : -1;
  };
  // a holds both leases (valid for 7 s of the manual clock): b mirrors.
  ASSERT_TRUE(Eventually([&] { return answer_b() == 5; }));
  EXPECT_TRUE(evaluator_->HoldsLease(slow_));
  EXPECT_FALSE(b.HoldsLease(slow_));

  // b's next tick is stuck in its lease upkeep.
  clock_.Advance(absl::Seconds(2));
  store_b.Close(Gate::kUpkeep);
  b.Wake();
  ASSERT_TRUE(store_b.AwaitWaiter(absl::Seconds(10)));

  // a decides 10 and saves it; the store tells b.
  Push(slow_, 95);
  ASSERT_TRUE(evaluator_->EvaluateNow(slow_).ok());
  ASSERT_EQ(Answer(slow_), 10);
  store_b.Notify(slow_);
  EXPECT_TRUE(Eventually([&] { return answer_b() == 10; }))
      << "the mirror waited for its tick";
  EXPECT_TRUE(store_b.AwaitWaiter(absl::Seconds(0)))
      << "b's tick is still at the gate";
}

// A push that comes before the tick thread's first lease upkeep (serve has
// just started: no lease is held yet) waits for that upkeep rather than
// being evaluated as a mirror's, which does nothing (an ASan CI run of
// shutdown_test saw its streams answer `false` after such a push).
TEST_F(EvaluatorLocksTest, APushBeforeTheFirstUpkeepWaitsForIt) {
  std::unique_ptr<StateStore> memory = MakeMemoryStateStore(clock_);
  GatedStore store{*memory};
  store.Close(Gate::kUpkeep);
  DecisionBoard board;
  EvaluatorOptions o = Options(store, "c");
  o.store_timeout = absl::Seconds(5);
  Evaluator c(registry_, observer_, board, clock_, o);
  c.Start(absl::Hours(1));
  const absl::Cleanup open = [&] { store.Open(); };
  ASSERT_TRUE(store.AwaitWaiter(absl::Seconds(10)))
      << "the first upkeep did not reach the store";
  std::thread opener([&] {
    absl::SleepFor(absl::Milliseconds(300));
    store.Open();
  });
  Push(slow_, 95);
  const absl::Time pushed = absl::Now();
  EXPECT_TRUE(c.EvaluateNow(slow_).ok());
  EXPECT_GE(absl::Now() - pushed, absl::Milliseconds(250))
      << "returned before the first upkeep ended";
  opener.join();
  EXPECT_TRUE(Eventually([&] {
    auto d = board.Get(slow_);
    return d.ok() && (*d)->replicas == 10;
  }));
}

}  // namespace
}  // namespace signalscaler
