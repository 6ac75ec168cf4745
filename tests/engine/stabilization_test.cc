// Step 4 of "Decision (normative)": the stabilization envelope's edges.
#include "scaler/engine/internal/stabilization.h"

#include <deque>

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

}  // namespace
}  // namespace signalscaler
