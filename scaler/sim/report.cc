#include "scaler/sim/report.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "scaler/engine/decision.h"
#include "scaler/sim/trace.h"

namespace signalscaler::sim {
namespace {

constexpr double kWidth = 1000;
constexpr double kHeight = 480;
constexpr double kLeft = 60;
constexpr double kRight = 20;
constexpr double kTop = 80;
constexpr double kPlotBottom = 370;  // the x axis
constexpr double kLaneUp = 405;      // scale events
constexpr double kLaneWhy = 425;     // limits and holds
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kPlotBottom - kTop;
constexpr const char* kSeriesColors[] = {"#d62728", "#ff7f0e", "#2ca02c",
                                         "#9467bd", "#8c564b"};
constexpr char kOurColor[] = "#1f77b4";
constexpr char kOracleColor[] = "#222222";
constexpr char kOracleSeries[] = "oracle";  // sim::kOracleName
// The replicas the cluster ran (a trace's `actual` column): solid, teal.
constexpr char kActualColor[] = "#17becf";
constexpr char kActualSeries[] = "actual";
constexpr char kDemandColor[] = "#c8c8c8";

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string F(double v) { return absl::StrFormat("%.1f", v); }

// How series `i` (>= 1) is drawn: ours solid and bold, the oracle (the limit
// of reactive scaling) finely dotted in near-black, what the cluster really
// ran (`actual`) solid in teal, the baselines dashed in colors of their own.
struct LineStyle {
  const char* color;
  const char* width;
  const char* dash;  // an attribute, or ""
};
LineStyle StyleOf(size_t i, size_t baseline, const std::string& name) {
  if (i == 1) return {kOurColor, "2.5", ""};
  if (name == kOracleSeries) {
    return {kOracleColor, "1.8", " stroke-dasharray=\"2 3\""};
  }
  if (name == kActualSeries) return {kActualColor, "2", ""};
  return {kSeriesColors[baseline % 5], "1.6", " stroke-dasharray=\"6 3\""};
}

// Each series' style, its baselines colored in order (the oracle takes no
// color of theirs).
std::vector<LineStyle> Styles(const std::vector<std::string>& series) {
  std::vector<LineStyle> out(series.size(), LineStyle{"", "", ""});
  size_t baseline = 0;
  for (size_t i = 1; i < series.size(); ++i) {
    out[i] = StyleOf(i, baseline, series[i]);
    if (i > 1 && series[i] != kOracleSeries && series[i] != kActualSeries) {
      ++baseline;
    }
  }
  return out;
}

uint32_t Bit(ReasonCode c) { return uint32_t{1} << static_cast<int>(c); }

// Reasons that held a needed scale-up back (the policy was late), kept a
// scale-down from happening (it may have been wasteful), or held a signal.
const uint32_t kLateMask =
    Bit(ReasonCode::kUpWindow) | Bit(ReasonCode::kRateLimitedUp) |
    Bit(ReasonCode::kCappedByLimit) | Bit(ReasonCode::kClampedToMax);
const uint32_t kKeptMask =
    Bit(ReasonCode::kDownWindow) | Bit(ReasonCode::kRateLimitedDown);
const uint32_t kHeldMask = Bit(ReasonCode::kSignalHeld);

std::string ReasonNames(uint32_t mask) {
  std::vector<std::string> names;
  for (int i = 0; i < 32; ++i) {
    if (mask & (uint32_t{1} << i)) {
      names.push_back(ReasonCodeName(static_cast<ReasonCode>(i)));
    }
  }
  return absl::StrJoin(names, ", ");
}

double NiceStep(double span, int max_ticks, const std::vector<double>& steps) {
  for (double s : steps) {
    if (span / s <= max_ticks) return s;
  }
  return steps.back() * std::max(1.0, span / (steps.back() * max_ticks));
}

std::string TimeLabel(double seconds, double end_seconds) {
  if (end_seconds <= 600) return absl::StrFormat("%g s", seconds);
  if (end_seconds <= 3 * 3600) return absl::StrFormat("%g min", seconds / 60);
  return absl::StrFormat("%g h", seconds / 3600);
}

// The legend above the plot, and the key to the markers below it.
void AppendLegend(const std::vector<std::string>& series, std::string& o) {
  const std::vector<LineStyle> styles = Styles(series);
  double lx = kLeft;
  const auto legend = [&](const std::string& label, const std::string& swatch) {
    absl::StrAppend(&o, swatch,
                    absl::StrFormat("<text x=\"%s\" y=\"%s\">%s</text>\n",
                                    F(lx + 22), F(kTop - 16), Escape(label)));
    lx += 30 + 7.0 * static_cast<double>(label.size());
  };
  const auto line = [&](const LineStyle& style) {
    return absl::StrFormat(
        "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" "
        "stroke-width=\"2.5\"%s/>",
        F(lx), F(kTop - 20), F(lx + 18), F(kTop - 20), style.color, style.dash);
  };
  legend("demand", absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"18\" "
                                   "height=\"9\" fill=\"%s\"/>",
                                   F(lx), F(kTop - 25), kDemandColor));
  for (size_t i = 1; i < series.size(); ++i) {
    legend(series[i] + " ready", line(styles[i]));
  }
  absl::StrAppend(
      &o, absl::StrFormat(
              "<text x=\"%s\" y=\"%s\" fill=\"#555\">markers (ours): green up "
              "/ blue down; red: held back (up window, rate limit, cap), "
              "orange: a signal held, grey: kept up (down window, rate "
              "limit)</text>\n",
              F(kLeft), F(kLaneWhy + 28)));
}

}  // namespace

