// The forecast's estimator (scaler/engine/internal/forecast.h) alone:
// Theil-Sen over the remembered load, gated by Kendall's tau. Figures are
// worked out by hand in each case.
#include "scaler/engine/internal/forecast.h"

#include <cmath>
#include <deque>

#include "gtest/gtest.h"

namespace signalscaler::engine_internal {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
const absl::Duration kHistory = absl::Seconds(60);
const absl::Duration kLead = absl::Seconds(30);

// Points every 5 s over the last 60 s (13 points, t = -60 .. 0), load(t).
template <typename F>
std::deque<LoadPoint> Points(F load) {
  std::deque<LoadPoint> out;
  for (int s = -60; s <= 0; s += 5) {
    RememberLoad(out, kNow + absl::Seconds(s), load(s), kNow, kHistory);
  }
  return out;
}

TEST(ForecastTest, LinearRampProjectsTheLineOneLeadAhead) {
  // 100 + 2/s: at now + 30 s, 160.
  const auto points = Points([](int s) { return 100.0 + 2.0 * s; });
  ASSERT_EQ(points.size(), 13u);
  const std::optional<Trend> t = ProjectLoad(points, kNow, kLead, kHistory);
  ASSERT_TRUE(t.has_value());
  EXPECT_DOUBLE_EQ(t->slope_per_second, 2.0);
  EXPECT_DOUBLE_EQ(t->tau, 1.0);
  EXPECT_NEAR(t->projected, 160.0, 1e-9);
}

TEST(ForecastTest, AnOutlierDoesNotBendTheLine) {
  // The same ramp with one scrape reading 1000 at t = -20: least squares
  // would project far above 160; the median of the slopes stays on the
  // line (at most 12 of the 78 pair slopes involve the outlier).
  const auto points =
      Points([](int s) { return s == -20 ? 1000.0 : 100.0 + 2.0 * s; });
  const std::optional<Trend> t = ProjectLoad(points, kNow, kLead, kHistory);
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(t->slope_per_second, 2.0, 1e-9);
  EXPECT_NEAR(t->projected, 160.0, 1e-9);
}

TEST(ForecastTest, NoiseAroundAPlateauIsOff) {
  // A flat 100 with alternating +/-3: as many falling pairs as rising ones.
  const auto points =
      Points([](int s) { return 100.0 + ((s / 5) % 2 ? 3 : -3); });
  EXPECT_FALSE(ProjectLoad(points, kNow, kLead, kHistory).has_value());
}

TEST(ForecastTest, AStepIsNotARamp) {
  // 50 until t = -30, then 150: the 7 x 6 = 42 pairs across the step rise,
  // the 36 others are flat, tau = 42/78 = 0.54 < 0.6.
  const auto points = Points([](int s) { return s < -30 ? 50.0 : 150.0; });
  EXPECT_FALSE(ProjectLoad(points, kNow, kLead, kHistory).has_value());
  // Even with the step later in the history (fewer pairs across it).
  const auto late = Points([](int s) { return s < -10 ? 50.0 : 150.0; });
  EXPECT_FALSE(ProjectLoad(late, kNow, kLead, kHistory).has_value());
}

TEST(ForecastTest, ASpikeThatCameAndWentIsOff) {
  const auto points =
      Points([](int s) { return s >= -35 && s <= -25 ? 400.0 : 100.0; });
  EXPECT_FALSE(ProjectLoad(points, kNow, kLead, kHistory).has_value());
}

TEST(ForecastTest, AFallIsOff) {
  const auto points = Points([](int s) { return 200.0 - 2.0 * s; });
  EXPECT_FALSE(ProjectLoad(points, kNow, kLead, kHistory).has_value());
}

TEST(ForecastTest, TooShortAHistoryIsOff) {
  std::deque<LoadPoint> points;
  // 4 points of a clean ramp: fewer than kMinForecastPoints.
  for (int s = -15; s <= 0; s += 5) {
    RememberLoad(points, kNow + absl::Seconds(s), 100.0 + s, kNow, kHistory);
  }
  EXPECT_FALSE(ProjectLoad(points, kNow, kLead, kHistory).has_value());
  // 6 points spanning 25 s: less than half of the 60 s history.
  points.clear();
  for (int s = -25; s <= 0; s += 5) {
    RememberLoad(points, kNow + absl::Seconds(s), 100.0 + s, kNow, kHistory);
  }
  EXPECT_FALSE(ProjectLoad(points, kNow, kLead, kHistory).has_value());
  // 7 points spanning 30 s: half of it, on.
  std::deque<LoadPoint> sorted;
  for (int s = -30; s <= 0; s += 5) {
    RememberLoad(sorted, kNow + absl::Seconds(s), 100.0 + s, kNow, kHistory);
  }
  EXPECT_TRUE(ProjectLoad(sorted, kNow, kLead, kHistory).has_value());
}

TEST(ForecastTest, RememberKeepsTheHistoryAndThinsIt) {
  std::deque<LoadPoint> points;
  // One point per 60/64 s at most: readings 0.1 s apart collapse.
  for (int i = 0; i < 100; ++i) {
    const absl::Time t = kNow + absl::Milliseconds(100 * i);
    RememberLoad(points, t, i, /*now=*/t, kHistory);
  }
  EXPECT_EQ(points.size(), 10u);  // 0, 1.0, 2.0, ... 9.0 s (0.9375 s apart)
  // Points older than the history go.
  RememberLoad(points, kNow + absl::Seconds(70), 1, kNow + absl::Seconds(70),
               kHistory);
  ASSERT_FALSE(points.empty());
  EXPECT_GE(points.front().time, kNow + absl::Seconds(10));
  EXPECT_EQ(points.back().load, 1);
  // A reading already older than the history is not kept; nor a NaN.
  const size_t n = points.size();
  RememberLoad(points, kNow - absl::Seconds(1), 5, kNow + absl::Seconds(70),
               kHistory);
  RememberLoad(points, kNow + absl::Seconds(80), std::nan(""),
               kNow + absl::Seconds(80), kHistory);
  EXPECT_EQ(points.size(), n);
}

TEST(ForecastTest, AFuturePointDoesNotKeepLaterReadingsOut) {
  // A stored point 10 minutes ahead (another replica's clock): it goes at
  // the next reading, which is kept.
  std::deque<LoadPoint> points = {{kNow + absl::Minutes(10), 500}};
  RememberLoad(points, kNow, 100, kNow, kHistory);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].time, kNow);
  // A reading stamped ahead of now by its source's clock counts as now.
  points.clear();
  RememberLoad(points, kNow + absl::Seconds(3), 100, kNow, kHistory);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].time, kNow);
}

TEST(ForecastTest, AtMostTheNewestKMaxForecastPoints) {
  // A history merged from two replicas (or read from a store) may hold more
  // points, closer together, until it is thinned: the fit reads the newest
  // 64, and the next reading trims it to 64.
  std::deque<LoadPoint> points;
  for (int i = 0; i < 200; ++i) {
    points.push_back({kNow - absl::Milliseconds(250 * (200 - i)), 100.0 + i});
  }
  // 200 points 0.25 s apart ending at now - 0.25 s: a clean ramp of 4/s.
  const std::optional<Trend> t =
      ProjectLoad(points, kNow, kLead, absl::Seconds(30));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->points, kMaxForecastPoints);
  EXPECT_NEAR(t->slope_per_second, 4.0, 1e-9);
  RememberLoad(points, kNow + absl::Seconds(1), 1000, kNow + absl::Seconds(1),
               absl::Seconds(600));
  EXPECT_EQ(points.size(), kMaxForecastPoints);
}

}  // namespace
}  // namespace signalscaler::engine_internal
