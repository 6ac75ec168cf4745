#include "scaler/policy/warnings.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace signalscaler {
namespace {

// Whether a prometheus source reads no series as 0 at once (as
// PrometheusSource::NoSeriesIsZero: noSeriesIsZero, else ignoreNullValues).
bool NoSeriesIsZero(const v1::PrometheusSource& p) {
  if (p.has_no_series_is_zero()) return p.no_series_is_zero();
  return p.has_ignore_null_values() && p.ignore_null_values();
}

}  // namespace

void AppendPolicyWarnings(const LoadedPolicy& loaded,
                          std::vector<PolicyError>& warnings) {
  const v1::PolicySpec& spec = loaded.policy.spec();
  const v1::ObjectMeta& meta = loaded.policy.metadata();
  const auto warn = [&](std::string field, std::string message) {
    PolicyError w;
    w.file = loaded.file;
    w.line = loaded.line;
    w.policy = absl::StrCat(meta.namespace_(), "/", meta.name());
    w.field = std::move(field);
    w.message = std::move(message);
    warnings.push_back(std::move(w));
  };
  if (spec.has_min_replicas() && spec.min_replicas() == 0) {
    for (int i = 0; i < spec.signals_size(); ++i) {
      const v1::Signal& s = spec.signals(i);
      if (s.type() != v1::Signal::Total || !s.source().has_prometheus()) {
        continue;
      }
      const v1::PrometheusSource& p = s.source().prometheus();
      if (!p.presence_query().empty() || NoSeriesIsZero(p)) continue;
      warn(absl::StrCat("spec.signals[", i, "].source.prometheus"),
           absl::StrCat(
               "minReplicas is 0, but signal `", s.name(),
               "` holds when its query returns no series, so if its exporter "
               "drops the series when idle the service never reaches 0; set "
               "presenceQuery (e.g. up{job=\"...\"}: no series while a target "
               "is up reads as 0), or noSeriesIsZero: true (an exporter "
               "outage then reads as zero load)"));
    }
  }
}

std::string PolicyWarningToString(const PolicyError& warning) {
  PolicyError w = warning;
  std::string out;
  if (!w.file.empty()) {
    out = w.line > 0 ? absl::StrCat(w.file, ":", w.line, ": ") : w.file + ": ";
  } else if (w.line > 0) {
    out = absl::StrCat("line ", w.line, ": ");
  }
  w.file.clear();
  w.line = 0;
  return absl::StrCat(out, "warning: ", w.ToString());
}

}  // namespace signalscaler
