// The incidents of the seeds, replayed through Decide() with every number
// computed by hand in the comments. Times are seconds since the epoch.
#include <map>
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

// Seed 002 §2.1, LiveKit egress: up on CPU >= 50 % or memory >= 65 % or
// available <= 1; down when CPU <= 30 % and memory <= 45 % and available
// >= 3. Behavior as DESIGN.md's sketch: up window 15 s, +2 pods or +100 %
// per 30 s (Max); down window 300 s, -1 pod per 60 s. No replicas source:
// current is the last decision.
v1::ScalingPolicy LiveKitEgress() {
  return PolicyFrom(R"pb(
    metadata { name: "livekit-egress" namespace: "media" }
    spec {
      min_replicas: 2
      max_replicas: 20
      signals {
        name: "cpu"
        type: Average
        source { push {} }
        scale_up_above: 0.50
        scale_down_below: 0.30
      }
      signals {
        name: "memory"
        type: Average
        source { push {} }
        scale_up_above: 0.65
        scale_down_below: 0.45
      }
      signals {
        name: "livekit_egress_available"
        type: Headroom
        source { push {} }
        scale_up_below: 1
        scale_down_above: 3
      }
      behavior {
        scale_up {
          stabilization_window_seconds: 15
          select_policy: Max
          policies { type: Pods value: 2 period_seconds: 30 }
          policies { type: Percent value: 100 period_seconds: 30 }
        }
        scale_down {
          stabilization_window_seconds: 300
          policies { type: Pods value: 1 period_seconds: 60 }
        }
      }
    })pb");
}

struct EgressReadings {
  double cpu, memory, available;
};

// cpu target 0.40, memory target 0.55, available target 2 (band middles).
EgressReadings EgressAt(int t) {
  if (t == 0) return {0.35, 0.50, 2};    // calm
  if (t == 5) return {0.55, 0.50, 2};    // CPU crosses 50 %
  if (t <= 15) return {0.70, 0.60, 1};   // rise
  if (t <= 45) return {0.80, 0.70, 0};   // peak
  if (t <= 100) return {0.45, 0.55, 2};  // plateau, all in band
  return {0.20, 0.40, 4};                // fall
}

TEST(Seed002LiveKitEgress, RisePlateauFall) {
  const v1::ScalingPolicy p = LiveKitEgress();
  EngineState state;
  // Expected decision per time, by hand (desired in brackets):
  //  0: first decision, proposals from min 2, all in band [2] -> 2
  //  5: cpu max(3, ceil(2*.55/.4=2.75)) [3]; up window holds min(3, 2) -> 2
  // 10: cpu max(3, ceil(3.5)) = 4, avail 2+ceil(1) = 3 [4]; up = 2 -> 2
  // 15: [4]; recs in (0,15]: 3, 4 -> up = 3; rate from 2: +2 or +100 % = 4
  //     -> 3
  // 20: cpu max(4, ceil(3*.8/.4=6)) = 6 [6]; recs in (5,20]: 4, 4 -> 4;
  //     rate: +1 in 30 s, start 2, limit 4 -> 4
  // 25: [8]; recs in (10,25]: 4, 6 -> up 4 -> 4
  // 30: [8]; recs in (15,30]: 6, 8 -> 6; rate: +2 in (0,30], start 2,
  //     limit max(2+2, 2*2) = 4 -> 4 (rate limited)
  // 35, 40: up 8; same events in period, limit 4 -> 4
  // 45: event at 15 left the period: +1, start 3, limit max(5, 6) = 6 -> 6
  // 50..100: plateau in band [6], up min(6, 8) = 6 -> 6
  // 105..395: fall: cpu ceil(6*.2/.4) = 3, memory ceil(6*.4/.55 = 4.36) = 5,
  //     avail 6 - floor(2) = 4 [5]; down window max holds 8 (to 340), then
  //     the plateau's 6 (to 395) -> 6
  // 400: recs in (100,400] are all 5 -> 5; rate -1 per 60 s allows 5 -> 5
  // 405: at 5: memory ceil(5*.4/.55 = 3.6) = 4 [4]; window still holds 5
  const std::map<int, int64_t> want = {
      {0, 2},   {5, 2},   {10, 2},  {15, 3},  {20, 4},  {25, 4},
      {30, 4},  {35, 4},  {40, 4},  {45, 6},  {50, 6},  {100, 6},
      {105, 6}, {340, 6}, {345, 6}, {395, 6}, {400, 5}, {405, 5}};
  for (int t = 0; t <= 405; t += 5) {
    const EgressReadings r = EgressAt(t);
    In in(T(t));
    in.Signal("cpu", r.cpu)
        .Signal("memory", r.memory)
        .Signal("livekit_egress_available", r.available);
    const Decision d = MustDecide(p, in, state, T(t));
    const auto it = want.find(t);
    if (it != want.end()) {
      EXPECT_EQ(d.replicas, it->second) << "t=" << t << ": " << d.Summary();
    }
    if (t == 10) {
      EXPECT_EQ(d.desired, 4);
      EXPECT_EQ(d.winner, "cpu");
      EXPECT_TRUE(HasReason(d, ReasonCode::kUpWindow)) << d.Summary();
    }
    if (t == 30) {
      EXPECT_TRUE(HasReason(d, ReasonCode::kRateLimitedUp)) << d.Summary();
    }
    if (t == 105) {
      EXPECT_EQ(d.desired, 5);
      EXPECT_EQ(d.winner, "memory");
      EXPECT_EQ(d.signals[0].proposal, 3);
      EXPECT_EQ(d.signals[2].proposal, 4);
      EXPECT_TRUE(HasReason(d, ReasonCode::kDownWindow)) << d.Summary();
    }
  }
}

