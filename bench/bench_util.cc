#include "bench/bench_util.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

#ifndef SIGNALSCALER_BUILD_TYPE
#define SIGNALSCALER_BUILD_TYPE "unknown"
#endif

namespace signalscaler::bench {

std::string BuildDir() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return ".";
  std::string exe(path, static_cast<size_t>(n));
  exe = exe.substr(0, exe.rfind('/'));  // <build>/bench
  return exe.substr(0, exe.rfind('/'));
}

void UseThisBuild() {
  if (std::getenv("SIGNALSCALER_BINARY_DIR") == nullptr) {
    ::setenv("SIGNALSCALER_BINARY_DIR", BuildDir().c_str(), 1);
  }
}

std::string BuildType() { return SIGNALSCALER_BUILD_TYPE; }

bool OptimizedBuild() {
  const std::string t = BuildType();
  return t == "Release" || t == "RelWithDebInfo" || t == "MinSizeRel";
}

std::string MachineLine() {
  std::string model = "?";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (absl::StartsWith(line, "model name")) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  ::uname(&u);
  double load[1] = {0};
  ::getloadavg(load, 1);
  return absl::StrFormat("%d CPUs (%s), %s %s, load average %.2f at start",
                         static_cast<int>(std::thread::hardware_concurrency()),
                         model, u.sysname, u.release, load[0]);
}

