// `signalscaler simulate`: replays a load trace (a file, or with
// --prometheus one read from Prometheus history as `trace` does) through the
// real engine and compares the policy with baseline autoscalers. See
// scaler/sim/simulator.h and trace_history.h.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
#include "scaler/cli/trace_history.h"
#include "scaler/policy/loader.h"
#include "scaler/sim/simulator.h"

namespace signalscaler {
namespace {

using sim::kMicrosPerSecond;

int Usage(const std::string& message) {
  std::fprintf(stderr, "signalscaler simulate: %s\n", message.c_str());
  return 2;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "signalscaler simulate: %s\n", message.c_str());
  return 1;
}

// Every --compare value (--compare A --compare B, --compare A,B, and the
// words after --compare that are not flags: --compare A B), removed from
// argv so that FlagSet sees the rest.
std::vector<std::string> TakeCompare(int& argc, char** argv) {
  std::vector<std::string> out;
  int w = 2;
  for (int i = 2; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "--compare" || absl::StartsWith(a, "--compare=")) {
      std::vector<std::string> words;
      if (absl::ConsumePrefix(&a, "--compare=")) {
        words.emplace_back(a);
      } else {
        while (i + 1 < argc && !absl::StartsWith(argv[i + 1], "-")) {
          words.emplace_back(argv[++i]);
        }
        if (words.empty()) words.emplace_back("");
      }
      for (const std::string& w : words) {
        for (absl::string_view part : absl::StrSplit(w, ',')) {
          out.emplace_back(part);
        }
      }
      continue;
    }
    argv[w++] = argv[i];
  }
  argc = w;
  return out;
}

