#include "scaler/common/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>  // std::call_once
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "scaler/common/internal/listen_address.h"
#include "scaler/common/log.h"

namespace signalscaler {
namespace {

// After its answer, a request's body (never used) is read and dropped for
// at most this long: closing with unread bytes would reset the connection
// and could lose the answer on the client's side.
constexpr absl::Duration kLinger = absl::Seconds(1);
// How often Stop() wakes CivetWeb's threads (see WakeThreads()).
constexpr absl::Duration kStopWake = absl::Milliseconds(10);

void InitCivetWeb() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

// What CivetWeb logs while mg_start2() runs on this thread (its reasons for
// failing to bind are only there).
thread_local std::vector<std::string>* start_log = nullptr;

// "cannot bind to 127.0.0.1:9091: 98 (Address already in use)" gives
// "Address already in use"; another message is kept whole.
std::string BindError(const std::vector<std::string>& log,
                      absl::string_view fallback) {
  for (const std::string& m : log) {
    if (!absl::StartsWith(m, "cannot bind")) continue;
    const size_t open = m.rfind(" (");
    if (open != std::string::npos && absl::EndsWith(m, ")")) {
      return m.substr(open + 2, m.size() - open - 3);
    }
    return m;
  }
  return log.empty() ? std::string(fallback) : absl::StrJoin(log, "; ");
}

int OnLog(const mg_connection*, const char* message) {
  if (start_log != nullptr) {
    start_log->push_back(message);
  } else {
    LogDebug("civetweb", {{"message", message}});
  }
  return 1;  // handled: CivetWeb prints nothing
}

// Writes a whole answer (`body` unless `head_only`) and marks the
// connection to be closed after it.
void Answer(mg_connection* conn, const HttpResponse& r, bool allow,
            bool head_only) {
  std::string out = absl::StrCat(
      "HTTP/1.1 ", r.status, " ", mg_get_response_code_text(conn, r.status),
      "\r\nContent-Type: ", r.content_type,
      "\r\nContent-Length: ", r.body.size(), "\r\n",
      allow ? "Allow: GET, HEAD\r\n" : "", "Connection: close\r\n\r\n");
  if (!head_only) out += r.body;
  mg_write(conn, out.data(), out.size());
  // Without keep-alive CivetWeb would still read a declared body to its
  // end, for as long as a client sends it; closing skips that.
  mg_disable_connection_keep_alive(conn);
}

// Reads and drops what is left of the request's body for at most kLinger.
void DropBody(mg_connection* conn) {
  const absl::Time until = absl::Now() + kLinger;
  char buf[4096];
  while (absl::Now() < until && mg_read(conn, buf, sizeof(buf)) > 0) {
  }
}

// Shuts down (not closes: CivetWeb owns them) the connections accepted on
// `port`, so that the workers reading them see an end at once instead of
// at their next look at the stop flag, up to 2 s later (CivetWeb 1.15's
// poll quantum, which it has no API to cut short). A connection accepted on
// `port` is a socket whose own port is `port` and which has a peer (the
// listening socket has none).
//
// Each descriptor is first duplicated and only the duplicate is looked at
// and shut down: a number CivetWeb closes meanwhile (and another thread
// reuses) can then never be acted on by mistake, since the checks and the
// shutdown see one and the same socket. ThreadSanitizer still sees the
// number read while CivetWeb's thread may close it: .ci/tsan.supp says why
// that report is suppressed here.
void ShutdownAccepted(int port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (const dirent* e = ::readdir(dir)) {
    int n = -1;
    if (!absl::SimpleAtoi(e->d_name, &n) || n == ::dirfd(dir)) continue;
    const int fd = ::fcntl(n, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) continue;  // closed meanwhile
    struct stat st {};
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_len = sizeof(local);
    socklen_t peer_len = sizeof(peer);
    if (::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) ==
            0 &&
        local.ss_family == AF_INET &&
        ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port) == port &&
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
      ::shutdown(fd, SHUT_RDWR);
    }
    ::close(fd);
  }
  ::closedir(dir);
}

// Connects to `ip`:`port` and hangs up: CivetWeb's listening thread polls
// in 2 s quanta and looks at the stop flag when a connection comes.
void Knock(const std::string& ip, int port) {
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) == 1) {
    (void)::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  }
  ::close(fd);
}

}  // namespace

struct HttpServer::Impl {
  Impl(const HttpServerOptions& o, const std::map<std::string, Handler>& h)
      : options(o), handlers(h) {}

  const HttpServerOptions& options;
  const std::map<std::string, Handler>& handlers;
  absl::Mutex stop_mu;  // serializes Start() and Stop()
  bool started ABSL_GUARDED_BY(stop_mu) = false;
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;
  mg_context* ctx ABSL_GUARDED_BY(stop_mu) = nullptr;
  std::atomic<int> port{0};
  std::string knock_ip;  // where Stop() knocks: the bound IPv4 address

  // CivetWeb's callbacks; `cbdata` or the context's user data is the Impl.
  static void OnContext(const mg_context* ctx);
  static int OnRequest(mg_connection* conn, void* cbdata);
  static int OnError(mg_connection* conn, int status, const char* message);
};

void HttpServer::Impl::OnContext(const mg_context* ctx) {
  // Before any request is read: no request meets CivetWeb's own routing.
  Impl* impl = static_cast<Impl*>(mg_get_user_data(ctx));
  mg_set_request_handler(const_cast<mg_context*>(ctx), "/", &Impl::OnRequest,
                         impl);
}

