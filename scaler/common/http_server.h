// A small HTTP/1.1 server for the operations port (/metrics, /livez,
// /readyz): GET and HEAD on exact paths, each answered by a handler, one
// request per connection (`Connection: close`). Plain sockets and poll(): one
// thread serves every connection without blocking on any of them, so a client
// that connects and says nothing (or reads slowly) neither delays the others
// nor Stop(). Not a general web server: no bodies, no keep-alive, no TLS.
//
//   HttpServer server;
//   server.Handle("/livez", [] { return HttpResponse{200, "text/plain", "ok"};
//   }); absl::Status s = server.Start("0.0.0.0:9091");  // port 0 picks one int
//   port = server.port(); server.Stop();  // or the destructor
//
// Answers: the handler's for GET (HEAD: the same head, no body) of a
// registered path (the query string is ignored); 404 for any other path; 405
// (with `Allow: GET, HEAD`) for another method on a registered path; 400 for
// a malformed request line; 431 when the request head exceeds
// max_head_bytes. A connection whose request head is not complete within
// `timeout` is closed.
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
  // answer is 431. Default 8 KiB.
  size_t max_head_bytes = 8 << 10;
  // A connection must have sent its request head, and taken its answer,
  // within this long after it was accepted; it is closed otherwise.
  absl::Duration timeout = absl::Seconds(5);
  // Connections served at once; more wait in the kernel's accept queue.
  size_t max_connections = 64;
};

// Handle() before Start(); Start() once. port() and Stop() are thread-safe.
// Handlers run on the server's thread, one at a time: keep them quick.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;

  explicit HttpServer(HttpServerOptions options = HttpServerOptions());
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers GET and HEAD of exactly `path` (e.g. "/metrics") with `handler`.
  void Handle(const std::string& path, Handler handler);

  // Binds `listen` (HOST:PORT; HOST an IPv4 literal, an IPv6 literal in
  // brackets, a name, or empty for every address; port 0 picks a free one)
  // and serves on a thread of its own. Errors say what failed, e.g.
  // "cannot serve metrics on 0.0.0.0:9091: Address already in use":
  //   INVALID_ARGUMENT     `listen` is not HOST:PORT
  //   UNAVAILABLE          HOST does not resolve, or it cannot be bound
  //   FAILED_PRECONDITION  already started
  absl::Status Start(const std::string& listen);
  // The bound port; 0 before Start() succeeds.
  int port() const;
  // Closes the port and every open connection and joins the thread, within
  // a poll() wake-up. Idempotent.
  void Stop();

 private:
  struct Impl;
  HttpServerOptions options_;
  std::map<std::string, Handler> handlers_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_HTTP_SERVER_H_
