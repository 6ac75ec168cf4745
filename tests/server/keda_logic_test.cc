// keda_logic's answers in shadow mode (spec.mode: shadow): GetMetrics and
// IsActive are the fleet's own count, never the decision; and the tally the
// evaluator keeps beside each decision (decision_step's PublishDecision):
// the fleet count from spec.replicas, held while it fails, and the
// replica-seconds short and in excess, integrated over decision times.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/externalscaler.pb.h"
#include "scaler/engine/decision.h"
#include "scaler/policy/loader.h"
#include "scaler/server/decision_board.h"
#include "scaler/server/internal/decision_step.h"
#include "scaler/server/keda_logic.h"
#include "scaler/server/policy_registry.h"

namespace signalscaler {
namespace {

std::string PolicyYaml(const std::string& name, const std::string& mode) {
  return "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
         "metadata: {name: " +
         name +
         ", namespace: team}\n"
         "spec:\n  maxReplicas: 20\n  mode: " +
         mode +
         "\n  replicas: {push: {}}\n"
         "  signals:\n"
         "  - {name: jobs, type: Total, source: {push: {}}, "
         "targetPerReplica: 10}\n";
}

PolicySnapshot Snapshot() {
  LoadResult r = ParsePolicies(
      PolicyYaml("web", "shadow") + "---\n" + PolicyYaml("api", "active"),
      "p.yaml");
  EXPECT_TRUE(r.errors.empty()) << r.ToStatus();
  return PolicySnapshot(std::move(r.policies));
}

externalscaler::ScaledObjectRef Ref(const std::string& policy) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("so");
  ref.set_namespace_("team");
  (*ref.mutable_scalermetadata())["policy"] = policy;
  return ref;
}

absl::StatusOr<double> Metric(const std::string& policy,
                              const PolicySnapshot& snap,
                              const DecisionBoard& board) {
  externalscaler::GetMetricsRequest req;
  *req.mutable_scaledobjectref() = Ref(policy);
  absl::StatusOr<externalscaler::GetMetricsResponse> r =
      MetricsFor(req, snap, board);
  if (!r.ok()) return r.status();
  return r->metricvalues(0).metricvaluefloat();
}

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// A decision of `replicas` at kT0 + `second`, started from `fleet` read
// from spec.replicas (or, with fleet < 0, from the last decision: the
// replicas source unusable).
std::shared_ptr<const Decision> Made(int64_t replicas, int64_t fleet,
                                     double second) {
  auto d = std::make_shared<Decision>();
  d->replicas = replicas;
  d->time = kT0 + absl::Seconds(second);
  if (fleet >= 0) {
    d->current = fleet;
    d->reasons.push_back(Reason{ReasonCode::kCurrentFromSource, "",
                                static_cast<double>(fleet), 0, 0});
  } else {
    d->current = replicas;
    d->reasons.push_back(Reason{ReasonCode::kReplicasUnusable, "",
                                static_cast<double>(replicas), 3, 0});
  }
  return d;
}

TEST(KedaLogicShadowTest, ShadowAnswersTheFleetActiveTheDecision) {
  const PolicySnapshot snap = Snapshot();
  DecisionBoard board;
  FleetView shadow;
  shadow.shadow = true;
  shadow.fleet = 3;
  board.Publish(PolicyKey{"team", "web"}, Made(7, 3, 0), shadow);
  board.Publish(PolicyKey{"team", "api"}, Made(7, 3, 0),
                FleetView{false, 3, 0, 0});
  EXPECT_EQ(*Metric("web", snap, board), 3);
  EXPECT_EQ(*Metric("api", snap, board), 7);
  EXPECT_TRUE(*IsActiveFor(Ref("web"), snap, board));

  // The fleet at 0: inactive, whatever the shadow decision.
  shadow.fleet = 0;
  board.Publish(PolicyKey{"team", "web"}, Made(7, 0, 1), shadow);
  EXPECT_EQ(*Metric("web", snap, board), 0);
  EXPECT_FALSE(*IsActiveFor(Ref("web"), snap, board));
  EXPECT_FALSE(ActiveAnswer(*Made(7, 0, 1), shadow));
  EXPECT_TRUE(ActiveAnswer(*Made(7, 0, 1), FleetView{}));

  // The target stays 1: AverageValue's ceil(count / 1) is the count.
  const externalscaler::GetMetricSpecResponse spec =
      MetricSpecFor(*snap.Find(PolicyKey{"team", "web"}));
  EXPECT_EQ(spec.metricspecs(0).targetsizefloat(), 1.0);
}

// Review finding F1/F2 (2 Dec): between a reload that switches the mode and
// the next decision, KEDA is never answered a decision made in the other
// mode's sense.
TEST(KedaLogicShadowTest, ADecisionMadeInShadowIsNeverAnsweredAfterASwitch) {
  const PolicySnapshot snap = Snapshot();  // "api" is active
  DecisionBoard board;
  FleetView made_in_shadow;
  made_in_shadow.shadow = true;
  made_in_shadow.mode_shadow = true;
  made_in_shadow.fleet = 20;
  board.Publish(PolicyKey{"team", "api"}, Made(3, 20, 0), made_in_shadow);
  // Switched to active (the snapshot says so), no active decision yet: the
  // fleet's 20, not the shadow's 3.
  EXPECT_EQ(*Metric("api", snap, board), 20);
  board.SetShadow(PolicyKey{"team", "api"}, false);
  EXPECT_EQ(*Metric("api", snap, board), 20);
  // The first active decision is answered.
  board.Publish(PolicyKey{"team", "api"}, Made(19, 20, 0),
                FleetView{false, 20, 0, 0, false});
  EXPECT_EQ(*Metric("api", snap, board), 19);
}

TEST(KedaLogicShadowTest, SwitchingToShadowChangesTheStreamAnswerAtOnce) {
  DecisionBoard board;
  const PolicyKey key{"team", "web"};
  int calls = 0;
  bool last = true;
  board.Watch(key, [&](const Decision& d) {
    ++calls;
    std::shared_ptr<const Decision> now;
    absl::StatusOr<FleetView> view = board.Fleet(key, &now);
    ASSERT_TRUE(view.ok()) << view.status();
    last = ActiveAnswer(d, *view);
  });
  // Active: decision 1 while the fleet runs 0.
  board.Publish(key, Made(1, 0, 0), FleetView{false, 0, 0, 0, false});
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(last);
  // A reload makes it shadow: watchers hear at once, and the answer is the
  // fleet's 0 (a StreamIsActive saying true would wake the deployment).
  board.SetShadow(key, true);
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(last);
  board.SetShadow(key, true);  // no change, no call
  EXPECT_EQ(calls, 2);
}

// The board's watchers (StreamIsActive) are kept per key: a publication
// calls its own key's watchers, in the order they were added, and none
// after Unwatch.
TEST(DecisionBoardWatchTest, APublicationCallsOnlyItsOwnKeysWatchersInOrder) {
  DecisionBoard board;
  const PolicyKey web{"team", "web"};
  const PolicyKey api{"team", "api"};
  std::vector<std::string> calls;
  const uint64_t w1 = board.Watch(web, [&](const Decision& d) {
    calls.push_back(absl::StrCat("w1:", d.replicas));
  });
  board.Watch(api, [&](const Decision& d) {
    calls.push_back(absl::StrCat("a:", d.replicas));
  });
  const uint64_t w2 = board.Watch(web, [&](const Decision& d) {
    calls.push_back(absl::StrCat("w2:", d.replicas));
  });
  board.Publish(web, Made(3, -1, 0));
  EXPECT_EQ(calls, (std::vector<std::string>{"w1:3", "w2:3"}));
  calls.clear();
  board.Publish(api, Made(4, -1, 0));
  EXPECT_EQ(calls, (std::vector<std::string>{"a:4"}));
  calls.clear();
  board.Unwatch(w1);
  board.Unwatch(w1);  // twice: a no-op
  board.Publish(web, Made(5, -1, 1));
  EXPECT_EQ(calls, (std::vector<std::string>{"w2:5"}));
  calls.clear();
  board.Unwatch(w2);
  board.Publish(web, Made(6, -1, 2));
  EXPECT_TRUE(calls.empty());
  // The board answers the latest decision, watched or not.
  EXPECT_EQ((*board.Get(web))->replicas, 6);
  EXPECT_EQ((*board.Get(api))->replicas, 4);
}

// The evaluator publishes through a handle (Ref): the same entry as by key,
// and one kept across a RetainOnly that dropped the policy puts it back.
TEST(DecisionBoardRefTest, AHandlePublishesTheEntryAndSurvivesARetainOnly) {
  DecisionBoard board;
  const PolicyKey web{"team", "web"};
  const DecisionBoard::EntryRef ref = board.Ref(web);
  EXPECT_EQ(board.Get(web).status().code(), absl::StatusCode::kUnavailable);
  int calls = 0;
  board.Watch(web, [&](const Decision&) { ++calls; });
  board.Publish(ref, Made(3, -1, 0));
  EXPECT_EQ((*board.Get(web))->replicas, 3);
  EXPECT_EQ(calls, 1);
  board.Publish(web, Made(4, -1, 1));
  EXPECT_EQ((*board.Get(web))->replicas, 4) << "by key: the same entry";
  board.RetainOnly({});
  EXPECT_EQ(board.Get(web).status().code(), absl::StatusCode::kUnavailable);
  board.Publish(ref, Made(5, -1, 2));
  EXPECT_EQ((*board.Get(web))->replicas, 5);
  EXPECT_EQ(calls, 3);
  // Dropped, then made again by key: the handle publishes into that entry.
  board.RetainOnly({});
  board.Publish(web, Made(6, -1, 3));
  board.Publish(ref, Made(7, -1, 4));
  EXPECT_EQ((*board.Get(web))->replicas, 7);
}

TEST(KedaLogicShadowTest, FleetWithoutADecisionIsUnavailable) {
  DecisionBoard board;
  absl::StatusOr<FleetView> v = board.Fleet(PolicyKey{"team", "web"});
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
  board.SetShadow(PolicyKey{"team", "web"}, true);  // nothing to change
  EXPECT_EQ(board.Fleet(PolicyKey{"team", "web"}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(KedaLogicShadowTest,
     ShadowWithoutAFleetCountIsUnavailableNeverTheDecision) {
  const PolicySnapshot snap = Snapshot();
  DecisionBoard board;
  FleetView unknown;
  unknown.shadow = true;
  board.Publish(PolicyKey{"team", "web"}, Made(7, -1, 0), unknown);
  absl::StatusOr<double> m = Metric("web", snap, board);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(m.status().message().find("shadow mode"), std::string::npos)
      << m.status();
  EXPECT_EQ(IsActiveFor(Ref("web"), snap, board).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(ActiveAnswer(*Made(7, -1, 0), unknown));
  // No decision at all: as for an active policy.
  DecisionBoard empty;
  EXPECT_EQ(Metric("web", snap, empty).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ShadowTallyTest, IntegratesEachIntervalFromItsStartAndHoldsTheFleet) {
  DecisionBoard board;
  const PolicyKey key{"team", "web"};
  ShadowTally t;
  int64_t published = -1;
  auto publish = [&](int64_t replicas, int64_t fleet, double second,
                     bool here = true, bool shadow = true) {
    PublishDecision(board, key, Made(replicas, fleet, second), "r", here,
                    published, shadow, t);
    return *board.Fleet(key);
  };
  FleetView v = publish(7, 3, 0);  // the first: nothing to integrate yet
  EXPECT_EQ(v.fleet, 3);
  EXPECT_EQ(v.short_replica_seconds, 0);
  v = publish(7, 3, 2.5);  // (7 - 3) x 2.5 s
  EXPECT_DOUBLE_EQ(v.short_replica_seconds, 10);
  v = publish(5, 9, 4.5);  // 7 vs 3 held until now: + 4 x 2
  EXPECT_DOUBLE_EQ(v.short_replica_seconds, 18);
  EXPECT_EQ(v.fleet, 9);
  v = publish(5, 9, 5.5);  // 5 vs 9: 4 x 1 in excess
  EXPECT_DOUBLE_EQ(v.short_replica_seconds, 18);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 4);
  // The replicas source fails: the last good count (9) holds.
  v = publish(5, -1, 6.5);
  EXPECT_EQ(v.fleet, 9);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 8);
  v = publish(5, -1, 7.5);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 12);
  EXPECT_TRUE(v.shadow);
  // Mirrored (decided by another replica): integrated all the same (explain
  // shows the totals on every replica; only the metrics count it once).
  v = publish(5, 9, 9.5, /*here=*/false);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 20);
  // An older record loaded late changes nothing.
  v = publish(5, 9, 9.0, /*here=*/false);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 20);
  v = publish(5, 9, 11.5);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 28);
  // Active: nothing integrated, the totals kept.
  v = publish(5, 9, 12.5, true, /*shadow=*/false);
  EXPECT_FALSE(v.shadow);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 28);
  v = publish(5, 9, 13.5, true, false);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 28);
  // Back to shadow: integrating starts again from its first decision.
  v = publish(5, 9, 14.5);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 28);
  v = publish(5, 9, 15.5);
  EXPECT_DOUBLE_EQ(v.excess_replica_seconds, 32);
  EXPECT_DOUBLE_EQ(v.short_replica_seconds, 18);
}

}  // namespace
}  // namespace signalscaler
