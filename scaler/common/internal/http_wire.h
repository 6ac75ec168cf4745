// The wire format of HttpServer (scaler/common/http_server.h): parsing a
// listen address and a request head, formatting an answer. Pure functions,
// no sockets.
//
//   std::string method, path;
//   if (!ParseRequestLine("GET /metrics?x=1 HTTP/1.1", method, path)) ...
//   // method == "GET", path == "/metrics"
#ifndef SIGNALSCALER_SCALER_COMMON_INTERNAL_HTTP_WIRE_H_
#define SIGNALSCALER_SCALER_COMMON_INTERNAL_HTTP_WIRE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "scaler/common/http_server.h"

namespace signalscaler::internal {

// Splits "HOST:PORT" or "[IPV6]:PORT" (HOST may be empty; PORT 0 to 65535,
// digits only); false when `listen` is neither.
bool SplitListen(absl::string_view listen, std::string& host,
                 std::string& port);

// The end of the request head in `in` (just past its empty line, CRLF or
// bare LF), or npos while it is incomplete.
size_t HeadEnd(absl::string_view in);

// Parses "METHOD TARGET HTTP/1.x" (a trailing CR allowed) into the method
// and the target's path, without query string or fragment (an absolute-form
// target "http://host/path" gives "/path"); false when malformed.
bool ParseRequestLine(absl::string_view line, std::string& method,
                      std::string& path);

// What a handler (or the server itself) answers, before it is formatted.
struct Reply {
  HttpResponse response;
  bool allow = false;      // add `Allow: GET, HEAD` (a 405)
  bool head_only = false;  // HEAD: the head of the answer, no body
};

// A reply of the server's own: `status` with a text/plain `text`.
Reply ErrorReply(int status, std::string text);

// The bytes of `r`: status line, Content-Type, Content-Length,
// `Connection: close`, then the body unless head_only.
std::string FormatReply(const Reply& r);

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_COMMON_INTERNAL_HTTP_WIRE_H_