// A duration flag in whole microseconds: >= 0, or > 0 unless zero_ok.
absl::StatusOr<int64_t> SecondsFlag(const FlagSet& flags,
                                    const std::string& name, bool zero_ok) {
  absl::StatusOr<double> v = flags.GetDouble(name, 0, zero_ok);
  if (!v.ok()) return v.status();
  return std::llround(*v * kMicrosPerSecond);
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

FlagSet SimulateFlags() {
  FlagSet flags(
      "simulate",
      "Replays a load trace (CSV: t, then one column per signal, optional "
      "demand) through the policy's engine with a simulated clock and pod "
      "model, and prints how it kept up, beside baseline autoscalers.\n\n"
      "  signalscaler simulate --policy FILE [--name POLICY] --trace "
      "TRACE.csv\n      [--pod-startup-seconds N] [--tick-seconds N] [--out "
      "TIMELINE.csv]\n      [--summary-json FILE] [--report REPORT.svg|.html]"
      "\n      [--compare hpa-cpu[:TARGET]|keda-default|oracle ...]\n\n"
      "With --prometheus ADDRESS (or --start) it first reads the trace from "
      "Prometheus history as `signalscaler trace` does (its flags below; "
      "--trace, if given, keeps a copy).");
  flags.Add("policy", "", "policy file (or directory) to simulate");
  flags.Add("name", "",
            "the policy (NAME or NAMESPACE/NAME) when the file "
            "holds several");
  flags.Add("trace", "",
            "the load trace, CSV (- for stdin); with --prometheus, where to "
            "keep the trace read from history (optional)");
  flags.Add("pod-startup-seconds", "30",
            "seconds until a new pod is ready (unset: the policy's "
            "spec.podStartupSeconds, else 30)");
  flags.Add("tick-seconds", "",
            "seconds between evaluations; default the policy's "
            "evaluationIntervalSeconds");
  flags.Add("initial-replicas", "",
            "pods (all ready) at t=0; default minReplicas");
  flags.Add("out", "", "write the timeline CSV here");
  flags.Add("summary-json", "", "write the summary as JSON here");
  flags.Add("report", "", "write a picture here: .svg, or .html (inline SVG)");
  flags.Add("compare", "",
            "baselines: hpa-cpu[:TARGET] (the HPA on the CPU signal alone), "
            "keda-default (each Total/Average signal as a KEDA trigger), "
            "oracle (the trace's demand at once, the limit of reactive "
            "scaling; adds each run's ratios to it); repeatable, or "
            "comma-separated");
  AddHistoryFlags(flags);
  return flags;
}

// What simulate's flags say.
struct SimulateArgs {
  std::string policy_path;   // --policy
  std::string name;          // --name: empty, NAME or NAMESPACE/NAME
  std::string trace_path;    // --trace; "-" is stdin
  std::string out;           // --out: the timeline CSV, or empty
  std::string summary_json;  // --summary-json, or empty
  std::string report;        // --report, or empty
  bool html = false;         // --report names an .html page (else .svg)
  // --pod-startup-seconds was given: it wins over the policy's
  // spec.podStartupSeconds.
  bool startup_given = false;
  sim::SimOptions options;
  // --prometheus or --start: the trace comes from Prometheus history.
  std::optional<HistoryRequest> history;
};

// The parsed `flags` (of SimulateFlags()) and the --compare values; a usage
// error (INVALID_ARGUMENT, the message printed after "signalscaler
// simulate: ") otherwise.
absl::StatusOr<SimulateArgs> ParseSimulateArgs(
    const FlagSet& flags, std::vector<std::string> compare,
    const std::vector<std::string>& signal_queries) {
  if (!flags.positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", flags.positional()[0], "\""));
  }
  if (flags.Get("policy").empty()) {
    return absl::InvalidArgumentError("--policy is required");
  }
  SimulateArgs args;
  if (flags.IsSet("prometheus") || flags.IsSet("start")) {
    absl::StatusOr<HistoryRequest> history =
        ParseHistoryRequest(flags, signal_queries, absl::Now());
    if (!history.ok()) return history.status();
    if (flags.Get("trace") == "-") {
      return absl::InvalidArgumentError(
          "--trace - (stdin) does not go with --prometheus: the trace comes "
          "from Prometheus (--trace FILE keeps a copy of it)");
    }
    args.history = *std::move(history);
  } else if (flags.Get("trace").empty()) {
    return absl::InvalidArgumentError(
        "--trace (or --prometheus and --start) is required");
  }
  args.policy_path = flags.Get("policy");
  args.name = flags.Get("name");
  args.trace_path = flags.Get("trace");
  args.out = flags.Get("out");
  args.summary_json = flags.Get("summary-json");
  sim::SimOptions& options = args.options;
  for (const std::string& c : compare) {
    if (c.empty())
      return absl::InvalidArgumentError("--compare needs a baseline");
  }
  options.compare = std::move(compare);
  absl::StatusOr<int64_t> startup =
      SecondsFlag(flags, "pod-startup-seconds", true);
  if (!startup.ok()) return startup.status();
  options.pod_startup_us = *startup;
  args.startup_given = flags.IsSet("pod-startup-seconds");
  if (flags.IsSet("tick-seconds")) {
    absl::StatusOr<int64_t> tick = SecondsFlag(flags, "tick-seconds", false);
    if (!tick.ok()) return tick.status();
    options.tick_us = *tick;
  }
  if (flags.IsSet("initial-replicas")) {
    absl::StatusOr<int64_t> n = flags.GetInt("initial-replicas", 0);
    if (!n.ok()) return n.status();
    options.initial_replicas = *n;
  }
  args.report = flags.Get("report");
  args.html = absl::EndsWith(args.report, ".html");
  if (!args.report.empty() && !args.html &&
      !absl::EndsWith(args.report, ".svg")) {
    return absl::InvalidArgumentError(
        "--report must name a .svg or .html file");
  }
  options.record_report = !args.report.empty();
  return args;
}

// The trace's name in messages and the heading.
std::string TraceName(const SimulateArgs& args) {
  if (!args.history) return args.trace_path;
  return absl::StrCat("prometheus history (",
                      HistoryTimeText(args.history->start), " to ",
                      HistoryTimeText(args.history->end), ")");
}

// Runs the trace (a file, stdin, or Prometheus history) through `policy`,
// writing the timeline to --out when given. A file that cannot be read or
// written is FAILED_PRECONDITION; Simulate's own errors pass through.
absl::StatusOr<sim::SimResult> Run(const SimulateArgs& args,
                                   const v1::ScalingPolicy& policy) {
  std::ifstream trace_file;
  std::istream* trace_in = &std::cin;
  std::stringstream history;
  if (args.history) {
    absl::StatusOr<HistoryResult> h =
        WriteTraceFromHistory(policy, *args.history, history);
    if (!h.ok()) return h.status();
    if (!args.trace_path.empty() &&
        !WriteFile(args.trace_path, history.str())) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", args.trace_path));
    }
    trace_in = &history;
  } else if (args.trace_path != "-") {
    trace_file.open(args.trace_path, std::ios::binary);
    if (!trace_file) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read ", args.trace_path));
    }
    trace_in = &trace_file;
  }
  std::ofstream timeline;
  if (!args.out.empty()) {
    timeline.open(args.out, std::ios::binary);
    if (!timeline) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", args.out));
    }
  }
  sim::TraceReader trace(*trace_in, TraceName(args), sim::SignalNames(policy));
  absl::StatusOr<sim::SimResult> r = sim::Simulate(
      policy, args.options, trace, timeline.is_open() ? &timeline : nullptr);
  if (!r.ok()) return r;
  if (timeline.is_open()) {
    timeline.close();
    if (!timeline) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", args.out));
    }
  }
  return r;
}

