// Several evaluators (replicas) sharing one StateStore, on a manual clock:
// one holder per policy, leases spread and move when a replica dies, a
// restart keeps the scale-down window, and an unreachable store makes every
// replica evaluate locally without a scale-down before a full local window.
// The store here is the in-process one (same lease semantics as Redis); the
// same scenarios run against a real Redis and real processes in
// tests/conformance/ha_test.cc.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "scaler/common/clock.h"
#include "scaler/policy/loader.h"
#include "scaler/server/admin_logic.h"
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
metadata: {name: NAME, namespace: ha}
spec:
  minReplicas: 1
  maxReplicas: 50
  evaluationIntervalSeconds: 1
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
      stabilizationWindowSeconds: WINDOW
      policies: [{type: Pods, value: 100, periodSeconds: 1}]
)";

// A store that can be made unreachable, as Redis stopped.
class SwitchableStore final : public StateStore {
 public:
  explicit SwitchableStore(StateStore& inner) : inner_(inner) {}
  std::atomic<bool> down{false};

  absl::string_view kind() const override { return "switchable"; }
  bool shared() const override { return true; }
  absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey> keys, absl::Time deadline) override {
    if (down) return Down();
    return inner_.Load(keys, deadline);
  }
  absl::Status Save(const PolicyKey& key, const PolicyRecord& record,
                    const Lease& lease, absl::Duration ttl,
                    absl::Time deadline) override {
    if (down) return Down();
    return inner_.Save(key, record, lease, ttl, deadline);
  }
  absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                       const std::string& replica,
                                       absl::Duration ttl,
                                       absl::Time deadline) override {
    if (down) return Down();
    return inner_.AcquireOrRenew(key, replica, ttl, deadline);
  }
  absl::Status Release(const PolicyKey& key, const Lease& lease,
                       absl::Time deadline) override {
    if (down) return Down();
    return inner_.Release(key, lease, deadline);
  }
  absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration ttl,
      absl::Time deadline) override {
    if (down) return Down();
    return inner_.Heartbeat(replica, ttl, deadline);
  }
  void Watch(std::function<void(const PolicyKey&)> on_saved) override {
    inner_.Watch(std::move(on_saved));
  }

 private:
  static absl::Status Down() {
    return absl::UnavailableError("test store: connection refused");
  }
  StateStore& inner_;
};

struct Replica {
  Replica(const PolicyRegistry& registry, const Observer& observer,
          const Clock& clock, StateStore& store, const std::string& id) {
    EvaluatorOptions o;
    o.store = &store;
    o.replica_id = id;
    o.lease_period = absl::Seconds(10);
    // These replicas share one process-local store that outlives each of
    // them: its history is complete, and a first decision need not wait
    // for a window (the binary's wait is tested in tests/e2e/).
    o.wait_without_history = false;
    evaluator =
        std::make_unique<Evaluator>(registry, observer, board, clock, o);
  }
  DecisionBoard board;
  std::unique_ptr<Evaluator> evaluator;
  bool alive = true;
};

class EvaluatorHaTest : public ::testing::Test {
 protected:
  void Load(int policies, int window_seconds) {
    std::string yaml;
    for (int i = 0; i < policies; ++i) {
      if (i > 0) yaml += "---\n";
      yaml += absl::StrReplaceAll(kPolicy,
                                  {{"NAME", absl::StrCat("p", i)},
                                   {"WINDOW", absl::StrCat(window_seconds)}});
    }
    LoadResult r = ParsePolicies(yaml, "ha.yaml");
    ASSERT_TRUE(r.errors.empty()) << r.ToStatus();
    for (const LoadedPolicy& p : r.policies) keys_.push_back(KeyOf(p.policy));
    registry_.Set(std::make_shared<PolicySnapshot>(std::move(r.policies)));
  }
  Replica& Add(const std::string& id, StateStore* store = nullptr) {
    replicas_[id] = std::make_unique<Replica>(registry_, observer_, clock_,
                                              store ? *store : *memory_, id);
    return *replicas_[id];
  }
  // A replica serving only the policies of `registry`.
  Replica& AddServing(const std::string& id, const PolicyRegistry& registry) {
    replicas_[id] =
        std::make_unique<Replica>(registry, observer_, clock_, *memory_, id);
    return *replicas_[id];
  }
  // One second: fresh readings of `jobs` for every policy, then every live
  // replica evaluates (in name order).
  void Step(double jobs) {
    clock_.Advance(absl::Seconds(1));
    for (const PolicyKey& k : keys_) {
      push_.Record(k, "jobs", Reading{jobs, clock_.Now()});
    }
    for (auto& [id, r] : replicas_) {
      if (r->alive) r->evaluator->EvaluateDue();
    }
  }
  void Steps(int n, double jobs) {
    for (int i = 0; i < n; ++i) Step(jobs);
  }
  // What a replica answers KEDA for `key` (-1 when it has no decision).
  int64_t Answer(const std::string& id, const PolicyKey& key) {
    auto d = replicas_[id]->board.Get(key);
    return d.ok() ? (*d)->replicas : -1;
  }
  std::vector<std::string> Holders(const PolicyKey& key) {
    std::vector<std::string> out;
    for (auto& [id, r] : replicas_) {
      if (r->alive && r->evaluator->HoldsLease(key)) out.push_back(id);
    }
    return out;
  }
  // Every live replica answers the same for every policy; returns it for
  // keys_[0].
  int64_t Agreed() {
    int64_t first = -2;
    for (const PolicyKey& k : keys_) {
      int64_t v = -2;
      for (auto& [id, r] : replicas_) {
        if (!r->alive) continue;
        const int64_t a = Answer(id, k);
        if (v == -2) v = a;
        EXPECT_EQ(a, v) << id << " on " << k.ToString() << " at "
                        << clock_.Now();
      }
      if (first == -2) first = v;
    }
    return first;
  }

