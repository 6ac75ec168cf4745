// wakeup_bench: how long from RPUSH onto an empty Redis list to `true` on an
// open StreamIsActive, with keyspace notifications on (`notify: true`).
//
// Starts a redis-server child (127.0.0.1, free port, no persistence) and the
// real `signalscaler serve` as a child, serving one policy: a `redis` list
// source with notify: true, polled only every 30 s (so a fast answer can
// only come from the notification), minReplicas 0 and no scale-down window.
// Opens StreamIsActive as KEDA's external-push does, then N times: drains
// the list, waits until the service is back at 0 (IsActive false), RPUSHes
// one item and times the arrival of `true`. Prints min / median / p90 / max.
//
//   wakeup_bench [--iterations=30]
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/testing/redis_test_server.h"

namespace signalscaler::testing {
namespace {

// The build directory: this binary is <build>/bench/wakeup_bench.
std::string BuildDir() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return ".";
  std::string exe(path, static_cast<size_t>(n));
  exe = exe.substr(0, exe.rfind('/'));  // <build>/bench
  return exe.substr(0, exe.rfind('/'));
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(
      std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

double Median(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

int Fail(const std::string& why, const ServedScaler* scaler = nullptr) {
  std::fprintf(stderr, "wakeup_bench: %s\n", why.c_str());
  if (scaler != nullptr) {
    std::fprintf(stderr, "--- serve log ---\n%s", scaler->Log().c_str());
  }
  return 1;
}

int Run(int iterations) {
  auto redis = TestRedisServer::Start();
  if (!redis.ok()) return Fail(redis.status().ToString());
  TestRedisClient client((*redis)->port());
  const std::string version = client.Run({"INFO", "server"});
  const size_t at = version.find("redis_version:");
  const std::string redis_version =
      at == std::string::npos
          ? "?"
          : version.substr(at + 14, version.find('\r', at) - at - 14);

  auto scaler = ServedScaler::Start(
      TotalPolicy("wake",
                  absl::StrCat("redis: {address: \"", (*redis)->address(),
                               "\", list: wake, notify: true}"),
                  1, /*min_replicas=*/0, /*interval_seconds=*/30));
  if (scaler == nullptr) return Fail("signalscaler serve did not start");
  // The source subscribes (PSUBSCRIBE) at startup.
  if (!PollUntil(
          [&] {
            return client.Run({"PUBSUB", "NUMPAT"}) != "0";
          },
          absl::Seconds(10))) {
    return Fail("the source did not subscribe to keyspace events",
                scaler.get());
  }
  std::unique_ptr<ActiveStream> stream =
      scaler->keda().StreamIsActive(kNamespace, "wake");
  if (!stream->Next(absl::Seconds(10)).has_value()) {
    return Fail("StreamIsActive sent no first message", scaler.get());
  }

  // Warm-up: a first item gives the policy its first decision (before it,
  // there is no reading to go back to 0 from).
  client.Run({"RPUSH", "wake", "job"});
  std::optional<ActiveMessage> warm = stream->Next(absl::Seconds(10));
  if (!warm.has_value() || !warm->result) {
    return Fail("warm-up: no `true` within 10 s", scaler.get());
  }

  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    // Drain (the pop is notified too), and wait for the service to be at 0.
    client.Run({"LPOP", "wake", "1000"});
    if (!PollUntil(
            [&] {
              absl::StatusOr<bool> a =
                  scaler->keda().IsActive(kNamespace, "wake");
              return a.ok() && !*a;
            },
            absl::Seconds(10), absl::Milliseconds(5))) {
      return Fail("the drained list did not bring the service to 0",
                  scaler.get());
    }
    // Nothing may be queued on the stream (deactivations send nothing).
    while (stream->Next(absl::ZeroDuration()).has_value()) {
    }
    const absl::Time pushed = absl::Now();
    client.Run({"RPUSH", "wake", "job"});
    std::optional<ActiveMessage> m = stream->Next(absl::Seconds(10));
    if (!m.has_value() || !m->result) {
      return Fail(absl::StrCat("iteration ", i, ": no `true` within 10 s"),
                  scaler.get());
    }
    ms.push_back(Ms(m->received - pushed));
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "wakeup_bench: RPUSH onto an empty list -> `true` on an open "
      "StreamIsActive\n"
      "  signalscaler serve (child process), redis-server %s (child "
      "process), 127.0.0.1\n"
      "  redis list source, notify: true, intervalSeconds: 30, minReplicas: "
      "0\n"
      "  iterations: %d\n"
      "  min %.2f ms  median %.2f ms  p90 %.2f ms  max %.2f ms\n",
      redis_version.c_str(), iterations, ms.front(), Median(ms),
      Percentile(ms, 90), ms.back());
  return 0;
}

}  // namespace
}  // namespace signalscaler::testing

int main(int argc, char** argv) {
  int iterations = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: wakeup_bench [--iterations=N] (default 30)\n");
      return 0;
    }
    if (arg.rfind("--iterations=", 0) != 0 ||
        !absl::SimpleAtoi(arg.substr(13), &iterations) || iterations < 1) {
      std::fprintf(stderr, "wakeup_bench: bad argument \"%s\"\n", argv[i]);
      return 2;
    }
  }
  if (std::getenv("SIGNALSCALER_BINARY_DIR") == nullptr) {
    ::setenv("SIGNALSCALER_BINARY_DIR",
             signalscaler::testing::BuildDir().c_str(), 1);
  }
  return signalscaler::testing::Run(iterations);
}
