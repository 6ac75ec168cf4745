// HttpClient against a server of our own: every failure mode maps onto its
// canonical code, messages name the URL without the query string, and the
// bearer token is sent but never appears in a message.
#include "sources/http/http_client.h"

#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_http_server.h"

namespace signalscaler {
namespace {

using ::signalscaler::testing::TestHttpServer;
using ::signalscaler::testing::TestResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A std::string, so that gmock prints it as text.
std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

absl::Time In(absl::Duration d) { return absl::Now() + d; }

TestHttpServer::Handler Always(TestResponse response) {
  return [response](const std::string&) { return response; };
}

TestResponse Status(int status, std::string body = "") {
  TestResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(HttpClientTest, ReturnsTheBodyOf2xx) {
  TestHttpServer server(Always(Status(200, "hello")));
  HttpClient client({});
  absl::StatusOr<std::string> body =
      client.Get(server.Url("/x"), In(absl::Seconds(5)));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "hello");
  ASSERT_EQ(server.Requests().size(), 1u);
  EXPECT_THAT(server.Requests()[0], HasSubstr("GET /x HTTP/1.1"));
}

struct StatusCase {
  int http_status;
  absl::StatusCode code;
  std::string body;
  std::string in_message;
};

TEST(HttpClientTest, MapsHttpStatusesOntoCanonicalCodes) {
  const StatusCase cases[] = {
      {401, absl::StatusCode::kUnauthenticated, "no", "HTTP 401: no"},
      {403, absl::StatusCode::kPermissionDenied, "", "HTTP 403"},
      {404, absl::StatusCode::kInvalidArgument, "404 page not found",
       "HTTP 404: 404 page not found"},
      {400, absl::StatusCode::kInvalidArgument,
       R"({"status":"error","errorType":"bad_data","error":"parse error"})",
       R"(HTTP 400: {"status":"error","errorType":"bad_data")"},
      {422, absl::StatusCode::kInvalidArgument, "line1\nline2",
       "HTTP 422: line1\\x0aline2"},
      {500, absl::StatusCode::kUnavailable, "boom", "HTTP 500: boom"},
      {503, absl::StatusCode::kUnavailable, "", "HTTP 503"},
      {302, absl::StatusCode::kInvalidArgument, "",
       "HTTP 302 (redirects are not followed)"},
      {418, absl::StatusCode::kInvalidArgument, std::string(1000, 'y'),
       absl::StrCat(": ", std::string(128, 'y'), "...")},
  };
  for (const StatusCase& c : cases) {
    SCOPED_TRACE(c.http_status);
    TestHttpServer server(Always(Status(c.http_status, c.body)));
    HttpClient client({});
    absl::StatusOr<std::string> body = client.Get(
        server.Url("/api/v1/query?query=secret_q"), In(absl::Seconds(5)));
    EXPECT_EQ(body.status().code(), c.code) << body.status();
    EXPECT_THAT(
        Message(body.status()),
        AllOf(HasSubstr(c.in_message), HasSubstr(server.Url("/api/v1/query")),
              Not(HasSubstr("secret_q"))));
  }
}

TEST(HttpClientTest, SlowAnswerIsDeadlineExceededWithinAboutTheTimeout) {
  TestResponse slow = Status(200, "late");
  slow.delay = absl::Seconds(30);
  TestHttpServer server(Always(slow));
  HttpClient client({});
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> body = client.Get(
      server.Url("/slow?token=abc"), start + absl::Milliseconds(500));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(body.status().code(), absl::StatusCode::kDeadlineExceeded)
      << body.status();
  EXPECT_THAT(Message(body.status()),
              AllOf(HasSubstr(server.Url("/slow")), Not(HasSubstr("abc"))));
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_LT(took, absl::Milliseconds(1500));
}

TEST(HttpClientTest, PassedDeadlineFailsWithoutARequest) {
  TestHttpServer server(Always(Status(200, "x")));
  HttpClient client({});
  absl::StatusOr<std::string> body =
      client.Get(server.Url("/"), absl::Now() - absl::Seconds(1));
  EXPECT_EQ(body.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(server.Requests().empty());
}

TEST(HttpClientTest, GarbageInsteadOfHttpIsInvalidArgument) {
  TestResponse garbage;
  garbage.raw = "\x01\x02 this is not HTTP at all \xff\r\n\r\n";
  TestHttpServer server(Always(garbage));
  HttpClient client({});
  absl::StatusOr<std::string> body =
      client.Get(server.Url("/metrics"), In(absl::Seconds(5)));
  EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument)
      << body.status();
  EXPECT_THAT(Message(body.status()), HasSubstr(server.Url("/metrics")));
}

TEST(HttpClientTest, HugeBodyIsResourceExhausted) {
  for (const bool content_length : {true, false}) {
    SCOPED_TRACE(content_length);
    TestResponse huge = Status(200);
    huge.filler_bytes = 20 << 20;
    huge.content_length = content_length;
    TestHttpServer server(Always(huge));
    HttpClient client({});
    absl::StatusOr<std::string> body =
        client.Get(server.Url("/big"), In(absl::Seconds(10)));
    EXPECT_EQ(body.status().code(), absl::StatusCode::kResourceExhausted)
        << body.status();
    EXPECT_THAT(Message(body.status()),
                HasSubstr("exceeds the size bound of 4194304 bytes"));
  }
}

TEST(HttpClientTest, BodyAtTheBoundIsAcceptedOneByteMoreIsNot) {
  for (const bool content_length : {true, false}) {
    SCOPED_TRACE(content_length);
    TestResponse at = Status(200);
    at.filler_bytes = 1000;
    at.content_length = content_length;
    TestResponse over = at;
    over.filler_bytes = 1001;
    HttpClientOptions options;
    options.max_body_bytes = 1000;
    TestHttpServer ok_server(Always(at));
    TestHttpServer big_server(Always(over));
    HttpClient client(options);
    EXPECT_TRUE(client.Get(ok_server.Url("/"), In(absl::Seconds(5))).ok());
    EXPECT_EQ(
        client.Get(big_server.Url("/"), In(absl::Seconds(5))).status().code(),
        absl::StatusCode::kResourceExhausted);
  }
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  std::string url;
  {
    TestHttpServer gone(Always(Status(200)));
    url = gone.Url("/api/v1/query?query=x");
  }  // closed: nothing listens on that port any more
  HttpClient client({});
  absl::StatusOr<std::string> body = client.Get(url, In(absl::Seconds(5)));
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnavailable)
      << body.status();
  EXPECT_THAT(Message(body.status()), HasSubstr("/api/v1/query"));
}

TEST(HttpClientTest, NonHttpSchemeIsInvalidArgument) {
  HttpClient client({});
  EXPECT_EQ(
      client.Get("ftp://127.0.0.1/x", In(absl::Seconds(1))).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Get("http://", In(absl::Seconds(1))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpClientTest, SendsTheBearerTokenReadAtEachRequest) {
  const std::string token_file = testing::MakeTempDir() + "/token";
  WriteFile(token_file, "first-token-1234\n");
  TestHttpServer server(Always(Status(200, "ok")));
  HttpClientOptions options;
  options.bearer_token_file = token_file;
  HttpClient client(options);
  ASSERT_TRUE(client.Get(server.Url("/"), In(absl::Seconds(5))).ok());
  WriteFile(token_file, "rotated-token-5678");  // rotation: read anew
  ASSERT_TRUE(client.Get(server.Url("/"), In(absl::Seconds(5))).ok());
  const std::vector<std::string> requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_THAT(requests[0],
              HasSubstr("\r\nAuthorization: Bearer first-token-1234\r\n"));
  EXPECT_THAT(requests[1],
              HasSubstr("\r\nAuthorization: Bearer rotated-token-5678\r\n"));
}

TEST(HttpClientTest, TokenNeverAppearsInAnErrorMessage) {
  const std::string token = "very-secret-token-42";
  const std::string token_file = testing::MakeTempDir() + "/token";
  WriteFile(token_file, token);
  // Servers that echo the request back, its Authorization header first
  // (within the 128 bytes of an excerpt).
  for (const int status : {400, 401, 403, 500}) {
    SCOPED_TRACE(status);
    TestHttpServer server([status](const std::string& request) {
      const size_t auth = request.find("Authorization:");
      return Status(status, auth == std::string::npos
                                ? request
                                : request.substr(auth) + request);
    });
    HttpClientOptions options;
    options.bearer_token_file = token_file;
    HttpClient client(options);
    absl::StatusOr<std::string> body =
        client.Get(server.Url("/"), In(absl::Seconds(5)));
    ASSERT_FALSE(body.ok());
    EXPECT_THAT(Message(body.status()),
                AllOf(Not(HasSubstr(token)), HasSubstr("Bearer <redacted>")));
    ASSERT_EQ(server.Requests().size(), 1u);
    EXPECT_THAT(server.Requests()[0], HasSubstr(token));
  }
}

TEST(HttpClientTest, UnreadableTokenFileIsUnauthenticatedNamingTheFile) {
  TestHttpServer server(Always(Status(200)));
  HttpClientOptions options;
  options.bearer_token_file = "/nonexistent/token";
  HttpClient client(options);
  absl::StatusOr<std::string> body =
      client.Get(server.Url("/"), In(absl::Seconds(5)));
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Message(body.status()),
              HasSubstr("cannot read bearer token file /nonexistent/token"));
  EXPECT_TRUE(server.Requests().empty());
}

TEST(HttpClientTest, RedactUrlDropsCredentialsQueryAndFragment) {
  EXPECT_EQ(RedactUrl("http://u:p@host:9090/api?q=secret#f"),
            "http://host:9090/api");
  EXPECT_EQ(RedactUrl("https://host/a/b"), "https://host/a/b");
  EXPECT_EQ(RedactUrl("http://host?x=1"), "http://host");
  EXPECT_EQ(RedactUrl("http://host/p@th"), "http://host/p@th");
  EXPECT_EQ(RedactUrl("host:80"), "host:80");
  EXPECT_EQ(RedactUrl(""), "");
}

TEST(HttpClientTest, UrlEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UrlEncode("sum(rate(x{a=\"b c\"}[1m]))"),
            "sum%28rate%28x%7Ba%3D%22b%20c%22%7D%5B1m%5D%29%29");
  EXPECT_EQ(UrlEncode("A-z_0.9~"), "A-z_0.9~");
  EXPECT_EQ(UrlEncode("+&/\xc3\xa9"), "%2B%26%2F%C3%A9");
}

TEST(HttpClientTest, BodyExcerptIsOneShortPrintableLine) {
  EXPECT_EQ(BodyExcerpt("  a\nb\tc\x01\xff  "), "a\\x0ab\\x09c\\x01\\xff");
  EXPECT_EQ(BodyExcerpt("abcdef", 3), "abc...");
  EXPECT_EQ(BodyExcerpt(""), "");
  // At most 128 bytes by default, escapes counted; never half an escape.
  EXPECT_EQ(BodyExcerpt(std::string(500, 'z')),
            absl::StrCat(std::string(128, 'z'), "..."));
  EXPECT_EQ(BodyExcerpt(absl::StrCat(std::string(126, 'z'), "\x1b", "tail")),
            absl::StrCat(std::string(126, 'z'), "..."));
  EXPECT_EQ(BodyExcerpt("ab\x1b[31mc"), "ab\\x1b[31mc");
}

}  // namespace
}  // namespace signalscaler
