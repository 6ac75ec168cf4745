// WriteTraceFromHistory (trace_history.h): the range queries of a policy's
// trace, fetched in chunks and held over their gaps.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "scaler/cli/trace_history.h"
#include "scaler/policy/defaults.h"
#include "scaler/sim/history_trace.h"
#include "scaler/sim/simulator.h"
#include "scaler/sim/trace.h"
#include "sources/http/http_client.h"
#include "sources/http/prometheus_response.h"

namespace signalscaler {
namespace {

// A range query may take longer than the instant queries' timeoutSeconds.
constexpr absl::Duration kMinRangeTimeout = absl::Seconds(60);
// A longer trace is not worth holding in memory (a year at a 15 s step is
// about 2.1 million rows).
constexpr int64_t kMaxTracePoints = 10'000'000;

// One range query of the trace: what it is for (in messages and the
// header comment) and the source it runs as (address, credentials).
struct RangeQuery {
  std::string what;  // `signal "cpu"`, `readyReplicas`, ...
  v1::PrometheusSource source;
};

// The times of the rows: start + k x step for k in [0, points).
struct Grid {
  int64_t start_ms = 0;
  int64_t step_ms = 0;
  int64_t points = 0;
};

std::string ApiSeconds(int64_t ms) {
  return absl::StrFormat("%.3f", static_cast<double>(ms) / 1000);
}

std::string Describe(const RangeQuery& q) {
  return absl::StrCat(q.what, ": prometheus range query \"", q.source.query(),
                      "\" at ",
                      RedactUrl(absl::StripSuffix(q.source.address(), "/")));
}

absl::Status Prefixed(const RangeQuery& q, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(Describe(q), ": ", s.message()));
}

// The series of `q` at every grid time (nullopt where it has no sample),
// in queries of at most kMaxPointsPerQuery points.
absl::StatusOr<std::vector<std::optional<double>>> Fetch(
    const RangeQuery& q, const Grid& g, const std::string& credentials_root) {
  HttpClientOptions options;
  options.bearer_token_file = q.source.bearer_token_file();
  options.ca_file = q.source.ca_file();
  options.credentials_root = credentials_root;
  options.accept = "application/json";
  HttpClient client(options);
  const absl::Duration timeout =
      std::max(kMinRangeTimeout, absl::Seconds(q.source.timeout_seconds()));
  std::vector<std::optional<double>> points(g.points);
  for (int64_t first = 0; first < g.points; first += kMaxPointsPerQuery) {
    const int64_t last = std::min(g.points, first + kMaxPointsPerQuery) - 1;
    const std::string url =
        absl::StrCat(absl::StripSuffix(q.source.address(), "/"),
                     "/api/v1/query_range?query=", UrlEncode(q.source.query()),
                     "&start=", ApiSeconds(g.start_ms + first * g.step_ms),
                     "&end=", ApiSeconds(g.start_ms + last * g.step_ms),
                     "&step=", ApiSeconds(g.step_ms));
    absl::StatusOr<std::string> body = client.Get(url, absl::Now() + timeout);
    if (!body.ok()) return Prefixed(q, body.status());
    absl::StatusOr<std::vector<RangeSample>> samples =
        ParsePrometheusMatrix(*body);
    if (!samples.ok()) return Prefixed(q, samples.status());
    for (const RangeSample& s : *samples) {
      const int64_t k =
          std::llround(static_cast<double>(s.unix_ms - g.start_ms) /
                       static_cast<double>(g.step_ms));
      if (k >= first && k <= last) points[k] = s.value;
    }
  }
  return points;
}

const char* KindName(const v1::Source& s) {
  switch (s.kind_case()) {
    case v1::Source::kPush:
      return "pushed";
    case v1::Source::kRedis:
      return "read from Redis";
    case v1::Source::kScrape:
      return "scraped from pods";
    default:
      return "read from no source";
  }
}

// The queries of the trace: one per signal (in the policy's order), then
// readyReplicas, replicas and the demand, each when there is one.
struct Plan {
  std::vector<RangeQuery> signals;
  std::optional<RangeQuery> ready, replicas, demand;
};

absl::StatusOr<Plan> MakePlan(const v1::PolicySpec& spec,
                              const HistoryRequest& r) {
  // The credentials and timeout of command-line queries: the policy's first
  // Prometheus source's.
  std::optional<v1::PrometheusSource> base;
  const auto consider = [&](const v1::Source& s) {
    if (!base && s.has_prometheus()) base = s.prometheus();
  };
  for (const v1::Signal& s : spec.signals()) consider(s.source());
  consider(spec.ready_replicas());
  consider(spec.replicas());
  const auto query =
      [&](std::string what, const v1::PrometheusSource* from,
          const std::string& promql) -> absl::StatusOr<RangeQuery> {
    RangeQuery q{std::move(what), from != nullptr ? *from
                                  : base          ? *base
                                                  : v1::PrometheusSource()};
    if (!promql.empty()) q.source.set_query(promql);
    if (!r.prometheus.empty()) q.source.set_address(r.prometheus);
    if (q.source.address().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          q.what, ": the policy has no Prometheus source: give --prometheus"));
    }
    return q;
  };
  for (const auto& given : r.signal_queries) {
    const std::string& name = given.first;
    const auto& signals = spec.signals();
    if (std::none_of(signals.begin(), signals.end(),
                     [&](const v1::Signal& s) { return s.name() == name; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("--signal-query: the policy has no signal ", name));
    }
  }
  Plan plan;
  for (const v1::Signal& s : spec.signals()) {
    const std::string what = absl::StrCat("signal \"", s.name(), "\"");
    const auto given = r.signal_queries.find(s.name());
    if (given == r.signal_queries.end() && !s.source().has_prometheus()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " is ", KindName(s.source()),
          ": it has no history in Prometheus; give its PromQL with "
          "--signal-query ",
          s.name(), "=PROMQL (e.g. from redis_exporter)"));
    }
    // A --signal-query of a Prometheus signal keeps its source's address
    // and credentials.
    absl::StatusOr<RangeQuery> q = query(
        what, s.source().has_prometheus() ? &s.source().prometheus() : nullptr,
        given != r.signal_queries.end() ? given->second : "");
    if (!q.ok()) return q.status();
    plan.signals.push_back(*std::move(q));
  }
  for (auto [source, slot, what] :
       {std::make_tuple(&spec.ready_replicas(), &plan.ready, "readyReplicas"),
        std::make_tuple(&spec.replicas(), &plan.replicas, "replicas")}) {
    if (!source->has_prometheus()) continue;
    absl::StatusOr<RangeQuery> q = query(what, &source->prometheus(), "");
    if (!q.ok()) return q.status();
    *slot = *std::move(q);
  }
  if (!r.demand_query.empty()) {
    absl::StatusOr<RangeQuery> q =
        query("--demand-query", nullptr, r.demand_query);
    if (!q.ok()) return q.status();
    plan.demand = *std::move(q);
  }
  return plan;
}

