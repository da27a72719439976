#include "proxy/admin/http_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace slotproxy::admin {
namespace {

using ::testing::HasSubstr;
using Status = HttpRequestParser::Status;

// Everything a feed produced: the requests completed and, if it failed, the error status.
struct Fed {
  std::vector<HttpRequest> requests;
  int error_status = 0;
  std::string error;
  size_t consumed = 0;  // total bytes consumed
};

// Feeds `input` in chunks of `chunk` bytes (0: all at once), calling parse() again on what a
// kRequest left unconsumed, as the server does.
Fed feed(HttpRequestParser& p, std::string_view input, size_t chunk = 0) {
  Fed out;
  if (chunk == 0) chunk = input.size();
  for (size_t pos = 0; pos < input.size() && out.error_status == 0; pos += chunk) {
    std::string_view piece = input.substr(pos, chunk);
    while (!piece.empty()) {
      size_t consumed = 0;
      const Status st = p.parse(piece, &consumed);
      EXPECT_LE(consumed, piece.size());
      out.consumed += consumed;
      piece.remove_prefix(consumed);
      if (st == Status::kError) {
        out.error_status = p.errorStatus();
        out.error = p.error();
        break;
      }
      if (st == Status::kNeedMore) {
        EXPECT_TRUE(piece.empty());
        break;
      }
      out.requests.push_back(p.request());
    }
  }
  return out;
}

const std::string kPipelined =
    "GET /metrics HTTP/1.1\r\nHost: a\r\nUser-Agent: Prometheus/2.42\r\n\r\n"
    "GET /readyz?verbose=1 HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
    "GET /topology HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

void expectPipelined(const Fed& fed) {
  ASSERT_EQ(fed.error_status, 0) << fed.error;
  ASSERT_EQ(fed.requests.size(), 5u);
  EXPECT_EQ(fed.requests[0].method, "GET");
  EXPECT_EQ(fed.requests[0].path, "/metrics");
  EXPECT_TRUE(fed.requests[0].keep_alive);
  EXPECT_EQ(fed.requests[1].target, "/readyz?verbose=1");
  EXPECT_EQ(fed.requests[1].path, "/readyz");
  EXPECT_EQ(fed.requests[2].method, "POST");
  EXPECT_EQ(fed.requests[2].path, "/healthz");
  EXPECT_TRUE(fed.requests[2].keep_alive);
  EXPECT_EQ(fed.requests[3].path, "/topology");
  EXPECT_EQ(fed.requests[4].path, "/");
  EXPECT_FALSE(fed.requests[4].keep_alive);
  EXPECT_EQ(fed.consumed, kPipelined.size());
}

TEST(HttpRequestParser, PipelinedRequestsComeOutOneAtATime) {
  HttpRequestParser p;
  size_t consumed = 0;
  ASSERT_EQ(p.parse(kPipelined, &consumed), Status::kRequest);
  // Only the first request is consumed; the rest is left for the next call.
  EXPECT_EQ(consumed, kPipelined.find("GET /readyz"));
  EXPECT_EQ(p.request().path, "/metrics");
  HttpRequestParser q;
  expectPipelined(feed(q, kPipelined));
}

TEST(HttpRequestParser, OneByteAtATime) {
  HttpRequestParser p;
  expectPipelined(feed(p, kPipelined, 1));
}

TEST(HttpRequestParser, EveryFragmentSize) {
  for (size_t chunk = 2; chunk <= 64; ++chunk) {
    SCOPED_TRACE(chunk);
    HttpRequestParser p;
    expectPipelined(feed(p, kPipelined, chunk));
  }
}

TEST(HttpRequestParser, IncompleteRequestNeedsMore) {
  HttpRequestParser p;
  size_t consumed = 0;
  EXPECT_EQ(p.parse("GET /metrics HTTP/1.1\r\nHost: a\r\n", &consumed), Status::kNeedMore);
  EXPECT_EQ(consumed, 32u);
  EXPECT_EQ(p.parse("\r\n", &consumed), Status::kRequest);
  EXPECT_EQ(consumed, 2u);
  EXPECT_EQ(p.request().path, "/metrics");
}

TEST(HttpRequestParser, Http10ClosesUnlessKeepAlive) {
  HttpRequestParser p;
  Fed fed = feed(p, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
  ASSERT_EQ(fed.requests.size(), 2u);
  EXPECT_TRUE(fed.requests[0].keep_alive);
  EXPECT_EQ(fed.requests[0].http_minor, 0);
  EXPECT_FALSE(fed.requests[1].keep_alive);
}

TEST(HttpRequestParser, NothingIsParsedAfterAClosingRequest) {
  HttpRequestParser p;
  size_t consumed = 0;
  const std::string in = "GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  ASSERT_EQ(p.parse(in, &consumed), Status::kRequest);
  EXPECT_FALSE(p.request().keep_alive);
  EXPECT_EQ(p.parse(std::string_view(in).substr(consumed), &consumed), Status::kError);
}

TEST(HttpRequestParser, UpgradeEndsTheConnection) {
  HttpRequestParser p;
  Fed fed = feed(p, "GET /metrics HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  ASSERT_EQ(fed.requests.size(), 1u);
  EXPECT_FALSE(fed.requests[0].keep_alive);
}

TEST(HttpRequestParser, AbsoluteFormTargetKeepsThePath) {
  HttpRequestParser p;
  Fed fed = feed(p,
                 "GET http://pod:9379/metrics?x HTTP/1.1\r\n\r\n"
                 "GET http://pod:9379 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(fed.requests.size(), 2u);
  EXPECT_EQ(fed.requests[0].path, "/metrics");
  EXPECT_EQ(fed.requests[1].path, "/");
}

TEST(HttpRequestParser, GarbageIs400) {
  for (const char* garbage : {"hello\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                              "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                              "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello
                              "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
    SCOPED_TRACE(garbage);
    HttpRequestParser p;
    const Fed fed = feed(p, garbage);
    EXPECT_EQ(fed.error_status, 400);
    EXPECT_FALSE(fed.error.empty());
    HttpRequestParser q;
    EXPECT_EQ(feed(q, garbage, 1).error_status, 400);
  }
}

TEST(HttpRequestParser, ErrorIsSticky) {
  HttpRequestParser p;
  size_t consumed = 0;
  EXPECT_EQ(p.parse("BLAH / HTTP/1.1\r\n\r\n", &consumed), Status::kError);
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\n\r\n", &consumed), Status::kError);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(p.errorStatus(), 400);
}

TEST(HttpRequestParser, LongUrlIs414) {
  HttpRequestParser p;
  const std::string in = "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(feed(p, in).error_status, 414);
  HttpRequestParser q;
  EXPECT_EQ(feed(q, in, 1).error_status, 414);
}

TEST(HttpRequestParser, LargeHeadIs431EvenWhenSentSlowly) {
  std::string in = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 90; ++i)
    in += "X-Filler-" + std::to_string(i) + ": " + std::string(90, 'v') + "\r\n";
  in += "\r\n";
  ASSERT_GT(in.size(), 8192u);
  HttpRequestParser p;
  Fed fed = feed(p, in);
  EXPECT_EQ(fed.error_status, 431);
  EXPECT_THAT(fed.error, HasSubstr("8192"));
  HttpRequestParser q;
  fed = feed(q, in, 1);
  EXPECT_EQ(fed.error_status, 431);
  EXPECT_LE(fed.consumed, 8193u);  // stopped as soon as the head went over
}

TEST(HttpRequestParser, HeadLimitIsPerRequest) {
  // Many small pipelined requests add up to far more than one head's limit.
  std::string in;
  for (int i = 0; i < 500; ++i) in += "GET /healthz HTTP/1.1\r\nHost: some.host.name\r\n\r\n";
  HttpRequestParser p;
  const Fed fed = feed(p, in, 1000);
  EXPECT_EQ(fed.error_status, 0) << fed.error;
  EXPECT_EQ(fed.requests.size(), 500u);
}

TEST(HttpRequestParser, TooManyHeadersIs431) {
  HttpLimits limits;
  limits.max_headers = 3;
  HttpRequestParser p(limits);
  EXPECT_EQ(feed(p, "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n").error_status, 431);
}

TEST(HttpRequestParser, LargeBodyIs413) {
  HttpRequestParser p;
  const std::string in =
      "POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(9000, 'b');
  EXPECT_EQ(feed(p, in, 512).error_status, 413);
}

TEST(SerializeResponse, FramesStatusLengthAndConnection) {
  HttpResponse r;
  r.status = 405;
  r.body = "no\n";
  r.headers.emplace_back("Allow", "GET");
  EXPECT_EQ(serializeResponse(r, true),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\nCache-Control: no-store\r\nAllow: GET\r\n\r\nno\n");
  r.headers.clear();
  r.status = 200;
  EXPECT_THAT(serializeResponse(r, false), HasSubstr("\r\nConnection: close\r\n"));
  EXPECT_THAT(serializeResponse(r, true, /*http10=*/true),
              ::testing::StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(serializeResponse(r, true, true), HasSubstr("\r\nConnection: keep-alive\r\n"));
}

}  // namespace
}  // namespace slotproxy::admin
