// Step 4 of "Decision (normative)": the stabilization envelope's edges.
#include "scaler/engine/internal/stabilization.h"

#include <algorithm>
#include <deque>
#include <random>

#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using engine_internal::Envelope;
using engine_internal::Stabilize;
using testing::T;

TEST(Stabilize, EnvelopeRaisesToUpAndLowersToDown) {
  // recs 5@90, 9@95; now 100, desired 7, up window 15, down window 30:
  // up = min(7, 5, 9) = 5, down = max(7, 5, 9) = 9.
  std::deque<Recommendation> recs = {{T(90), 5}, {T(95), 9}};
  Envelope e = Stabilize(recs, /*current=*/3, 7, absl::Seconds(15),
                         absl::Seconds(30), T(100));
  EXPECT_EQ(e.up, 5);
  EXPECT_EQ(e.down, 9);
  EXPECT_EQ(e.result, 5);  // 3 raised to 5
  recs = {{T(90), 5}, {T(95), 9}};
  e = Stabilize(recs, 12, 7, absl::Seconds(15), absl::Seconds(30), T(100));
  EXPECT_EQ(e.result, 9);  // 12 lowered to 9
  recs = {{T(90), 5}, {T(95), 9}};
  e = Stabilize(recs, 6, 7, absl::Seconds(15), absl::Seconds(30), T(100));
  EXPECT_EQ(e.result, 6);  // inside the envelope: unchanged
}

TEST(Stabilize, CutoffIsExclusiveAndNowAlwaysCounts) {
  // A rec exactly `window` old is out (as the HPA's After(cutoff)).
  std::deque<Recommendation> recs = {{T(70), 9}};
  Envelope e =
      Stabilize(recs, 9, 2, absl::Seconds(0), absl::Seconds(30), T(100));
  EXPECT_EQ(e.down, 2);
  EXPECT_EQ(e.result, 2);
  // One second younger, it holds.
  recs = {{T(71), 9}};
  e = Stabilize(recs, 9, 2, absl::Seconds(0), absl::Seconds(30), T(100));
  EXPECT_EQ(e.result, 9);
  // Windows 0: only the desired of now counts.
  recs = {{T(99), 1}};
  e = Stabilize(recs, 4, 6, absl::ZeroDuration(), absl::ZeroDuration(), T(100));
  EXPECT_EQ(e.result, 6);
}

TEST(Stabilize, RecordsAndPrunesBeyondLongestWindow) {
  std::deque<Recommendation> recs = {{T(10), 1}, {T(40), 2}, {T(80), 3}};
  // Longest window 60 at now 100: 10 and 40 (= cutoff) go, 80 stays.
  Stabilize(recs, 3, 4, absl::Seconds(15), absl::Seconds(60), T(100));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].time, T(80));
  EXPECT_EQ(recs[1].time, T(100));
  EXPECT_EQ(recs[1].replicas, 4);
}

TEST(Stabilize, ARunOfEqualRecommendationsKeepsItsFirstAndLast) {
  std::deque<Recommendation> recs;
  for (int t = 1; t <= 100; ++t) {
    Stabilize(recs, 4, 4, absl::Seconds(15), absl::Seconds(300), T(t));
  }
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].time, T(1));
  EXPECT_EQ(recs[1].time, T(100));
  // Another value starts a new run; the old one keeps its two ends.
  Stabilize(recs, 4, 6, absl::Seconds(15), absl::Seconds(300), T(101));
  Stabilize(recs, 4, 6, absl::Seconds(15), absl::Seconds(300), T(102));
  Stabilize(recs, 4, 6, absl::Seconds(15), absl::Seconds(300), T(103));
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[1].time, T(100));
  EXPECT_EQ(recs[2].time, T(101));
  EXPECT_EQ(recs[3].time, T(103));
  EXPECT_EQ(recs[3].replicas, 6);
}

// Every envelope of the compacted history is the one the HPA's rule gives
// over every recommendation ever made (stabilizeRecommendationWithBehaviors:
// min over those After(now - upWindow), max over those After(now -
// downWindow), the one made now included), for random runs, windows and
// irregular evaluation times.
TEST(Stabilize, CompactionNeverChangesAnEnvelope) {
  std::mt19937 rng(20261202);
  for (int trial = 0; trial < 200; ++trial) {
    const absl::Duration up = absl::Seconds(rng() % 40);
    const absl::Duration down = absl::Seconds(rng() % 120);
    std::deque<Recommendation> recs;
    std::vector<Recommendation> all;
    int64_t desired = 1 + rng() % 5;
    int64_t current = desired;
    absl::Time now = T(1000);
    for (int step = 0; step < 300; ++step) {
      now += absl::Milliseconds(200 + rng() % 1800);
      if (rng() % 4 == 0) desired = 1 + rng() % 5;  // runs of a few steps
      int64_t want_up = desired;
      int64_t want_down = desired;
      for (const Recommendation& r : all) {
        if (r.time > now - up) want_up = std::min(want_up, r.replicas);
        if (r.time > now - down) want_down = std::max(want_down, r.replicas);
      }
      const Envelope e = Stabilize(recs, current, desired, up, down, now);
      all.push_back(Recommendation{now, desired});
      ASSERT_EQ(e.up, want_up) << "trial " << trial << " step " << step;
      ASSERT_EQ(e.down, want_down) << "trial " << trial << " step " << step;
      current = e.result;
    }
    // Never more than one per evaluation inside the longest window, and
    // usually far fewer.
    ASSERT_LE(recs.size(), all.size());
  }
}

}  // namespace
}  // namespace signalscaler
