#include "tests/testing/pki.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing/scaler_process.h"
#include "tests/testing/subprocess.h"

namespace signalscaler::testing {

std::string OpensslPath() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin", ':')) {
    const std::string candidate = absl::StrCat(dir, "/openssl");
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "/usr/bin/openssl";
}

Pki::Pki() : dir_(MakeTempDir()) {}

std::string Pki::Crt(const std::string& name) const {
  return dir_ + "/" + name + ".crt";
}

std::string Pki::Key(const std::string& name) const {
  return dir_ + "/" + name + ".key";
}

std::string Pki::Pem(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void Pki::Run(const std::vector<std::string>& argv) {
  RunResult r = RunCommand(argv);
  if (r.exit_code != 0) {
    absl::StrAppend(&errors_, argv[1], " ", argv.back(), ": ", r.output, "\n");
  }
}

void Pki::NewCa(const std::string& name) {
  Run({OpensslPath(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", Key(name), "-out",
       Crt(name), "-days", "2", "-subj", "/CN=" + name});
}

void Pki::NewCert(const std::string& name, const std::string& ca,
                  const std::string& ext, int days) {
  const std::string csr = dir_ + "/" + name + ".csr";
  const std::string ext_file = dir_ + "/" + name + ".ext";
  WriteFile(ext_file, ext);
  Run({OpensslPath(), "req", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", Key(name), "-out",
       csr, "-subj", "/CN=" + name});
  Run({OpensslPath(), "x509", "-req", "-in", csr, "-CA", Crt(ca), "-CAkey",
       Key(ca), "-set_serial", absl::StrCat(++serial_), "-days",
       absl::StrCat(days), "-extfile", ext_file, "-out", Crt(name)});
}

std::shared_ptr<grpc::ChannelCredentials> Pki::Creds(
    const std::string& ca, const std::string& client) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = Pem(Crt(ca));
  if (!client.empty()) {
    ssl.pem_cert_chain = Pem(Crt(client));
    ssl.pem_private_key = Pem(Key(client));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace signalscaler::testing
