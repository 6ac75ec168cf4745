#include "scaler/server/authz.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "yaml-cpp/yaml.h"

namespace signalscaler {
namespace {

// Larger authz files are refused unread (a list of clients is kilobytes).
constexpr size_t kMaxAuthzFileBytes = 1 << 20;

class FieldError {
 public:
  explicit FieldError(absl::string_view file) : file_(file) {}
  absl::Status operator()(absl::string_view field,
                          absl::string_view message) const {
    return absl::InvalidArgumentError(
        field.empty() ? absl::StrCat(file_, ": ", message)
                      : absl::StrCat(file_, ": ", field, ": ", message));
  }

 private:
  std::string file_;
};

absl::StatusOr<std::string> Scalar(const YAML::Node& node,
                                   absl::string_view field,
                                   const FieldError& error) {
  if (!node.IsScalar()) return error(field, "must be a string");
  std::string value = node.Scalar();
  if (value.empty()) return error(field, "must not be empty");
  return value;
}

absl::StatusOr<std::vector<std::string>> StringList(const YAML::Node& node,
                                                    absl::string_view field,
                                                    const FieldError& error) {
  if (!node.IsDefined() || node.IsNull()) return error(field, "is required");
  if (!node.IsSequence() || node.size() == 0) {
    return error(field, "must be a non-empty list");
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    absl::StatusOr<std::string> v =
        Scalar(node[i], absl::StrCat(field, "[", i, "]"), error);
    if (!v.ok()) return v.status();
    out.push_back(*std::move(v));
  }
  return out;
}

absl::Status OnlyKeys(const YAML::Node& map,
                      const std::vector<absl::string_view>& allowed,
                      absl::string_view where, const FieldError& error) {
  for (const auto& kv : map) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return error(absl::StrCat(where, where.empty() ? "" : ".", key),
                   absl::StrCat("unknown field; expected one of ",
                                absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

std::optional<TokenDigest> ParseHexDigest(absl::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  TokenDigest out;
  for (size_t i = 0; i < out.size(); ++i) {
    int byte = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c =
          absl::ascii_tolower(static_cast<unsigned char>(hex[2 * i + j]));
      int nibble;
      if (c >= '0' && c <= '9') {
        nibble = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        nibble = c - 'a' + 10;
      } else {
        return std::nullopt;
      }
      byte = byte * 16 + nibble;
    }
    out[i] = static_cast<unsigned char>(byte);
  }
  return out;
}

absl::StatusOr<AccessClient> ParseClient(const YAML::Node& node, size_t index,
                                         bool client_certificates,
                                         const FieldError& error) {
  const std::string at = absl::StrCat("clients[", index, "]");
  if (!node.IsMap()) return error(at, "must be a mapping");
  if (absl::Status s = OnlyKeys(
          node, {"name", "tokenSha256", "certificate", "namespaces", "verbs"},
          at, error);
      !s.ok()) {
    return s;
  }
  AccessClient client;
  absl::StatusOr<std::string> name =
      Scalar(node["name"], absl::StrCat(at, ".name"), error);
  if (!name.ok()) return name.status();
  if (name->size() > 128 ||
      !std::all_of(name->begin(), name->end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_' || c == '.';
      })) {
    return error(absl::StrCat(at, ".name"),
                 "letters, digits, '-', '_' and '.' only, at most 128");
  }
  client.name = *std::move(name);

  const YAML::Node token = node["tokenSha256"];
  const YAML::Node cert = node["certificate"];
  if (token.IsDefined() == cert.IsDefined()) {
    return error(at, "needs exactly one of tokenSha256 and certificate");
  }
  if (token.IsDefined()) {
    // The digest's value never goes into an error.
    std::optional<TokenDigest> digest;
    if (token.IsScalar()) digest = ParseHexDigest(token.Scalar());
    if (!digest.has_value()) {
      return error(absl::StrCat(at, ".tokenSha256"),
                   "must be the SHA-256 of the token in 64 hex digits "
                   "(sha256sum of the token file)");
    }
    client.token_sha256 = *digest;
  } else {
    const std::string field = absl::StrCat(at, ".certificate");
    if (!cert.IsMap() || cert.size() != 1) {
      return error(field, "needs exactly one of uriSAN, dnsSAN and commonName");
    }
    if (absl::Status s =
            OnlyKeys(cert, {"uriSAN", "dnsSAN", "commonName"}, field, error);
        !s.ok()) {
      return s;
    }
    const std::string key = cert.begin()->first.Scalar();
    absl::StatusOr<std::string> value =
        Scalar(cert.begin()->second, absl::StrCat(field, ".", key), error);
    if (!value.ok()) return value.status();
    CertificateIdentity id;
    id.field = key == "uriSAN"   ? CertificateIdentity::Field::kUriSan
               : key == "dnsSAN" ? CertificateIdentity::Field::kDnsSan
                                 : CertificateIdentity::Field::kCommonName;
    id.value = *std::move(value);
    client.certificate = std::move(id);
    if (!client_certificates) {
      return error(field,
                   "a certificate client needs serve --tls-client-ca (without "
                   "it no client certificate is asked for, so none could "
                   "match)");
    }
  }

  absl::StatusOr<std::vector<std::string>> namespaces =
      StringList(node["namespaces"], absl::StrCat(at, ".namespaces"), error);
  if (!namespaces.ok()) return namespaces.status();
  for (const std::string& ns : *namespaces) {
    if (ns == "*") {
      if (namespaces->size() != 1) {
        return error(absl::StrCat(at, ".namespaces"),
                     "\"*\" (every namespace) stands alone");
      }
      client.all_namespaces = true;
    }
  }
  if (!client.all_namespaces) client.namespaces = *std::move(namespaces);

  absl::StatusOr<std::vector<std::string>> verbs =
      StringList(node["verbs"], absl::StrCat(at, ".verbs"), error);
  if (!verbs.ok()) return verbs.status();
  for (size_t i = 0; i < verbs->size(); ++i) {
    const std::string& v = (*verbs)[i];
    AccessVerb verb;
    if (v == "push") {
      verb = AccessVerb::kPush;
    } else if (v == "explain") {
      verb = AccessVerb::kExplain;
    } else if (v == "keda") {
      verb = AccessVerb::kKeda;
    } else {
      return error(absl::StrCat(at, ".verbs[", i, "]"),
                   absl::StrCat("unknown verb \"", v,
                                "\"; expected push, explain or keda"));
    }
    client.verbs |= static_cast<uint8_t>(verb);
  }
  if (client.Has(AccessVerb::kKeda) && !client.certificate.has_value()) {
    return error(absl::StrCat(at, ".verbs"),
                 "keda needs a certificate client: KEDA presents its "
                 "TriggerAuthentication's client certificate, never a token");
  }
  return client;
}

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

const char* AccessVerbName(AccessVerb verb) {
  switch (verb) {
    case AccessVerb::kPush:
      return "push";
    case AccessVerb::kExplain:
      return "explain";
    case AccessVerb::kKeda:
      return "keda";
  }
  return "unknown";
}

TokenDigest Sha256Of(absl::string_view token) {
  TokenDigest out{};
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), out.data(), &size, EVP_sha256(),
             nullptr);
  return out;
}

std::string HexOf(const TokenDigest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool AccessClient::Covers(absl::string_view ns) const {
  return all_namespaces || std::find(namespaces.begin(), namespaces.end(),
                                     ns) != namespaces.end();
}

absl::StatusOr<AccessPolicy> ParseAccessPolicy(absl::string_view yaml,
                                               absl::string_view file,
                                               bool client_certificates) {
  const FieldError error(file);
  if (yaml.size() > kMaxAuthzFileBytes) {
    return error("", absl::StrCat("file is ", yaml.size(),
                                  " bytes; the limit is ", kMaxAuthzFileBytes));
  }
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // The line only: yaml-cpp's message may quote the file's text.
    return error("", absl::StrCat("invalid YAML at line ",
                                  e.mark.is_null() ? 0 : e.mark.line + 1));
  }
  try {
    if (!doc.IsMap()) return error("", "must be an AdminAccess mapping");
    if (absl::Status s =
            OnlyKeys(doc, {"apiVersion", "kind", "clients"}, "", error);
        !s.ok()) {
      return s;
    }
    if (!doc["apiVersion"].IsScalar() ||
        doc["apiVersion"].Scalar() != "signalscaler.io/v1") {
      return error("apiVersion", "must be signalscaler.io/v1");
    }
    if (!doc["kind"].IsScalar() || doc["kind"].Scalar() != "AdminAccess") {
      return error("kind", "must be AdminAccess");
    }
    AccessPolicy policy;
    const YAML::Node clients = doc["clients"];
    if (clients.IsDefined() && !clients.IsNull() && !clients.IsSequence()) {
      return error("clients", "must be a list");
    }
    absl::flat_hash_set<std::string> names;
    absl::flat_hash_set<std::string> digests;
    for (size_t i = 0; clients.IsSequence() && i < clients.size(); ++i) {
      absl::StatusOr<AccessClient> c =
          ParseClient(clients[i], i, client_certificates, error);
      if (!c.ok()) return c.status();
      if (!names.insert(c->name).second) {
        return error(absl::StrCat("clients[", i, "].name"),
                     absl::StrCat("\"", c->name, "\" is already a client"));
      }
      if (c->token_sha256.has_value() &&
          !digests
               .insert(std::string(c->token_sha256->begin(),
                                   c->token_sha256->end()))
               .second) {
        return error(absl::StrCat("clients[", i, "].tokenSha256"),
                     "the same token as an earlier client");
      }
      policy.keda_restricted |= c->Has(AccessVerb::kKeda);
      policy.clients.push_back(*std::move(c));
    }
    return policy;
  } catch (const YAML::Exception& e) {
    return error("", absl::StrCat("cannot read the document at line ",
                                  e.mark.is_null() ? 0 : e.mark.line + 1));
  }
}

bool IsLoopbackPeer(absl::string_view peer) {
  const std::string p = UrlUnescape(peer);
  absl::string_view rest = p;
  if (absl::StartsWith(rest, "unix:") ||
      absl::StartsWith(rest, "unix-abstract:")) {
    return true;
  }
  if (absl::ConsumePrefix(&rest, "ipv4:")) {
    return absl::StartsWith(rest, "127.");
  }
  if (absl::ConsumePrefix(&rest, "ipv6:")) {
    if (!absl::ConsumePrefix(&rest, "[")) return false;
    const size_t end = rest.find(']');
    if (end == absl::string_view::npos) return false;
    const std::string host = absl::AsciiStrToLower(rest.substr(0, end));
    return host == "::1" || host == "0:0:0:0:0:0:0:1" ||
           absl::StartsWith(host, "::ffff:127.");
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
  std::lock_guard<std::mutex> lock(mu_);
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

absl::Status AccessControl::Reload() {
  if (mode_ != AccessMode::kFile) return absl::OkStatus();
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
    std::lock_guard<std::mutex> lock(mu_);
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (parsed.has_value()) {
      clients = parsed->clients.size();
      first = good_ == 0;
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
  } else if (log && good_reloads() > 0) {
    LogError("authz file rejected: the last good one stays in force",
             {{"error", std::string(status.message())}});
  }
  return status;
}

void AccessControl::Start() {
  if (mode_ != AccessMode::kFile || thread_ != nullptr) return;
  thread_ = std::make_unique<std::thread>([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.refresh),
                   [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; });
      if (stop_) break;
      lock.unlock();
      Reload().IgnoreError();  // logged there
      lock.lock();
    }
  });
}

void AccessControl::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_ != nullptr && thread_->joinable()) thread_->join();
  thread_.reset();
}

uint64_t AccessControl::good_reloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return good_;
}

uint64_t AccessControl::failed_reloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

}  // namespace signalscaler
