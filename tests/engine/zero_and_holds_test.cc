// Scale to zero and back, UNAVAILABLE before any reading, stale readings:
// replayed through Decide() with every number computed by hand.
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using testing::HasReason;
using testing::In;
using testing::MustDecide;
using testing::PolicyFrom;
using testing::T;

// Scale from zero on the first queued item, back to zero only after the
// scale-down window (default 300 s).
TEST(ScaleToZero, WakesOnFirstItemSleepsAfterDownWindow) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      min_replicas: 0
      max_replicas: 10
      signals {
        name: "queue"
        type: Total
        source { redis { address: "redis:6379" list: "jobs" } }
        target_per_replica: 5
        activation_above: 0
      }
    })pb");
  EngineState state;
  for (int t = 0; t <= 310; t += 5) {
    In in(T(t));
    in.Signal("queue", t == 5 ? 1 : 0);
    const Decision d = MustDecide(p, in, state, T(t));
    // 0: queue 0 <= activation: 0. 5: 1 > 0: ceil(1/5) -> 1 (up window 0,
    // rate from 0: +4 pods). 10..300: queue 0 wants 0, the down window holds
    // the 1 recorded at 5 while 5 > t - 300. 305: 0.
    const int64_t want = (t == 0 || t >= 305) ? 0 : 1;
    EXPECT_EQ(d.replicas, want) << "t=" << t << ": " << d.Summary();
    EXPECT_EQ(d.active(), want > 0);
    if (t == 5) {
      EXPECT_TRUE(HasReason(d, ReasonCode::kWokeFromZero));
    }
    if (t == 10) {
      EXPECT_EQ(d.desired, 0);
      EXPECT_TRUE(HasReason(d, ReasonCode::kScaleToZero)) << d.Summary();
    }
  }
}

// A CPU signal alongside the queue keeps the service up while it is busy and
// agrees to zero once idle.
TEST(ScaleToZero, AverageMustAgree) {
  const v1::ScalingPolicy p =
      PolicyFrom(absl::StrCat(R"pb(
                                spec { min_replicas: 0 max_replicas: 10
                                       signals {
                                         name: "queue"
                                         type: Total
                                         source { push {} }
                                         target_per_replica: 5
                                       }
                                       signals {
                                         name: "cpu"
                                         type: Average
                                         source { push {} }
                                         scale_up_above: 0.5
                                         scale_down_below: 0.3
                                       })pb",
                              testing::kNoDamping, "}"));
  EngineState state;
  state.last_decision = 2;
  state.recommendations.push_back({T(0), 2});
  // queue empty but CPU 0.45 in band: cpu proposes 2 -> 2
  In busy(T(10));
  busy.Signal("queue", 0).Signal("cpu", 0.45);
  EXPECT_EQ(MustDecide(p, busy, state, T(10)).replicas, 2);
  // CPU 0.1 <= 0.3 in its scale-down zone: agrees to zero -> 0
  In idle(T(20));
  idle.Signal("queue", 0).Signal("cpu", 0.1);
  const Decision d = MustDecide(p, idle, state, T(20));
  EXPECT_EQ(d.replicas, 0) << d.Summary();
  EXPECT_EQ(d.signals[1].proposal, 0);
}

TEST(ScaleToZero, MissingQueueNeverSleeps) {
  const v1::ScalingPolicy p =
      PolicyFrom(absl::StrCat(R"pb(
                                spec { min_replicas: 0 max_replicas: 10
                                       signals {
                                         name: "queue"
                                         type: Total
                                         source { push {} }
                                         target_per_replica: 5
                                       }
                                       signals {
                                         name: "sessions"
                                         type: Total
                                         source { push {} }
                                         target_per_replica: 5
                                       })pb",
                              testing::kNoDamping, "}"));
  EngineState state;
  state.last_decision = 3;
  state.recommendations.push_back({T(0), 3});
  In in(T(10));
  in.Signal("queue", 0);  // sessions missing: holds 3
  const Decision d = MustDecide(p, in, state, T(10));
  EXPECT_EQ(d.replicas, 3) << d.Summary();
  EXPECT_EQ(d.signals[1].state, SignalState::kMissing);
  EXPECT_TRUE(HasReason(d, ReasonCode::kHeldAboveZero)) << d.Summary();
}

