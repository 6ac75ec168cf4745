// The pure helpers behind `signalscaler trace` (scaler/sim/history_trace.h),
// without Prometheus: gaps held and counted, each signal's column in the unit
// simulate reads it in, and the CSV (header, rows at exactly k x step).
// tests/cli/trace_test.cc covers the same path end to end on a real
// Prometheus (and the NOT_FOUND message naming the signal, which
// scaler/cli/trace_fetch.cc adds). Every expected value is worked out by
// hand in the comments.
#include "scaler/sim/history_trace.h"

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/policy.pb.h"

namespace signalscaler::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::nullopt_t kGap = std::nullopt;

v1::Signal MakeSignal(const std::string& name, v1::Signal::Type type) {
  v1::Signal s;
  s.set_name(name);
  s.set_type(type);
  return s;
}

v1::Signal HeadroomSignal(const std::string& name, double capacity) {
  v1::Signal s = MakeSignal(name, v1::Signal::Headroom);
  s.set_capacity_per_replica(capacity);
  return s;
}

// A trace on a grid of `step_ms` with `signals` (one column each).
HistoryTrace Trace(int64_t step_ms, std::vector<std::vector<double>> signals) {
  HistoryTrace h;
  h.step_ms = step_ms;
  h.signals = std::move(signals);
  return h;
}

std::string Write(const v1::PolicySpec& spec, const HistoryTrace& trace) {
  std::ostringstream out;
  WriteHistoryTrace(spec, trace, out);
  return out.str();
}

// --- HoldGaps ---------------------------------------------------------------

TEST(HoldGapsTest, NoGapKeepsEveryValue) {
  absl::StatusOr<HeldSeries> s = HoldGaps({1.5, 2, 0.25});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->values, ElementsAre(1.5, 2, 0.25));
  EXPECT_EQ(s->gaps, 0);
}

TEST(HoldGapsTest, LeadingGapsTakeTheFirstSample) {
  // Points 0 and 1 have no sample: both take the first sample, 7.
  absl::StatusOr<HeldSeries> s = HoldGaps({kGap, kGap, 7, 8});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->values, ElementsAre(7, 7, 7, 8));
  EXPECT_EQ(s->gaps, 2);
}

TEST(HoldGapsTest, MiddleAndTrailingGapsHoldTheValueBefore) {
  // 3, [gap -> 3], [gap -> 3], 5, [gap -> 5]: 3 gaps.
  absl::StatusOr<HeldSeries> s = HoldGaps({3, kGap, kGap, 5, kGap});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->values, ElementsAre(3, 3, 3, 5, 5));
  EXPECT_EQ(s->gaps, 3);
}

TEST(HoldGapsTest, AllKindsOfGapsTogether) {
  // gap -> 4 (the first sample), 4, gap -> 4, 0, gap -> 0, gap -> 0, 9:
  // 4 gaps; 0 is a sample like any other (it is held, not skipped).
  absl::StatusOr<HeldSeries> s = HoldGaps({kGap, 4, kGap, 0, kGap, kGap, 9});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->values, ElementsAre(4, 4, 4, 0, 0, 0, 9));
  EXPECT_EQ(s->gaps, 4);
}

TEST(HoldGapsTest, ASingleSampleFillsTheWholeGrid) {
  absl::StatusOr<HeldSeries> s = HoldGaps({kGap, kGap, -2, kGap});
  ASSERT_TRUE(s.ok()) << s.status();
  // HoldGaps holds values as they are (no clamping: TraceColumn does that).
  EXPECT_THAT(s->values, ElementsAre(-2, -2, -2, -2));
  EXPECT_EQ(s->gaps, 3);
}

TEST(HoldGapsTest, NoSampleAtAllIsNotFound) {
  absl::StatusOr<HeldSeries> s = HoldGaps({kGap, kGap, kGap});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("no sample"));
}

