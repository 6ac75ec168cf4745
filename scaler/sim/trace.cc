#include "scaler/sim/trace.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace signalscaler::sim {
namespace {

constexpr char kTimeColumn[] = "t";
constexpr char kDemandColumn[] = "demand";
constexpr char kActualColumn[] = "actual";
constexpr char kActualReadyColumn[] = "actual_ready";

using Field = trace_internal::Field;

// Splits a line on commas (no quoting: a trace holds numbers only).
void Split(absl::string_view line, std::vector<Field>& fields) {
  fields.clear();
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    const size_t end = comma == absl::string_view::npos ? line.size() : comma;
    fields.push_back(
        Field{absl::StripAsciiWhitespace(line.substr(start, end - start)),
              static_cast<int>(start) + 1});
    if (comma == absl::string_view::npos) break;
    start = comma + 1;
  }
}

// Blank, or a comment.
bool IsSkipped(absl::string_view line) {
  line = absl::StripLeadingAsciiWhitespace(line);
  return line.empty() || line[0] == '#';
}

}  // namespace

TraceReader::TraceReader(std::istream& in, std::string file,
                         std::vector<std::string> signal_names)
    : in_(in), file_(std::move(file)), signal_names_(std::move(signal_names)) {}

absl::Status TraceReader::Error(int line, int column,
                                const std::string& message) const {
  return absl::InvalidArgumentError(
      absl::StrCat(file_, ":", line, ":", column, ": ", message));
}

bool TraceReader::NextLine() {
  while (std::getline(in_, line_text_)) {
    ++line_;
    if (!line_text_.empty() && line_text_.back() == '\r') line_text_.pop_back();
    if (!IsSkipped(line_text_)) return true;
  }
  return false;
}

absl::Status CheckSignalNamesForTrace(
    const std::vector<std::string>& signal_names) {
  for (const std::string& name : signal_names) {
    for (const char* column :
         {kTimeColumn, kDemandColumn, kActualColumn, kActualReadyColumn}) {
      if (name == column) {
        return absl::InvalidArgumentError(absl::StrCat(
            "signal \"", name, "\" has the name of the trace's own column \"",
            column,
            "\" (the trace columns t, demand, actual and actual_ready are not "
            "signals): rename the signal in the policy to simulate or trace "
            "it"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status TraceReader::ReadHeader() {
  if (absl::Status s = CheckSignalNamesForTrace(signal_names_); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", s.message()));
  }
  if (!NextLine()) {
    return Error(line_ + 1, 1,
                 "empty trace: expected a header starting with `t`");
  }
  const int at = line_;
  std::vector<Field> fields;
  Split(line_text_, fields);
  if (fields[0].text != kTimeColumn) {
    return Error(at, 1,
                 absl::StrCat("the first column must be `t` (seconds from 0), "
                              "got \"",
                              fields[0].text, "\""));
  }
  field_to_signal_.assign(fields.size(), -1);
  std::vector<int> found(signal_names_.size(), -1);
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string name(fields[i].text);
    if (name.empty()) return Error(at, fields[i].column, "empty column name");
    for (size_t j = 0; j < i; ++j) {
      if (header_[j] == name) {
        return Error(at, fields[i].column,
                     absl::StrCat("column \"", name, "\" appears twice"));
      }
    }
    header_.push_back(name);
    if (i == 0) continue;
    if (name == kDemandColumn) {
      demand_column_ = static_cast<int>(i);
      continue;
    }
    if (name == kActualColumn) {
      actual_column_ = static_cast<int>(i);
      continue;
    }
    if (name == kActualReadyColumn) {
      actual_ready_column_ = static_cast<int>(i);
      continue;
    }
    bool known = false;
    for (size_t s = 0; s < signal_names_.size(); ++s) {
      if (signal_names_[s] == name) {
        field_to_signal_[i] = static_cast<int>(s);
        found[s] = static_cast<int>(i);
        known = true;
      }
    }
    if (!known) ignored_.push_back(name);
  }
  if (actual_ready_column_ >= 0 && actual_column_ < 0) {
    return Error(at, fields[actual_ready_column_].column,
                 "column \"actual_ready\" without an \"actual\" column");
  }
  for (size_t s = 0; s < signal_names_.size(); ++s) {
    if (found[s] < 0) {
      return Error(at, static_cast<int>(line_text_.size()) + 1,
                   absl::StrCat("no column for signal \"", signal_names_[s],
                                "\" of the policy (header: ",
                                absl::StrJoin(header_, ","), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> TraceReader::Next(TraceRow& row) {
  std::vector<Field>& fields = fields_;
  if (!NextLine()) return false;
  Split(line_text_, fields);
  if (fields.size() != header_.size()) {
    const int column = fields.size() > header_.size()
                           ? fields[header_.size()].column
                           : static_cast<int>(line_text_.size()) + 1;
    return Error(
        line_, column,
        absl::StrCat("expected ", header_.size(), " fields (",
                     absl::StrJoin(header_, ","), "), got ", fields.size()));
  }
  row.values.assign(signal_names_.size(), 0);
  row.demand.reset();
  row.actual.reset();
  row.actual_ready.reset();
  row.line = line_;
  for (size_t i = 0; i < fields.size(); ++i) {
    double v = 0;
    if (!absl::SimpleAtod(fields[i].text, &v) || !std::isfinite(v)) {
      return Error(line_, fields[i].column,
                   absl::StrCat("column \"", header_[i], "\": \"",
                                fields[i].text, "\" is not a number"));
    }
    if (v < 0) {
      return Error(line_, fields[i].column,
                   absl::StrCat("column \"", header_[i], "\": ", fields[i].text,
                                " is negative"));
    }
    if (i == 0) {
      const int64_t t_us = std::llround(v * kMicrosPerSecond);
      if (!last_t_us_ && t_us != 0) {
        return Error(
            line_, fields[i].column,
            absl::StrCat("the first row must be at t=0, got ", fields[i].text));
      }
      if (last_t_us_ && t_us <= *last_t_us_) {
        return Error(
            line_, fields[i].column,
            absl::StrCat("time not ascending: t=", fields[i].text, " after t=",
                         static_cast<double>(*last_t_us_) / kMicrosPerSecond));
      }
      row.t_us = t_us;
      last_t_us_ = t_us;
    } else if (static_cast<int>(i) == demand_column_) {
      row.demand = v;
    } else if (static_cast<int>(i) == actual_column_) {
      row.actual = v;
    } else if (static_cast<int>(i) == actual_ready_column_) {
      row.actual_ready = v;
    } else if (field_to_signal_[i] >= 0) {
      row.values[field_to_signal_[i]] = v;
    }
  }
  ++rows_;
  return true;
}

}  // namespace signalscaler::sim
