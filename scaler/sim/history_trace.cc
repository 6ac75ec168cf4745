#include "scaler/sim/history_trace.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "scaler/policy/defaults.h"

namespace signalscaler::sim {
namespace {

// Shortest text that reads back as the same double (%.17g would; %.15g
// keeps Prometheus' own decimal values as written, e.g. 0.1).
std::string Number(double v) { return absl::StrFormat("%.15g", v); }

std::string TimeText(int64_t ms) {
  if (ms % 1000 == 0) return absl::StrCat(ms / 1000);
  return absl::StrFormat("%.3f", static_cast<double>(ms) / 1000);
}

}  // namespace

absl::StatusOr<HeldSeries> HoldGaps(
    const std::vector<std::optional<double>>& points) {
  const auto first = std::find_if(points.begin(), points.end(),
                                  [](const auto& p) { return p.has_value(); });
  if (first == points.end()) {
    return absl::NotFoundError("no sample in the whole range");
  }
  HeldSeries s;
  s.values.reserve(points.size());
  double last = **first;
  for (const std::optional<double>& p : points) {
    if (p) {
      last = *p;
    } else {
      ++s.gaps;
    }
    s.values.push_back(last);
  }
  return s;
}

bool NeedsReady(const v1::Signal& signal) {
  return signal.type() == v1::Signal::Average ||
         signal.type() == v1::Signal::Headroom;
}

double TraceColumn(const v1::Signal& signal, double value, double ready) {
  switch (signal.type()) {
    case v1::Signal::Average:
      return std::max(0.0, value * ready);
    case v1::Signal::Headroom:
      return std::max(0.0, ready * CapacityPerReplica(signal) - value);
    default:
      return std::max(0.0, value);
  }
}

void WriteHistoryTrace(const v1::PolicySpec& spec, const HistoryTrace& trace,
                       std::ostream& out) {
  for (const std::string& c : trace.comments) out << "# " << c << "\n";
  std::string line = "t";
  for (const v1::Signal& s : spec.signals())
    absl::StrAppend(&line, ",", s.name());
  if (trace.demand) absl::StrAppend(&line, ",demand");
  const bool ready_column = trace.replicas && trace.ready;
  if (trace.replicas) absl::StrAppend(&line, ",actual");
  if (ready_column) absl::StrAppend(&line, ",actual_ready");
  out << line << "\n";
  const std::vector<double>* ready = trace.ready      ? &*trace.ready
                                     : trace.replicas ? &*trace.replicas
                                                      : nullptr;
  const size_t rows = trace.signals.empty() ? 0 : trace.signals[0].size();
  for (size_t k = 0; k < rows; ++k) {
    line = TimeText(static_cast<int64_t>(k) * trace.step_ms);
    for (int i = 0; i < spec.signals_size(); ++i) {
      const double r = ready != nullptr ? std::max(0.0, (*ready)[k]) : 0;
      absl::StrAppend(&line, ",",
                      Number(TraceColumn(spec.signals(i), trace.signals[i][k],
                                         std::round(r))));
    }
    if (trace.demand) {
      absl::StrAppend(&line, ",", Number(std::max(0.0, (*trace.demand)[k])));
    }
    if (trace.replicas) {
      absl::StrAppend(&line, ",", Number(std::max(0.0, (*trace.replicas)[k])));
    }
    if (ready_column) {
      absl::StrAppend(&line, ",", Number(std::max(0.0, (*trace.ready)[k])));
    }
    out << line << "\n";
  }
}

}  // namespace signalscaler::sim