ReportRecorder::ReportRecorder(std::vector<std::string> series)
    : series_(std::move(series)), width_us_(kMicrosPerSecond) {}

void ReportRecorder::MergeInto(Bucket& into, const Bucket& from) {
  if (from.covered_us == 0) return;
  if (into.covered_us == 0) {
    into = from;
    return;
  }
  for (size_t i = 0; i < into.stats.size(); ++i) {
    into.stats[i].min = std::min(into.stats[i].min, from.stats[i].min);
    into.stats[i].max = std::max(into.stats[i].max, from.stats[i].max);
    into.stats[i].weighted += from.stats[i].weighted;
  }
  into.covered_us += from.covered_us;
  into.ups += from.ups;
  into.downs += from.downs;
  into.reasons |= from.reasons;
}

void ReportRecorder::Grow(int64_t t_us) {
  while (t_us / width_us_ >= kMaxBuckets) {
    std::vector<Bucket> merged((buckets_.size() + 1) / 2);
    for (size_t i = 0; i < buckets_.size(); ++i) {
      MergeInto(merged[i / 2], buckets_[i]);
    }
    buckets_ = std::move(merged);
    width_us_ *= 2;
  }
  const size_t needed = static_cast<size_t>(t_us / width_us_) + 1;
  if (buckets_.size() < needed) buckets_.resize(needed);
}

void ReportRecorder::Record(int64_t t0_us, int64_t t1_us,
                            const std::vector<double>& values) {
  if (t1_us <= t0_us) return;
  Grow(t1_us - 1);
  end_us_ = std::max(end_us_, t1_us);
  for (int64_t b = t0_us / width_us_; b <= (t1_us - 1) / width_us_; ++b) {
    const int64_t covered =
        std::min(t1_us, (b + 1) * width_us_) - std::max(t0_us, b * width_us_);
    Bucket& bucket = buckets_[b];
    if (bucket.covered_us == 0) {
      bucket.stats.assign(series_.size(), Stat{});
      for (size_t i = 0; i < values.size(); ++i) {
        bucket.stats[i].min = bucket.stats[i].max = values[i];
      }
    }
    for (size_t i = 0; i < values.size(); ++i) {
      Stat& s = bucket.stats[i];
      s.min = std::min(s.min, values[i]);
      s.max = std::max(s.max, values[i]);
      s.weighted += values[i] * static_cast<double>(covered);
    }
    bucket.covered_us += covered;
  }
}

void ReportRecorder::Mark(int64_t t_us, int direction, uint32_t reason_mask) {
  Grow(t_us);
  Bucket& b = buckets_[t_us / width_us_];
  if (direction > 0) ++b.ups;
  if (direction < 0) ++b.downs;
  b.reasons |= reason_mask;
}