  ManualClock clock_{absl::FromUnixSeconds(1'000'000)};
  std::unique_ptr<StateStore> memory_ = MakeMemoryStateStore(clock_);
  PolicyRegistry registry_;
  PushStore push_;
  SourceObserver observer_{push_};
  std::vector<PolicyKey> keys_;
  std::map<std::string, std::unique_ptr<Replica>> replicas_;
};

TEST_F(EvaluatorHaTest, OneHolderPerPolicyLeasesSpreadAndAnswersAgree) {
  Load(30, 60);
  Add("a");
  Add("b");
  Add("c");
  Steps(20, 42);  // members stable after a lease period, handoffs done
  std::map<std::string, int> held;
  for (const PolicyKey& k : keys_) {
    const std::vector<std::string> h = Holders(k);
    ASSERT_EQ(h.size(), 1u) << k.ToString();
    ++held[h[0]];
  }
  EXPECT_EQ(held.size(), 3u) << "every replica evaluates some policies";
  for (auto& [id, n] : held) EXPECT_GE(n, 3) << id;
  Step(42);
  EXPECT_EQ(Agreed(), 5);

  // A change is answered by every replica within one evaluation interval.
  Step(95);
  Step(95);
  EXPECT_EQ(Agreed(), 10);
}

// Issue 17 (explain's history built when asked): a mirror explains the
// holder's decision with the holder's window, from the record it loaded,
// not with its own (empty, or left from an earlier hold).
TEST_F(EvaluatorHaTest, AMirrorExplainsTheDecisionWithTheHoldersWindow) {
  Load(1, 60);
  Add("a");
  Add("b");
  Steps(20, 42);  // leases settled
  const std::vector<std::string> holders = Holders(keys_[0]);
  ASSERT_EQ(holders.size(), 1u);
  const std::string holder = holders[0];
  const std::string mirror = holder == "a" ? "b" : "a";
  // A window of distinct recommendations: 5, 7, 9, then down to 2 (held
  // by the 60 s down window at 9).
  Step(42);
  Step(65);
  Step(85);
  Step(15);
  Step(15);
  admin::v1::ExplainRequest req;
  req.set_namespace_(keys_[0].ns);
  req.set_policy(keys_[0].name);
  const auto explain = [&](const std::string& id) {
    absl::StatusOr<admin::v1::ExplainResponse> r =
        Explain(req, *registry_.Get(), replicas_[id]->board);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::pair<double, int64_t>> out;
    if (!r.ok() || r->decisions_size() != 1) return out;
    EXPECT_EQ(r->decisions(0).replicas(), 9) << id;
    for (const admin::v1::HistoryEntry& h : r->decisions(0).recommendations())
      out.emplace_back(h.time_unix(), h.replicas());
    return out;
  };
  const std::vector<std::pair<double, int64_t>> held = explain(holder);
  ASSERT_GE(held.size(), 3u);
  EXPECT_EQ(held.back().second, 2) << "the last recommendation: 2";
  EXPECT_EQ(explain(mirror), held);
}

