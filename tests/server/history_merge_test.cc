// The merge rules of local and shared histories (README "High
// availability"), one test (or more) per rule, on the pure functions of
// scaler/server/history_merge.h. The same rules run end to end with several
// replicas in evaluator_ha_test and ha_e2e_test.
#include "scaler/server/history_merge.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "scaler/engine/engine.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);
absl::Time At(int seconds) { return kT0 + absl::Seconds(seconds); }

Recommendation Rec(int t, int64_t replicas) { return {At(t), replicas}; }
ScaleEvent Event(int t, int64_t from, int64_t to) {
  ScaleEvent e;
  e.time = At(t);
  e.from = from;
  e.to = to;
  return e;
}

std::shared_ptr<const Decision> DecisionAt(int t, int64_t replicas) {
  auto d = std::make_shared<Decision>();
  d->time = At(t);
  d->replicas = replicas;
  return d;
}

PolicyRecord Shared(uint64_t sequence, int decided_at, int64_t replicas) {
  PolicyRecord r;
  r.sequence = sequence;
  r.decision = DecisionAt(decided_at, replicas);
  r.engine.last_decision = replicas;
  r.engine.ever_had_reading = true;
  r.history_since = At(0);
  return r;
}

// --- Failover: the new holder goes on from the shared history -------------

TEST(HistoryMergeTest, FailoverNewHolderGoesOnFromTheSharedHistory) {
  LocalHistory mirror;  // a mirror: nothing of its own to keep
  mirror.engine.recommendations = {Rec(5, 3)};
  mirror.engine.last_decision = 3;
  mirror.since = At(5);
  PolicyRecord rec = Shared(7, 20, 8);
  rec.engine.recommendations = {Rec(10, 6), Rec(20, 8)};
  rec.engine.scale_events = {Event(20, 6, 8)};

  const LocalHistory h = SyncWithShared(mirror, rec, /*store_is_shared=*/true);
  ASSERT_EQ(h.engine.recommendations.size(), 2u) << "the shared one, alone";
  EXPECT_EQ(h.engine.recommendations[0].time, At(10));
  EXPECT_EQ(h.engine.recommendations[1].replicas, 8);
  ASSERT_EQ(h.engine.scale_events.size(), 1u);
  EXPECT_EQ(h.engine.scale_events[0].to, 8);
  EXPECT_EQ(h.engine.last_decision, 8);
  EXPECT_EQ(h.since, At(0)) << "the shared history's start";
  EXPECT_FALSE(h.unshared);
}

// --- Restarts keep the windows --------------------------------------------

TEST(HistoryMergeTest, RestartsKeepTheWindowsAProcessStartAdoptsTheShared) {
  LocalHistory started;  // what a process starts with
  started.engine.history_unknown = true;
  PolicyRecord rec = Shared(3, 50, 10);
  rec.engine.recommendations = {Rec(30, 10), Rec(50, 1)};

  const LocalHistory h = SyncWithShared(started, rec, true);
  EXPECT_FALSE(h.engine.history_unknown)
      << "the shared history is known: no wait for a window";
  ASSERT_EQ(h.engine.recommendations.size(), 2u);
  EXPECT_EQ(h.engine.recommendations[0].replicas, 10)
      << "the window's high point survives the restart";
  EXPECT_EQ(h.engine.last_decision, 10);
}

TEST(HistoryMergeTest, NoRecordOnASharedStoreMeansNoHistoryWasLost) {
  LocalHistory started;
  started.engine.history_unknown = true;
  EXPECT_FALSE(
      SyncWithShared(started, std::nullopt, true).engine.history_unknown)
      << "a shared store that answers holds every history within its TTL";
  EXPECT_TRUE(
      SyncWithShared(started, std::nullopt, false).engine.history_unknown)
      << "a store of this process starts empty: a restart may have lost it";
}

// --- Redis back: the new holder merges its local history into the shared --

