#pragma once

// HTTP/1.x request parsing (llhttp) and response framing for the admin server, apart from any
// socket code so that it is unit-tested on byte strings.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slotproxy::admin {

struct HttpLimits {
  size_t max_head_bytes = 8192;  // request line + headers, raw bytes (431 beyond)
  size_t max_url_bytes = 8192;   // request target (414 beyond)
  size_t max_headers = 100;      // header lines (431 beyond)
  size_t max_body_bytes = 8192;  // a body is read and ignored (413 beyond)
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ... (llhttp's name)
  std::string target;  // as sent: "/metrics?x=1"
  std::string path;    // target without query and fragment: "/metrics"
  uint8_t http_major = 1, http_minor = 1;
  // False when the connection must close after the answer: "Connection: close", HTTP/1.0 without
  // keep-alive, or an Upgrade/CONNECT request (not supported: nothing is parsed after it).
  bool keep_alive = true;
};

// Incremental parser of pipelined requests on one connection; stops after each complete request
// so that the caller can answer it (and apply backpressure) before parsing the next.
class HttpRequestParser {
 public:
  enum class Status {
    kNeedMore,  // all of the input was consumed, no request completed
    kRequest,   // request() completed; input after it is left unconsumed
    kError,     // malformed or over a limit: answer errorStatus() and close. Sticky.
  };

  explicit HttpRequestParser(HttpLimits limits = {});
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses `data`, the bytes following those consumed by previous calls, up to the end of the
  // first request that completes in it. *consumed is how many bytes were used (all of them on
  // kNeedMore; on kError, those before the bad byte). After a request whose keep_alive is false,
  // every later call returns kError: the caller closes the connection after answering.
  Status parse(std::string_view data, size_t* consumed);

  // The request of the last kRequest; valid until the next parse().
  const HttpRequest& request() const { return request_; }
  // After kError: 400 (malformed), 413 (body), 414 (URL) or 431 (headers), and why.
  int errorStatus() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  struct Llhttp;
  enum class Event : uint8_t { kNone, kHeadersComplete, kMessageComplete };

  Status fail(int status, std::string reason);

  HttpLimits limits_;
  std::unique_ptr<Llhttp> llhttp_;  // llhttp's parser and settings (kept out of this header)
  HttpRequest request_;             // the request being parsed, then the last complete one
  bool in_head_ = true;             // before the end of the current request's headers
  bool finished_ = false;           // a request that closes the connection was returned
  bool in_target_ = false;          // between the start of a request and the end of its target
  Event event_ = Event::kNone;      // set by llhttp callbacks when they pause the parser
  size_t head_bytes_ = 0;           // raw bytes of the current request head so far
  size_t header_count_ = 0;
  size_t body_bytes_ = 0;
  int error_status_ = 0;  // 0 until kError
  std::string error_;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones, e.g. Allow
};

// "OK", "Not Found", ... ("Unknown" for codes the admin server never sends).
std::string_view statusText(int status);

// The response on the wire: status line, Content-Type, Content-Length, Cache-Control: no-store,
// Connection: close when !keep_alive (keep-alive for an HTTP/1.0 client that asked for it), the
// extra headers, the body. A HEAD-less server: the body is always sent.
std::string serializeResponse(const HttpResponse& response, bool keep_alive, bool http10 = false);

}  // namespace slotproxy::admin