TEST_F(EvaluatorHaTest, DeadHolderPolicyMovesWithinOneLeasePeriodUnchanged) {
  Load(1, 60);
  Add("a");
  Add("b");
  Add("c");
  Steps(20, 42);
  ASSERT_EQ(Holders(keys_[0]).size(), 1u);
  const std::string dead = Holders(keys_[0])[0];
  const int64_t before = Agreed();
  ASSERT_EQ(before, 5);
  replicas_[dead]->alive = false;
  const absl::Time died = clock_.Now();
  std::string next;
  while (next.empty() && clock_.Now() - died < absl::Seconds(30)) {
    Step(42);
    for (auto& [id, r] : replicas_) {
      if (!r->alive) continue;
      EXPECT_EQ(Answer(id, keys_[0]), before) << "no change while it moves";
    }
    if (!Holders(keys_[0]).empty()) next = Holders(keys_[0])[0];
  }
  ASSERT_FALSE(next.empty());
  EXPECT_NE(next, dead);
  EXPECT_LE(clock_.Now() - died, absl::Seconds(10)) << "one lease period";
  // The new holder decides from the shared history: still 5, and it follows
  // the load.
  Step(42);
  EXPECT_EQ(Agreed(), 5);
  Steps(2, 75);
  EXPECT_EQ(Agreed(), 8);
}

TEST_F(EvaluatorHaTest, RestartingEveryReplicaMidWindowKeepsTheWindow) {
  Load(3, 60);
  Add("a");
  Add("b");
  Add("c");
  Steps(30, 100);
  ASSERT_EQ(Agreed(), 10);
  const absl::Time fell = clock_.Now();
  Steps(20, 10);  // wants 1, held by the 60 s window
  EXPECT_EQ(Agreed(), 10);
  replicas_.clear();  // every replica restarts, nothing kept in memory
  Add("a2");
  Add("b2");
  Add("c2");
  while (clock_.Now() - fell < absl::Seconds(59)) {
    Step(10);
    for (const PolicyKey& k : keys_) {
      for (const char* id : {"a2", "b2", "c2"}) {
        // From the first tick: the shared decision, with its window.
        EXPECT_EQ(Answer(id, k), 10) << id << " at +" << (clock_.Now() - fell);
      }
    }
  }
  Steps(3, 10);
  EXPECT_EQ(Agreed(), 1) << "down once the window is over";
}

TEST_F(EvaluatorHaTest, UnreachableStoreNoScaleDownBeforeFullLocalWindow) {
  SwitchableStore store(*memory_);
  Load(2, 30);
  Add("a", &store);
  Add("b", &store);
  Add("c", &store);
  Steps(30, 100);
  ASSERT_EQ(Agreed(), 10);
  Steps(20, 10);  // the load fell 20 s ago: 10 s more to go in the window
  ASSERT_EQ(Agreed(), 10);

  store.down = true;
  const absl::Time outage = clock_.Now();
  Step(10);
  for (auto& [id, r] : replicas_) {
    EXPECT_TRUE(r->evaluator->Status().degraded) << id;
    EXPECT_EQ(r->evaluator->Status().leases_held, 0u) << id;
  }
  // Shared history would allow the scale-down 10 s from now; local history
  // starts now, so nothing goes down for a whole window of it.
  while (clock_.Now() - outage < absl::Seconds(29)) {
    Step(10);
    EXPECT_EQ(Agreed(), 10) << "at +" << (clock_.Now() - outage);
  }
  Steps(3, 10);
  EXPECT_EQ(Agreed(), 1) << "a full local window later";
  // And up at once, locally, when the load comes back.
  Steps(10, 10);
  Step(60);
  EXPECT_EQ(Agreed(), 6);

  // Back: leases and shared decisions resume with no jump.
  store.down = false;
  const absl::Time back = clock_.Now();
  while (clock_.Now() - back < absl::Seconds(15)) {
    Step(60);
    EXPECT_EQ(Agreed(), 6) << "at +" << (clock_.Now() - back);
  }
  size_t leases = 0;
  for (auto& [id, r] : replicas_) {
    EXPECT_FALSE(r->evaluator->Status().degraded) << id;
    leases += r->evaluator->Status().leases_held;
  }
  EXPECT_EQ(leases, keys_.size());
  // The shared record holds the history made during the outage.
  auto recs = memory_->Load(keys_, absl::InfiniteFuture());
  ASSERT_TRUE(recs.ok());
  for (const auto& rec : *recs) {
    ASSERT_TRUE(rec.has_value());
    ASSERT_NE(rec->decision, nullptr);
    EXPECT_EQ(rec->decision->replicas, 6);
    EXPECT_GE(rec->decision->time, back);
    bool outage_history = false;
    for (const Recommendation& r : rec->engine.recommendations) {
      if (r.time > outage && r.time < back) outage_history = true;
    }
    EXPECT_TRUE(outage_history) << "local history merged into the shared";
  }
  replicas_.clear();  // before `store`, which they use
}