TEST(HistoryMergeTest, RedisBackMergesBothHistoriesInTimeOrder) {
  LocalHistory local;
  local.unshared = true;
  local.engine.recommendations = {Rec(10, 4), Rec(30, 6), Rec(40, 6)};
  local.engine.scale_events = {Event(30, 4, 6)};
  PolicyRecord rec = Shared(9, 20, 5);
  rec.engine.recommendations = {Rec(5, 5), Rec(20, 5), Rec(30, 6)};
  rec.engine.scale_events = {Event(20, 4, 5), Event(30, 4, 6)};

  const LocalHistory h = SyncWithShared(local, rec, true);
  std::string times;
  for (const Recommendation& r : h.engine.recommendations) {
    times += absl::StrCat(absl::ToUnixSeconds(r.time) - 1'000'000, ":",
                          r.replicas, " ");
  }
  EXPECT_EQ(times, "5:5 10:4 20:5 30:6 40:6 ")
      << "both sides, by time, an exact duplicate once";
  ASSERT_EQ(h.engine.scale_events.size(), 2u);
  EXPECT_EQ(h.engine.scale_events[0].time, At(20));
  EXPECT_EQ(h.engine.scale_events[1].time, At(30));
  EXPECT_TRUE(h.unshared) << "cleared only by a saved decision";
}

TEST(HistoryMergeTest, RedisBackMergesTheForecastsReadingsPerSignal) {
  LocalHistory local;
  local.unshared = true;
  local.engine.load_history = {
      LoadHistory{"requests", {{At(10), 100}, {At(30), 140}}},
      LoadHistory{"queue", {{At(25), 7}}}};
  PolicyRecord rec = Shared(9, 20, 5);
  rec.engine.load_history = {
      LoadHistory{"requests", {{At(5), 90}, {At(20), 120}, {At(30), 140}}},
      LoadHistory{"cpu", {{At(20), 2.5}}}};

  const LocalHistory h = SyncWithShared(local, rec, true);
  ASSERT_EQ(h.engine.load_history.size(), 3u);
  std::string requests;
  for (const LoadHistory& l : h.engine.load_history) {
    if (l.signal != "requests") continue;
    for (const LoadPoint& p : l.points) {
      requests += absl::StrCat(absl::ToUnixSeconds(p.time) - 1'000'000, ":",
                               p.load, " ");
    }
  }
  EXPECT_EQ(requests, "5:90 10:100 20:120 30:140 ")
      << "both sides' readings, by time, once each";
  // Without unshared local history, the shared one as it is.
  local.unshared = false;
  const LocalHistory adopted = SyncWithShared(local, rec, true);
  ASSERT_EQ(adopted.engine.load_history.size(), 2u);
  EXPECT_EQ(adopted.engine.load_history[0].points.size(), 3u);
}

TEST(HistoryMergeTest, RedisBackKeepsEntriesThatDifferAtTheSameTime) {
  LocalHistory local;
  local.unshared = true;
  local.engine.recommendations = {Rec(10, 4)};
  local.engine.scale_events = {Event(10, 2, 4)};
  PolicyRecord rec = Shared(1, 5, 3);
  rec.engine.recommendations = {Rec(10, 3)};
  rec.engine.scale_events = {Event(10, 2, 3)};
  const LocalHistory h = SyncWithShared(local, rec, true);
  EXPECT_EQ(h.engine.recommendations.size(), 2u);
  EXPECT_EQ(h.engine.scale_events.size(), 2u);
}

TEST(HistoryMergeTest, RedisBackKeepsTheNewerLastDecision) {
  LocalHistory local;
  local.unshared = true;
  local.engine.recommendations = {Rec(40, 6)};
  local.engine.last_decision = 6;
  // Local decided last (t=40 after the shared decision at t=20).
  EXPECT_EQ(SyncWithShared(local, Shared(2, 20, 9), true).engine.last_decision,
            6);
  // The shared decision is the newer one (t=50).
  EXPECT_EQ(SyncWithShared(local, Shared(2, 50, 9), true).engine.last_decision,
            9);
  // No local recommendation: the shared one wins.
  LocalHistory empty;
  empty.unshared = true;
  empty.engine.last_decision = 6;
  EXPECT_EQ(SyncWithShared(empty, Shared(2, 20, 9), true).engine.last_decision,
            9);
}

