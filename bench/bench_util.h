// What the server benchmarks share: where this build is, what machine this
// is, a process's memory and CPU time from /proc, percentiles, and a set of
// generated `push` policies (with the admin API client that feeds them).
// gRPC's headers stay in the .cc.
//
//   UseThisBuild();                       // serve = <build>/scaler/...
//   PushPolicySet set;
//   set.signals = 5;
//   std::string dir = WritePolicies(set); // one file per namespace
//   ScalerProcess s = StartServe({"--policies=" + dir});
//   absl::Status ok = PushAll(s.address(), set, 35);
#ifndef SIGNALSCALER_BENCH_BENCH_UTIL_H_
#define SIGNALSCALER_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace signalscaler::bench {

// The build directory of this executable (<build>/bench/<exe> -> <build>).
std::string BuildDir();
// Points tests/testing's SignalscalerBinary() at this build, unless
// SIGNALSCALER_BINARY_DIR is already set.
void UseThisBuild();
// CMAKE_BUILD_TYPE of this build, and whether it is optimized.
std::string BuildType();
bool OptimizedBuild();
// "2 CPUs (AMD EPYC), Linux 6.1.0-..., load average 0.42" for the report.
std::string MachineLine();

// VmRSS and VmHWM of a process in MiB, or nullopt if it is gone.
struct Memory {
  double rss_mib = 0;
  double hwm_mib = 0;
};
std::optional<Memory> ReadMemory(pid_t pid);
// User + system CPU seconds of a process (/proc/PID/stat), or -1.
double ProcessCpuSeconds(pid_t pid);
// Of this process (all threads).
double SelfCpuSeconds();
// CPU seconds all processes of the machine have used since boot
// (/proc/stat: everything but idle and iowait), or -1.
double MachineBusySeconds();

// Nearest-rank percentile of sorted values (p in [0, 100]).
double Percentile(const std::vector<double>& sorted, double p);

// Generated policies whose signals are all `push` sources, so that no
// Prometheus is needed: policy i is "p<i>" in namespace "bench-<i % ns>".
// Signal j is "s<j>": Total (target 10 per replica), Average (band 0.5-0.7)
// and Headroom (band 2-6) in turn. Each push source expects a value every
// hour (intervalSeconds: 3600), so that one push keeps it fresh for the
// whole run. Behavior: up window 15 s, up by 4 pods or 100 % per 60 s;
// down window `scale_down_window_seconds`, down 1 pod per 60 s.
struct PushPolicySet {
  int policies = 10000;
  int namespaces = 20;  // serve's default per-namespace limit is 1000
  int signals = 1;
  int evaluation_interval_seconds = 5;
  int scale_down_window_seconds = 300;

  std::string Namespace(int policy) const;
  std::string Name(int policy) const;
  static std::string Signal(int signal);
};

// Writes the policies to a fresh directory (one file per namespace: a
// policy file may not exceed 1 MiB) and returns it.
std::string WritePolicies(const PushPolicySet& set);

// serve's flags for `set` written to `dir`: --policies, limits raised if
// the set is larger than the defaults allow, then `extra` (a later flag
// wins).
std::vector<std::string> ServeFlags(const PushPolicySet& set,
                                    const std::string& dir,
                                    const std::vector<std::string>& extra);

// Pushes one value for every signal of every policy through the admin API
// at `address`, from `threads` threads. `level` scales the values: 1 gives
// Total 35 (4 replicas), Average 0.6 and Headroom 4 (both in band); 2 gives
// Total 70 (7 replicas), Average 0.9 and Headroom 1 (both up). The first
// error stops it.
absl::Status PushAll(const std::string& address, const PushPolicySet& set,
                     int level, int threads = 4);

// Parses "--NAME=N" into `out`: false if `arg` is another flag; exits 2
// with a message if N is not an integer >= `min`.
bool IntFlag(const std::string& arg, const char* name, int min, int* out);

// Prints "<program>: <why>" and the last 4000 bytes of `serve_log` (if any)
// to stderr; returns 1, the benchmark's exit code.
int FailWithLog(const char* program, const std::string& why,
                const std::string& serve_log);

// Removes a directory tree; errors ignored.
void RemoveTree(const std::string& dir);

}  // namespace signalscaler::bench

#endif  // SIGNALSCALER_BENCH_BENCH_UTIL_H_
