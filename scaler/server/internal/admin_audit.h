// The audit trail of the admin API, and its per-client push rate limit.
// Internal to the server; gRPC-free (the client's identity is established by
// admin_service.cc, the one place that looks at the call's peer).
//
//   AdminAudit audit(/*max_pushes_per_second=*/1000);
//   absl::Status s = audit.AdmitPush(client, absl::Now());
//   ... the call ...
//   audit.Record(AdminVerb::kPush, client, status, fields, absl::Now());
//
// Every call recorded counts in signalscaler_admin_requests_total{client,
// verb, code}. An accepted push is logged at info ("admin push accepted",
// with the client, namespace, policy, signal and value); every other non-OK
// answer ("admin call denied") with its code. Lines are rate-limited per
// client: at most kAuditLinesPerClientPerSecond a second; the client's next
// recorded call after that second logs one "admin audit lines left out"
// line with how many were. Never a secret in a field: callers pass names and
// the pushed value only.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_ADMIN_AUDIT_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_ADMIN_AUDIT_H_

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"

namespace signalscaler::internal {

// kKeda: a KEDA call refused by the authz file (accepted ones are not
// recorded: KEDA calls every few seconds per ScaledObject).
enum class AdminVerb { kPush, kExplain, kPolicies, kKeda };

inline const char* AdminVerbName(AdminVerb verb) {
  switch (verb) {
    case AdminVerb::kPush:
      return "push";
    case AdminVerb::kExplain:
      return "explain";
    case AdminVerb::kPolicies:
      return "policies";
    case AdminVerb::kKeda:
      return "keda";
  }
  return "unknown";
}

// Audit lines per client per second, beyond which lines are counted, not
// written.
inline constexpr size_t kAuditLinesPerClientPerSecond = 20;
// Distinct client label values of the metric; later clients share "other",
// so the series stay bounded whoever connects.
inline constexpr size_t kMaxClientLabels = 100;
// Clients tracked for the rate limits; beyond, idle ones are forgotten.
inline constexpr size_t kMaxTrackedClients = 10000;

class AdminAudit {
 public:
  explicit AdminAudit(int max_pushes_per_second)
      : max_pushes_per_second_(std::max(1, max_pushes_per_second)) {}

  // OK when `client` may push now (and takes one token); else
  // RESOURCE_EXHAUSTED naming the limit.
  absl::Status AdmitPush(const std::string& client, absl::Time now) {
    absl::MutexLock lock(&mu_);
    ClientState& c = StateLocked(client, now);
    const double rate = max_pushes_per_second_;
    if (c.bucket_time == absl::InfinitePast()) {
      c.tokens = rate;
    } else if (now > c.bucket_time) {
      c.tokens = std::min(
          rate, c.tokens + rate * absl::ToDoubleSeconds(now - c.bucket_time));
    }
    c.bucket_time = std::max(now, c.bucket_time);
    if (c.tokens < 1) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "push rate limit exceeded: at most ", max_pushes_per_second_,
          " pushes per second per client (--max-pushes-per-second)"));
    }
    c.tokens -= 1;
    return absl::OkStatus();
  }

  // Counts the call in the metric and logs it (accepted pushes and every
  // denied call), rate-limited per client. `fields` describe the request
  // (namespace, policy, signal, value): no secret.
  void Record(AdminVerb verb, const std::string& client,
              const absl::Status& status, const LogFields& fields,
              absl::Time now) {
    const std::string code = absl::StatusCodeToString(status.code());
    std::string label;
    size_t left_out = 0;
    bool log = false;
    {
      absl::MutexLock lock(&mu_);
      if (labelled_.contains(client) || labelled_.size() < kMaxClientLabels) {
        labelled_.insert(client);
        label = client;
      } else {
        label = "other";
      }
      const bool worth_a_line = !status.ok() || verb == AdminVerb::kPush;
      ClientState& c = StateLocked(client, now);
      if (now - c.window_start >= absl::Seconds(1)) {
        left_out = c.left_out;
        c.left_out = 0;
        c.lines = 0;
        c.window_start = now;
      }
      if (worth_a_line) {
        if (c.lines < kAuditLinesPerClientPerSecond) {
          ++c.lines;
          log = true;
        } else {
          ++c.left_out;
        }
      }
    }
    Metrics::Get().RecordAdminRequest(label, AdminVerbName(verb), code);
    if (left_out > 0) {
      LogInfo(
          "admin audit lines left out",
          {{"client", client},
           {"left_out", absl::StrCat(left_out)},
           {"limit_per_second", absl::StrCat(kAuditLinesPerClientPerSecond)}});
    }
    if (!log) return;
    LogFields out = {{"client", client}, {"verb", AdminVerbName(verb)}};
    out.insert(out.end(), fields.begin(), fields.end());
    if (status.ok()) {
      LogInfo("admin push accepted", out);
    } else {
      out.emplace_back("code", code);
      out.emplace_back("error", std::string(status.message()));
      LogInfo("admin call denied", out);
    }
  }

 private:
  struct ClientState {
    absl::Time last_seen = absl::InfinitePast();
    // The push token bucket.
    double tokens = 0;
    absl::Time bucket_time = absl::InfinitePast();
    // The log line budget of the current second.
    absl::Time window_start = absl::InfinitePast();
    size_t lines = 0;
    size_t left_out = 0;
  };

  ClientState& StateLocked(const std::string& client, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (clients_.size() >= kMaxTrackedClients && !clients_.contains(client)) {
      // Forget the clients idle for a while (their buckets are full again
      // and nothing of theirs is left out worth a line).
      absl::erase_if(clients_, [now](const auto& entry) {
        return now - entry.second.last_seen > absl::Seconds(10);
      });
    }
    ClientState& c = clients_[client];
    c.last_seen = std::max(c.last_seen, now);
    return c;
  }

  const int max_pushes_per_second_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, ClientState> clients_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> labelled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_ADMIN_AUDIT_H_