TEST(HistoryMergeTest, RedisBackStartsAtTheEarlierStartWithAnyReading) {
  LocalHistory local;
  local.unshared = true;
  local.since = At(100);
  local.engine.recommendations = {Rec(100, 2)};
  local.engine.ever_had_reading = false;
  local.engine.history_unknown = true;
  PolicyRecord rec = Shared(2, 20, 9);
  rec.history_since = At(7);
  rec.engine.ever_had_reading = true;
  const LocalHistory h = SyncWithShared(local, rec, true);
  EXPECT_EQ(h.since, At(7));
  EXPECT_TRUE(h.engine.ever_had_reading);
  EXPECT_FALSE(h.engine.history_unknown) << "merged with a known history";

  rec.history_since = At(300);
  EXPECT_EQ(SyncWithShared(local, rec, true).since, At(100));
}

// --- Redis back: others keep their local answers until a fresh decision ---

TEST(HistoryMergeTest, RedisBackLocalAnswersUntilADecisionMadeAfterTheReturn) {
  const absl::Time back = At(100);
  EXPECT_FALSE(ReplacesLocalAnswers(Shared(5, 90, 3), back))
      << "saved before the outage ended: would be a jump back";
  EXPECT_FALSE(ReplacesLocalAnswers(Shared(5, 100, 3), back))
      << "at the very instant: not after it";
  EXPECT_TRUE(ReplacesLocalAnswers(Shared(5, 101, 3), back));
  EXPECT_TRUE(ReplacesLocalAnswers(Shared(5, 90, 3), std::nullopt))
      << "a plain mirror takes any shared decision";
  PolicyRecord no_decision = Shared(5, 101, 3);
  no_decision.decision = nullptr;
  EXPECT_FALSE(ReplacesLocalAnswers(no_decision, std::nullopt));
}

// --- One answer: no replica ever goes back to an older decision -----------

TEST(HistoryMergeTest, OneAnswerNeverGoesBackToAnOlderDecision) {
  const SharedMark seen{10, At(50)};
  EXPECT_FALSE(IsNewer(Shared(10, 50, 4), seen)) << "the same record";
  EXPECT_FALSE(IsNewer(Shared(9, 40, 4), seen)) << "an older one";
  EXPECT_TRUE(IsNewer(Shared(11, 51, 4), seen));
  EXPECT_TRUE(IsNewer(Shared(11, 50, 4), seen)) << "a higher sequence";
  EXPECT_TRUE(IsNewer(Shared(1, 60, 4), seen))
      << "a new lineage after the record expired: later decision";
}

TEST(HistoryMergeTest, OneAnswerAMirrorFollowsTheSharedDecision) {
  LocalHistory mirror;
  mirror.engine.recommendations = {Rec(5, 2)};
  mirror.engine.last_decision = 2;
  PolicyRecord rec = Shared(4, 30, 7);
  rec.engine.scale_events = {Event(30, 2, 7)};
  rec.engine.ever_had_reading = true;
  AdoptSharedDecision(mirror, rec);
  EXPECT_EQ(mirror.engine.last_decision, 7);
  EXPECT_TRUE(mirror.engine.ever_had_reading);
  ASSERT_EQ(mirror.engine.scale_events.size(), 1u) << "rate periods go on";
  EXPECT_EQ(mirror.engine.scale_events[0].to, 7);
  ASSERT_EQ(mirror.engine.recommendations.size(), 1u)
      << "its own recommendations stay";
}

TEST(HistoryMergeTest, OneAnswerTheHolderSavesItsWholeHistory) {
  LocalHistory h;
  h.engine.recommendations = {Rec(1, 2), Rec(2, 3)};
  h.engine.scale_events = {Event(2, 2, 3)};
  h.since = At(1);
  const PolicyRecord r = RecordToSave(h, DecisionAt(2, 3), 12, "pod-a", 4);
  EXPECT_EQ(r.engine.recommendations.size(), 2u);
  EXPECT_EQ(r.engine.scale_events.size(), 1u);
  EXPECT_EQ(r.history_since, At(1));
  EXPECT_EQ(r.sequence, 12u);
  EXPECT_EQ(r.evaluated_by, "pod-a");
  EXPECT_EQ(r.epoch, 4u);
  ASSERT_NE(r.decision, nullptr);
  EXPECT_EQ(r.decision->replicas, 3);
}

