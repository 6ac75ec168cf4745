// `signalscaler trace`: a load trace for `simulate` from the policy's own
// metrics history in Prometheus. See trace_history.h and
// scaler/sim/history_trace.h.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"
#include "scaler/cli/trace_history.h"

namespace signalscaler {
namespace {

int Usage(absl::string_view message) {
  std::fprintf(stderr, "signalscaler trace: %s\n",
               std::string(message).c_str());
  return 2;
}

int Fail(absl::string_view message) {
  std::fprintf(stderr, "signalscaler trace: %s\n",
               std::string(message).c_str());
  return 1;
}

FlagSet TraceFlags() {
  FlagSet flags(
      "trace",
      "Writes a load trace for `simulate` from the policy's metrics history: "
      "each Prometheus signal's own query run as a range query over "
      "[--start, --end], each column in the unit simulate reads (Total: the "
      "value; Average: value x ready replicas; Headroom: ready x capacity - "
      "spare), the replicas the cluster ran as `actual` (and "
      "`actual_ready`), gaps held and counted in the header comment.\n\n"
      "  signalscaler trace --policy FILE [--name POLICY] --start TIME --end "
      "TIME\n      [--step SECONDS] [--prometheus ADDRESS] [--signal-query "
      "NAME=PROMQL ...]\n      [--demand-query PROMQL] --out TRACE.csv");
  flags.Add("policy", "", "policy file (or directory)");
  flags.Add("name", "",
            "the policy (NAME or NAMESPACE/NAME) when the file holds several");
  flags.Add("out", "", "write the trace here (- for stdout)");
  AddHistoryFlags(flags);
  return flags;
}

}  // namespace

int TraceCommand(int argc, char** argv) {
  const std::vector<std::string> queries = TakeSignalQueries(argc, argv);
  FlagSet flags = TraceFlags();
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    return Usage(s.message());
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!flags.positional().empty()) {
    return Usage(
        absl::StrCat("unexpected argument \"", flags.positional()[0], "\""));
  }
  for (const char* required : {"policy", "out"}) {
    if (flags.Get(required).empty()) {
      return Usage(absl::StrCat("--", required, " is required"));
    }
  }
  absl::StatusOr<HistoryRequest> request =
      ParseHistoryRequest(flags, queries, absl::Now());
  if (!request.ok()) return Usage(request.status().message());
  absl::StatusOr<v1::ScalingPolicy> policy =
      LoadOnePolicy(flags.Get("policy"), flags.Get("name"), &request->access);
  if (!policy.ok()) {
    return absl::IsInvalidArgument(policy.status())
               ? Usage(policy.status().message())
               : Fail(policy.status().message());
  }
  const std::string out_path = flags.Get("out");
  const bool to_stdout = out_path == "-";
  std::ofstream file;
  if (!to_stdout) {
    file.open(out_path, std::ios::binary);
    if (!file) return Fail(absl::StrCat("cannot write ", out_path));
  }
  std::ostream& out = to_stdout ? std::cout : file;
  absl::StatusOr<HistoryResult> r =
      WriteTraceFromHistory(*policy, *request, out);
  if (!r.ok()) {
    if (!to_stdout) {
      file.close();
      std::remove(out_path.c_str());
    }
    return Fail(r.status().message());
  }
  out.flush();
  if (!to_stdout) {
    file.close();
    if (!file) return Fail(absl::StrCat("cannot write ", out_path));
    for (const std::string& c : r->comments) std::printf("%s\n", c.c_str());
    std::printf("wrote %s\n", out_path.c_str());
  }
  return 0;
}

}  // namespace signalscaler