// The grid of `r` for `spec`: --step, else the smallest sampling interval of
// the signals.
absl::StatusOr<Grid> GridOf(const v1::PolicySpec& spec,
                            const HistoryRequest& r) {
  absl::Duration step = absl::InfiniteDuration();
  if (r.step) {
    step = *r.step;
  } else {
    for (const v1::Signal& s : spec.signals()) {
      step = std::min(step, SourceInterval(spec, s.source()));
    }
  }
  Grid g;
  g.start_ms = absl::ToUnixMillis(r.start);
  g.step_ms = absl::ToInt64Milliseconds(step);
  if (g.step_ms <= 0) {
    return absl::InvalidArgumentError("--step must be at least 0.001 s");
  }
  const int64_t span_ms = absl::ToUnixMillis(r.end) - g.start_ms;
  if (span_ms / g.step_ms >= kMaxTracePoints) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--start to --end is more than ", kMaxTracePoints, " steps of ",
        absl::FormatDuration(step), ": take a larger --step"));
  }
  g.points = span_ms / g.step_ms + 1;
  return g;
}

// The series of `q`, its gaps held; a series with no sample at all is
// NOT_FOUND.
absl::StatusOr<sim::HeldSeries> FetchHeld(const RangeQuery& q, const Grid& g,
                                          const HistoryRequest& r) {
  absl::StatusOr<std::vector<std::optional<double>>> points =
      Fetch(q, g, r.access.credentials_root);
  if (!points.ok()) return points.status();
  absl::StatusOr<sim::HeldSeries> held = sim::HoldGaps(*points);
  if (!held.ok()) {
    return absl::NotFoundError(absl::StrCat(
        Describe(q), ": no series from ", HistoryTimeText(r.start), " to ",
        HistoryTimeText(r.end),
        " (a series missing altogether is no history: check the query, and "
        "that Prometheus kept that range)"));
  }
  return held;
}

