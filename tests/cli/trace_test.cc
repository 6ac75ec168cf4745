// `signalscaler trace` and `simulate --prometheus` through the binary,
// against a real Prometheus whose history this test writes: OpenMetrics
// text with timestamps, hours in the past, made into TSDB blocks by
// `promtool tsdb create-blocks-from openmetrics` before Prometheus starts.
// Every series is a function of t (seconds from kBase) below, so each row of
// a trace is checked against the figure it must be. A fake Prometheus
// (TestHttpServer) shows what is sent: the bearer token, the chunks.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/sim/sim_test_util.h"
#include "tests/testing/prometheus_test_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler {
namespace {

using sim_testing::Read;
using sim_testing::RunNamed;
using sim_testing::Write;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using ::testing::Not;
using testing::RunCommand;
using testing::RunResult;
using testing::SignalscalerBinary;
using testing::TestPrometheus;

// The history: samples every 15 s over 4 hours from kBase.
constexpr int kSampleEvery = 15;
constexpr int kHistorySeconds = 4 * 3600;

int Index(int t) { return t / kSampleEvery; }  // tr_total's value
int Ready(int t) { return 2 + (t / 600) % 3; }
double Cpu(int t) { return 0.5 + 0.1 * ((t / 300) % 3); }
double Spare(int t) { return 5 + 3 * ((t / 900) % 2); }
int Replicas(int t) { return Ready(t) + 1; }
// tr_gappy: tr_total without the samples of [1200, 2400).
bool InHole(int t) { return t >= 1200 && t < 2400; }
// The end-to-end case: the load steps from 100 to 500 at t=1800; the
// cluster asked for 5 pods at 1860, ready at 1920.
double StepLoad(int t) { return t < 1800 ? 100 : 500; }
int E2eReplicas(int t) { return t < 1860 ? 1 : 5; }
int E2eReady(int t) { return t < 1920 ? 1 : 5; }

struct Series {
  const char* name;
  std::function<std::optional<double>(int)> value;
};

std::vector<Series> History() {
  return {
      {"tr_total", [](int t) { return Index(t); }},
      {"tr_ready", [](int t) { return Ready(t); }},
      {"tr_cpu", [](int t) { return Cpu(t); }},
      {"tr_spare", [](int t) { return Spare(t); }},
      {"tr_replicas", [](int t) { return Replicas(t); }},
      {"tr_gappy",
       [](int t) {
         return InHole(t) ? std::nullopt : std::optional<double>(Index(t));
       }},
      {"tr_step", [](int t) { return StepLoad(t); }},
      {"tr_e2e_replicas", [](int t) { return E2eReplicas(t); }},
      {"tr_e2e_ready", [](int t) { return E2eReady(t); }},
  };
}

// RFC 3339 of kBase + t.
std::string At(absl::Time base, int t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", base + absl::Seconds(t),
                          absl::UTCTimeZone());
}

class TraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Hours in the past: blocks older than the head of a fresh Prometheus.
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    base_ = absl::FromUnixSeconds((now / 7200) * 7200 - 10 * 3600);
    const std::string dir = MakeTempDir();
    std::string om;
    for (const Series& s : History()) {
      absl::StrAppend(&om, "# TYPE ", s.name, " gauge\n");
      for (int t = 0; t <= kHistorySeconds; t += kSampleEvery) {
        const std::optional<double> v = s.value(t);
        if (!v) continue;
        absl::StrAppend(&om, s.name, "{job=\"history\"} ", *v, " ",
                        absl::ToUnixSeconds(base_) + t, "\n");
      }
    }
    absl::StrAppend(&om, "# EOF\n");
    const std::string data = dir + "/data";
    const RunResult blocks = RunCommand(
        {"/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics",
         "--quiet", Write(dir, "history.om", om), data},
        absl::Seconds(60));
    ASSERT_EQ(blocks.exit_code, 0) << blocks.output;
    testing::TestPrometheusOptions options;
    options.data_dir = data;
    absl::StatusOr<std::unique_ptr<TestPrometheus>> p =
        TestPrometheus::Start({}, options);
    ASSERT_TRUE(p.ok()) << p.status();
    prometheus_ = p->release();
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    prometheus_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(prometheus_, nullptr) << "Prometheus did not start";
    dir_ = MakeTempDir();
  }

  // A policy prod/NAME whose signals (YAML list items) and extra spec
  // lines are given; `PROM` in them is the test Prometheus' address.
  std::string Policy(const std::string& name, const std::string& signals,
                     const std::string& extra = "") {
    std::string text = absl::StrCat(
        "apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
        "metadata: {name: ",
        name,
        ", namespace: prod}\nspec:\n  maxReplicas: 10\n"
        "  evaluationIntervalSeconds: 60\n",
        extra, "  signals:\n", signals);
    text = absl::StrReplaceAll(text, {{"PROM", prometheus_->address()}});
    return Write(dir_, name + ".yaml", text);
  }
  // A prometheus source of `query`, with `extra` source fields.
  static std::string Prom(const std::string& query,
                          const std::string& extra = "") {
    return absl::StrCat("{prometheus: {address: \"PROM\", query: \"", query,
                        "\"}", extra, "}");
  }
  RunResult Trace(std::vector<std::string> args) {
    args.insert(args.begin(), {SignalscalerBinary(), "trace"});
    return RunCommand(args);
  }
  std::vector<std::string> Range(int from, int to) {
    return {"--start", At(base_, from), "--end", At(base_, to)};
  }

  static absl::Time base_;
  static TestPrometheus* prometheus_;
  std::string dir_;
};

