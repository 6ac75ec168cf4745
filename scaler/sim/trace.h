// Reading a load trace (CSV) one row at a time, in constant memory.
//
// Format: a header `t,<column>,...` where `t` (seconds from 0, strictly
// ascending) comes first and every signal of the policy has a column named
// after it; an optional `demand` column gives the replicas needed, and the
// optional `actual` and `actual_ready` columns the replicas the cluster
// really ran and how many of them were ready (`signalscaler trace` writes
// them from the policy's replicas and readyReplicas; ready defaults to
// actual). Values are piecewise constant between rows. Blank lines, and
// lines whose first non-blank character is `#` (comments), are skipped
// anywhere. Every error names the file, the line and the (1-based,
// character) column.
//
//   TraceReader reader(stream, "trace.csv", {"requests", "cpu"});
//   if (absl::Status s = reader.ReadHeader(); !s.ok()) return s;
//   TraceRow row;
//   while (true) {
//     absl::StatusOr<bool> more = reader.Next(row);
//     if (!more.ok()) return more.status();
//     if (!*more) break;
//     Use(row);
//   }
#ifndef SIGNALSCALER_SCALER_SIM_TRACE_H_
#define SIGNALSCALER_SCALER_SIM_TRACE_H_

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signalscaler::sim {

inline constexpr int64_t kMicrosPerSecond = 1000000;

namespace trace_internal {
struct Field {
  absl::string_view text;  // stripped of surrounding blanks
  int column = 1;          // 1-based character column of the field's start
};
}  // namespace trace_internal

struct TraceRow {
  int64_t t_us = 0;            // time, microseconds from 0
  std::vector<double> values;  // one per signal, in the order given
  std::optional<double> demand;
  std::optional<double> actual;        // the `actual` column
  std::optional<double> actual_ready;  // the `actual_ready` column
  int line = 0;                        // 1-based line in the file
};

// OK unless a signal is named after one of the trace's own columns (`t`,
// `demand`, `actual`, `actual_ready`): such a column would be read as that
// column, not as the signal. INVALID_ARGUMENT names the signal and says to
// rename it in the policy to simulate or trace it.
absl::Status CheckSignalNamesForTrace(
    const std::vector<std::string>& signal_names);

// Not thread-safe. The stream must outlive the reader.
class TraceReader {
 public:
  TraceReader(std::istream& in, std::string file,
              std::vector<std::string> signal_names);

  // Reads and checks the header: INVALID_ARGUMENT if a signal has the name
  // of a trace column (CheckSignalNamesForTrace), `t` is not the first
  // column, a column is empty or repeated, or a signal has no column.
  absl::Status ReadHeader();
  // Reads the next row into `row`: true, or false at the end of the file.
  // INVALID_ARGUMENT with FILE:LINE:COLUMN for a wrong number of fields, a
  // value that is not a finite number >= 0, or time not strictly ascending.
  absl::StatusOr<bool> Next(TraceRow& row);

  // Header columns that are no signal of the policy (they are ignored).
  const std::vector<std::string>& ignored_columns() const { return ignored_; }
  bool has_demand() const { return demand_column_ >= 0; }
  bool has_actual() const { return actual_column_ >= 0; }
  int rows() const { return rows_; }

 private:
  absl::Status Error(int line, int column, const std::string& message) const;
  // The next line that is neither blank nor a comment into line_text_;
  // false at the end of the file.
  bool NextLine();

  std::istream& in_;
  std::string file_;
  std::vector<std::string> signal_names_;
  std::vector<int> field_to_signal_;  // per field: signal index, -1 ignored
  int demand_column_ = -1;            // field index of `demand`
  int actual_column_ = -1;            // field index of `actual`
  int actual_ready_column_ = -1;      // field index of `actual_ready`
  std::vector<std::string> header_;
  std::vector<std::string> ignored_;
  std::string line_text_;
  std::vector<trace_internal::Field> fields_;  // reused across rows
  int line_ = 0;
  int rows_ = 0;
  std::optional<int64_t> last_t_us_;
};

}  // namespace signalscaler::sim

#endif  // SIGNALSCALER_SCALER_SIM_TRACE_H_
