// Small pure text helpers of the HTTP sources, shared by the client and the
// parsers (which must not depend on libcurl: the fuzz targets build them).
//
//   RedactUrl("http://u:p@host/api?token=x") == "http://host/api"
#ifndef SIGNALSCALER_SOURCES_HTTP_HTTP_TEXT_H_
#define SIGNALSCALER_SOURCES_HTTP_HTTP_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "sources/text_excerpt.h"

namespace signalscaler {

// `url` without userinfo, query string and fragment: safe for messages.
// "http://u:p@host:9090/api?q=secret#f" -> "http://host:9090/api".
std::string RedactUrl(absl::string_view url);

// Percent-encodes everything but RFC 3986 unreserved characters, for a query
// parameter's value.
std::string UrlEncode(absl::string_view text);

// At most `max_chars` bytes of `body` for an error message (TextExcerpt,
// sources/text_excerpt.h). Every part of an answer that reaches an error
// (and so explain and the Policies RPC) goes through it.
inline std::string BodyExcerpt(absl::string_view body,
                               size_t max_chars = kMaxExcerptBytes) {
  return TextExcerpt(body, max_chars);
}

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_HTTP_HTTP_TEXT_H_