absl::Time TraceTest::base_;
TestPrometheus* TraceTest::prometheus_ = nullptr;

// A trace file: its comment lines, header, and rows of numbers.
struct Csv {
  std::vector<std::string> comments;
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  // The value of `column` in the row at time t (seconds).
  double At(const std::string& column, double t, double step) const {
    const size_t c =
        std::find(header.begin(), header.end(), column) - header.begin();
    const size_t r = static_cast<size_t>(std::llround(t / step));
    if (c >= header.size() || r >= rows.size()) return NAN;
    return rows[r][c];
  }
};

Csv ParseCsv(const std::string& path) {
  Csv csv;
  for (absl::string_view line :
       absl::StrSplit(Read(path), '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) {
      csv.comments.emplace_back(line);
    } else if (csv.header.empty()) {
      csv.header = absl::StrSplit(line, ',');
    } else {
      std::vector<double> row;
      for (absl::string_view f : absl::StrSplit(line, ',')) {
        double v = NAN;
        EXPECT_TRUE(absl::SimpleAtod(f, &v)) << line;
        row.push_back(v);
      }
      csv.rows.push_back(row);
    }
  }
  return csv;
}

// Values at known times and each column in the unit simulate reads it:
// Total the value, Average value x ready, Headroom ready x capacity -
// spare; actual and actual_ready from replicas and readyReplicas. The step
// is the policy's 60 s interval (no --step).
TEST_F(TraceTest, ValuesAtKnownTimesInSimulatesUnits) {
  const std::string policy = Policy(
      "conv",
      absl::StrCat("  - {name: tot, type: Total, targetPerReplica: 10, "
                   "source: ",
                   Prom("sum(tr_total)"),
                   "}\n  - {name: cpu, type: Average, scaleUpAbove: 0.8, "
                   "scaleDownBelow: 0.3, source: ",
                   Prom("avg(tr_cpu)"),
                   "}\n  - {name: spare, type: Headroom, scaleUpBelow: 2, "
                   "scaleDownAbove: 20, capacityPerReplica: 10, source: ",
                   Prom("sum(tr_spare)"), "}\n"),
      absl::StrCat("  replicas: ", Prom("sum(tr_replicas)"),
                   "\n  readyReplicas: ", Prom("sum(tr_ready)"), "\n"));
  const std::string out = dir_ + "/conv.csv";
  std::vector<std::string> args = {
      "--policy", policy, "--out", out, "--demand-query", "sum(tr_ready) + 1"};
  for (const std::string& a : Range(0, 1800)) args.push_back(a);
  const RunResult r = Trace(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrote " + out));
  const Csv csv = ParseCsv(out);
  EXPECT_THAT(csv.header,
              ::testing::ElementsAre("t", "tot", "cpu", "spare", "demand",
                                     "actual", "actual_ready"));
  ASSERT_EQ(csv.rows.size(), 31u);
  for (int t = 0; t <= 1800; t += 60) {
    SCOPED_TRACE(absl::StrCat("t=", t));
    EXPECT_EQ(csv.At("t", t, 60), t);
    EXPECT_EQ(csv.At("tot", t, 60), Index(t));
    EXPECT_NEAR(csv.At("cpu", t, 60), Cpu(t) * Ready(t), 1e-9);
    EXPECT_EQ(csv.At("spare", t, 60), Ready(t) * 10 - Spare(t));
    EXPECT_EQ(csv.At("actual", t, 60), Replicas(t));
    EXPECT_EQ(csv.At("actual_ready", t, 60), Ready(t));
    EXPECT_EQ(csv.At("demand", t, 60), Ready(t) + 1);
  }
  // Spot checks against figures worked out by hand: at t=660 ready is 3
  // (660/600 = 1), cpu 0.7 (660/300 = 2), spare 5: 2.1 and 25.
  EXPECT_NEAR(csv.At("cpu", 660, 60), 2.1, 1e-9);
  EXPECT_EQ(csv.At("spare", 660, 60), 25);
  ASSERT_GE(csv.comments.size(), 2u);
  EXPECT_THAT(
      csv.comments[0],
      HasSubstr("signalscaler trace of prod/conv from " + At(base_, 0) +
                " (t=0) to " + At(base_, 1800) + ", step 60 s, 31 rows"));
  EXPECT_THAT(csv.comments.back(),
              HasSubstr("tot 0, cpu 0, spare 0, demand 0, actual 0, "
                        "actual_ready 0"));
}

// 12,601 points at a 1 s step: more than Prometheus' 11,000 per query (it
// refuses one such query), so two chunks; the rows at and across their
// border hold the value of the sample at or before them.
TEST_F(TraceTest, ChunksALongRange) {
  const std::string policy = Policy(
      "long", absl::StrCat("  - {name: tot, type: Total, targetPerReplica: "
                           "10, source: ",
                           Prom("sum(tr_total)"), "}\n"));
  const std::string out = dir_ + "/long.csv";
  std::vector<std::string> args = {"--policy", policy,   "--out",
                                   out,        "--step", "1"};
  for (const std::string& a : Range(0, 12600)) args.push_back(a);
  const RunResult r = Trace(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Csv csv = ParseCsv(out);
  ASSERT_EQ(csv.rows.size(), 12601u);
  for (int t : {0, 14, 15, 10994, 10999, 11000, 11001, 11010, 12600}) {
    EXPECT_EQ(csv.At("t", t, 1), t);
    EXPECT_EQ(csv.At("tot", t, 1), t / 15) << "t=" << t;
  }
  EXPECT_THAT(csv.comments.back(), HasSubstr("tot 0"));
}

// tr_gappy has no sample in [1200, 2400): Prometheus' 5 minute lookback
// still finds the one at 1185 (value 79) up to t=1440; the rows 1500 to
// 2340, 15 of them, have none: they hold 79 and are counted.
TEST_F(TraceTest, GapsHoldTheLastValueAndAreCounted) {
  const std::string policy = Policy(
      "gappy", absl::StrCat("  - {name: g, type: Total, targetPerReplica: "
                            "10, source: ",
                            Prom("sum(tr_gappy)"), "}\n"));
  const std::string out = dir_ + "/gappy.csv";
  std::vector<std::string> args = {"--policy", policy, "--out", out};
  for (const std::string& a : Range(0, 3600)) args.push_back(a);
  const RunResult r = Trace(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Csv csv = ParseCsv(out);
  EXPECT_EQ(csv.At("g", 1140, 60), 76);
  EXPECT_EQ(csv.At("g", 1440, 60), 79);
  for (int t = 1500; t <= 2340; t += 60) EXPECT_EQ(csv.At("g", t, 60), 79);
  EXPECT_EQ(csv.At("g", 2400, 60), 160);
  EXPECT_THAT(csv.comments.back(),
              HasSubstr("gaps held (rows without a sample, holding the value "
                        "before): g 15"));
  EXPECT_THAT(r.output, HasSubstr("g 15"));
}

TEST_F(TraceTest, AMissingSeriesIsAnError) {
  const std::string policy =
      Policy("absent", absl::StrCat("  - {name: gone, type: Total, "
                                    "targetPerReplica: 10, source: ",
                                    Prom("sum(tr_never_written)"), "}\n"));
  const std::string out = dir_ + "/absent.csv";
  std::vector<std::string> args = {"--policy", policy, "--out", out};
  for (const std::string& a : Range(0, 600)) args.push_back(a);
  const RunResult r = Trace(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("signal \"gone\": prometheus range query "
                        "\"sum(tr_never_written)\" at " +
                        prometheus_->address() + ": no series from "));
  EXPECT_FALSE(std::filesystem::exists(out));
  // --signal-query replaces a Prometheus signal's query (its source's
  // address still applies: there is no --prometheus here).
  args.push_back("--signal-query=gone=sum(tr_total)");
  const RunResult fixed = Trace(args);
  ASSERT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_EQ(ParseCsv(out).At("gone", 600, 60), Index(600));
}

// A signal named after a trace column would be written twice (the signal,
// then `actual` from the replicas query) and read back as the column:
// refused before any query, and no file is written.
TEST_F(TraceTest, ASignalNamedAfterATraceColumnIsRefused) {
  const std::string policy =
      Policy("clash", absl::StrCat("  - {name: actual, type: Total, "
                                   "targetPerReplica: 10, source: ",
                                   Prom("sum(tr_total)"), "}\n"));
  const std::string out = dir_ + "/clash.csv";
  std::vector<std::string> args = {"--policy", policy, "--out", out};
  for (const std::string& a : Range(0, 600)) args.push_back(a);
  const RunResult r = Trace(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("signal \"actual\" has the name of the "
                                  "trace's own column \"actual\""));
  EXPECT_FALSE(std::filesystem::exists(out));
}

// A Redis signal has no history unless --signal-query gives one.
TEST_F(TraceTest, ARedisSignalNeedsASignalQuery) {
  const std::string policy =
      Policy("queue",
             "  - {name: jobs, type: Total, targetPerReplica: 10, source: "
             "{redis: {address: \"127.0.0.1:1\", list: jobs}}}\n");
  const std::string out = dir_ + "/queue.csv";
  std::vector<std::string> args = {
      "--policy", policy, "--out", out, "--prometheus", prometheus_->address()};
  for (const std::string& a : Range(0, 600)) args.push_back(a);
  RunResult r = Trace(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("signal \"jobs\" is read from Redis: it has no "
                        "history in Prometheus; give its PromQL with "
                        "--signal-query jobs=PROMQL"));
  args.push_back("--signal-query");
  args.push_back("jobs=sum(tr_total) * 2");
  r = Trace(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Csv csv = ParseCsv(out);
  ASSERT_EQ(csv.rows.size(), 11u);
  EXPECT_EQ(csv.At("jobs", 540, 60), 2 * Index(540));
  // A --signal-query for no signal of the policy is refused.
  args.back() = "nope=sum(tr_total)";
  r = Trace(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("the policy has no signal nope"));
}

// Relative times (now-11h: the history starts 10-12 h before now; rows
// before its first sample take that sample's value), and bad ones.
TEST_F(TraceTest, RelativeTimes) {
  const std::string policy = Policy(
      "rel", absl::StrCat("  - {name: tot, type: Total, targetPerReplica: "
                          "10, source: ",
                          Prom("sum(tr_total)"), "}\n"));
  const std::string out = dir_ + "/rel.csv";
  RunResult r = Trace(
      {"--policy", policy, "--out", out, "--start", "now-11h", "--end", "-9h"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ParseCsv(out).rows.size(), 121u);
  // --out - writes the trace to stdout, and nothing else.
  r = Trace(
      {"--policy", policy, "--out", "-", "--start", "now-11h", "--end", "-9h"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "# signalscaler trace of prod/rel"))
      << r.output;
  EXPECT_THAT(r.output, HasSubstr("\nt,tot\n0,"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 3 + 1 + 121);
  r = Trace({"--policy", policy, "--out", out, "--start", "-7x"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--start: \"-7x\" is not a time"));
  // Absurd times are refused before any arithmetic on them.
  r = Trace(
      {"--policy", policy, "--out", out, "--start", "-100000000000000000000d"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("is outside [1970-01-01, now + 1 day]"));
  r = Trace({"--policy", policy, "--out", out, "--start", "-1h", "--end",
             "2999-01-01T00:00:00Z"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("--end: \"2999-01-01T00:00:00Z\" is outside"));
  r = Trace(
      {"--policy", policy, "--out", out, "--start", "-1h", "--end", "-2h"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--end must be after --start"));
}

// --allowed-source-hosts confines the policy's sources as in check/serve.
TEST_F(TraceTest, AllowedSourceHostsApply) {
  const std::string policy = Policy(
      "hosts", absl::StrCat("  - {name: tot, type: Total, targetPerReplica: "
                            "10, source: ",
                            Prom("sum(tr_total)"), "}\n"));
  std::vector<std::string> args = {"--policy", policy, "--out", dir_ + "/h.csv",
                                   "--allowed-source-hosts=prom.example"};
  for (const std::string& a : Range(0, 600)) args.push_back(a);
  const RunResult r = Trace(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("host \"127.0.0.1\" is not allowed by "
                                  "--allowed-source-hosts"));
}

// Against a fake Prometheus: the source's bearer token (from
// --credentials-root/<namespace>/) is sent with every chunk of 11,000
// points and never written; an answer of 401 fails without it either.
TEST_F(TraceTest, BearerTokenIsSentNeverShown) {
  const std::string secret = "s3cr3t-t0ken-value";
  const std::string root = MakeTempDir();
  std::filesystem::create_directories(root + "/prod");
  Write(root + "/prod", "token", secret + "\n");
  std::atomic<bool> refuse{false};  // read on the server's thread
  testing::TestHttpServer fake([&refuse](const std::string& request) {
    testing::TestResponse answer;
    if (refuse.load()) {
      answer.status = 401;
      answer.body = "unauthorized";
      return answer;
    }
    // One sample, at the chunk's start.
    const size_t at = request.find("start=") + 6;
    const std::string start = request.substr(at, request.find('&', at) - at);
    answer.body = absl::StrCat(
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
        "\"result\":[{\"metric\":{},\"values\":[[",
        start, ",\"7\"]]}]}}");
    return answer;
  });
  const std::string policy = Write(
      dir_, "tok.yaml",
      absl::StrCat("apiVersion: signalscaler.io/v1\nkind: ScalingPolicy\n"
                   "metadata: {name: tok, namespace: prod}\nspec:\n"
                   "  maxReplicas: 10\n  signals:\n"
                   "  - {name: tot, type: Total, targetPerReplica: 10, source: "
                   "{prometheus: {address: \"",
                   fake.Url(""),
                   "\", query: \"sum(x)\", bearerTokenFile: token}}}\n"));
  const std::string out = dir_ + "/tok.csv";
  std::vector<std::string> args = {
      "--policy",
      policy,
      "--out",
      out,
      "--credentials-root",
      root,
      "--step",
      "1",
      "--start",
      "2026-01-01T00:00:00Z",
      "--end",
      "2026-01-01T06:56:39Z"};  // 24,999 s: 25,000 points
  RunResult r = Trace(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<std::string> requests = fake.Requests();
  ASSERT_EQ(requests.size(), 3u);
  const int64_t t0 = 1767225600;  // 2026-01-01T00:00:00Z
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(requests[i], HasSubstr("Authorization: Bearer " + secret));
    EXPECT_THAT(
        requests[i],
        HasSubstr(absl::StrCat(
            "/api/v1/query_range?query=sum%28x%29&start=", t0 + 11000 * i,
            ".000&end=", std::min<int64_t>(t0 + 11000 * i + 10999, t0 + 24999),
            ".000&step=1.000")));
  }
  const std::string trace = Read(out);
  EXPECT_THAT(trace, HasSubstr("\n11000,7\n"));
  EXPECT_THAT(trace, Not(HasSubstr(secret)));
  EXPECT_THAT(r.output, Not(HasSubstr(secret)));
  refuse.store(true);
  r = Trace(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("signal \"tot\": prometheus range query"));
  EXPECT_THAT(r.output, HasSubstr("401"));
  EXPECT_THAT(r.output, Not(HasSubstr(secret)));
}

// trace, then simulate on it; and simulate --prometheus in one go: the same
// summary, to the figure. Load 100 (1 pod at target 100) until t=1800, then
// 500: demand 5. Ours ticks at 1800 (every 15 s) and asks for 5 at once
// (the HPA's default rate allows +4 of 1), ready after the 30 s start-up:
// short 4 pods for 30 s = 120 replica-seconds; it pays 1 x 1800 + 5 x 1800
// = 10800. The cluster (actual) asked at 1860, ready at 1920: short 4 for
// 120 s = 480; it paid 1 x 1860 + 5 x 1740 = 10560.
TEST_F(TraceTest, EndToEndTraceThenSimulate) {
  const std::string policy = Policy(
      "e2e",
      absl::StrCat("  - {name: load, type: Total, targetPerReplica: 100, "
                   "source: ",
                   Prom("sum(tr_step)", ", intervalSeconds: 15"), "}\n"),
      absl::StrCat(
          "  podStartupSeconds: 30\n  replicas: ", Prom("sum(tr_e2e_replicas)"),
          "\n  readyReplicas: ", Prom("sum(tr_e2e_ready)"), "\n"));
  const std::string trace = dir_ + "/e2e.csv";
  std::vector<std::string> range = Range(0, 3600);
  std::vector<std::string> args = {"--policy", policy, "--out", trace};
  args.insert(args.end(), range.begin(), range.end());
  RunResult r = Trace(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("step 15 s, 241 rows"));

  const auto simulate = [&](std::vector<std::string> extra,
                            const std::string& json) {
    std::vector<std::string> a = {
        SignalscalerBinary(), "simulate", "--policy", policy,
        "--summary-json",     json,       "--report", json + ".html",
        "--tick-seconds",     "15"};
    a.insert(a.end(), extra.begin(), extra.end());
    return RunCommand(a);
  };
  r = simulate({"--trace", trace}, dir_ + "/file.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("signalscaler   actual"));
  // In one go, keeping the trace it read: the same file as trace's.
  std::vector<std::string> one_go = {"--prometheus", prometheus_->address(),
                                     "--trace", dir_ + "/kept.csv"};
  one_go.insert(one_go.end(), range.begin(), range.end());
  r = simulate(one_go, dir_ + "/prom.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("simulated prod/e2e on prometheus history (" +
                                  At(base_, 0) + " to " + At(base_, 3600) +
                                  "): 3600 s, 241 rows"));
  EXPECT_EQ(Read(dir_ + "/kept.csv"), Read(trace));
  // Usage errors of the one-go form.
  r = sim_testing::Simulate({"--policy", policy, "--prometheus",
                             prometheus_->address(), "--start", "-1h",
                             "--trace", "-"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--trace - (stdin) does not go with "
                                  "--prometheus"));
  r = sim_testing::Simulate(
      {"--policy", policy, "--prometheus", prometheus_->address()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("signalscaler simulate: --start is required"));
  for (const std::string json : {"/file.json", "/prom.json"}) {
    SCOPED_TRACE(json);
    const nlohmann::json s = nlohmann::json::parse(Read(dir_ + json));
    const nlohmann::json ours = RunNamed(s, "signalscaler");
    EXPECT_DOUBLE_EQ(ours.at("under_provisioned_replica_seconds"), 120) << s;
    EXPECT_DOUBLE_EQ(ours.at("total_replica_seconds"), 10800) << s;
    EXPECT_EQ(ours.at("scale_events"), 1) << s;
    const nlohmann::json actual = RunNamed(s, "actual");
    EXPECT_DOUBLE_EQ(actual.at("under_provisioned_replica_seconds"), 480);
    EXPECT_DOUBLE_EQ(actual.at("seconds_under_provisioned"), 120);
    EXPECT_DOUBLE_EQ(actual.at("over_provisioned_replica_seconds"), 0);
    EXPECT_DOUBLE_EQ(actual.at("total_replica_seconds"), 10560);
    EXPECT_EQ(actual.at("scale_events"), 1);
    EXPECT_EQ(actual.at("peak_replicas"), 5);
    EXPECT_EQ(s.at("initial_replicas"), 1);
    const std::string html = Read(dir_ + json + ".html");
    EXPECT_THAT(html, HasSubstr("<title>actual ready</title>"));
    EXPECT_THAT(html, HasSubstr("actual ready</text>"));
  }
}

}  // namespace
}  // namespace signalscaler