// Seed 000 §1: an I/O-bound agent at 5 % CPU with hundreds of waiting users.
// CPU alone would never scale; the active-requests Total does. HPA default
// behavior (up: window 0, +4 pods or +100 % per 15 s, Max).
TEST(IoBoundSpike, ScalesOnActiveRequestsWhileCpuIdles) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      min_replicas: 1
      max_replicas: 20
      signals {
        name: "cpu"
        type: Average
        source { push {} }
        scale_up_above: 0.5
        scale_down_below: 0.3
      }
      signals {
        name: "active_requests"
        type: Total
        source { push {} }
        target_per_replica: 20
      }
    })pb");
  EngineState state;
  struct Step {
    int t;
    double requests;
    int64_t want;
  };
  // 0: first, from min 1: cpu ceil(1*.05/.4) = 1, requests ceil(10/20) = 1
  // 5: requests ceil(200/20) = 10; rate from 1: max(1+4, 1*2) = 5 -> 5
  // 10: ceil(400/20) = 20; +4 in (-5,10], start 1, limit 5 -> 5
  // 20: the event at 5 left (5,20]: start 5, max(9, 10) = 10 -> 10
  // 35: the event at 20 left (20,35]: start 10, max(14, 20) = 20 -> 20
  for (const Step& s : {Step{0, 10, 1}, Step{5, 200, 5}, Step{10, 400, 5},
                        Step{20, 400, 10}, Step{35, 400, 20}}) {
    In in(T(s.t));
    in.Signal("cpu", 0.05).Signal("active_requests", s.requests);
    const Decision d = MustDecide(p, in, state, T(s.t));
    EXPECT_EQ(d.replicas, s.want) << "t=" << s.t << ": " << d.Summary();
    if (s.t >= 5) {
      EXPECT_EQ(d.winner, "active_requests");
      EXPECT_LE(d.signals[0].proposal, d.current);  // CPU never asks for more
    }
  }
}

