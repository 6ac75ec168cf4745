// Scale to zero and back, UNAVAILABLE before any reading, stale readings:
// replayed through Decide() with every number computed by hand.
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

}  // namespace
}  // namespace signalscaler