std::string ColumnNote(const v1::Signal& s) {
  switch (s.type()) {
    case v1::Signal::Average:
      return "Average: value x ready replicas";
    case v1::Signal::Headroom:
      return "Headroom: ready x capacityPerReplica - spare";
    default:
      return "Total: the value";
  }
}

}  // namespace

absl::StatusOr<HistoryResult> WriteTraceFromHistory(
    const v1::ScalingPolicy& policy, const HistoryRequest& request,
    std::ostream& out) {
  const v1::PolicySpec& spec = policy.spec();
  // Before any query: the trace written would not read back.
  if (absl::Status s = sim::CheckSignalNamesForTrace(sim::SignalNames(policy));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<Plan> plan = MakePlan(spec, request);
  if (!plan.ok()) return plan.status();
  for (const v1::Signal& s : spec.signals()) {
    if (sim::NeedsReady(s) && !plan->ready && !plan->replicas) {
      return absl::InvalidArgumentError(absl::StrCat(
          "signal \"", s.name(), "\" is ", ColumnNote(s),
          ", and the policy has no readyReplicas or replicas Prometheus "
          "query to read the ready replicas from"));
    }
  }
  absl::StatusOr<Grid> grid = GridOf(spec, request);
  if (!grid.ok()) return grid.status();

  HistoryResult result;
  result.rows = grid->points;
  result.step = absl::Milliseconds(grid->step_ms);
  sim::HistoryTrace trace;
  trace.step_ms = grid->step_ms;
  std::vector<std::string> columns, gaps;
  const auto take =
      [&](const RangeQuery& q, const std::string& column,
          const std::string& note) -> absl::StatusOr<std::vector<double>> {
    absl::StatusOr<sim::HeldSeries> s = FetchHeld(q, *grid, request);
    if (!s.ok()) return s.status();
    columns.push_back(
        absl::StrCat(column, " (", note, "): ", q.source.query()));
    gaps.push_back(absl::StrCat(column, " ", s->gaps));
    return std::move(s->values);
  };
  for (int i = 0; i < spec.signals_size(); ++i) {
    absl::StatusOr<std::vector<double>> v = take(
        plan->signals[i], spec.signals(i).name(), ColumnNote(spec.signals(i)));
    if (!v.ok()) return v.status();
    trace.signals.push_back(*std::move(v));
  }
  const struct {
    const std::optional<RangeQuery>& q;
    std::optional<std::vector<double>>& into;
    const char* column;
    const char* note;
  } extras[] = {
      {plan->demand, trace.demand, "demand", "--demand-query"},
      {plan->replicas, trace.replicas, "actual", "the replicas query"},
      {plan->ready, trace.ready, plan->replicas ? "actual_ready" : "actual",
       "the readyReplicas query"},
  };
  for (const auto& e : extras) {
    if (!e.q) continue;
    absl::StatusOr<std::vector<double>> v = take(*e.q, e.column, e.note);
    if (!v.ok()) return v.status();
    e.into = *std::move(v);
  }
  // Without a replicas query, the ready pods are what the cluster ran.
  if (!trace.replicas && trace.ready) std::swap(trace.replicas, trace.ready);

  trace.comments.push_back(absl::StrCat(
      "signalscaler trace of ", policy.metadata().namespace_(), "/",
      policy.metadata().name(), " from ", HistoryTimeText(request.start),
      " (t=0) to ", HistoryTimeText(request.end), ", step ",
      absl::ToDoubleSeconds(result.step), " s, ", result.rows, " rows"));
  for (const std::string& c : columns) trace.comments.push_back(c);
  trace.comments.push_back(absl::StrCat(
      "gaps held (rows without a sample, holding the value before): ",
      absl::StrJoin(gaps, ", ")));
  sim::WriteHistoryTrace(spec, trace, out);
  result.comments = trace.comments;
  return result;
}

}  // namespace signalscaler