// Where the picture puts a time (seconds) and a replica count.
struct ReportRecorder::Frame {
  double end_s;     // the x axis' end: the trace's (at least 1 s)
  double ymax;      // the y axis' top: a whole number of ysteps
  double ystep;     // between grid lines
  double bucket_s;  // a bucket's width
  double X(double s) const { return kLeft + kPlotWidth * s / end_s; }
  double Y(double v) const { return kPlotBottom - kPlotHeight * v / ymax; }
};

ReportRecorder::Frame ReportRecorder::FrameOf() const {
  Frame f;
  f.end_s = std::max<double>(
      1, static_cast<double>(end_us_) / static_cast<double>(kMicrosPerSecond));
  double ymax = 1;
  for (const Bucket& b : buckets_) {
    for (const Stat& s : b.stats) ymax = std::max(ymax, s.max);
  }
  f.ystep = NiceStep(ymax, 8, {1, 2, 5, 10, 20, 50, 100, 200, 500});
  f.ymax = f.ystep * std::ceil(ymax / f.ystep + 0.05);
  f.bucket_s =
      static_cast<double>(width_us_) / static_cast<double>(kMicrosPerSecond);
  return f;
}

// The grid, its labels and the axes.
void ReportRecorder::AppendAxes(const Frame& f, std::string& o) {
  for (double v = 0; v <= f.ymax + 1e-9; v += f.ystep) {
    absl::StrAppend(
        &o, absl::StrFormat("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" "
                            "stroke=\"#eee\"/><text x=\"%s\" y=\"%s\" "
                            "text-anchor=\"end\">%g</text>\n",
                            F(kLeft), F(f.Y(v)), F(kLeft + kPlotWidth),
                            F(f.Y(v)), F(kLeft - 6), F(f.Y(v) + 4), v));
  }
  const double xstep = NiceStep(f.end_s, 10,
                                {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
                                 1800, 3600, 7200, 10800, 21600, 43200, 86400});
  for (double s = 0; s <= f.end_s + 1e-9; s += xstep) {
    absl::StrAppend(
        &o, absl::StrFormat("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" "
                            "stroke=\"#999\"/><text x=\"%s\" y=\"%s\" "
                            "text-anchor=\"middle\">%s</text>\n",
                            F(f.X(s)), F(kPlotBottom), F(f.X(s)),
                            F(kPlotBottom + 5), F(f.X(s)), F(kPlotBottom + 18),
                            Escape(TimeLabel(s, f.end_s))));
  }
  absl::StrAppend(
      &o,
      absl::StrFormat(
          "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#333\"/>\n"
          "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#333\"/>\n"
          "<text x=\"14\" y=\"%s\" transform=\"rotate(-90 14 %s)\" "
          "text-anchor=\"middle\">replicas</text>\n"
          "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">time</text>\n",
          F(kLeft), F(kTop), F(kLeft), F(kPlotBottom), F(kLeft), F(kPlotBottom),
          F(kLeft + kPlotWidth), F(kPlotBottom), F((kTop + kPlotBottom) / 2),
          F((kTop + kPlotBottom) / 2), F(kLeft + kPlotWidth),
          F(kPlotBottom + 32)));
}

