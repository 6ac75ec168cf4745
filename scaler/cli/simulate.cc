// `signalscaler simulate`: replays a load trace through the real engine and
// compares the policy with baseline autoscalers. See scaler/sim/simulator.h.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
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

// The policy to simulate: the only one of the file, or the one --name picks
// ("name" or "namespace/name").
absl::StatusOr<v1::ScalingPolicy> PickPolicy(const LoadResult& r,
                                             const std::string& path,
                                             const std::string& name) {
  std::vector<std::string> names;
  for (const LoadedPolicy& p : r.policies) {
    const std::string full = absl::StrCat(p.policy.metadata().namespace_(), "/",
                                          p.policy.metadata().name());
    if (name.empty() ? r.policies.size() == 1
                     : (name == full || name == p.policy.metadata().name())) {
      return p.policy;
    }
    names.push_back(full);
  }
  return absl::InvalidArgumentError(
      name.empty()
          ? absl::StrCat(path, " holds ", r.policies.size(),
                         " policies: pick one with --name (",
                         absl::StrJoin(names, ", "), ")")
          : absl::StrCat("no policy ", name, " in ", path, " (it holds ",
                         absl::StrJoin(names, ", "), ")"));
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

}  // namespace

int SimulateCommand(int argc, char** argv) {
  std::vector<std::string> compare = TakeCompare(argc, argv);
  FlagSet flags(
      "simulate",
      "Replays a load trace (CSV: t, then one column per signal, optional "
      "demand) through the policy's engine with a simulated clock and pod "
      "model, and prints how it kept up, beside baseline autoscalers.\n\n"
      "  signalscaler simulate --policy FILE [--name POLICY] --trace "
      "TRACE.csv\n      [--pod-startup-seconds N] [--tick-seconds N] [--out "
      "TIMELINE.csv]\n      [--summary-json FILE] [--report REPORT.svg|.html]"
      "\n      [--compare hpa-cpu[:TARGET]|keda-default|oracle ...]");
  flags.Add("policy", "", "policy file (or directory) to simulate");
  flags.Add("name", "",
            "the policy (NAME or NAMESPACE/NAME) when the file "
            "holds several");
  flags.Add("trace", "", "the load trace, CSV (- for stdin)");
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
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    return Usage(std::string(s.message()));
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!flags.positional().empty()) {
    return Usage(
        absl::StrCat("unexpected argument \"", flags.positional()[0], "\""));
  }
  if (flags.Get("policy").empty()) return Usage("--policy is required");
  if (flags.Get("trace").empty()) return Usage("--trace is required");
  sim::SimOptions options;
  options.compare = compare;
  for (const std::string& c : compare) {
    if (c.empty()) return Usage("--compare needs a baseline");
  }
  absl::StatusOr<int64_t> startup =
      SecondsFlag(flags, "pod-startup-seconds", true);
  if (!startup.ok()) return Usage(std::string(startup.status().message()));
  options.pod_startup_us = *startup;
  const bool startup_given = flags.IsSet("pod-startup-seconds");
  if (flags.IsSet("tick-seconds")) {
    absl::StatusOr<int64_t> tick = SecondsFlag(flags, "tick-seconds", false);
    if (!tick.ok()) return Usage(std::string(tick.status().message()));
    options.tick_us = *tick;
  }
  if (flags.IsSet("initial-replicas")) {
    absl::StatusOr<int64_t> n = flags.GetInt("initial-replicas", 0);
    if (!n.ok()) return Usage(std::string(n.status().message()));
    options.initial_replicas = *n;
  }
  const std::string report = flags.Get("report");
  const bool html = absl::EndsWith(report, ".html");
  if (!report.empty() && !html && !absl::EndsWith(report, ".svg")) {
    return Usage("--report must name a .svg or .html file");
  }
  options.record_report = !report.empty();

  const std::string policy_path = flags.Get("policy");
  const LoadResult loaded = LoadPolicies(policy_path);
  if (!loaded.errors.empty()) {
    for (const PolicyError& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.ToString().c_str());
    }
    return Fail(absl::StrCat(policy_path, ": invalid policy"));
  }
  absl::StatusOr<v1::ScalingPolicy> policy =
      PickPolicy(loaded, policy_path, flags.Get("name"));
  if (!policy.ok()) return Usage(std::string(policy.status().message()));
  // The policy says how long its pods take, unless the flag does.
  if (!startup_given && policy->spec().has_pod_startup_seconds()) {
    options.pod_startup_us = static_cast<int64_t>(
        std::llround(policy->spec().pod_startup_seconds() * kMicrosPerSecond));
  }

  const std::string trace_path = flags.Get("trace");
  std::ifstream trace_file;
  std::istream* trace_in = &std::cin;
  if (trace_path != "-") {
    trace_file.open(trace_path, std::ios::binary);
    if (!trace_file) return Fail(absl::StrCat("cannot read ", trace_path));
    trace_in = &trace_file;
  }
  std::ofstream timeline;
  if (!flags.Get("out").empty()) {
    timeline.open(flags.Get("out"), std::ios::binary);
    if (!timeline) return Fail(absl::StrCat("cannot write ", flags.Get("out")));
  }
  sim::TraceReader trace(*trace_in, trace_path, sim::SignalNames(*policy));
  absl::StatusOr<sim::SimResult> r = sim::Simulate(
      *policy, options, trace, timeline.is_open() ? &timeline : nullptr);
  if (!r.ok()) {
    return absl::IsInvalidArgument(r.status()) &&
                   absl::StartsWith(r.status().message(), "--")
               ? Usage(std::string(r.status().message()))
               : Fail(std::string(r.status().message()));
  }
  if (timeline.is_open()) {
    timeline.close();
    if (!timeline) return Fail(absl::StrCat("cannot write ", flags.Get("out")));
  }

  sim::RunInfo info;
  info.policy = absl::StrCat(policy->metadata().namespace_(), "/",
                             policy->metadata().name());
  info.trace = trace_path;
  info.duration_seconds =
      static_cast<double>(r->duration_us) / kMicrosPerSecond;
  info.rows = r->rows;
  info.tick_seconds = static_cast<double>(r->tick_us) / kMicrosPerSecond;
  info.pod_startup_seconds =
      static_cast<double>(options.pod_startup_us) / kMicrosPerSecond;
  info.initial_replicas = r->initial_replicas;
  const std::string heading = absl::StrCat(
      "simulated ", info.policy, " on ", trace_path, ": ",
      info.duration_seconds, " s, ", info.rows, " rows, tick ",
      info.tick_seconds, " s, pod startup ", info.pod_startup_seconds, " s, ",
      info.initial_replicas, " initial replicas");
  const std::string table = sim::SummaryTable(r->runs);
  std::printf("%s\n%s", heading.c_str(), table.c_str());
  for (const std::string& n : r->notes) std::printf("note: %s\n", n.c_str());

  if (!flags.Get("summary-json").empty() &&
      !WriteFile(flags.Get("summary-json"),
                 sim::SummaryJson(info, r->runs, r->notes))) {
    return Fail(absl::StrCat("cannot write ", flags.Get("summary-json")));
  }
  if (!report.empty()) {
    sim::ReportInfo ri;
    ri.title =
        absl::StrCat(info.policy, " on ",
                     std::filesystem::path(trace_path).filename().string());
    ri.subtitle = absl::StrCat("tick ", info.tick_seconds, " s, pod startup ",
                               info.pod_startup_seconds, " s, ",
                               info.initial_replicas, " initial replicas");
    ri.table_lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
    ri.notes = r->notes;
    const std::string text = html ? r->report->Html(ri) : r->report->Svg(ri);
    if (!WriteFile(report, text)) {
      return Fail(absl::StrCat("cannot write ", report));
    }
  }
  return 0;
}

}  // namespace signalscaler
