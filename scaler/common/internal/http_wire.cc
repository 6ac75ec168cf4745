#include "scaler/common/internal/http_wire.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace signalscaler::internal {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

// RFC 9110's tchar (std::strchr would also find the terminating NUL).
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

}  // namespace

bool SplitListen(absl::string_view listen, std::string& host,
                 std::string& port) {
  absl::string_view port_text;
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos || close + 1 >= listen.size() ||
        listen[close + 1] != ':') {
      return false;
    }
    host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos) return false;
    host = std::string(listen.substr(0, colon));
    if (host.find(':') != std::string::npos) return false;  // unbracketed v6
    port_text = listen.substr(colon + 1);
  }
  int n = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(port_text, &n) || n > 65535) {
    return false;
  }
  port = std::string(port_text);
  return true;
}

size_t HeadEnd(absl::string_view in) {
  const size_t lf = in.find("\n\n");
  const size_t crlf = in.find("\n\r\n");
  if (crlf != absl::string_view::npos &&
      (lf == absl::string_view::npos || crlf < lf)) {
    return crlf + 3;
  }
  return lf == absl::string_view::npos ? lf : lf + 2;
}

bool ParseRequestLine(absl::string_view line, std::string& method,
                      std::string& path) {
  if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
  const std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || parts[0].empty() ||
      !std::all_of(parts[0].begin(), parts[0].end(), IsTokenChar)) {
    return false;
  }
  const absl::string_view version = parts[2];
  if (version.size() != 8 || !absl::StartsWith(version, "HTTP/1.") ||
      !absl::ascii_isdigit(version[7])) {
    return false;
  }
  absl::string_view target = parts[1];
  // Absolute form (a proxy's): "http://host:port/path".
  for (absl::string_view scheme : {"http://", "https://"}) {
    if (absl::StartsWithIgnoreCase(target, scheme)) {
      target.remove_prefix(scheme.size());
      const size_t slash = target.find('/');
      target = slash == absl::string_view::npos ? absl::string_view("/")
                                                : target.substr(slash);
      break;
    }
  }
  if (target.empty() || target[0] != '/') return false;
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  method = std::string(parts[0]);
  path = std::string(target.substr(0, target.find_first_of("?#")));
  return true;
}

Reply ErrorReply(int status, std::string text) {
  Reply r;
  r.response.status = status;
  r.response.body = std::move(text);
  return r;
}

std::string FormatReply(const Reply& r) {
  const HttpResponse& h = r.response;
  std::string out =
      absl::StrCat("HTTP/1.1 ", h.status, " ", Reason(h.status),
                   "\r\nContent-Type: ", h.content_type,
                   "\r\nContent-Length: ", h.body.size(),
                   "\r\nCache-Control: no-store", "\r\nConnection: close\r\n");
  if (r.allow) absl::StrAppend(&out, "Allow: GET, HEAD\r\n");
  absl::StrAppend(&out, "\r\n");
  if (!r.head_only) absl::StrAppend(&out, h.body);
  return out;
}

}  // namespace signalscaler::internal
