#include "scaler/server/access_policy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// The client's token digest or certificate: exactly one.
absl::Status ParseIdentity(const YAML::Node& node, const std::string& at,
                           bool client_certificates, const FieldError& error,
                           AccessClient& client) {
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
    return absl::OkStatus();
  }
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
  return absl::OkStatus();
}

// What the client may do: its namespaces ("*" alone: every one) and verbs.
absl::Status ParseGrants(const YAML::Node& node, const std::string& at,
                         const FieldError& error, AccessClient& client) {
  absl::StatusOr<std::vector<std::string>> namespaces =
      StringList(node["namespaces"], absl::StrCat(at, ".namespaces"), error);
  if (!namespaces.ok()) return namespaces.status();
  for (const std::string& ns : *namespaces) {
    if (ns != "*") continue;
    if (namespaces->size() != 1) {
      return error(absl::StrCat(at, ".namespaces"),
                   "\"*\" (every namespace) stands alone");
    }
    client.all_namespaces = true;
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
  return absl::OkStatus();
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
  if (absl::Status s =
          ParseIdentity(node, at, client_certificates, error, client);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseGrants(node, at, error, client); !s.ok()) return s;
  return client;
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

}  // namespace signalscaler