// The orphan ping-pong (issue 17): b's reload rejected the file of the
// policies b would be preferred for. b announces what it serves, so a holds
// them from the start and for good: no lease period without a holder, no
// handing them to b only to take them back as orphans.
TEST_F(EvaluatorHaTest, PoliciesAReplicaDoesNotServeStayWithOneThatDoes) {
  Load(24, 60);
  // b serves every policy but half of those it is preferred for.
  std::vector<PolicyKey> only_a, b_own;
  std::vector<LoadedPolicy> partial;
  for (const LoadedPolicy& p : registry_.Get()->policies()) {
    const PolicyKey k = KeyOf(p.policy);
    if (PreferredReplica(k, {"a", "b"}) != "b") {
      partial.push_back(p);
    } else if (only_a.size() <= b_own.size()) {
      only_a.push_back(k);
    } else {
      b_own.push_back(k);
      partial.push_back(p);
    }
  }
  ASSERT_FALSE(only_a.empty());
  ASSERT_FALSE(b_own.empty());
  PolicyRegistry b_registry;
  b_registry.Set(std::make_shared<PolicySnapshot>(std::move(partial)));
  Add("a");
  AddServing("b", b_registry);
  Step(42);
  Step(42);
  // 80 s: eight lease periods, longer than an orphan is kept (five).
  for (int i = 0; i < 80; ++i) {
    Step(42);
    for (const PolicyKey& k : only_a) {
      EXPECT_EQ(Holders(k), std::vector<std::string>{"a"})
          << k.ToString() << " at step " << i;
      EXPECT_EQ(Answer("a", k), 5) << k.ToString();
    }
  }
  // The others are spread as usual, b holding those it serves and is
  // preferred for.
  size_t held_by_b = 0;
  for (const PolicyKey& k : keys_) {
    const std::vector<std::string> h = Holders(k);
    ASSERT_EQ(h.size(), 1u) << k.ToString();
    held_by_b += h[0] == "b";
  }
  EXPECT_EQ(held_by_b, b_own.size());
  for (const PolicyKey& k : b_own) {
    EXPECT_EQ(Holders(k), std::vector<std::string>{"b"}) << k.ToString();
  }
}

TEST_F(EvaluatorHaTest, SingleReplicaWithDefaultStoreDecides) {
  Load(1, 60);
  PolicyRegistry& registry = registry_;
  DecisionBoard board;
  Evaluator alone(registry, observer_, board, clock_);  // own memory store
  push_.Record(keys_[0], "jobs", Reading{42, clock_.Now()});
  alone.EvaluateDue();
  // A process-local store starts empty: the history may have been lost (a
  // restart), so no answer before a full scale-down window (60 s) has been
  // seen (issue 13 item 4)...
  auto d = board.Get(keys_[0]);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(d.status().message().find("full scale-down window (1m)"),
            std::string::npos)
      << d.status();
  // ...then the highest recommendation of that window.
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(absl::Seconds(5));
    push_.Record(keys_[0], "jobs", Reading{42, clock_.Now()});
    alone.EvaluateDue();
  }
  d = board.Get(keys_[0]);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->replicas, 5);
  EXPECT_TRUE(alone.HoldsLease(keys_[0]));
  EXPECT_EQ(alone.Status().kind, "memory");
}

TEST(PreferredReplicaTest, StableAndSpread) {
  const std::vector<std::string> r = {"a", "b", "c"};
  std::map<std::string, int> n;
  for (int i = 0; i < 300; ++i) {
    const PolicyKey k{"ns", absl::StrCat("p", i)};
    const std::string p = PreferredReplica(k, r);
    EXPECT_EQ(p, PreferredReplica(k, {"c", "a", "b"})) << "order-free";
    ++n[p];
  }
  for (auto& [id, c] : n) EXPECT_GT(c, 60) << id;
  // Removing a replica moves only its own policies.
  for (int i = 0; i < 300; ++i) {
    const PolicyKey k{"ns", absl::StrCat("p", i)};
    if (PreferredReplica(k, r) != "b") {
      EXPECT_EQ(PreferredReplica(k, {"a", "c"}), PreferredReplica(k, r));
    }
  }
  EXPECT_EQ(PreferredReplica({"ns", "x"}, {}), "");
}

}  // namespace
}  // namespace signalscaler