// Seed 000 §4: Prometheus goes down during a fall. Missing data holds: no
// scale-down until readings return, then one full down window after that.
TEST(PrometheusOutage, NoScaleDownUntilReadingsReturn) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      max_replicas: 20
      signals {
        name: "requests"
        type: Total
        source { prometheus { query: "sum(in_flight)" } }
        target_per_replica: 10
      }
      behavior { scale_down { stabilization_window_seconds: 30 } }
    })pb");
  EngineState state;
  const absl::Status outage =
      absl::UnavailableError("prometheus: connection refused");
  for (int t = 0; t <= 160; t += 5) {
    In in(T(t));
    if (t <= 5) {
      in.Signal("requests", 80);  // ceil(80/10) = 8
    } else if (t == 10 || t >= 125) {
      in.Signal("requests", 30);  // ratio 30/80: ceil(3) = 3
    } else {
      // Outage: the last good reading (30 at t=10) and a failed attempt.
      in.SignalAt("requests", 30, T(10)).Failed("requests", outage);
    }
    const Decision d = MustDecide(p, in, state, T(t));
    // 0..120: 8 (the 30 s window, then the held 8s); 125..145: the window
    // still holds a held 8 recorded at t <= 120; 150: recs in (120, 150]
    // are all 3 -> 3 (default down rate: -100 % per 15 s).
    const int64_t want = t < 150 ? 8 : 3;
    EXPECT_EQ(d.replicas, want) << "t=" << t << ": " << d.Summary();
    if (t > 10 && t < 125) {
      EXPECT_EQ(d.signals[0].state, SignalState::kError);
      EXPECT_EQ(d.signals[0].value, 30);
      EXPECT_EQ(d.signals[0].proposal, 8);
      EXPECT_TRUE(absl::StrContains(d.signals[0].message, "connection refused"))
          << d.signals[0].message;
      EXPECT_TRUE(HasReason(d, ReasonCode::kSignalHeld)) << d.Summary();
    }
  }
}

// A restart in the middle of a scale-down: the state is gone, the replicas
// source says 8 and load says 2. Nothing may go down before 300 s.
TEST(Restart, NoScaleDownBeforeOneFullDownWindow) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      max_replicas: 20
      replicas { prometheus { query: "kube_deployment_spec_replicas" } }
      signals {
        name: "requests"
        type: Total
        source { push {} }
        target_per_replica: 10
      }
    })pb");
  EngineState fresh;
  for (int t = 1000; t <= 1300; t += 15) {
    In in(T(t));
    in.Signal("requests", 20).Replicas(8);  // ceil(20/10) = 2
    const Decision d = MustDecide(p, in, fresh, T(t));
    EXPECT_EQ(d.current, 8);
    EXPECT_EQ(d.desired, 2);
    EXPECT_TRUE(HasReason(d, ReasonCode::kCurrentFromSource));
    if (t == 1000) {
      EXPECT_TRUE(HasReason(d, ReasonCode::kRestartSeeded)) << d.Summary();
    }
    // The seed (1000, 8) counts while it is newer than t - 300: to 1285.
    EXPECT_EQ(d.replicas, t < 1300 ? 8 : 2) << "t=" << t << ": " << d.Summary();
  }
}

// Seed 000 §3: 500 database connections, a pool of 100 per replica: never
// more than 5 replicas, whatever the spike.
TEST(DbConnectionCap, HoldsAtFiveDuringSpike) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      max_replicas: 20
      limits { name: "db-connections" budget: 500 per_replica: 100 }
      signals {
        name: "requests"
        type: Total
        source { push {} }
        target_per_replica: 10
      }
    })pb");
  EngineState state;
  // 0: ceil(30/10) = 3; 15: ceil(200/10) = 20 capped at floor(500/100) = 5;
  // later 1000 -> 100, still 5.
  const int64_t want[] = {3, 5, 5, 5, 5};
  const double load[] = {30, 200, 500, 1000, 1000};
  for (int i = 0; i < 5; ++i) {
    const int t = i * 15;
    In in(T(t));
    in.Signal("requests", load[i]);
    const Decision d = MustDecide(p, in, state, T(t));
    EXPECT_EQ(d.replicas, want[i]) << "t=" << t << ": " << d.Summary();
    if (i > 0) {
      EXPECT_EQ(d.desired, 5);
      EXPECT_TRUE(HasReason(d, ReasonCode::kCappedByLimit)) << d.Summary();
    }
  }
}

TEST(DbConnectionCap, HardCapWinsOverMinReplicas) {
  const v1::ScalingPolicy p = PolicyFrom(R"pb(
    spec {
      min_replicas: 6
      max_replicas: 20
      limits { name: "db-connections" budget: 500 per_replica: 100 }
      signals {
        name: "requests"
        type: Total
        source { push {} }
        target_per_replica: 10
      }
    })pb");
  EngineState state;
  In in(T(0));
  in.Signal("requests", 0);
  const Decision d = MustDecide(p, in, state, T(0));
  EXPECT_EQ(d.replicas, 5);  // min 6, but floor(500/100) = 5 is never crossed
  EXPECT_TRUE(HasReason(d, ReasonCode::kLimitBelowMin)) << d.Summary();
}

}  // namespace
}  // namespace signalscaler
