// Child processes for tests: the signalscaler binary, and (integration
// tests) real redis-server and prometheus. Output goes to a file that the
// test can read while the child runs. A child still running when its
// Subprocess is destroyed is killed and reaped.
//
//   auto p = Subprocess::Start({bin, "serve", "--listen=127.0.0.1:0"}, log);
//   std::string port = (*p)->WaitForOutput("port=", absl::Seconds(20));
#ifndef SIGNALSCALER_TESTS_TESTING_SUBPROCESS_H_
#define SIGNALSCALER_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace signalscaler::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with stdout and stderr appended to `log_path`.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path);
  ~Subprocess();

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The exit code (128 + signal if killed), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  // Everything the child wrote so far.
  std::string Output() const;
  // Polls the output until it contains `needle`; returns the text that
  // follows it up to the end of that line, or nullopt on timeout.
  std::optional<std::string> WaitForOutput(const std::string& needle,
                                           absl::Duration timeout) const;

 private:
  Subprocess(pid_t pid, std::string log) : pid_(pid), log_(std::move(log)) {}
  pid_t pid_;
  std::string log_;
  std::optional<int> exit_code_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a command to completion (killed after `timeout`).
RunResult RunCommand(const std::vector<std::string>& argv,
                     absl::Duration timeout = absl::Seconds(30));

// The peak resident set (VmHWM in /proc/PID/status) of process `pid` (this
// process when 0) in bytes, or 0 when it cannot be read.
size_t PeakRssBytes(pid_t pid = 0);

// A fresh temporary directory (under TEST_TMPDIR or /tmp).
std::string MakeTempDir();
// The signalscaler binary of this build.
std::string SignalscalerBinary();
std::string SourceDir();

// A port that was free a moment ago (bound to 127.0.0.1:0, then closed), or
// 0 if none could be found.
int FreePort();

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_SUBPROCESS_H_