// Series as steps: demand's peak as an area, the others' means as lines.
void ReportRecorder::AppendSeries(const Frame& f, std::string& o) const {
  const std::vector<LineStyle> styles = Styles(series_);
  for (size_t i = 0; i < series_.size(); ++i) {
    std::string points;
    double first_x = -1;
    double last_x = kLeft;
    for (size_t b = 0; b < buckets_.size(); ++b) {
      const Bucket& k = buckets_[b];
      if (k.covered_us == 0) continue;
      const double v =
          i == 0 ? k.stats[i].max
                 : k.stats[i].weighted / static_cast<double>(k.covered_us);
      const double x0 = f.X(static_cast<double>(b) * f.bucket_s);
      const double x1 =
          f.X(std::min(f.end_s, static_cast<double>(b + 1) * f.bucket_s));
      if (first_x < 0) first_x = x0;
      absl::StrAppend(&points, F(x0), ",", F(f.Y(v)), " ", F(x1), ",",
                      F(f.Y(v)), " ");
      last_x = x1;
    }
    if (first_x < 0) continue;
    if (i == 0) {
      absl::StrAppend(
          &o, absl::StrFormat("<polygon points=\"%s,%s %s%s,%s\" fill=\"%s\" "
                              "stroke=\"none\"><title>demand</title>"
                              "</polygon>\n",
                              F(first_x), F(kPlotBottom), points, F(last_x),
                              F(kPlotBottom), kDemandColor));
    } else {
      absl::StrAppend(
          &o, absl::StrFormat(
                  "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" "
                  "stroke-width=\"%s\"%s><title>%s ready</title></polyline>\n",
                  points, styles[i].color, styles[i].width, styles[i].dash,
                  Escape(series_[i])));
    }
  }
}

// Markers: our scale events, and what held or limited our decisions.
void ReportRecorder::AppendMarkers(const Frame& f, std::string& o) const {
  absl::StrAppend(
      &o, absl::StrFormat("<text x=\"%s\" y=\"%s\" text-anchor=\"end\" "
                          "fill=\"#555\">scaled</text><text x=\"%s\" "
                          "y=\"%s\" text-anchor=\"end\" fill=\"#555\">why"
                          "</text>\n",
                          F(kLeft - 6), F(kLaneUp + 4), F(kLeft - 6),
                          F(kLaneWhy + 4)));
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const Bucket& k = buckets_[b];
    const double cx =
        f.X(std::min(f.end_s, (static_cast<double>(b) + 0.5) * f.bucket_s));
    const std::string why = Escape(ReasonNames(k.reasons));
    if (k.ups > 0) {
      absl::StrAppend(
          &o, absl::StrFormat("<path d=\"M%s %s l4 7 h-8 z\" fill=\"#2ca02c\">"
                              "<title>%d up: %s</title></path>\n",
                              F(cx), F(kLaneUp - 7), k.ups, why));
    }
    if (k.downs > 0) {
      absl::StrAppend(
          &o, absl::StrFormat("<path d=\"M%s %s l4 -7 h-8 z\" fill=\"%s\">"
                              "<title>%d down: %s</title></path>\n",
                              F(cx), F(kLaneUp + 7), kOurColor, k.downs, why));
    }
    const char* color = (k.reasons & kLateMask)   ? "#d62728"
                        : (k.reasons & kHeldMask) ? "#ff7f0e"
                        : (k.reasons & kKeptMask) ? "#7f7f7f"
                                                  : nullptr;
    if (color != nullptr) {
      absl::StrAppend(
          &o,
          absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"3\" height=\"8\" "
                          "fill=\"%s\"><title>%s</title></rect>\n",
                          F(cx - 1.5), F(kLaneWhy - 4), color, why));
    }
  }
}

std::string ReportRecorder::Svg(const ReportInfo& info) const {
  std::string o = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%g\" y=\"20\" font-size=\"15\" font-weight=\"bold\">%s</text>"
      "\n<text x=\"%g\" y=\"38\" fill=\"#555\">%s</text>\n",
      kWidth, kHeight, kWidth, kHeight, kLeft, Escape(info.title), kLeft,
      Escape(info.subtitle));
  const Frame frame = FrameOf();
  AppendAxes(frame, o);
  AppendSeries(frame, o);
  AppendMarkers(frame, o);
  AppendLegend(series_, o);
  absl::StrAppend(&o, "</svg>\n");
  return o;
}

std::string ReportRecorder::Html(const ReportInfo& info) const {
  std::string o = absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>",
      Escape(info.title),
      "</title></head>\n<body style=\"font-family:sans-serif\">\n", Svg(info),
      "<pre>\n");
  for (const std::string& l : info.table_lines) {
    absl::StrAppend(&o, Escape(l), "\n");
  }
  for (const std::string& n : info.notes) absl::StrAppend(&o, Escape(n), "\n");
  absl::StrAppend(&o, "</pre>\n</body></html>\n");
  return o;
}

}  // namespace signalscaler::sim
