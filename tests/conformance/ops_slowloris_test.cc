// Slowloris on the operations port, through the real binary (issue 13 item
// 7): 150 half-open connections to --metrics-listen (each sent a request
// line without the blank line that ends the head, then nothing) starve
// neither /livez, /readyz nor /metrics, and a connection that does not
// complete its request head within the read deadline (5 s) is closed by the
// server, whether it sends nothing or dribbles a byte at a time.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_http.h"
#include "tests/testing/scaler_process.h"

namespace signalscaler::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int kHalfOpen = 150;
// The server's read deadline for a request head (HttpServerOptions'
// default, what Metrics::Serve uses).
constexpr absl::Duration kReadDeadline = absl::Seconds(5);

// True while the server has neither closed `fd` nor sent anything on it.
bool StillWaiting(int fd) {
  pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

class OpsSlowlorisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServe({});
    ASSERT_NE(server_.port, 0);
    ASSERT_NE(server_.metrics_port, 0) << server_.process->Output();
    // The embedded policies are in force before the port opens.
    ASSERT_EQ(HttpGet(server_.metrics_port, "/readyz").status, 200);
  }
  void TearDown() override {
    if (server_.process == nullptr) return;
    server_.process->Signal(SIGTERM);
    EXPECT_EQ(server_.process->Wait(absl::Seconds(10)), std::optional<int>(0));
  }

  ScalerProcess server_;
};

TEST_F(OpsSlowlorisTest, HalfOpenConnectionsStarveNeitherProbesNorMetrics) {
  const int port = server_.metrics_port;
  std::vector<int> half_open;
  for (int i = 0; i < kHalfOpen; ++i) {
    const int fd = ConnectLoopback(port);
    ASSERT_GE(fd, 0) << i;
    half_open.push_back(fd);
    const std::string partial = "GET /livez HTTP/1.1\r\n";  // no final CRLF
    ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(partial.size()));
  }
  absl::SleepFor(absl::Milliseconds(300));  // accepted and being read
  const absl::Time attack_began = absl::Now();

  // 12 rounds of the three paths, each request within 1 s.
  int answered = 0;
  int asked = 0;
  for (int round = 0; round < 12; ++round) {
    for (const char* path : {"/livez", "/readyz", "/metrics"}) {
      ++asked;
      const absl::Time start = absl::Now();
      RawHttpAnswer a = HttpGet(port, path, "GET", absl::Seconds(1));
      const absl::Duration took = absl::Now() - start;
      EXPECT_EQ(a.status, 200)
          << path << " round " << round << " after " << took;
      EXPECT_LT(took, absl::Seconds(1)) << path << " round " << round;
      if (a.status != 200 || took >= absl::Seconds(1)) continue;
      if (std::string(path) == "/metrics") {
        EXPECT_THAT(a.body, HasSubstr("signalscaler_policies_loaded"));
      } else {
        EXPECT_EQ(a.body, "ok\n") << path;
      }
      ++answered;
    }
  }
  EXPECT_EQ(answered, asked);
  // The attack was on for all of it: every half-open connection is still
  // waiting (none was dropped to make room), unless the read deadline came.
  if (absl::Now() - attack_began < kReadDeadline - absl::Milliseconds(500)) {
    int waiting = 0;
    for (int fd : half_open) waiting += StillWaiting(fd) ? 1 : 0;
    EXPECT_EQ(waiting, kHalfOpen);
  }
  for (int fd : half_open) ::close(fd);
}

TEST_F(OpsSlowlorisTest, SilentConnectionIsClosedAfterTheReadDeadline) {
  const int fd = ConnectLoopback(server_.metrics_port);
  ASSERT_GE(fd, 0);
  const absl::Time start = absl::Now();
  EXPECT_EQ(ReadUntilClosed(fd, absl::Seconds(20)), "");  // EOF, no answer
  const absl::Duration closed_after = absl::Now() - start;
  EXPECT_GE(closed_after, kReadDeadline - absl::Milliseconds(500));
  EXPECT_LT(closed_after, kReadDeadline + absl::Seconds(3));
  ::close(fd);
}

TEST_F(OpsSlowlorisTest, DribblingClientIsClosedAtTheDeadlineNotPerByte) {
  // One byte every 200 ms never completes a head in time: the deadline is
  // for the whole head, not for each read.
  const int fd = ConnectLoopback(server_.metrics_port);
  ASSERT_GE(fd, 0);
  const std::string request = absl::StrCat(
      "GET /livez HTTP/1.1\r\nX-Pad: ", std::string(200, 'a'), "\r\n\r\n");
  const absl::Time start = absl::Now();
  absl::Duration closed_after = absl::InfiniteDuration();
  for (char c : request) {
    if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1 || !StillWaiting(fd)) {
      closed_after = absl::Now() - start;
      break;
    }
    if (absl::Now() - start > absl::Seconds(20)) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_GE(closed_after, kReadDeadline - absl::Milliseconds(500));
  EXPECT_LT(closed_after, kReadDeadline + absl::Seconds(3));
  // Whatever came before the close is no answer to the request.
  EXPECT_THAT(ReadUntilClosed(fd, absl::Seconds(2)),
              Not(StartsWith("HTTP/1.1 200")));
  ::close(fd);
}

}  // namespace
}  // namespace signalscaler::testing
