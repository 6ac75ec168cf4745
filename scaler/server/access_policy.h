// The authz file's content (`serve --authz-file`, kind AdminAccess): its
// clients, each named by the SHA-256 of a bearer token or by a verified
// client certificate, with the namespaces and verbs it may use; parsed and
// validated in one place. gRPC-free and I/O-free; authz.h decides calls with
// it.
#ifndef SIGNALSCALER_SCALER_SERVER_ACCESS_POLICY_H_
#define SIGNALSCALER_SCALER_SERVER_ACCESS_POLICY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signalscaler {

enum class AccessVerb : uint8_t { kPush = 1, kExplain = 2, kKeda = 4 };

// "push", "explain", "keda".
const char* AccessVerbName(AccessVerb verb);

using TokenDigest = std::array<unsigned char, 32>;

// The SHA-256 of `token`; HexOf spells a digest as the file holds it
// (64 lower-case hex digits).
TokenDigest Sha256Of(absl::string_view token);
std::string HexOf(const TokenDigest& digest);

struct CertificateIdentity {
  enum class Field { kUriSan, kDnsSan, kCommonName };
  Field field = Field::kCommonName;
  std::string value;
};

struct AccessClient {
  std::string name;
  std::optional<TokenDigest> token_sha256;
  std::optional<CertificateIdentity> certificate;
  bool all_namespaces = false;  // namespaces: ["*"]
  std::vector<std::string> namespaces;
  uint8_t verbs = 0;  // AccessVerb bits

  bool Has(AccessVerb verb) const {
    return (verbs & static_cast<uint8_t>(verb)) != 0;
  }
  bool Covers(absl::string_view ns) const;
};

struct AccessPolicy {
  std::vector<AccessClient> clients;
  // Some client has the verb `keda`: KEDA's calls are checked.
  bool keda_restricted = false;
};

// Parses and validates an AdminAccess document. INVALID_ARGUMENT naming
// `file` and the field ("clients[1].tokenSha256: ..."): apiVersion
// signalscaler.io/v1 and kind AdminAccess; every client has a unique,
// non-empty name, exactly one of tokenSha256 (64 hex digits, unique) and
// certificate (exactly one of uriSAN, dnsSAN, commonName, non-empty),
// non-empty namespaces ("*" alone: every namespace) and verbs among push,
// explain and keda; `keda` only for a certificate client; certificate
// clients only when `client_certificates` (serve --tls-client-ca: without
// it no client certificate is asked for, and such a client could never
// match). Unknown keys are errors. A token digest is never echoed.
absl::StatusOr<AccessPolicy> ParseAccessPolicy(absl::string_view yaml,
                                               absl::string_view file,
                                               bool client_certificates);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_ACCESS_POLICY_H_
