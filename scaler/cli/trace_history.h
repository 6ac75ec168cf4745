// `signalscaler trace`'s fetching, shared with `simulate --prometheus`: the
// flags that say which history to read, and the range queries
// (GET /api/v1/query_range) that read it from Prometheus, in chunks of at
// most kMaxPointsPerQuery points, with each source's bearer token and CA
// file as `serve` uses them. The trace itself is scaler/sim/history_trace.h.
//
//   std::vector<std::string> queries = TakeSignalQueries(argc, argv);
//   FlagSet flags(...);
//   AddHistoryFlags(flags);
//   ... flags.Parse(argc, argv, 2) ...
//   absl::StatusOr<HistoryRequest> req =
//       ParseHistoryRequest(flags, queries, absl::Now());
//   absl::StatusOr<HistoryResult> r = WriteTraceFromHistory(policy, *req,
//   out);
#ifndef SIGNALSCALER_SCALER_CLI_TRACE_HISTORY_H_
#define SIGNALSCALER_SCALER_CLI_TRACE_HISTORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/cli/flags.h"
#include "sources/factory.h"

namespace signalscaler {

// Prometheus refuses a range query of more points than this per series.
inline constexpr int64_t kMaxPointsPerQuery = 11000;

struct HistoryRequest {
  absl::Time start;
  absl::Time end;
  // --step; unset: the smallest sampling interval of the policy's signals.
  std::optional<absl::Duration> step;
  // --prometheus: queried instead of every source's own address (e.g. a
  // port-forward); the sources' credentials still apply.
  std::string prometheus;
  // --signal-query NAME=PROMQL, by signal name.
  std::map<std::string, std::string> signal_queries;
  std::string demand_query;  // --demand-query
  // --credentials-root and --allowed-source-hosts, as `check` reads them.
  SourceAccess access;
};

// Every --signal-query value (`--signal-query V` or `--signal-query=V`, one
// value each: PromQL has commas and blanks), removed from argv from index 2
// on so that FlagSet sees the rest.
std::vector<std::string> TakeSignalQueries(int& argc, char** argv);

// Adds --start, --end, --step, --prometheus, --demand-query,
// --credentials-root and --allowed-source-hosts to `flags`.
void AddHistoryFlags(FlagSet& flags);

// A time flag's value: RFC 3339 (2026-12-01T09:00:00Z), `now`, or `now`
// minus a duration, with or without `now`: -7d, -90m, now-1h30m (units w,
// d, h, m, s). INVALID_ARGUMENT naming what was wrong.
absl::StatusOr<absl::Time> ParseHistoryTime(absl::string_view text,
                                            absl::Time now);

// `t` as RFC 3339 in UTC, to the second: 2026-12-01T09:00:00Z.
std::string HistoryTimeText(absl::Time t);

// The flags of AddHistoryFlags and the --signal-query values;
// INVALID_ARGUMENT naming the flag (--start and --end are required, end
// after start).
absl::StatusOr<HistoryRequest> ParseHistoryRequest(
    const FlagSet& flags, const std::vector<std::string>& signal_queries,
    absl::Time now);

// The one policy that `simulate` and `trace` run: loads `path` (with
// `access`, when given, as `check` does: credentials files confined and
// rewritten as the sources read them, hosts checked), printing every
// loader error to stderr (FAILED_PRECONDITION "PATH: invalid policy"), and
// picks the only policy of the file, or the one `name` says (NAME or
// NAMESPACE/NAME; else INVALID_ARGUMENT naming the policies it holds).
absl::StatusOr<v1::ScalingPolicy> LoadOnePolicy(const std::string& path,
                                                const std::string& name,
                                                const SourceAccess* access);

struct HistoryResult {
  int64_t rows = 0;
  absl::Duration step;
  // The trace's header comment lines: what was queried, and the gaps held.
  std::vector<std::string> comments;
};

// Runs every range query the policy's trace needs (each signal's, or its
// --signal-query; readyReplicas and replicas when they are Prometheus
// queries; --demand-query) and writes the trace to `out`. Errors name the
// signal (or series) and the query, never a credential:
//   INVALID_ARGUMENT   a signal without history (push, redis, scrape) and
//                      no --signal-query for it, an unknown --signal-query
//                      name, an Average or Headroom signal with neither
//                      readyReplicas nor replicas in Prometheus, too many
//                      points, no address for a command-line query
//   NOT_FOUND          a series with no sample in the whole range
//   and HttpClient's and ParsePrometheusMatrix's codes for the queries.
absl::StatusOr<HistoryResult> WriteTraceFromHistory(
    const v1::ScalingPolicy& policy, const HistoryRequest& request,
    std::ostream& out);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_CLI_TRACE_HISTORY_H_