TEST(Unavailable, NoSignalEverHadAReading) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    metadata { name: "agents" namespace: "voice" }
    spec {
      max_replicas: 5
      signals {
        name: "requests"
        type: Total
        source { push {} }
        target_per_replica: 10
      }
    })pb");
  EngineState state;
  // Nothing at all, then a failed attempt without any reading.
  for (int t : {0, 5}) {
    In in(T(t));
    if (t == 5) in.Failed("requests", absl::DeadlineExceededError("slow"));
    const absl::StatusOr<Decision> d = Decide(p, in, state, T(t));
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(d.status().message(),
              "no signal of policy voice/agents has a reading yet");
    EXPECT_TRUE(state.recommendations.empty());
    EXPECT_TRUE(state.scale_events.empty());
    EXPECT_FALSE(state.last_decision.has_value());
    EXPECT_FALSE(state.ever_had_reading);
  }
  // One reading: a decision. Later, all gone: it holds, never UNAVAILABLE.
  In one(T(10));
  one.Signal("requests", 30);
  EXPECT_EQ(MustDecide(p, one, state, T(10)).replicas, 3);
  EXPECT_TRUE(state.ever_had_reading);
  const Decision held = MustDecide(p, In(T(15)), state, T(15));
  EXPECT_EQ(held.replicas, 3);
  EXPECT_EQ(held.signals[0].state, SignalState::kMissing);
}

// Interval 5 s (the default): a reading older than 15 s is stale and holds.
TEST(Stale, OldReadingsHold) {
  const v1::ScalingPolicy p =
      PolicyFrom(absl::StrCat(R"pb(
                                spec { max_replicas: 20
                                       signals {
                                         name: "requests"
                                         type: Total
                                         source { push {} }
                                         target_per_replica: 10
                                       }
                                       signals {
                                         name: "queue"
                                         type: Total
                                         source {
                                           interval_seconds: 10
                                           push {}
                                         }
                                         target_per_replica: 10
                                       })pb",
                              testing::kNoDamping, "}"));
  EngineState state;
  In first(T(0));
  first.Signal("requests", 80).Signal("queue", 10);  // max(8, 1) = 8
  EXPECT_EQ(MustDecide(p, first, state, T(0)).replicas, 8);

  // At 15 both readings of t=0 are exactly at the limit (15 s): usable.
  // requests 10 -> 1, queue 10 -> 1: 1.
  In edge(T(15));
  edge.SignalAt("requests", 10, T(0)).SignalAt("queue", 10, T(0));
  EngineState s2 = state;
  EXPECT_EQ(MustDecide(p, edge, s2, T(15)).replicas, 1);

  // At 16 requests (stale after 15 s) is stale and holds 8, although its
  // value says 1; queue (interval 10: stale after 30 s) is fine.
  In late(T(16));
  late.SignalAt("requests", 10, T(0)).SignalAt("queue", 10, T(0));
  const Decision d = MustDecide(p, late, state, T(16));
  EXPECT_EQ(d.replicas, 8) << d.Summary();
  EXPECT_EQ(d.signals[0].state, SignalState::kStale);
  EXPECT_EQ(d.signals[0].age, absl::Seconds(16));
  EXPECT_EQ(d.signals[1].state, SignalState::kOk);
  EXPECT_TRUE(absl::StrContains(d.signals[0].message, "stale")) << d.Summary();
}