std::optional<Memory> ReadMemory(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return std::nullopt;
  Memory m;
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    absl::string_view v = line;
    double* field = nullptr;
    if (absl::ConsumePrefix(&v, "VmRSS:")) field = &m.rss_mib;
    if (absl::ConsumePrefix(&v, "VmHWM:")) field = &m.hwm_mib;
    if (field == nullptr) continue;
    v = absl::StripAsciiWhitespace(v);
    absl::ConsumeSuffix(&v, "kB");
    double kb = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(v), &kb)) {
      *field = kb / 1024;
      any = true;
    }
  }
  if (!any) return std::nullopt;
  return m;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces): "S ppid ...";
  // utime and stime are fields 14 and 15, i.e. 12th and 13th after it.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> f =
      absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
  int64_t utime = 0;
  int64_t stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  if (cpu != "cpu") return -1;
  // user nice system idle iowait irq softirq steal
  int64_t v[8] = {0};
  for (int64_t& x : v) in >> x;
  if (!in) return -1;
  const int64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return static_cast<double>(busy) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(
      std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::string PushPolicySet::Namespace(int policy) const {
  return absl::StrFormat("bench-%02d", policy % namespaces);
}

std::string PushPolicySet::Name(int policy) const {
  return absl::StrFormat("p%05d", policy);
}

std::string PushPolicySet::Signal(int signal) {
  return absl::StrCat("s", signal);
}

namespace {

std::string SignalYaml(int j) {
  const std::string head =
      absl::StrCat("  - name: ", PushPolicySet::Signal(j), "\n");
  const char* source = "    source: {intervalSeconds: 3600, push: {}}\n";
  switch (j % 3) {
    case 0:
      return absl::StrCat(head, "    type: Total\n    targetPerReplica: 10\n",
                          source);
    case 1:
      return absl::StrCat(head,
                          "    type: Average\n    scaleUpAbove: 0.7\n"
                          "    scaleDownBelow: 0.5\n",
                          source);
    default:
      return absl::StrCat(head,
                          "    type: Headroom\n    scaleUpBelow: 2\n"
                          "    scaleDownAbove: 6\n",
                          source);
  }
}

double PushValue(int signal, int level) {
  switch (signal % 3) {
    case 0:
      return level == 1 ? 35 : 70;
    case 1:
      return level == 1 ? 0.6 : 0.9;
    default:
      return level == 1 ? 4 : 1;
  }
}

}  // namespace

std::string WritePolicies(const PushPolicySet& set) {
  const std::string dir = testing::MakeTempDir();
  std::string signals;
  for (int j = 0; j < set.signals; ++j) signals += SignalYaml(j);
  std::vector<std::string> files(static_cast<size_t>(set.namespaces));
  for (int i = 0; i < set.policies; ++i) {
    absl::StrAppendFormat(
        &files[static_cast<size_t>(i % set.namespaces)],
        "---\n"
        "apiVersion: signalscaler.io/v1\n"
        "kind: ScalingPolicy\n"
        "metadata: {name: %s, namespace: %s}\n"
        "spec:\n"
        "  minReplicas: 1\n"
        "  maxReplicas: 100\n"
        "  evaluationIntervalSeconds: %d\n"
        "  behavior:\n"
        "    scaleUp:\n"
        "      stabilizationWindowSeconds: 15\n"
        "      selectPolicy: Max\n"
        "      policies: [{type: Pods, value: 4, periodSeconds: 60},\n"
        "                 {type: Percent, value: 100, periodSeconds: 60}]\n"
        "    scaleDown:\n"
        "      stabilizationWindowSeconds: %d\n"
        "      policies: [{type: Pods, value: 1, periodSeconds: 60}]\n"
        "  signals:\n%s",
        set.Name(i), set.Namespace(i), set.evaluation_interval_seconds,
        set.scale_down_window_seconds, signals);
  }
  for (int n = 0; n < set.namespaces; ++n) {
    testing::WriteFile(absl::StrFormat("%s/bench-%02d.yaml", dir, n),
                       files[static_cast<size_t>(n)]);
  }
  return dir;
}

std::vector<std::string> ServeFlags(const PushPolicySet& set,
                                    const std::string& dir,
                                    const std::vector<std::string>& extra) {
  const int per_namespace =
      (set.policies + set.namespaces - 1) / set.namespaces;
  std::vector<std::string> flags = {
      "--policies=" + dir,
      absl::StrCat("--max-policies=", std::max(20000, set.policies)),
      absl::StrCat("--max-policies-per-namespace=",
                   std::max(1000, per_namespace)),
      // The benchmarks push a value per signal of every policy at once.
      "--max-pushes-per-second=1000000",
      // Decide from the first value: a fresh process on the memory store
      // would otherwise wait a whole scale-down window (README "After a
      // restart") with nothing decided, answering UNAVAILABLE.
      "--no-history=decide"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

absl::Status PushAll(const std::string& address, const PushPolicySet& set,
                     int level, int threads) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  std::unique_ptr<admin::v1::Admin::Stub> stub =
      admin::v1::Admin::NewStub(channel);
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  auto work = [&] {
    for (int i = next++; i < set.policies; i = next++) {
      for (int j = 0; j < set.signals; ++j) {
        admin::v1::PushRequest req;
        req.set_namespace_(set.Namespace(i));
        req.set_policy(set.Name(i));
        req.set_signal(PushPolicySet::Signal(j));
        req.set_value(PushValue(j, level));
        admin::v1::PushResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
        const grpc::Status s = stub->Push(&ctx, req, &resp);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) {
            first_error = absl::Status(
                static_cast<absl::StatusCode>(s.error_code()),
                absl::StrCat("push ", set.Namespace(i), "/", set.Name(i), "/",
                             PushPolicySet::Signal(j), ": ",
                             s.error_message()));
          }
          next = set.policies;  // stop every thread
          return;
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  return first_error;
}

bool IntFlag(const std::string& arg, const char* name, int min, int* out) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (arg.rfind(prefix, 0) != 0) return false;
  if (!absl::SimpleAtoi(arg.substr(prefix.size()), out) || *out < min) {
    std::fprintf(stderr, "bad value in \"%s\": an integer >= %d\n", arg.c_str(),
                 min);
    std::exit(2);
  }
  return true;
}

void RemoveTree(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

int FailWithLog(const char* program, const std::string& why,
                const std::string& serve_log) {
  std::fprintf(stderr, "%s: %s\n", program, why.c_str());
  if (!serve_log.empty()) {
    std::fprintf(
        stderr, "--- serve log (tail) ---\n%s\n",
        serve_log.substr(serve_log.size() > 4000 ? serve_log.size() - 4000 : 0)
            .c_str());
  }
  return 1;
}

}  // namespace signalscaler::bench
