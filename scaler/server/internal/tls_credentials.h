// The gRPC port's TLS: checks the PEM files of a ServerTls once, so that a
// bad file stops startup with an error naming it (instead of failing every
// handshake later), then builds gRPC's TLS server credentials over a
// FileWatcherCertificateProvider that re-reads the files every
// `refresh_seconds`. Internal to the server; includes gRPC.
//
//   absl::StatusOr<ServerCredentials> c = MakeServerCredentials(deps.tls);
//   builder.AddListeningPort(listen, c->credentials, &port);
//   // keep c->provider alive as long as the server
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_TLS_CREDENTIALS_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_TLS_CREDENTIALS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "scaler/server/scaler_server.h"

namespace signalscaler::internal {

struct ServerCredentials {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Null for plaintext. Watches the files; must outlive the server.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
};

// OK when the files are readable PEM, the key (unencrypted) matches the
// certificate, and the client CA file (if any) holds a certificate.
// Otherwise INVALID_ARGUMENT naming the flag and the file, never a key's
// content. Logs a warning when the certificate has expired.
absl::Status CheckTlsFiles(const ServerTls& tls);

// Insecure credentials when !tls.enabled(); else TLS (TLS 1.2 at least,
// gRPC's floor), requiring and verifying a client certificate when
// tls.client_ca_file is set (with `client_certificate_optional`: asking for
// one and verifying it when presented, for the authz file's token clients).
// Checks the files first (CheckTlsFiles).
absl::StatusOr<ServerCredentials> MakeServerCredentials(
    const ServerTls& tls, bool client_certificate_optional = false);

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_TLS_CREDENTIALS_H_