// Issue 13 item 3: a negative or non-finite reading of any signal type is
// a bad reading: held at current (never a scale-down), state "invalid",
// named in the decision. Before, -5 was "ok" and the service fell 25 -> 1.
TEST(Invalid, NegativeAndNonFiniteReadingsHold) {
  const v1::ScalingPolicy p =
      PolicyFrom(absl::StrCat(R"pb(
                                spec { min_replicas: 0 max_replicas: 100
                                       signals {
                                         name: "active"
                                         type: Total
                                         source { push {} }
                                         target_per_replica: 1
                                       }
                                       signals {
                                         name: "cpu"
                                         type: Average
                                         source { push {} }
                                         scale_up_above: 0.8
                                         scale_down_below: 0.2
                                       }
                                       signals {
                                         name: "spare"
                                         type: Headroom
                                         source { push {} }
                                         scale_up_below: 1
                                         scale_down_above: 3
                                       })pb",
                              testing::kNoDamping, "}"));
  EngineState state;
  In first(T(0));
  first.Signal("active", 25).Signal("cpu", 0.5).Signal("spare", 2);
  ASSERT_EQ(MustDecide(p, first, state, T(0)).replicas, 25);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  int t = 0;
  for (const char* bad : {"active", "cpu", "spare"}) {
    for (double v : {-5.0, -1e-12, nan, -inf, inf}) {
      t += 10;
      In in(T(t));
      // Every other signal asks for 1 (idle): only the bad one keeps 25.
      in.Signal("active", 1).Signal("cpu", 0.01).Signal("spare", 50);
      in.Signal(bad, v);
      const Decision d = MustDecide(p, in, state, T(t));
      EXPECT_EQ(d.replicas, 25) << bad << "=" << v << ": " << d.Summary();
      bool named = false;
      for (const SignalExplanation& e : d.signals) {
        if (e.name != bad) continue;
        named = true;
        EXPECT_EQ(e.state, SignalState::kInvalid) << bad << "=" << v;
        EXPECT_EQ(e.proposal, 25);
        EXPECT_TRUE(absl::StrContains(e.message, "invalid reading"))
            << e.message;
      }
      EXPECT_TRUE(named);
      EXPECT_TRUE(HasReason(d, ReasonCode::kSignalHeld)) << d.Summary();
    }
  }
  // All three good and idle again: the service goes down as usual.
  t += 10;
  In idle(T(t));
  idle.Signal("active", 1).Signal("cpu", 0.01).Signal("spare", 50);
  EXPECT_LT(MustDecide(p, idle, state, T(t)).replicas, 25);
  EXPECT_STREQ(SignalStateName(SignalState::kInvalid), "invalid");
}

// A negative replica count is invalid too: current is the last decision.
TEST(Invalid, NegativeReplicasSourceIsNotZero) {
  const v1::ScalingPolicy p =
      PolicyFrom(absl::StrCat(R"pb(
                                spec { max_replicas: 100
                                       replicas { push {} }
                                       signals {
                                         name: "q"
                                         type: Total
                                         source { push {} }
                                         target_per_replica: 1
                                       })pb",
                              testing::kNoDamping, "}"));
  EngineState state;
  In a(T(0));
  a.Signal("q", 7).Replicas(7);
  ASSERT_EQ(MustDecide(p, a, state, T(0)).replicas, 7);
  In b(T(10));
  b.Signal("q", 7).Replicas(-3);
  const Decision d = MustDecide(p, b, state, T(10));
  EXPECT_EQ(d.current, 7) << d.Summary();
  EXPECT_EQ(d.replicas, 7);
  EXPECT_TRUE(HasReason(d, ReasonCode::kReplicasUnusable)) << d.Summary();
}

