#include "sources/http/scrape_source.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace signalscaler {
namespace {

bool IsMetricName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == ':';
  });
}

bool IsHttpUrl(absl::string_view url) {
  return absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
}

std::string DescribeLabels(const std::map<std::string, std::string>& labels) {
  if (labels.empty()) return "";
  return absl::StrCat("{",
                      absl::StrJoin(labels, ",",
                                    [](std::string* out, const auto& label) {
                                      absl::StrAppend(
                                          out, label.first, "=\"",
                                          absl::CEscape(label.second), "\"");
                                    }),
                      "}");
}

std::string PrefixError(const absl::Status& status, absl::string_view prefix) {
  return absl::StrCat(prefix, ": ", status.message());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveAddresses(
    const std::string& host, absl::Duration timeout) {
  struct Lookup {
    absl::Mutex mu;
    absl::CondVar done_cv;
    bool done = false;
    int rc = 0;
    std::vector<std::string> addresses;
  };
  auto lookup = std::make_shared<Lookup>();
  // getaddrinfo has no timeout of its own: a thread of its own lets Read
  // return in time; the lookup's state outlives us if it is late.
  std::thread([lookup, host] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &result);
    std::vector<std::string> addresses;
    for (addrinfo* a = rc == 0 ? result : nullptr; a != nullptr;
         a = a->ai_next) {
      char text[INET6_ADDRSTRLEN] = {0};
      const void* raw =
          a->ai_family == AF_INET
              ? static_cast<const void*>(
                    &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
              : static_cast<const void*>(
                    &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
      if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
          ::inet_ntop(a->ai_family, raw, text, sizeof(text)) != nullptr) {
        addresses.push_back(text);
      }
    }
    if (result != nullptr) ::freeaddrinfo(result);
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()),
                    addresses.end());
    absl::MutexLock lock(&lookup->mu);
    lookup->rc = rc;
    lookup->addresses = std::move(addresses);
    lookup->done = true;
    lookup->done_cv.SignalAll();
  }).detach();

  absl::MutexLock lock(&lookup->mu);
  const absl::Time due = absl::Now() + std::max(timeout, absl::ZeroDuration());
  while (!lookup->done && !lookup->done_cv.WaitWithDeadline(&lookup->mu, due)) {
  }
  if (!lookup->done) {
    return absl::DeadlineExceededError(
        absl::StrCat("resolving ", host, ": no answer in time"));
  }
  if (lookup->rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("resolving ", host, ": ", ::gai_strerror(lookup->rc)));
  }
  if (lookup->addresses.empty()) {
    return absl::UnavailableError(
        absl::StrCat("resolving ", host, ": no addresses"));
  }
  return std::move(lookup->addresses);
}

ScrapeSource::ScrapeSource(const v1::ScrapeSource& spec, absl::Duration timeout,
                           const Clock& clock)
    : clock_(clock),
      urls_(spec.urls().begin(), spec.urls().end()),
      service_(spec.service()),
      port_(spec.port()),
      path_(spec.path().empty() ? "/metrics" : spec.path()),
      metric_(spec.metric()),
      labels_(spec.labels().begin(), spec.labels().end()),
      average_(spec.aggregate() == v1::ScrapeSource::average),
      timeout_(timeout),
      client_([] {
        HttpClientOptions options;
        options.accept = "text/plain;version=0.0.4";
        return options;
      }()) {}

absl::StatusOr<std::unique_ptr<ScrapeSource>> ScrapeSource::Create(
    const v1::ScrapeSource& spec, const Clock& clock, absl::Duration timeout) {
  if (spec.urls().empty() == spec.service().empty()) {
    return absl::InvalidArgumentError(
        "scrape needs either `urls` or `service`, not both or neither");
  }
  for (const std::string& url : spec.urls()) {
    if (!IsHttpUrl(url)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scrape url \"", RedactUrl(url),
                       "\" must start with http:// or https://"));
    }
  }
  if (!spec.service().empty() && (spec.port() < 1 || spec.port() > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrape service ", spec.service(), " needs a port in [1, 65535]"));
  }
  if (!spec.path().empty() && spec.path()[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("scrape path \"", spec.path(), "\" must start with '/'"));
  }
  if (!IsMetricName(spec.metric())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrape metric \"", spec.metric(), "\" is not a metric name"));
  }
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("scrape timeout must be positive");
  }
  return std::unique_ptr<ScrapeSource>(new ScrapeSource(spec, timeout, clock));
}

absl::StatusOr<std::vector<std::string>> ScrapeSource::Targets(
    absl::Time real_deadline) {
  if (service_.empty()) return urls_;
  absl::StatusOr<std::vector<std::string>> addresses =
      ResolveAddresses(service_, real_deadline - absl::Now());
  if (!addresses.ok()) return addresses.status();
  std::vector<std::string> urls;
  for (const std::string& address : *addresses) {
    const bool v6 = absl::StrContains(address, ':');
    urls.push_back(absl::StrCat("http://", v6 ? "[" : "", address,
                                v6 ? "]" : "", ":", port_, path_));
  }
  return urls;
}

absl::StatusOr<Reading> ScrapeSource::Read(absl::Time deadline) {
  const absl::Time real_deadline =
      absl::Now() + std::min(timeout_, deadline - clock_.Now());
  absl::StatusOr<std::vector<std::string>> targets = Targets(real_deadline);
  if (!targets.ok()) {
    return absl::Status(targets.status().code(),
                        PrefixError(targets.status(), Describe()));
  }
  double total = 0;
  int with_metric = 0;
  for (const std::string& url : *targets) {
    absl::StatusOr<std::string> body = client_.Get(url, real_deadline);
    if (!body.ok()) {
      return absl::Status(body.status().code(),
                          PrefixError(body.status(), Describe()));
    }
    absl::StatusOr<std::vector<MetricSample>> samples =
        ParseMetricText(*body, metric_, labels_);
    const std::string where =
        absl::StrCat(Describe(), ": GET ", RedactUrl(url));
    if (!samples.ok()) {
      return absl::Status(samples.status().code(),
                          PrefixError(samples.status(), where));
    }
    if (samples->empty()) continue;
    ++with_metric;
    for (const MetricSample& sample : *samples) {
      if (!std::isfinite(sample.value)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": the value is ", sample.value, ", not a finite number"));
      }
      total += sample.value;
    }
  }
  if (with_metric == 0) {
    return absl::NotFoundError(absl::StrCat(
        Describe(), ": no sample at any of ", targets->size(), " targets"));
  }
  if (!std::isfinite(total)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(), ": the sum overflows"));
  }
  Reading reading;
  reading.value = average_ ? total / with_metric : total;
  reading.sample_time = clock_.Now();
  return reading;
}

std::string ScrapeSource::Describe() const {
  const std::string what =
      absl::StrCat("scrape ", average_ ? "average" : "sum", " of ", metric_,
                   DescribeLabels(labels_));
  if (!service_.empty()) {
    return absl::StrCat(what, " from service ", service_, ":", port_, path_);
  }
  if (urls_.size() == 1) {
    return absl::StrCat(what, " from ", RedactUrl(urls_[0]));
  }
  return absl::StrCat(what, " from ", urls_.size(), " urls");
}

}  // namespace signalscaler
