#include "scaler/server/internal/tls_credentials.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "scaler/common/log.h"

namespace signalscaler::internal {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A file named in errors: "--tls-key /tls/tls.key".
std::string Named(const char* flag, const std::string& path) {
  return absl::StrCat("--", flag, " ", path);
}

absl::StatusOr<std::string> ReadFile(const char* flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read ", Named(flag, path), ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Refuses to prompt for a passphrase: an encrypted key is an error.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return 0;
}

absl::StatusOr<X509Ptr> FirstCertificate(const char* flag,
                                         const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(flag, path);
  if (!pem.ok()) return pem.status();
  BioPtr bio = MemoryBio(*pem);
  X509Ptr cert(bio == nullptr ? nullptr
                              : PEM_read_bio_X509(bio.get(), nullptr,
                                                  NoPassphrase, nullptr));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named(flag, path), " holds no PEM certificate"));
  }
  return cert;
}

}  // namespace

absl::Status CheckTlsFiles(const ServerTls& tls) {
  if (tls.key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-key");
  }
  absl::StatusOr<X509Ptr> cert = FirstCertificate("tls-cert", tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key_pem = ReadFile("tls-key", tls.key_file);
  if (!key_pem.ok()) return key_pem.status();
  BioPtr bio = MemoryBio(*key_pem);
  PkeyPtr key(bio == nullptr ? nullptr
                             : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                       NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named("tls-key", tls.key_file),
                     " holds no PEM private key (encrypted keys are not "
                     "supported)"));
  }
  const bool match = X509_check_private_key(cert->get(), key.get()) == 1;
  ERR_clear_error();
  if (!match) {
    return absl::InvalidArgumentError(absl::StrCat(
        Named("tls-key", tls.key_file), " does not match the certificate in ",
        Named("tls-cert", tls.cert_file)));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert->get())) < 0) {
    LogWarn("the TLS certificate has expired; clients will refuse it",
            {{"file", tls.cert_file}});
  }
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<X509Ptr> ca =
        FirstCertificate("tls-client-ca", tls.client_ca_file);
    if (!ca.ok()) return ca.status();
  }
  if (tls.refresh_seconds < 1) {
    return absl::InvalidArgumentError("--tls-refresh-seconds must be >= 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerCredentials> MakeServerCredentials(
    const ServerTls& tls, bool client_certificate_optional) {
  ServerCredentials out;
  if (!tls.enabled()) {
    out.credentials = grpc::InsecureServerCredentials();
    return out;
  }
  if (absl::Status s = CheckTlsFiles(tls); !s.ok()) return s;
  // Re-reads all the files every refresh; a key and certificate that do not
  // match (mid-rotation) are skipped until they do.
  out.provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          tls.key_file, tls.cert_file, tls.client_ca_file,
          static_cast<unsigned int>(tls.refresh_seconds));
  grpc::experimental::TlsServerCredentialsOptions options(out.provider);
  options.watch_identity_key_cert_pairs();
  if (tls.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(
        client_certificate_optional
            ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  // gRPC 1.51 has no C++ setter for the TLS versions; its default range is
  // TLS 1.2 to 1.3, so TLS 1.0 and 1.1 are refused (tls_test checks it).
  out.credentials = grpc::experimental::TlsServerCredentials(options);
  if (out.credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS options");
  }
  return out;
}

}  // namespace signalscaler::internal