// Issue 13 item 3: a huge value over a tiny target saturates at the bounds
// instead of wrapping to 0 (inf - slack was NaN, read as 0).
TEST(Saturation, HugeRatiosGoToMaxNotZero) {
  for (const char* target : {"1e-300", "1e-9"}) {
    const v1::ScalingPolicy p = PolicyFrom(absl::StrCat(
        "spec { max_replicas: 40 replicas { push {} } signals { name: 'q' "
        "type: Total source { push {} } target_per_replica: ",
        target, " } ", testing::kNoDamping, "}"));
    for (double v : {1e300, 1e308}) {
      EngineState state;
      In in(T(0));
      in.Signal("q", v).Replicas(10);
      const Decision d = MustDecide(p, in, state, T(0));
      EXPECT_EQ(d.replicas, 40) << target << " " << v << ": " << d.Summary();
      EXPECT_GT(d.signals[0].proposal, 40);
    }
  }
  // Average and Headroom over tiny targets and capacities, the same.
  const v1::ScalingPolicy avg =
      PolicyFrom(absl::StrCat(R"pb(
                                spec { max_replicas: 40
                                       replicas { push {} }
                                       signals {
                                         name: "a"
                                         type: Average
                                         source { push {} }
                                         scale_up_above: 2e-300
                                         scale_down_below: 1e-300
                                       }
                                       signals {
                                         name: "h"
                                         type: Headroom
                                         source { push {} }
                                         scale_up_below: 1e300
                                         scale_down_above: 1.5e300
                                         capacity_per_replica: 1e-300
                                       })pb",
                              testing::kNoDamping, "}"));
  EngineState state;
  In in(T(0));
  in.Signal("a", 1e300).Signal("h", 0).Replicas(10);
  const Decision d = MustDecide(avg, in, state, T(0));
  EXPECT_EQ(d.replicas, 40) << d.Summary();
  for (const SignalExplanation& e : d.signals) EXPECT_GT(e.proposal, 40);
}

// Issue 13 item 4: a restart with no history and no current count. Load 200
// gave 20 before the restart; after it, 50 (ceil(50 / 10) = 5) must not be
// answered before a full scale-down window (30 s) of its own has been seen:
// UNAVAILABLE (the HPA holds, KEDA's fallback applies), recommendations
// recorded meanwhile, then the highest of them.
v1::ScalingPolicy RestartPolicy(const std::string& extra = "") {
  return PolicyFrom(absl::StrCat(R"pb(
                                   spec { max_replicas: 40
                                          signals {
                                            name: "load"
                                            type: Total
                                            source { push {} }
                                            target_per_replica: 10
                                          })pb",
                                 extra, R"pb(
      behavior { scale_down { stabilization_window_seconds: 30 } }
    })pb"));
}

TEST(UnknownHistory, NoAnswerBeforeAFullDownWindow) {
  const v1::ScalingPolicy p = RestartPolicy();
  EngineState state;
  state.history_unknown = true;  // as the server's evaluator sets it
  for (int t = 0; t < 30; t += 5) {
    In in(T(1000 + t));
    in.Signal("load", t == 10 ? 120 : 50);  // one 12 in the window
    const absl::StatusOr<Decision> d = Decide(p, in, state, T(1000 + t));
    ASSERT_FALSE(d.ok()) << "t=" << t << ": " << d->Summary();
    EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(absl::StrContains(d.status().message(),
                                  "no answer before a full scale-down window"))
        << d.status();
    EXPECT_FALSE(state.last_decision.has_value());
  }
  // 30 s seen: start at the highest recommendation of the window (12), as a
  // full window would have held.
  In in(T(1030));
  in.Signal("load", 50);
  const Decision d = MustDecide(p, in, state, T(1030));
  EXPECT_EQ(d.replicas, 12) << d.Summary();
  EXPECT_TRUE(HasReason(d, ReasonCode::kFirstDecision));
  // Then the window goes on as usual: 12 leaves it 30 s after t=10.
  In later(T(1041));
  later.Signal("load", 50);
  EXPECT_EQ(MustDecide(p, later, state, T(1041)).replicas, 5);
}

TEST(UnknownHistory, TheUpperBoundIsAnsweredAtOnce) {
  // A spike that needs maxReplicas can never be a scale-down: answered.
  const v1::ScalingPolicy p = RestartPolicy();
  EngineState state;
  state.history_unknown = true;
  In in(T(0));
  in.Signal("load", 1000);
  const Decision d = MustDecide(p, in, state, T(0));
  EXPECT_EQ(d.replicas, 40) << d.Summary();
}

