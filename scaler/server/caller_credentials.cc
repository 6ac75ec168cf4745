#include "scaler/server/internal/caller_credentials.h"

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/server_context.h"

namespace signalscaler::internal {
namespace {

// Longest identity kept from a certificate (a SAN or CN longer than this
// matches no client: the authz file's values are compared whole).
constexpr size_t kMaxIdentity = 1024;
// Longest certificate name kept for the audit trail.
constexpr size_t kMaxAuditName = 128;

std::string Printable(const grpc::string_ref& value, size_t limit) {
  std::string out;
  for (size_t i = 0; i < value.size() && out.size() < limit; ++i) {
    const char c = value.data()[i];
    out.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  return out;
}

std::vector<std::string> Values(const grpc::AuthContext& auth,
                                const char* property) {
  std::vector<std::string> out;
  for (const grpc::string_ref& v : auth.FindPropertyValues(property)) {
    if (v.size() <= kMaxIdentity) out.emplace_back(v.data(), v.size());
  }
  return out;
}

}  // namespace

CallerCredentials CredentialsOf(const grpc::ServerContextBase& ctx) {
  CallerCredentials creds;
  creds.loopback = IsLoopbackPeer(ctx.peer());
  const auto& metadata = ctx.client_metadata();
  // gRPC lower-cases metadata keys; only the first entry counts.
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    creds.has_authorization = true;
    absl::string_view value(it->second.data(), it->second.size());
    value = absl::StripAsciiWhitespace(value);
    if (value.size() > 7 && absl::StartsWithIgnoreCase(value, "bearer ")) {
      creds.bearer_token =
          std::string(absl::StripAsciiWhitespace(value.substr(7)));
    }
  }
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return creds;
  creds.certificate_verified = true;
  creds.uri_sans = Values(*auth, GRPC_PEER_URI_PROPERTY_NAME);
  creds.dns_sans = Values(*auth, GRPC_PEER_DNS_PROPERTY_NAME);
  std::vector<std::string> cn = Values(*auth, GRPC_X509_CN_PROPERTY_NAME);
  if (!cn.empty()) creds.common_name = cn.front();
  for (const grpc::string_ref& id : auth->GetPeerIdentity()) {
    creds.certificate_name = Printable(id, kMaxAuditName);
    if (!creds.certificate_name.empty()) break;
  }
  return creds;
}

}  // namespace signalscaler::internal
