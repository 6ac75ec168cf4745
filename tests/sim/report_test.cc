// `simulate --report`: a self-contained SVG (or HTML with the SVG inline)
// that is well-formed XML, with demand, our ready replicas, each baseline's,
// markers for our decisions, axes and a legend.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/sim_test_util.h"

namespace signalscaler {
namespace {

using sim_testing::kPolicy;
using sim_testing::Read;
using sim_testing::Simulate;
using sim_testing::Write;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using ::testing::Not;
using testing::RunResult;

// A tiny XML well-formedness check: every element closes in order, quotes
// balance inside tags, only the five predefined entities. Returns the error
// or "" and counts the elements named `count_name`.
std::string CheckXml(const std::string& x, const std::string& count_name,
                     int* count) {
  std::vector<std::string> open;
  *count = 0;
  size_t i = 0;
  if (x.rfind("<!DOCTYPE html>", 0) == 0) i = x.find('\n');
  while ((i = x.find_first_of("<&", i)) != std::string::npos) {
    if (x[i] == '&') {
      const size_t semi = x.find(';', i);
      const std::string e = x.substr(i, semi - i + 1);
      if (e != "&amp;" && e != "&lt;" && e != "&gt;" && e != "&quot;" &&
          e != "&apos;") {
        return "bad entity at " + std::to_string(i);
      }
      ++i;
      continue;
    }
    size_t end = i + 1;
    char quote = 0;
    for (; end < x.size(); ++end) {
      if (quote != 0) {
        if (x[end] == quote) quote = 0;
      } else if (x[end] == '"' || x[end] == '\'') {
        quote = x[end];
      } else if (x[end] == '>') {
        break;
      } else if (x[end] == '<') {
        return "'<' inside a tag at " + std::to_string(end);
      }
    }
    if (end >= x.size()) return "unclosed tag at " + std::to_string(i);
    std::string tag = x.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "mismatched </" + name;
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
    if (name == count_name) ++*count;
    if (name == "meta") continue;  // HTML's void element
    if (!self_closing) open.push_back(name);
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

TEST(SimulateReportTest, SvgIsWellFormedAndComplete) {
  const std::string dir = MakeTempDir();
  const RunResult r = Simulate(
      {"--policy", Write(dir, "p.yaml", kPolicy), "--trace",
       Write(dir, "t.csv",
             "t,q,cpu\n0,5,0.1\n20,35,0.2\n120,5,0.1\n240,5,0.1\n"),
       "--report", dir + "/r.svg", "--compare", "hpa-cpu,keda-default"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string svg = Read(dir + "/r.svg");
  int polylines = 0;
  EXPECT_EQ(CheckXml(svg, "polyline", &polylines), "");
  EXPECT_EQ(polylines, 3);  // ours and two baselines
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("<polygon"));  // demand
  EXPECT_THAT(svg, HasSubstr("<title>demand</title>"));
  for (const char* legend : {">demand<", ">signalscaler ready<",
                             ">hpa-cpu ready<", ">keda-default ready<"}) {
    EXPECT_THAT(svg, HasSubstr(legend));
  }
  EXPECT_THAT(svg, HasSubstr(">replicas</text>"));  // y axis
  EXPECT_THAT(svg, HasSubstr(">240 s</text>"));     // x axis
  // Our up at t=20 and down at t=170, with their reasons.
  EXPECT_THAT(svg, HasSubstr("<title>1 up: signal_won</title>"));
  EXPECT_THAT(svg, HasSubstr("<title>1 down: signal_won</title>"));
  EXPECT_THAT(svg, HasSubstr("down_window"));  // a grey "kept up" marker
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("href")));
}

TEST(SimulateReportTest, HtmlInlinesTheSvgAndTheTable) {
  const std::string dir = MakeTempDir();
  const RunResult r =
      Simulate({"--policy", Write(dir, "p.yaml", kPolicy), "--trace",
                Write(dir, "t.csv", "t,q,cpu\n0,5,0.1\n60,5,0.1\n"), "--report",
                dir + "/r.html"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = Read(dir + "/r.html");
  int svgs = 0;
  EXPECT_EQ(CheckXml(html, "svg", &svgs), "");
  EXPECT_EQ(svgs, 1);
  EXPECT_THAT(html, HasSubstr("under-provisioned replica-seconds"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
}

}  // namespace
}  // namespace signalscaler
