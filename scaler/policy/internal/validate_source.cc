// Checks of a Source (a signal's, or the replicas/readyReplicas one), and the
// Reporter that every validation check writes its errors through.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/policy/internal/validation.h"

namespace signalscaler {
namespace policy_internal {
namespace {

void Redis(const v1::RedisSource& r, const std::string& at, Reporter& report) {
  if (r.address().empty()) {
    report.Error(at + ".address", "required: host:port, e.g. redis:6379");
  }
  std::vector<std::string> keys;
  if (!r.list().empty()) keys.push_back("list");
  if (!r.sorted_set().empty()) keys.push_back("sortedSet");
  if (!r.stream().empty()) keys.push_back("stream");
  if (keys.size() != 1) {
    report.Error(
        at,
        absl::StrCat("needs exactly one of list, sortedSet, stream; ",
                     keys.empty() ? "none is set"
                                  : absl::StrJoin(keys, " and ") + " are set"));
  }
  if (!r.group().empty() && r.stream().empty()) {
    report.Error(at + ".group", "applies only to a `stream`");
  }
  if (r.group_measure() != v1::RedisSource::GROUP_MEASURE_UNSPECIFIED &&
      r.group().empty()) {
    report.Error(at + ".groupMeasure", "applies only with a `group`");
  }
  if (r.database() < 0) {
    report.Error(at + ".database",
                 absl::StrCat("must be >= 0, got ", r.database()));
  }
}

void Scrape(const v1::ScrapeSource& s, const std::string& at,
            Reporter& report) {
  if (s.metric().empty()) {
    report.Error(at + ".metric", "required: the name of the metric to read");
  }
  if (s.urls().empty() == s.service().empty()) {
    report.Error(at, s.service().empty()
                         ? "needs `urls` or `service` (where to scrape)"
                         : "set either `urls` or `service`, not both");
  }
  if (s.port() < 0 || s.port() > 65535) {
    report.Error(at + ".port",
                 absl::StrCat("must be between 1 and 65535, got ", s.port()));
  }
}

}  // namespace

Reporter::Reporter(const LoadedPolicy& loaded, std::vector<PolicyError>& errors)
    : loaded_(loaded), errors_(errors) {
  const v1::ObjectMeta& meta = loaded.policy.metadata();
  if (!meta.name().empty()) {
    policy_ =
        absl::StrCat(meta.namespace_().empty() ? "default" : meta.namespace_(),
                     "/", meta.name());
  }
}

void Reporter::Error(std::string field, std::string message) {
  PolicyError e;
  e.file = loaded_.file;
  e.line = loaded_.line;
  e.policy = policy_;
  e.field = std::move(field);
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

void Reporter::InRange(const std::string& field, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    Error(field, absl::StrCat("must be between ", lo, " and ", hi,
                              " seconds, got ", value));
  }
}

void Reporter::Positive(const std::string& field, double value,
                        const std::string& what) {
  if (!(value > 0)) {
    Error(field, absl::StrCat("must be > 0 (", what, "), got ", value));
  }
}

void ValidateSource(const v1::Source& s, const std::string& path,
                    Reporter& report) {
  if (s.has_interval_seconds()) {
    report.InRange(path + ".intervalSeconds", s.interval_seconds(), 1,
                   kMaxIntervalSeconds);
  }
  switch (s.kind_case()) {
    case v1::Source::kPush:
      break;
    case v1::Source::kPrometheus: {
      const v1::PrometheusSource& p = s.prometheus();
      const std::string at = path + ".prometheus";
      if (p.address().empty()) {
        report.Error(at + ".address",
                     "required: Prometheus' base URL, e.g. "
                     "http://prometheus.monitoring:9090");
      }
      if (p.query().empty())
        report.Error(at + ".query", "required: a PromQL query");
      if (p.has_timeout_seconds()) {
        report.Positive(at + ".timeoutSeconds", p.timeout_seconds(), "seconds");
      }
      break;
    }
    case v1::Source::kRedis:
      Redis(s.redis(), path + ".redis", report);
      break;
    case v1::Source::kScrape:
      Scrape(s.scrape(), path + ".scrape", report);
      break;
    default:
      report.Error(path,
                   "needs exactly one of push, prometheus, redis, scrape");
      break;
  }
}

}  // namespace policy_internal
}  // namespace signalscaler