// --- Redis unreachable: local history restarts from the last decision -----

TEST(HistoryMergeTest, RedisUnreachableRestartsFromTheLastDecisionKnown) {
  LocalHistory shared;
  shared.engine.recommendations = {Rec(1, 9), Rec(20, 9), Rec(40, 1)};
  shared.engine.scale_events = {Event(20, 4, 9)};
  shared.engine.load_history = {
      LoadHistory{"requests", {{At(20), 90}, {At(40), 95}}}};
  shared.engine.last_decision = 8;
  shared.engine.ever_had_reading = true;
  shared.since = At(1);

  LocalHistory h = RestartLocally(shared, /*published=*/9, At(45));
  EXPECT_TRUE(h.engine.recommendations.empty()) << "a history restarts";
  EXPECT_EQ(h.engine.last_decision, 9) << "the count last answered";
  EXPECT_TRUE(h.engine.history_unknown);
  EXPECT_TRUE(h.engine.ever_had_reading);
  ASSERT_EQ(h.engine.scale_events.size(), 1u) << "rate periods go on";
  ASSERT_EQ(h.engine.load_history.size(), 1u) << "so do forecast readings";
  EXPECT_EQ(h.engine.load_history[0].points.size(), 2u);
  EXPECT_EQ(h.since, At(45));
  EXPECT_TRUE(h.unshared) << "the next holder merges it, not replaces it";

  // Nothing answered yet: the history's own last decision.
  EXPECT_EQ(RestartLocally(shared, std::nullopt, At(45)).engine.last_decision,
            8);
  LocalHistory never;
  const LocalHistory n = RestartLocally(never, std::nullopt, At(45));
  EXPECT_FALSE(n.engine.last_decision.has_value());
  EXPECT_FALSE(n.engine.ever_had_reading);
}

constexpr char kPolicy[] = R"(apiVersion: signalscaler.io/v1
kind: ScalingPolicy
metadata: {name: p, namespace: ns}
spec:
  signals: [{name: jobs, type: Total, source: {push: {}}, targetPerReplica: 10}]
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    scaleDown: {stabilizationWindowSeconds: 30, policies: [{type: Pods, value: 100, periodSeconds: 1}]}
  minReplicas: 1
  maxReplicas: 50
)";

Inputs Jobs(double value, absl::Time t) {
  Inputs in;
  Observation o;
  o.reading = Reading{value, t};
  in.signals["jobs"] = o;
  return in;
}

// The consequence, through the real engine: no scale-down before a full
// scale-down window of local history, while scale-ups stay immediate.
TEST(HistoryMergeTest, RedisUnreachableNoScaleDownBeforeAFullLocalWindow) {
  LoadResult r = ParsePolicies(kPolicy, "p.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.ToStatus();
  const v1::ScalingPolicy& policy = r.policies.at(0).policy;
  LocalHistory shared;
  // The load fell 25 s ago: shared history alone would scale down in 5 s.
  shared.engine.recommendations = {Rec(0, 10), Rec(5, 1), Rec(29, 1)};
  shared.engine.last_decision = 10;
  shared.engine.ever_had_reading = true;
  LocalHistory h = RestartLocally(shared, 10, At(30));
  for (int t = 30; t < 60; t += 5) {
    absl::StatusOr<Decision> d =
        Decide(policy, Jobs(10, At(t)), h.engine, At(t));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->replicas, 10) << "at +" << t - 30 << " s of local history";
  }
  absl::StatusOr<Decision> up =
      Decide(policy, Jobs(150, At(61)), h.engine, At(61));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->replicas, 15) << "a scale-up at once";
  LocalHistory h2 = RestartLocally(shared, 10, At(30));
  for (int t = 30; t <= 66; t += 3) {
    ASSERT_TRUE(Decide(policy, Jobs(10, At(t)), h2.engine, At(t)).ok());
  }
  absl::StatusOr<Decision> down =
      Decide(policy, Jobs(10, At(69)), h2.engine, At(69));
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(down->replicas, 1) << "down once a whole local window is seen";
}

}  // namespace
}  // namespace signalscaler