int HttpServer::Impl::OnRequest(mg_connection* conn, void* cbdata) {
  const Impl& impl = *static_cast<const Impl*>(cbdata);
  const mg_request_info* ri = mg_get_request_info(conn);
  // decode_url is off: the path as sent, without the query string (an
  // absolute-form target naming this server gives its path).
  const std::string path = ri->local_uri_raw != nullptr ? ri->local_uri_raw
                           : ri->local_uri != nullptr   ? ri->local_uri
                                                        : "";
  const absl::string_view method = ri->request_method;
  const bool head_only = method == "HEAD";
  HttpResponse r;
  bool allow = false;
  auto it = impl.handlers.find(path);
  if (it == impl.handlers.end()) {
    r.status = 404;
    r.body = "not found\n";
  } else if (method != "GET" && !head_only) {
    r.status = 405;
    r.body = "only GET and HEAD\n";
    allow = true;
  } else {
    r = it->second();
  }
  Answer(conn, r, allow, head_only);
  if (ri->content_length > 0 ||
      mg_get_header(conn, "Transfer-Encoding") != nullptr) {
    DropBody(conn);
  }
  return r.status;
}

int HttpServer::Impl::OnError(mg_connection* conn, int status,
                              const char* message) {
  const Impl& impl =
      *static_cast<const Impl*>(mg_get_user_data(mg_get_context(conn)));
  HttpResponse r;
  r.status = status;
  const absl::string_view why = message == nullptr ? "" : message;
  if (status == 400 && why == "Malformed message") {
    // A byte that has no place in a head, a head that did not end within
    // the deadline, or one larger than the limit: CivetWeb says the same.
    r.body = absl::StrCat("bad request head: malformed, not complete within ",
                          absl::FormatDuration(impl.options.timeout),
                          ", or larger than ", impl.options.max_head_bytes,
                          " bytes\n");
  } else if (status == 400) {
    r.body = "malformed request line\n";
  } else if (status == 505) {
    r.body = "only HTTP/1.0 and HTTP/1.1\n";
  } else {
    r.body = absl::StrCat(why, "\n");
  }
  // CivetWeb's own error page would echo the request's version into the
  // status line; this one is ours.
  Answer(conn, r, /*allow=*/false, /*head_only=*/false);
  return 0;  // handled
}

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)),
      impl_(std::make_unique<Impl>(options_, handlers_)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& path, Handler handler) {
  handlers_[path] = std::move(handler);
}

int HttpServer::port() const { return impl_->port.load(); }

absl::Status HttpServer::Start(const std::string& listen) {
  absl::MutexLock lock(&impl_->stop_mu);
  const std::string what =
      absl::StrCat("cannot serve ", options_.name, " on ", listen, ": ");
  if (impl_->started) {
    return absl::FailedPreconditionError(absl::StrCat(what, "already serving"));
  }
  std::string host;
  std::string port;
  if (!internal::SplitListen(listen, host, port)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "not HOST:PORT (e.g. 0.0.0.0:9091, 127.0.0.1:0)"));
  }
  InitCivetWeb();
  absl::StatusOr<internal::Listening> listening = internal::ResolveListening(
      host, port, mg_check_feature(MG_FEATURES_IPV6) != 0, what);
  if (!listening.ok()) return listening.status();
  const std::string& ports = listening->ports;

  const std::string threads =
      absl::StrCat(std::max<size_t>(options_.max_connections, 1));
  const std::string timeout_ms = absl::StrCat(
      std::max<int64_t>(absl::ToInt64Milliseconds(options_.timeout), 1));
  const std::string head_bytes =
      absl::StrCat(std::max<size_t>(options_.max_head_bytes, 1024));
  const char* config[] = {
      "listening_ports", ports.c_str(), "num_threads", threads.c_str(),
      "request_timeout_ms", timeout_ms.c_str(), "max_request_size",
      head_bytes.c_str(), "enable_keep_alive", "no",
      // Paths are matched as sent.
      "decode_url", "no",
      // An absolute-form target naming this server's address is served.
      "enable_auth_domain_check", "no", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &OnLog;
  callbacks.http_error = &Impl::OnError;
  callbacks.init_context = &Impl::OnContext;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = impl_.get();
  init.configuration_options = config;
  unsigned error_code = 0;
  char error_text[256] = "";
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  std::vector<std::string> log;
  start_log = &log;
  mg_context* ctx = mg_start2(&init, &error);
  start_log = nullptr;
  if (ctx == nullptr) {
    return absl::UnavailableError(
        absl::StrCat(what, BindError(log, error_text)));
  }
  mg_server_port bound{};
  if (mg_get_server_ports(ctx, 1, &bound) != 1 || bound.port <= 0) {
    mg_stop(ctx);
    return absl::UnavailableError(absl::StrCat(what, "no port bound"));
  }
  impl_->ctx = ctx;
  impl_->knock_ip = listening->knock_ip;
  impl_->port = bound.port;
  impl_->started = true;
  return absl::OkStatus();
}

void HttpServer::Stop() {
  absl::MutexLock lock(&impl_->stop_mu);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  const int port = impl_->port.load();
  // mg_stop() sets the stop flag, then joins threads that look at it only
  // every 2 s while they poll: wake them until it returns.
  absl::Mutex mu;
  absl::CondVar cv;
  bool done = false;
  std::thread stopper([ctx = impl_->ctx, &mu, &cv, &done] {
    mg_stop(ctx);
    absl::MutexLock l(&mu);
    done = true;
    cv.SignalAll();
  });
  mu.Lock();
  while (!done) {
    mu.Unlock();
    if (!impl_->knock_ip.empty()) Knock(impl_->knock_ip, port);
    ShutdownAccepted(port);
    mu.Lock();
    const absl::Time due = absl::Now() + kStopWake;
    while (!done && !cv.WaitWithDeadline(&mu, due)) {
    }
  }
  mu.Unlock();
  stopper.join();
  impl_->ctx = nullptr;
  impl_->port = 0;
}

}  // namespace signalscaler
