#include "scaler/server/authz.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"

namespace signalscaler {
namespace {

bool Matches(const CertificateIdentity& id, const CallerCredentials& creds) {
  if (!creds.certificate_verified) return false;
  switch (id.field) {
    case CertificateIdentity::Field::kUriSan:
      return std::find(creds.uri_sans.begin(), creds.uri_sans.end(),
                       id.value) != creds.uri_sans.end();
    case CertificateIdentity::Field::kDnsSan:
      return std::find(creds.dns_sans.begin(), creds.dns_sans.end(),
                       id.value) != creds.dns_sans.end();
    case CertificateIdentity::Field::kCommonName:
      return !creds.common_name.empty() && creds.common_name == id.value;
  }
  return false;
}

std::string UrlUnescape(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    int v = 0;
    if (in[i] == '%' && i + 2 < in.size() &&
        absl::SimpleHexAtoi(in.substr(i + 1, 2), &v)) {
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

bool IsLoopbackPeer(absl::string_view peer) {
  const std::string p = UrlUnescape(peer);
  absl::string_view rest = p;
  if (absl::StartsWith(rest, "unix:") ||
      absl::StartsWith(rest, "unix-abstract:")) {
    return true;
  }
  // 127.0.0.1 and ::1 only, not all of 127/8: a sidecar proxy forwards
  // remote callers from other loopback addresses (Istio from 127.0.0.6),
  // and they are not this pod's.
  if (absl::ConsumePrefix(&rest, "ipv4:")) {
    return absl::StartsWith(rest, "127.0.0.1:");
  }
  if (absl::ConsumePrefix(&rest, "ipv6:")) {
    if (!absl::ConsumePrefix(&rest, "[")) return false;
    const size_t end = rest.find(']');
    if (end == absl::string_view::npos) return false;
    const std::string host = absl::AsciiStrToLower(rest.substr(0, end));
    return host == "::1" || host == "0:0:0:0:0:0:0:1" ||
           host == "::ffff:127.0.0.1";
  }
  return false;
}

Caller Caller::Unrestricted(std::string name) {
  Caller c(std::move(name), nullptr, {});
  c.unrestricted_ = true;
  return c;
}

Caller::Caller(std::string name, std::shared_ptr<const AccessPolicy> policy,
               std::vector<const AccessClient*> grants)
    : name_(std::move(name)),
      policy_(std::move(policy)),
      grants_(std::move(grants)) {}

bool Caller::May(AccessVerb verb, absl::string_view ns) const {
  if (unrestricted_) return true;
  for (const AccessClient* c : grants_) {
    if (c->Has(verb) && c->Covers(ns)) return true;
  }
  return false;
}

bool Caller::MayAnywhere(AccessVerb verb) const {
  if (unrestricted_) return true;
  for (const AccessClient* c : grants_) {
    if (c->Has(verb)) return true;
  }
  return false;
}

bool Caller::MayEverywhere(AccessVerb verb) const {
  if (unrestricted_) return true;
  for (const AccessClient* c : grants_) {
    if (c->Has(verb) && c->all_namespaces) return true;
  }
  return false;
}

absl::Status Caller::Authorize(AccessVerb verb, absl::string_view ns) const {
  if (May(verb, ns)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("client \"", name_, "\" may not ", AccessVerbName(verb),
                   " in namespace \"", ns, "\""));
}

absl::StatusOr<std::unique_ptr<AccessControl>> AccessControl::Create(
    AccessOptions options) {
  if (!options.file.empty() && options.allow_any) {
    return absl::InvalidArgumentError(
        "--admin-allow-any and --authz-file exclude each other: the authz "
        "file says who may call");
  }
  const AccessMode mode = !options.file.empty() ? AccessMode::kFile
                          : options.allow_any   ? AccessMode::kAllowAny
                                                : AccessMode::kLoopbackOnly;
  std::unique_ptr<AccessControl> control(
      new AccessControl(std::move(options), mode));
  if (mode == AccessMode::kFile) {
    if (absl::Status s = control->Reload(); !s.ok()) return s;
  }
  return control;
}

AccessControl::AccessControl(AccessOptions options, AccessMode mode)
    : options_(std::move(options)),
      mode_(mode),
      policy_(std::make_shared<AccessPolicy>()) {}

AccessControl::~AccessControl() { Stop(); }

std::shared_ptr<const AccessPolicy> AccessControl::Current() const {
  absl::MutexLock lock(&mu_);
  return policy_;
}

bool AccessControl::keda_restricted() const {
  return mode_ == AccessMode::kFile && Current()->keda_restricted;
}

std::vector<const AccessClient*> AccessControl::CertificateMatches(
    const AccessPolicy& policy, const CallerCredentials& creds) {
  std::vector<const AccessClient*> out;
  if (!creds.certificate_verified) return out;
  for (const AccessClient& c : policy.clients) {
    if (c.certificate.has_value() && Matches(*c.certificate, creds)) {
      out.push_back(&c);
    }
  }
  return out;
}

absl::StatusOr<Caller> AccessControl::IdentifyAdmin(
    const CallerCredentials& creds, std::string* audit_name) const {
  const std::string cert_name = creds.certificate_name.empty()
                                    ? kAnonymousClient
                                    : creds.certificate_name;
  switch (mode_) {
    case AccessMode::kAllowAny:
      return Caller::Unrestricted(cert_name);
    case AccessMode::kLoopbackOnly:
      if (creds.loopback) return Caller::Unrestricted(cert_name);
      if (audit_name != nullptr) *audit_name = cert_name;
      return absl::PermissionDeniedError(
          "admin calls are accepted from loopback peers only: serve has no "
          "--authz-file (--admin-allow-any accepts every peer)");
    case AccessMode::kFile:
      break;
  }
  std::shared_ptr<const AccessPolicy> policy = Current();
  std::vector<const AccessClient*> grants;
  if (creds.has_authorization) {
    if (!creds.bearer_token.empty()) {
      const TokenDigest presented = Sha256Of(creds.bearer_token);
      // Every digest is compared, in constant time each: neither the
      // comparison nor the loop says how close a guess came.
      const AccessClient* found = nullptr;
      for (const AccessClient& c : policy->clients) {
        if (!c.token_sha256.has_value()) continue;
        if (CRYPTO_memcmp(c.token_sha256->data(), presented.data(),
                          presented.size()) == 0) {
          found = &c;
        }
      }
      if (found != nullptr) grants.push_back(found);
    }
    if (grants.empty()) {
      if (audit_name != nullptr) *audit_name = kUnauthenticatedClient;
      return absl::UnauthenticatedError(
          creds.bearer_token.empty()
              ? "the authorization metadata must be \"Bearer TOKEN\""
              : "the bearer token matches no client of the authz file");
    }
  } else {
    grants = CertificateMatches(*policy, creds);
    if (grants.empty()) {
      if (audit_name != nullptr) *audit_name = kUnauthenticatedClient;
      return absl::UnauthenticatedError(
          creds.certificate_verified
              ? "the client certificate matches no client of the authz file"
              : "no credentials: send \"authorization: Bearer TOKEN\" "
                "(signalscaler push/explain --token-file) or a client "
                "certificate the authz file names");
    }
  }
  std::string name = grants.front()->name;
  return Caller(std::move(name), std::move(policy), std::move(grants));
}

absl::Status AccessControl::AuthorizeKeda(const CallerCredentials& creds,
                                          absl::string_view ns,
                                          std::string* client) const {
  if (mode_ != AccessMode::kFile) return absl::OkStatus();
  std::shared_ptr<const AccessPolicy> policy = Current();
  if (!policy->keda_restricted) return absl::OkStatus();
  std::vector<const AccessClient*> keda;
  for (const AccessClient* c : CertificateMatches(*policy, creds)) {
    if (c->Has(AccessVerb::kKeda)) keda.push_back(c);
  }
  if (keda.empty()) {
    if (client != nullptr) *client = kUnauthenticatedClient;
    return absl::UnauthenticatedError(
        "KEDA calls need a client certificate that a `keda` client of the "
        "authz file names");
  }
  if (client != nullptr) *client = keda.front()->name;
  for (const AccessClient* c : keda) {
    if (c->Covers(ns)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("client \"", keda.front()->name,
                   "\" may not keda in namespace \"", ns, "\""));
}

void AccessControl::SetOnChange(std::function<void()> on_change) {
  on_change_ = std::move(on_change);
}

absl::Status AccessControl::Reload() {
  if (mode_ != AccessMode::kFile) return absl::OkStatus();
  absl::MutexLock serialized(&reload_mu_);
  std::string content;
  absl::Status status;
  {
    std::ifstream in(options_.file, std::ios::binary);
    if (!in) {
      status = absl::InvalidArgumentError(
          absl::StrCat("--authz-file ", options_.file, ": cannot be read"));
    } else {
      std::ostringstream text;
      text << in.rdbuf();
      content = text.str();
    }
  }
  const bool read = status.ok();
  std::optional<AccessPolicy> parsed;
  {
    absl::MutexLock lock(&mu_);
    // Unchanged bytes are not parsed (nor counted, nor logged) again.
    if (status.ok() && content == content_ && good_ > 0) {
      return absl::OkStatus();
    }
    if (status.ok() && rejected_content_.has_value() &&
        content == *rejected_content_) {
      return absl::InvalidArgumentError(last_error_);
    }
  }
  if (status.ok()) {
    absl::StatusOr<AccessPolicy> p =
        ParseAccessPolicy(content, absl::StrCat("--authz-file ", options_.file),
                          options_.client_certificates);
    if (p.ok()) {
      parsed = *std::move(p);
    } else {
      status = p.status();
    }
  }
  bool log = false;
  size_t clients = 0;
  bool first = false;
  bool keda_involved = false;  // KEDA calls were or are checked
  {
    absl::MutexLock lock(&mu_);
    if (parsed.has_value()) {
      clients = parsed->clients.size();
      first = good_ == 0;
      keda_involved = policy_->keda_restricted || parsed->keda_restricted;
      policy_ = std::make_shared<const AccessPolicy>(*std::move(parsed));
      content_ = std::move(content);
      rejected_content_.reset();
      last_error_.clear();
      ++good_;
    } else {
      ++failed_;
      // A file that cannot be read is tried again every time.
      if (read) rejected_content_ = std::move(content);
      const std::string message(status.message());
      log = message != last_error_;
      last_error_ = message;
    }
  }
  Metrics::Get().RecordAuthzReload(status.ok());
  if (status.ok()) {
    LogInfo(first ? "authz file loaded" : "authz file reloaded",
            {{"file", options_.file}, {"clients", absl::StrCat(clients)}});
    if (!first && keda_involved && on_change_) on_change_();
  } else if (log && good_reloads() > 0) {
    LogError("authz file rejected: the last good one stays in force",
             {{"error", std::string(status.message())}});
  }
  return status;
}

void AccessControl::Start() {
  if (mode_ != AccessMode::kFile || thread_ != nullptr) return;
  thread_ = std::make_unique<std::thread>([this] {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      const absl::Time due = absl::Now() + options_.refresh;
      while (!stop_ && !cv_.WaitWithDeadline(&mu_, due)) {
      }
      if (stop_) break;
      mu_.Unlock();
      Reload().IgnoreError();  // logged there
      mu_.Lock();
    }
  });
}

void AccessControl::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_ != nullptr && thread_->joinable()) thread_->join();
  thread_.reset();
}

uint64_t AccessControl::good_reloads() const {
  absl::MutexLock lock(&mu_);
  return good_;
}

uint64_t AccessControl::failed_reloads() const {
  absl::MutexLock lock(&mu_);
  return failed_;
}

}  // namespace signalscaler