// What the run was, for the heading and the summary JSON.
sim::RunInfo RunInfoOf(const SimulateArgs& args,
                       const v1::ScalingPolicy& policy,
                       const sim::SimResult& r) {
  sim::RunInfo info;
  info.policy = absl::StrCat(policy.metadata().namespace_(), "/",
                             policy.metadata().name());
  info.trace = TraceName(args);
  info.duration_seconds = static_cast<double>(r.duration_us) / kMicrosPerSecond;
  info.rows = r.rows;
  info.tick_seconds = static_cast<double>(r.tick_us) / kMicrosPerSecond;
  info.pod_startup_seconds =
      static_cast<double>(args.options.pod_startup_us) / kMicrosPerSecond;
  info.initial_replicas = r.initial_replicas;
  return info;
}

// The --report picture: an SVG, or an HTML page with it and the table.
std::string ReportText(const SimulateArgs& args, const sim::RunInfo& info,
                       const std::string& table, const sim::SimResult& r) {
  sim::ReportInfo ri;
  ri.title = absl::StrCat(
      info.policy, " on ",
      args.history
          ? info.trace
          : std::filesystem::path(args.trace_path).filename().string());
  ri.subtitle = absl::StrCat("tick ", info.tick_seconds, " s, pod startup ",
                             info.pod_startup_seconds, " s, ",
                             info.initial_replicas, " initial replicas");
  ri.table_lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  ri.notes = r.notes;
  return args.html ? r.report->Html(ri) : r.report->Svg(ri);
}

// Prints the heading, the summary table and the notes, then writes
// --summary-json and --report; the exit code.
int Print(const SimulateArgs& args, const v1::ScalingPolicy& policy,
          const sim::SimResult& r) {
  const sim::RunInfo info = RunInfoOf(args, policy, r);
  const std::string heading = absl::StrCat(
      "simulated ", info.policy, " on ", info.trace, ": ",
      info.duration_seconds, " s, ", info.rows, " rows, tick ",
      info.tick_seconds, " s, pod startup ", info.pod_startup_seconds, " s, ",
      info.initial_replicas, " initial replicas");
  const std::string table = sim::SummaryTable(r.runs);
  std::printf("%s\n%s", heading.c_str(), table.c_str());
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());

  if (!args.summary_json.empty() &&
      !WriteFile(args.summary_json, sim::SummaryJson(info, r.runs, r.notes))) {
    return Fail(absl::StrCat("cannot write ", args.summary_json));
  }
  if (!args.report.empty() &&
      !WriteFile(args.report, ReportText(args, info, table, r))) {
    return Fail(absl::StrCat("cannot write ", args.report));
  }
  return 0;
}

}  // namespace

int SimulateCommand(int argc, char** argv) {
  const std::vector<std::string> signal_queries = TakeSignalQueries(argc, argv);
  std::vector<std::string> compare = TakeCompare(argc, argv);
  FlagSet flags = SimulateFlags();
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    return Usage(std::string(s.message()));
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  absl::StatusOr<SimulateArgs> args =
      ParseSimulateArgs(flags, std::move(compare), signal_queries);
  if (!args.ok()) return Usage(std::string(args.status().message()));

  absl::StatusOr<v1::ScalingPolicy> policy =
      LoadOnePolicy(args->policy_path, args->name,
                    args->history ? &args->history->access : nullptr);
  if (!policy.ok()) {
    return absl::IsInvalidArgument(policy.status())
               ? Usage(std::string(policy.status().message()))
               : Fail(std::string(policy.status().message()));
  }
  // The policy says how long its pods take, unless the flag does.
  if (!args->startup_given && policy->spec().has_pod_startup_seconds()) {
    args->options.pod_startup_us = static_cast<int64_t>(
        std::llround(policy->spec().pod_startup_seconds() * kMicrosPerSecond));
  }

  absl::StatusOr<sim::SimResult> r = Run(*args, *policy);
  if (!r.ok()) {
    // Simulate's complaint about an option names the flag: a usage error.
    return absl::IsInvalidArgument(r.status()) &&
                   absl::StartsWith(r.status().message(), "--")
               ? Usage(std::string(r.status().message()))
               : Fail(std::string(r.status().message()));
  }
  return Print(*args, *policy, *r);
}

}  // namespace signalscaler
