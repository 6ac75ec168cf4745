// A small HTTP GET client (libcurl behind a private implementation) for the
// sources that read over HTTP: Prometheus' query API and pods' /metrics.
// This is THE one place where transport failures and HTTP statuses become
// canonical absl::Status codes, so every HTTP source reports them alike.
//
//   HttpClientOptions options;
//   options.bearer_token_file = "/var/run/secrets/token";
//   HttpClient client(options);
//   absl::StatusOr<std::string> body =
//       client.Get("http://prometheus:9090/api/v1/query?query=up",
//                  absl::Now() + absl::Seconds(2));
#ifndef SIGNALSCALER_SOURCES_HTTP_HTTP_CLIENT_H_
#define SIGNALSCALER_SOURCES_HTTP_HTTP_CLIENT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sources/http/http_text.h"

namespace signalscaler {

struct HttpClientOptions {
  // A file holding a bearer token, sent as `Authorization: Bearer <token>`.
  // Read at every request, so a rotated token is picked up at once; trailing
  // whitespace is ignored. Empty: no Authorization header.
  std::string bearer_token_file;
  // A PEM bundle of CA certificates for https, read at every request.
  // Empty: the system's CAs.
  std::string ca_file;
  // Set (serve's --credentials-root): bearer_token_file and ca_file must be
  // ROOT/<namespace>/... and, opened, resolve inside ROOT/<namespace>/
  // (sources/credential_file.h); else the request fails, UNAUTHENTICATED
  // for the token, FAILED_PRECONDITION for the CA bundle.
  std::string credentials_root;
  // The Accept header. Empty: curl's default (*/*).
  std::string accept;
  // The largest body accepted (after decompression); a larger answer is
  // RESOURCE_EXHAUSTED. Default 4 MiB.
  size_t max_body_bytes = 4 << 20;
};

// Thread-compatible: one request at a time per instance (connections are
// kept alive between requests).
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GETs `url` (http or https only, redirects not followed) and returns the
  // body of a 2xx answer. Gives up at `deadline` (real time). Errors name the
  // URL without its query string or credentials, and never the token:
  //   DEADLINE_EXCEEDED  no complete answer before the deadline
  //   UNAVAILABLE        cannot resolve or connect, connection lost, TLS
  //                      failure, HTTP 5xx (with an excerpt of the body,
  //                      BodyExcerpt: at most 128 bytes, escaped)
  //   UNAUTHENTICATED    HTTP 401, or the token file cannot be read (or,
  //                      credentials_root set, resolves outside its
  //                      namespace's directory: never sent then)
  //   PERMISSION_DENIED  HTTP 403
  //   INVALID_ARGUMENT   any other non-2xx status (with an excerpt of the
  //                      body), a malformed or non-http(s) URL
  //   FAILED_PRECONDITION the CA file cannot be read, or (credentials_root
  //                      set) resolves outside its namespace's directory
  //   RESOURCE_EXHAUSTED the body exceeds max_body_bytes
  //   INTERNAL           any other libcurl failure
  absl::StatusOr<std::string> Get(const std::string& url, absl::Time deadline);

 private:
  struct Impl;
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_HTTP_CLIENT_H_
