// Forecasts through Decide(): a ramp is met one lead early, and a forecast
// only ever raises a proposal: never on a fall, a plateau or a step, never
// past maxReplicas, never while the signal holds or at zero. The load
// history lives in EngineState. Figures are worked out by hand.
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

// requests: a Total, 10 per replica; the replica count is pushed.
v1::ScalingPolicy Requests(bool forecast, int max = 100) {
  return PolicyFrom(absl::StrCat(
      "spec { max_replicas: ", max,
      " evaluation_interval_seconds: 5 pod_startup_seconds: 30 "
      "replicas { push {} } "
      "signals { name: 'requests' type: Total target_per_replica: 10 "
      "source { push {} } ",
      forecast ? "forecast { history_seconds: 60 } " : "", "} ",
      testing::kNoDamping, "}"));
}

struct Driven {
  std::vector<int64_t> replicas;  // every decision
  std::vector<Decision> decisions;
  EngineState state;
};

// Decides every 5 s from t = 0 to `end`, reading `load(t)` and the previous
// decision as the current count (pods appear at once: the engine is what is
// tested here, not the pod model).
template <typename F>
Driven Drive(const v1::ScalingPolicy& p, int end, F load) {
  Driven run;
  int64_t current = 1;
  for (int t = 0; t <= end; t += 5) {
    In in(T(t));
    in.Signal("requests", load(t)).Replicas(static_cast<double>(current));
    Decision d = MustDecide(p, in, run.state, T(t));
    current = d.replicas;
    run.replicas.push_back(d.replicas);
    run.decisions.push_back(std::move(d));
  }
  return run;
}

TEST(ForecastDecideTest, ARampIsMetOneLeadEarly) {
  // 100 + 2/s from t = 0: reactive ceil(v / 10); the forecast sees the line
  // once its 60 s history holds 30 s of points (t = 30, 7 points) and then
  // asks for ceil((v + 60) / 10): at t = 30, v = 160, projected 220 -> 22.
  const auto ramp = [](int t) { return 100.0 + 2.0 * t; };
  const Driven reactive = Drive(Requests(false), 120, ramp);
  const Driven forecast = Drive(Requests(true), 120, ramp);
  for (size_t i = 0; i < reactive.replicas.size(); ++i) {
    const int t = static_cast<int>(i) * 5;
    EXPECT_EQ(reactive.replicas[i], (100 + 2 * t + 9) / 10) << t;
    if (t < 30) {
      EXPECT_EQ(forecast.replicas[i], reactive.replicas[i]) << t;
      EXPECT_FALSE(HasReason(forecast.decisions[i], ReasonCode::kForecast));
    } else {
      EXPECT_EQ(forecast.replicas[i], (100 + 2 * (t + 30) + 9) / 10) << t;
      EXPECT_TRUE(HasReason(forecast.decisions[i], ReasonCode::kForecast));
    }
  }
  // Explain says what it saw: at t = 30, 220 projected in 30 s -> 22.
  const Decision& d = forecast.decisions[6];
  bool found = false;
  for (const Reason& r : d.reasons) {
    if (r.code != ReasonCode::kForecast) continue;
    found = true;
    EXPECT_EQ(RenderReason(r), "forecast: requests 220 in 30 s -> 22");
  }
  EXPECT_TRUE(found) << d.Summary();
  EXPECT_EQ(d.signals[0].proposal, 22);
  // The history is the engine state's, one point per reading.
  ASSERT_EQ(forecast.state.load_history.size(), 1u);
  EXPECT_EQ(forecast.state.load_history[0].signal, "requests");
  EXPECT_EQ(forecast.state.load_history[0].points.size(), 13u);  // 60 s / 5
  EXPECT_TRUE(reactive.state.load_history.empty());
}

TEST(ForecastDecideTest, NeverOnAFallAPlateauOrAStep) {
  const std::vector<std::pair<std::string, double (*)(int)>> loads = {
      {"fall", [](int t) { return 400.0 - 2.0 * t; }},
      {"plateau with noise",
       [](int t) { return 150.0 + ((t / 5) % 2 ? 4.0 : -4.0); }},
      {"step", [](int t) { return t < 60 ? 50.0 : 250.0; }},
      {"flash crowd", [](int t) { return t >= 40 && t < 70 ? 400.0 : 60.0; }},
  };
  for (const auto& [name, load] : loads) {
    const Driven reactive = Drive(Requests(false), 180, load);
    const Driven forecast = Drive(Requests(true), 180, load);
    EXPECT_EQ(forecast.replicas, reactive.replicas) << name;
    for (const Decision& d : forecast.decisions) {
      EXPECT_FALSE(HasReason(d, ReasonCode::kForecast)) << name;
    }
  }
}

TEST(ForecastDecideTest, NeverPastMaxReplicas) {
  const Driven run = Drive(Requests(true, /*max=*/20), 90,
                           [](int t) { return 100.0 + 2 * t; });
  for (int64_t r : run.replicas) EXPECT_LE(r, 20);
  EXPECT_EQ(run.replicas.back(), 20);
}

TEST(ForecastDecideTest, OffWhileTheSignalHolds) {
  const v1::ScalingPolicy p = Requests(true);
  EngineState state;
  int64_t current = 1;
  for (int t = 0; t <= 60; t += 5) {
    In in(T(t));
    in.Signal("requests", 100.0 + 2 * t).Replicas(static_cast<double>(current));
    current = MustDecide(p, in, state, T(t)).replicas;
  }
  ASSERT_EQ(current, 28);  // (220 + 60) / 10, the forecast on
  // The source fails: the signal holds at the current count, no forecast.
  In failed(T(65));
  failed.SignalAt("requests", 220, T(60))
      .Failed("requests", absl::UnavailableError("down"))
      .Replicas(28);
  const Decision d = MustDecide(p, failed, state, T(65));
  EXPECT_FALSE(HasReason(d, ReasonCode::kForecast)) << d.Summary();
  EXPECT_EQ(d.replicas, 28);
  // Stale (the last reading 20 s old, stale after 15 s): no forecast either.
  In stale(T(80));
  stale.SignalAt("requests", 220, T(60)).Replicas(28);
  EXPECT_FALSE(
      HasReason(MustDecide(p, stale, state, T(80)), ReasonCode::kForecast));
}

TEST(ForecastDecideTest, OffAtZeroAndWakingStaysReactive) {
  v1::ScalingPolicy p = Requests(true);
  p.mutable_spec()->set_min_replicas(0);
  EngineState state;
  for (int t = 0; t <= 60; t += 5) {
    In in(T(t));
    // A rising load, but the service is at 0 until activation: the value
    // stays at 0 (a quiet queue) for the whole ramp of the history.
    in.Signal("requests", 0).Replicas(0);
    const Decision d = MustDecide(p, in, state, T(t));
    EXPECT_EQ(d.replicas, 0);
    EXPECT_FALSE(HasReason(d, ReasonCode::kForecast));
  }
}

TEST(ForecastDecideTest, AHistoryGoesWithItsForecast) {
  Driven run = Drive(Requests(true), 60, [](int t) { return 100.0 + t; });
  ASSERT_EQ(run.state.load_history.size(), 1u);
  // The policy reloaded without the forecast: its history is dropped.
  In in(T(65));
  in.Signal("requests", 165).Replicas(17);
  MustDecide(Requests(false), in, run.state, T(65));
  EXPECT_TRUE(run.state.load_history.empty());
}

}  // namespace
}  // namespace signalscaler
