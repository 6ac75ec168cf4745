#include "scaler/sim/summary.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "scaler/sim/trace.h"

namespace signalscaler::sim {

SummaryAccumulator::SummaryAccumulator(std::string name,
                                       int64_t reversal_window_us,
                                       int64_t initial_pods)
    : reversal_window_us_(reversal_window_us) {
  s_.name = std::move(name);
  s_.peak_replicas = initial_pods;
}

void SummaryAccumulator::Integrate(int64_t dt_us, double demand, int64_t ready,
                                   int64_t pods) {
  if (dt_us <= 0) return;
  const double dt = static_cast<double>(dt_us) / kMicrosPerSecond;
  const double r = static_cast<double>(ready);
  if (demand > r) {
    s_.under_provisioned_replica_seconds += (demand - r) * dt;
    s_.seconds_under_provisioned += dt;
  } else {
    s_.over_provisioned_replica_seconds += (r - demand) * dt;
  }
  s_.total_replica_seconds += static_cast<double>(pods) * dt;
}

void SummaryAccumulator::OnScale(int64_t t_us, int64_t from, int64_t to) {
  if (from == to) return;
  const int direction = to > from ? 1 : -1;
  ++s_.scale_events;
  if (last_direction_ != 0 && direction != last_direction_ &&
      t_us - last_event_us_ <= reversal_window_us_) {
    ++s_.direction_reversals;
  }
  last_direction_ = direction;
  last_event_us_ = t_us;
  s_.peak_replicas = std::max(s_.peak_replicas, to);
}

namespace {

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

std::string RatioCell(std::optional<double> r) {
  return r ? absl::StrFormat("%.2f", *r) : "-";
}

const Summary* FindOracle(const std::vector<Summary>& runs) {
  for (const Summary& s : runs) {
    if (s.oracle) return &s;
  }
  return nullptr;
}

}  // namespace

std::optional<double> OracleRatio(double figure, double oracle_figure) {
  if (!(oracle_figure > 0)) return std::nullopt;
  return figure / oracle_figure;
}

std::string SummaryTable(const std::vector<Summary>& runs) {
  struct Line {
    const char* label;
    std::vector<std::string> cells;
  };
  std::vector<Line> lines = {
      {"", {}},
      {"under-provisioned replica-seconds", {}},
      {"seconds under-provisioned", {}},
      {"over-provisioned replica-seconds", {}},
      {"total replica-seconds", {}},
      {"scale events", {}},
      {"direction reversals", {}},
      {"peak replicas", {}},
  };
  for (const Summary& s : runs) {
    lines[0].cells.push_back(s.name);
    lines[1].cells.push_back(Num(s.under_provisioned_replica_seconds));
    lines[2].cells.push_back(Num(s.seconds_under_provisioned));
    lines[3].cells.push_back(Num(s.over_provisioned_replica_seconds));
    lines[4].cells.push_back(Num(s.total_replica_seconds));
    lines[5].cells.push_back(absl::StrCat(s.scale_events));
    lines[6].cells.push_back(absl::StrCat(s.direction_reversals));
    lines[7].cells.push_back(absl::StrCat(s.peak_replicas));
  }
  if (const Summary* o = FindOracle(runs)) {
    Line under{"under-provisioned / oracle's", {}};
    Line cost{"total replica-seconds / oracle's", {}};
    for (const Summary& s : runs) {
      under.cells.push_back(
          RatioCell(OracleRatio(s.under_provisioned_replica_seconds,
                                o->under_provisioned_replica_seconds)));
      cost.cells.push_back(RatioCell(
          OracleRatio(s.total_replica_seconds, o->total_replica_seconds)));
    }
    lines.push_back(std::move(under));
    lines.push_back(std::move(cost));
  }
  size_t label_width = 0;
  for (const Line& l : lines) {
    label_width = std::max(label_width, std::string(l.label).size());
  }
  std::vector<size_t> widths(runs.size(), 0);
  for (const Line& l : lines) {
    for (size_t i = 0; i < l.cells.size(); ++i) {
      widths[i] = std::max(widths[i], l.cells[i].size());
    }
  }
  std::string out;
  for (const Line& l : lines) {
    absl::StrAppend(&out, absl::StrFormat("%-*s", label_width, l.label));
    for (size_t i = 0; i < l.cells.size(); ++i) {
      absl::StrAppend(&out, absl::StrFormat("  %*s", widths[i], l.cells[i]));
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string SummaryJson(const RunInfo& info, const std::vector<Summary>& runs,
                        const std::vector<std::string>& notes) {
  nlohmann::ordered_json j;
  j["policy"] = info.policy;
  j["trace"] = info.trace;
  j["duration_seconds"] = info.duration_seconds;
  j["rows"] = info.rows;
  j["tick_seconds"] = info.tick_seconds;
  j["pod_startup_seconds"] = info.pod_startup_seconds;
  j["initial_replicas"] = info.initial_replicas;
  j["runs"] = nlohmann::ordered_json::array();
  const Summary* oracle = FindOracle(runs);
  for (const Summary& s : runs) {
    nlohmann::ordered_json r;
    r["name"] = s.name;
    r["under_provisioned_replica_seconds"] =
        s.under_provisioned_replica_seconds;
    r["seconds_under_provisioned"] = s.seconds_under_provisioned;
    r["over_provisioned_replica_seconds"] = s.over_provisioned_replica_seconds;
    r["total_replica_seconds"] = s.total_replica_seconds;
    r["scale_events"] = s.scale_events;
    r["direction_reversals"] = s.direction_reversals;
    r["peak_replicas"] = s.peak_replicas;
    if (oracle != nullptr) {
      const auto ratio = [](std::optional<double> v) {
        return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
      };
      r["under_provisioned_replica_seconds_vs_oracle"] =
          ratio(OracleRatio(s.under_provisioned_replica_seconds,
                            oracle->under_provisioned_replica_seconds));
      r["total_replica_seconds_vs_oracle"] = ratio(
          OracleRatio(s.total_replica_seconds, oracle->total_replica_seconds));
    }
    j["runs"].push_back(r);
  }
  j["notes"] = notes;
  return j.dump() + "\n";
}

}  // namespace signalscaler::sim
