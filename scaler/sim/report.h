// The picture of a run: demand, our ready replicas and each baseline's (the
// oracle's among them) over time, with our decisions' reasons as markers.
// Recorded in bounded memory: time is cut into at most kMaxBuckets buckets
// whose width doubles (merging pairs) as the trace goes on, each keeping min,
// max and mean per series.
//
//   ReportRecorder rec({"demand", "signalscaler", "hpa-cpu"});
//   rec.Record(t0_us, t1_us, {3, 2, 2});      // constant over [t0, t1)
//   rec.Mark(t_us, +1, mask);                 // a decision of ours
//   std::string svg = rec.Svg(info);          // or Html(info)
#ifndef SIGNALSCALER_SCALER_SIM_REPORT_H_
#define SIGNALSCALER_SCALER_SIM_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace signalscaler::sim {

struct ReportInfo {
  std::string title;     // e.g. "voice/voice-agent on voice-agent-ramp.csv"
  std::string subtitle;  // tick, pod startup
  std::vector<std::string> table_lines;  // the summary table (HTML only)
  std::vector<std::string> notes;
};

// Not thread-safe.
class ReportRecorder {
 public:
  static constexpr int kMaxBuckets = 600;

  // Series 0 is the demand, 1 ours, then the baselines; one named "oracle"
  // (--compare oracle) is drawn in a style of its own, finely dotted, and so
  // is one named "actual" (the replicas the cluster ran), solid in teal.
  explicit ReportRecorder(std::vector<std::string> series);

  void Record(int64_t t0_us, int64_t t1_us, const std::vector<double>& values);
  // A tick of ours: `direction` +1 scaled up, -1 down, 0 unchanged;
  // `reason_mask` has bit ReasonCode set for each reason of the decision.
  void Mark(int64_t t_us, int direction, uint32_t reason_mask);

  // A self-contained SVG document (no script, no external reference).
  std::string Svg(const ReportInfo& info) const;
  // An HTML page with the SVG inline and the summary table.
  std::string Html(const ReportInfo& info) const;

 private:
  struct Stat {
    double min = 0;
    double max = 0;
    double weighted = 0;  // sum of value x covered microseconds
  };
  struct Bucket {
    int64_t covered_us = 0;
    std::vector<Stat> stats;
    int ups = 0;
    int downs = 0;
    uint32_t reasons = 0;
  };
  struct Frame;  // where the picture puts a time and a count (report.cc)
  void Grow(int64_t t_us);
  static void MergeInto(Bucket& into, const Bucket& from);
  // The parts of Svg(), in the order it draws them (the legend is not the
  // recorder's: report.cc's AppendLegend).
  Frame FrameOf() const;
  static void AppendAxes(const Frame& frame, std::string& svg);
  void AppendSeries(const Frame& frame, std::string& svg) const;
  void AppendMarkers(const Frame& frame, std::string& svg) const;

  std::vector<std::string> series_;
  std::vector<Bucket> buckets_;
  int64_t width_us_;
  int64_t end_us_ = 0;
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_REPORT_H_
