// Certificates for tests, made by the openssl CLI in a temporary directory:
// CAs, server and client certificates with the extensions a test asks for.
//
//   Pki pki;
//   pki.NewCa("ca");
//   pki.NewCert("server", "ca", Pki::kServerExt);
//   pki.NewCert("team-b-keda", "ca",
//               "subjectAltName=URI:spiffe://cluster.local/ns/team-b/sa/k\n"
//               "extendedKeyUsage=clientAuth\n");
//   ASSERT_EQ(pki.errors(), "");
//   auto creds = pki.Creds("ca", "team-b-keda");
#ifndef SIGNALSCALER_TESTS_TESTING_PKI_H_
#define SIGNALSCALER_TESTS_TESTING_PKI_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/security/credentials.h"

namespace signalscaler::testing {

// The openssl CLI's path (RunCommand takes a path, not a name).
std::string OpensslPath();

class Pki {
 public:
  // A server certificate for 127.0.0.1 and localhost.
  static constexpr char kServerExt[] =
      "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
      "extendedKeyUsage=serverAuth\n";
  static constexpr char kClientExt[] = "extendedKeyUsage=clientAuth\n";

  Pki();

  // A self-signed CA `name` (CN=name), valid 2 days.
  void NewCa(const std::string& name);
  // `name` (CN=name) signed by CA `ca`, with the extensions in `ext` (an
  // openssl -extfile), valid `days` (negative: expired that long ago).
  void NewCert(const std::string& name, const std::string& ca,
               const std::string& ext, int days = 1);

  std::string Crt(const std::string& name) const;
  std::string Key(const std::string& name) const;
  static std::string Pem(const std::string& path);
  const std::string& dir() const { return dir_; }
  // Errors while generating (empty when all went well).
  const std::string& errors() const { return errors_; }

  // TLS channel credentials trusting CA `ca`, presenting `client`'s
  // certificate unless empty.
  std::shared_ptr<grpc::ChannelCredentials> Creds(
      const std::string& ca, const std::string& client) const;

 private:
  void Run(const std::vector<std::string>& argv);

  std::string dir_;
  std::string errors_;
  int serial_ = 1000;
};

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_TESTING_PKI_H_
