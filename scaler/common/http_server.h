// The HTTP/1.1 server of the operations port (/metrics, /livez, /readyz):
// GET and HEAD on exact paths, each answered by a handler, one request per
// connection (`Connection: close`). It runs on CivetWeb (Debian's
// libcivetweb, kept out of this header): a pool of worker threads, one per
// connection being served, so that a client that connects and says nothing
// (or dribbles its request, or reads slowly) holds one worker until the
// read deadline and delays neither the others nor Stop(). Not a general web
// server: no files, no bodies, no keep-alive, no TLS.
//
//   HttpServer server;
//   server.Handle("/livez", [] { return HttpResponse{200, "text/plain", "ok"};
//   }); absl::Status s = server.Start("0.0.0.0:9091");  // port 0 picks one int
//   port = server.port(); server.Stop();  // or the destructor
//
// Answers: the handler's for GET (HEAD: the same head, no body) of a
// registered path (the query string is ignored); 404 for any other path; 405
// (with `Allow: GET, HEAD`) for another method CivetWeb knows on a registered
// path; 400 for a malformed request line or head, an unknown method, or a
// head larger than max_head_bytes (CivetWeb 1.15 does not tell an oversized
// head from a malformed one); 505 for an HTTP version other than 1.0 and
// 1.1. A request body is never used: it is read and dropped for at most a
// second after the answer, then the connection is closed.
#ifndef SIGNALSCALER_SCALER_COMMON_HTTP_SERVER_H_
#define SIGNALSCALER_SCALER_COMMON_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace signalscaler {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpServerOptions {
  // Names what is served in errors: "cannot serve <name> on HOST:PORT: ...".
  std::string name = "http";
  // The largest request head (request line and headers) read; beyond it the
  // answer is 400. Default 8 KiB; less than 1 KiB (CivetWeb's minimum) is
  // taken as 1 KiB.
  size_t max_head_bytes = 8 << 10;
  // The read deadline: a connection must have sent its whole request head
  // within this long after a worker took it (it is closed otherwise, with
  // a 400 if it sent part of one). A write of the answer to a client that
  // does not read gives up too, within a few seconds of this.
  absl::Duration timeout = absl::Seconds(5);
  // Connections served at once (CivetWeb's worker threads, all started by
  // Start()); more wait, accepted, for a worker to free up. 256: 150
  // half-open connections leave more than a hundred for probes and scrapes,
  // for about 5 MB of memory in all (257 threads).
  size_t max_connections = 256;
};

// Handle() before Start(); Start() once. port() and Stop() are thread-safe.
// Handlers run on CivetWeb's worker threads, several at once: they must be
// thread-safe, and quick.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;

  explicit HttpServer(HttpServerOptions options = HttpServerOptions());
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers GET and HEAD of exactly `path` (e.g. "/metrics") with `handler`.
  void Handle(const std::string& path, Handler handler);

  // Binds `listen` (HOST:PORT; HOST an IPv4 literal, a name that resolves
  // to an IPv4 address, or empty for every address; port 0 picks a free
  // one) and serves on threads of its own. An IPv6 literal in brackets is
  // served only by a CivetWeb built with IPv6, which Debian 12's is not.
  // Errors say what failed, e.g.
  // "cannot serve metrics on 0.0.0.0:9091: Address already in use":
  //   INVALID_ARGUMENT     `listen` is not HOST:PORT
  //   UNAVAILABLE          HOST does not resolve, IPv6 is not available, or
  //                        it cannot be bound
  //   FAILED_PRECONDITION  already started
  absl::Status Start(const std::string& listen);
  // The bound port; 0 before Start() succeeds.
  int port() const;
  // Closes the port and every open connection, waits for the handlers that
  // run, and joins the threads: promptly, not after the read deadline.
  // Idempotent.
  void Stop();

 private:
  struct Impl;
  HttpServerOptions options_;
  std::map<std::string, Handler> handlers_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_HTTP_SERVER_H_