TEST(HoldGapsTest, AnEmptyGridIsNotFound) {
  absl::StatusOr<HeldSeries> s = HoldGaps({});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

// --- TraceColumn and NeedsReady ---------------------------------------------

TEST(TraceColumnTest, TotalIsTheValueWhateverTheReadyCount) {
  const v1::Signal tot = MakeSignal("tot", v1::Signal::Total);
  EXPECT_EQ(TraceColumn(tot, 42.5, 0), 42.5);
  EXPECT_EQ(TraceColumn(tot, 42.5, 7), 42.5);
  EXPECT_EQ(TraceColumn(tot, 0, 3), 0);
  // A negative reading is clamped to 0 (the code's max(0, value)).
  EXPECT_EQ(TraceColumn(tot, -3, 2), 0);
}

TEST(TraceColumnTest, AverageIsValueTimesReady) {
  const v1::Signal cpu = MakeSignal("cpu", v1::Signal::Average);
  EXPECT_EQ(TraceColumn(cpu, 0.5, 4), 2);    // 0.5 x 4 = 2
  EXPECT_EQ(TraceColumn(cpu, 1.25, 8), 10);  // 1.25 x 8 = 10
  EXPECT_EQ(TraceColumn(cpu, 80, 3), 240);   // 80 x 3 = 240
  // No ready pod: 0 (not an error; simulate reads no value at 0 ready).
  EXPECT_EQ(TraceColumn(cpu, 0.9, 0), 0);
  EXPECT_EQ(TraceColumn(cpu, -0.5, 4), 0);  // -2 clamped to 0
}

TEST(TraceColumnTest, HeadroomIsCapacityInUse) {
  const v1::Signal spare = HeadroomSignal("spare", 10);
  EXPECT_EQ(TraceColumn(spare, 4, 3), 26);  // 3 x 10 - 4 = 26
  EXPECT_EQ(TraceColumn(spare, 30, 3), 0);  // 3 x 10 - 30 = 0: all spare
  EXPECT_EQ(TraceColumn(spare, 0, 2), 20);  // 2 x 10 - 0: nothing spare
  // More spare than capacity (a stale reading): max(0, 3 x 10 - 35) = 0.
  EXPECT_EQ(TraceColumn(spare, 35, 3), 0);
  EXPECT_EQ(TraceColumn(spare, 5, 0), 0);  // max(0, 0 x 10 - 5) = 0
}

TEST(TraceColumnTest, HeadroomDefaultsToOnePerReplica) {
  // No capacityPerReplica: 1 (kDefaultCapacityPerReplica).
  const v1::Signal workers = MakeSignal("workers", v1::Signal::Headroom);
  EXPECT_EQ(TraceColumn(workers, 2, 5), 3);  // 5 x 1 - 2 = 3
  EXPECT_EQ(TraceColumn(workers, 5, 5), 0);  // 5 x 1 - 5 = 0
}

TEST(TraceColumnTest, NeedsReadyForAverageAndHeadroomOnly) {
  EXPECT_FALSE(NeedsReady(MakeSignal("t", v1::Signal::Total)));
  EXPECT_TRUE(NeedsReady(MakeSignal("a", v1::Signal::Average)));
  EXPECT_TRUE(NeedsReady(MakeSignal("h", v1::Signal::Headroom)));
}

// --- WriteHistoryTrace ------------------------------------------------------

// tot (Total), cpu (Average), spare (Headroom, 10 per replica).
v1::PolicySpec ThreeSignals() {
  v1::PolicySpec spec;
  *spec.add_signals() = MakeSignal("tot", v1::Signal::Total);
  *spec.add_signals() = MakeSignal("cpu", v1::Signal::Average);
  *spec.add_signals() = HeadroomSignal("spare", 10);
  return spec;
}

// tot (Total) alone.
v1::PolicySpec OneTotal() {
  v1::PolicySpec spec;
  *spec.add_signals() = MakeSignal("tot", v1::Signal::Total);
  return spec;
}

TEST(WriteHistoryTraceTest, EveryColumnInSimulatesUnit) {
  HistoryTrace h;
  h.step_ms = 15000;
  h.comments = {"first line", "second line"};
  h.signals = {{5, 6, 7}, {0.5, 0.25, 0.75}, {4, 0, 25}};
  h.ready = std::vector<double>{2, 4, 3};
  h.replicas = std::vector<double>{3, 4, 4};
  h.demand = std::vector<double>{1, 2, 3};
  // Row k at k x 15 s. Average with ready r: value x r; Headroom: r x 10 -
  // spare.
  //   t=0:  tot 5, cpu 0.5 x 2 = 1,    spare 2 x 10 - 4 = 16
  //   t=15: tot 6, cpu 0.25 x 4 = 1,   spare 4 x 10 - 0 = 40
  //   t=30: tot 7, cpu 0.75 x 3 = 2.25, spare 3 x 10 - 25 = 5
  EXPECT_EQ(Write(ThreeSignals(), h),
            "# first line\n"
            "# second line\n"
            "t,tot,cpu,spare,demand,actual,actual_ready\n"
            "0,5,1,16,1,3,2\n"
            "15,6,1,40,2,4,4\n"
            "30,7,2.25,5,3,4,3\n");
}

TEST(WriteHistoryTraceTest, ReadyComesFromReplicasWhenNoReadySeries) {
  HistoryTrace h = Trace(60000, {{1, 1}, {0.5, 2}, {3, 50}});
  h.replicas = std::vector<double>{2, 5};
  // No ready series: the columns read the replicas, no actual_ready column.
  //   t=0:  cpu 0.5 x 2 = 1, spare 2 x 10 - 3 = 17
  //   t=60: cpu 2 x 5 = 10,  spare max(0, 5 x 10 - 50) = 0
  EXPECT_EQ(Write(ThreeSignals(), h),
            "t,tot,cpu,spare,actual\n"
            "0,1,1,17,2\n"
            "60,1,10,0,5\n");
}

TEST(WriteHistoryTraceTest, ReadyAloneFeedsTheColumnsButIsNotWritten) {
  HistoryTrace h = Trace(1000, {{2}, {0.5}, {1}});
  h.ready = std::vector<double>{4};
  // actual_ready is written only beside actual (both known): neither here.
  //   cpu 0.5 x 4 = 2, spare 4 x 10 - 1 = 39
  EXPECT_EQ(Write(ThreeSignals(), h),
            "t,tot,cpu,spare\n"
            "0,2,2,39\n");
}

TEST(WriteHistoryTraceTest, WithoutAnyReadyCountTheColumnsAreZero) {
  // The caller refuses this (trace_fetch.cc); the writer takes 0 ready:
  // cpu 0.5 x 0 = 0, spare max(0, 0 x 10 - 1) = 0; tot is as is.
  HistoryTrace h = Trace(1000, {{2}, {0.5}, {1}});
  EXPECT_EQ(Write(ThreeSignals(), h),
            "t,tot,cpu,spare\n"
            "0,2,0,0\n");
}

TEST(WriteHistoryTraceTest, ReadyIsRoundedForTheColumnsAndWrittenAsIs) {
  // Prometheus' ready counts can be averages (2.6, 1.4); the columns take
  // the nearest whole count, round(2.6) = 3 and round(1.4) = 1, and a
  // negative one is 0. actual / actual_ready are written as read, except
  // below 0 (clamped to 0).
  //   cpu: 1 x 3 = 3; 1 x 1 = 1; 1 x 0 = 0
  //   spare: 3 x 10 - 5 = 25; 1 x 10 - 5 = 5; max(0, 0 - 5) = 0
  HistoryTrace h = Trace(1000, {{0, 0, 0}, {1, 1, 1}, {5, 5, 5}});
  h.ready = std::vector<double>{2.6, 1.4, -1};
  h.replicas = std::vector<double>{3, 2, -2};
  EXPECT_EQ(Write(ThreeSignals(), h),
            "t,tot,cpu,spare,actual,actual_ready\n"
            "0,0,3,25,3,2.6\n"
            "1,0,1,5,2,1.4\n"
            "2,0,0,0,0,0\n");
}

TEST(WriteHistoryTraceTest, NegativeDemandAndSignalsAreClampedToZero) {
  const v1::PolicySpec spec = OneTotal();
  HistoryTrace h = Trace(5000, {{-1, 2}});
  h.demand = std::vector<double>{-3, 4};
  EXPECT_EQ(Write(spec, h),
            "t,tot,demand\n"
            "0,0,0\n"
            "5,2,4\n");
}

TEST(WriteHistoryTraceTest, NumbersAreShortDecimals) {
  // 0.1 x 3 is 0.30000000000000004 in doubles; %.15g writes 0.3. 1/3 has
  // 15 significant digits: 0.333333333333333. 1e6 is 1000000 (not 1e+06,
  // %.15g switches to an exponent past 15 digits only).
  v1::PolicySpec spec;
  *spec.add_signals() = MakeSignal("tot", v1::Signal::Total);
  *spec.add_signals() = MakeSignal("cpu", v1::Signal::Average);
  HistoryTrace h = Trace(1000, {{1.0 / 3, 1e6}, {0.1, 0.1}});
  h.ready = std::vector<double>{3, 3};
  EXPECT_EQ(Write(spec, h),
            "t,tot,cpu\n"
            "0,0.333333333333333,0.3\n"
            "1,1000000,0.3\n");
}

TEST(WriteHistoryTraceTest, RowTimesAreExactMultiplesOfTheStep) {
  // A sub-second step: row k at k x 1.5 s, written with 3 decimals when not
  // whole seconds: 0, 1.500, 3, 4.500.
  const v1::PolicySpec spec = OneTotal();
  HistoryTrace h = Trace(1500, {{1, 2, 3, 4}});
  EXPECT_EQ(Write(spec, h),
            "t,tot\n"
            "0,1\n"
            "1.500,2\n"
            "3,3\n"
            "4.500,4\n");
}

TEST(WriteHistoryTraceTest, RowTimesDoNotDriftOverManyRows) {
  // Step 0.1 s over 10,001 rows: summing 0.1 s ten thousand times in doubles
  // drifts; k x 100 ms does not. Row 3 is at 300 ms ("0.300"), row 10 at
  // 1000 ms ("1"), row 9999 at 999,900 ms ("999.900"), row 10,000 at
  // 1,000,000 ms ("1000").
  const v1::PolicySpec spec = OneTotal();
  HistoryTrace h = Trace(100, {std::vector<double>(10001, 1)});
  std::istringstream in(Write(spec, h));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 10002u);  // the header and 10,001 rows
  EXPECT_EQ(lines[0], "t,tot");
  EXPECT_EQ(lines[1 + 3], "0.300,1");
  EXPECT_EQ(lines[1 + 10], "1,1");
  EXPECT_EQ(lines[1 + 9999], "999.900,1");
  EXPECT_EQ(lines[1 + 10000], "1000,1");
}

TEST(WriteHistoryTraceTest, NoRowsWithoutSignals) {
  // Rows are counted from the first signal; a spec without one writes only
  // the comments and header (validation requires a signal).
  HistoryTrace h;
  h.step_ms = 1000;
  h.comments = {"c"};
  h.demand = std::vector<double>{1, 2};
  EXPECT_EQ(Write(v1::PolicySpec(), h), "# c\nt,demand\n");
}

}  // namespace
}  // namespace signalscaler::sim