TEST(UnknownHistory, AReplicasSourceEndsTheWait) {
  const v1::ScalingPolicy p = RestartPolicy();
  v1::ScalingPolicy with = p;
  with.mutable_spec()->mutable_replicas()->mutable_push();
  EngineState state;
  state.history_unknown = true;
  In in(T(0));
  in.Signal("load", 50).Replicas(20);
  const Decision d = MustDecide(with, in, state, T(0));
  // current 20 from the source, seeded into the window: holds at 20.
  EXPECT_EQ(d.replicas, 20) << d.Summary();
  EXPECT_TRUE(HasReason(d, ReasonCode::kRestartSeeded));
}

TEST(UnknownHistory, AKnownHistoryDecidesAtOnce) {
  // The simulator's and a fresh test state: the first decision is desired.
  const v1::ScalingPolicy p = RestartPolicy();
  EngineState state;
  In in(T(0));
  in.Signal("load", 50);
  EXPECT_EQ(MustDecide(p, in, state, T(0)).replicas, 5);
}

// Review finding: a replicas count that arrives after the wait began must
// still be seeded into the window. The fleet runs 20; the first tick has the
// load (150 at 10 per pod: 15) but no count yet; the second has both. It
// answered 15 at once (the window held only the 15 of the first tick).
TEST(UnknownHistory, ACountArrivingDuringTheWaitIsSeeded) {
  v1::ScalingPolicy p = RestartPolicy();
  p.mutable_spec()->mutable_replicas()->mutable_push();
  EngineState state;
  state.history_unknown = true;
  In first(T(0));
  first.Signal("load", 150);
  ASSERT_FALSE(Decide(p, first, state, T(0)).ok());
  In second(T(5));
  second.Signal("load", 150).Replicas(20);
  const Decision d = MustDecide(p, second, state, T(5));
  EXPECT_EQ(d.replicas, 20) << d.Summary();
  EXPECT_TRUE(HasReason(d, ReasonCode::kRestartSeeded)) << d.Summary();
  // 20 stays until a full window from the seed has passed.
  In later(T(30));
  later.Signal("load", 150).Replicas(20);
  EXPECT_EQ(MustDecide(p, later, state, T(30)).replicas, 20);
}

// Review finding: without a count, an Average in its band, or a held
// signal, proposes whatever count it starts from. Started from minReplicas,
// the window's highest recommendation after the wait was minReplicas and a
// fleet of 10 fell to 2. Started from the upper bound, no proposal is below
// what the true count would propose: the answer is the upper bound.
TEST(UnknownHistory, SignalsThatNeedTheCountStartFromTheUpperBound) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      min_replicas: 2
      max_replicas: 12
      signals {
        name: "cpu"
        type: Average
        source { push {} }
        scale_up_above: 0.5
        scale_down_below: 0.3
      }
      signals {
        name: "jobs"
        type: Total
        source { push {} }
        target_per_replica: 10
      }
      behavior { scale_down { stabilization_window_seconds: 30 } }
    })pb");
  for (const double cpu : {0.4, -1.0}) {  // in its band; an invalid reading
    EngineState state;
    state.history_unknown = true;
    for (int t = 0; t < 30; t += 5) {
      In in(T(t));
      in.Signal("cpu", cpu).Signal("jobs", 40);
      ASSERT_FALSE(Decide(p, in, state, T(t)).ok()) << "cpu " << cpu;
    }
    In in(T(30));
    in.Signal("cpu", cpu).Signal("jobs", 40);
    const Decision d = MustDecide(p, in, state, T(30));
    EXPECT_EQ(d.replicas, 12) << "cpu " << cpu << ": " << d.Summary();
  }
}

}  // namespace
}  // namespace signalscaler
