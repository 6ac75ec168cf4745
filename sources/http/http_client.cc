#include "sources/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "sources/credential_file.h"

namespace signalscaler {
namespace {

constexpr size_t kMaxTokenBytes = 64 << 10;
constexpr size_t kMaxCaBytes = 4 << 20;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct BodySink {
  std::string* body;
  size_t max_bytes;
  bool overflow = false;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t bytes = size * n;
  if (sink->body->size() + bytes > sink->max_bytes) {
    sink->overflow = true;
    return 0;  // curl fails the transfer with CURLE_WRITE_ERROR
  }
  sink->body->append(data, bytes);
  return bytes;
}

// Reads the token; the token itself never enters a message.
absl::StatusOr<std::string> ReadToken(const std::string& path,
                                      const std::string& root) {
  absl::StatusOr<std::string> read =
      ReadConfinedFile(path, root, kMaxTokenBytes);
  if (!read.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "cannot read bearer token file ", read.status().message()));
  }
  std::string token = *std::move(read);
  absl::StripAsciiWhitespace(&token);
  if (token.empty() ||
      std::any_of(token.begin(), token.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    std::fill(token.begin(), token.end(), '\0');
    return absl::UnauthenticatedError(absl::StrCat(
        "bearer token file ", path, " is empty or holds control characters"));
  }
  return token;
}

// curl's own text for a failure, unless it could leak the query string.
std::string CurlDetail(CURLcode code, const char* errbuf,
                       absl::string_view url) {
  const size_t q = url.find_first_of("?#");
  const absl::string_view query =
      q == absl::string_view::npos ? "" : url.substr(q + 1);
  if (errbuf[0] != '\0' &&
      (query.empty() || !absl::StrContains(errbuf, query))) {
    return errbuf;
  }
  return curl_easy_strerror(code);
}

// The one translation of libcurl's result into a canonical status.
absl::Status StatusFromCurl(CURLcode code, const std::string& detail,
                            bool overflow, size_t max_bytes,
                            const std::string& where) {
  switch (code) {
    case CURLE_OK:
      return absl::OkStatus();
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(
          absl::StrCat(where, ": no answer in time (", detail, ")"));
    case CURLE_FILESIZE_EXCEEDED:
      return absl::ResourceExhaustedError(
          absl::StrCat(where, ": the answer exceeds the size bound of ",
                       max_bytes, " bytes"));
    case CURLE_WRITE_ERROR:
      if (overflow) {
        return absl::ResourceExhaustedError(
            absl::StrCat(where, ": the answer exceeds the size bound of ",
                         max_bytes, " bytes"));
      }
      return absl::InternalError(absl::StrCat(where, ": ", detail));
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return absl::UnavailableError(absl::StrCat(where, ": ", detail));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", detail));
    default:
      return absl::InternalError(absl::StrCat(where, ": ", detail));
  }
}

// The one translation of an HTTP status into a canonical status.
// A server echoing the request must not leak `token` through the excerpt.
absl::Status StatusFromHttp(long status, const std::string& body,
                            const std::string& token,
                            const std::string& where) {
  if (status >= 200 && status < 300) return absl::OkStatus();
  constexpr size_t kExcerptChars = kMaxExcerptBytes;
  std::string head = body.substr(0, kExcerptChars + token.size());
  if (!token.empty()) head = absl::StrReplaceAll(head, {{token, "<redacted>"}});
  std::string excerpt = BodyExcerpt(head, kExcerptChars);
  if (body.size() > head.size() && !absl::EndsWith(excerpt, "...")) {
    excerpt += "...";
  }
  const std::string text = absl::StrCat(where, ": HTTP ", status,
                                        excerpt.empty() ? "" : ": ", excerpt);
  if (status == 401) return absl::UnauthenticatedError(text);
  if (status == 403) return absl::PermissionDeniedError(text);
  if (status >= 500) return absl::UnavailableError(text);
  if (status >= 300 && status < 400) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": HTTP ", status, " (redirects are not followed)"));
  }
  return absl::InvalidArgumentError(text);
}

}  // namespace

struct HttpClient::Impl {
  CURL* curl = nullptr;
};

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  GlobalInitOnce();
}

HttpClient::~HttpClient() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

absl::StatusOr<std::string> HttpClient::Get(const std::string& url,
                                            absl::Time deadline) {
  const std::string where = absl::StrCat("GET ", RedactUrl(url));
  const absl::Duration remaining = deadline - absl::Now();
  if (remaining <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": the deadline passed before the request"));
  }
  if (impl_->curl == nullptr) {
    impl_->curl = curl_easy_init();
    if (impl_->curl == nullptr) {
      return absl::InternalError(absl::StrCat(where, ": curl_easy_init"));
    }
  } else {
    curl_easy_reset(impl_->curl);  // keeps the connection cache
  }
  CURL* curl = impl_->curl;

  struct curl_slist* headers = nullptr;
  std::string token;
  if (!options_.bearer_token_file.empty()) {
    absl::StatusOr<std::string> read =
        ReadToken(options_.bearer_token_file, options_.credentials_root);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat(where, ": ", read.status().message()));
    }
    token = *std::move(read);
    std::string header = absl::StrCat("Authorization: Bearer ", token);
    headers = curl_slist_append(headers, header.c_str());
    std::fill(header.begin(), header.end(), '\0');
  }
  if (!options_.accept.empty()) {
    headers = curl_slist_append(
        headers, absl::StrCat("Accept: ", options_.accept).c_str());
  }

  std::string body;
  BodySink sink{&body, options_.max_body_bytes};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(
                       1, absl::ToInt64Milliseconds(remaining))));
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_body_bytes));
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "signalscaler");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  std::string ca;
  if (!options_.ca_file.empty()) {
    // Read here, not by curl: the file must be the one confined.
    absl::StatusOr<std::string> read = ReadConfinedFile(
        options_.ca_file, options_.credentials_root, kMaxCaBytes);
    if (!read.ok()) {
      curl_slist_free_all(headers);
      curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
      return absl::FailedPreconditionError(absl::StrCat(
          where, ": cannot read CA file ", read.status().message()));
    }
    ca = *std::move(read);
    struct curl_blob blob;
    blob.data = ca.data();
    blob.len = ca.size();
    blob.flags = CURL_BLOB_COPY;
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  }

  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  // Nothing may point at this frame once we return.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  curl_slist_free_all(headers);

  if (code != CURLE_OK) {
    return StatusFromCurl(code, CurlDetail(code, errbuf, url), sink.overflow,
                          options_.max_body_bytes, where);
  }
  absl::Status http = StatusFromHttp(status, body, token, where);
  std::fill(token.begin(), token.end(), '\0');
  if (!http.ok()) return http;
  return body;
}

}  // namespace signalscaler
