// A short, printable excerpt of text that a peer wrote (an HTTP body, a
// Redis error reply), for error messages that reach explain and the
// Policies RPC: a hostile server's text stays short and on one line.
//
//   TextExcerpt("-ERR \x07 boom", 128);  // "-ERR \x07 boom", escaped
//
// Header-only: the HTTP and Redis sources share no library of their own.
#ifndef SIGNALSCALER_SOURCES_TEXT_EXCERPT_H_
#define SIGNALSCALER_SOURCES_TEXT_EXCERPT_H_

#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace signalscaler {

inline constexpr size_t kMaxExcerptBytes = 128;

// At most `max_chars` bytes of `text`: surrounding whitespace stripped,
// control and non-ASCII bytes escaped as \xNN (an escape counts its 4
// bytes), "..." appended when cut.
inline std::string TextExcerpt(absl::string_view text,
                               size_t max_chars = kMaxExcerptBytes) {
  text = absl::StripAsciiWhitespace(text);
  std::string out;
  size_t used = 0;  // bytes of `text` taken
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const std::string piece =
        u < 0x20 || u >= 0x7f
            ? absl::StrCat("\\x", absl::Hex(u, absl::kZeroPad2))
            : std::string(1, c);
    if (out.size() + piece.size() > max_chars) break;
    out += piece;
    ++used;
  }
  if (used < text.size()) out += "...";
  return out;
}

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_TEXT_EXCERPT_H_
