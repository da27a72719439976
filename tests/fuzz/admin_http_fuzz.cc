// libFuzzer target for the admin port's HTTP request parser (the admin port listens on the pod
// network for Prometheus). The first byte picks a chunk size; the rest is what a client sends on
// one connection, parsed whole and in chunks, as admin_server does (a request, then the bytes
// after it). Any broken invariant aborts:
//  - parsing never depends on fragmentation: the same requests, and the same final status (the
//    HTTP code of an error may differ: a target over the limit that also holds an invalid byte
//    after the limit is 414 when it comes in pieces and 400 when llhttp sees it whole);
//  - consumed counts stay within the input, and kNeedMore consumes everything;
//  - an error is one of 400, 413, 414, 431, with a reason;
//  - a request's path is the start of its target's path part, and no request follows one that
//    closes the connection.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/admin/http_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace slotproxy::admin {
namespace {

using fuzz::check;

HttpLimits fuzzLimits() {
  HttpLimits limits;
  limits.max_head_bytes = 1024;
  limits.max_url_bytes = 256;
  limits.max_headers = 8;
  limits.max_body_bytes = 512;
  return limits;
}

struct Seen {
  std::string method, target, path;
  bool keep_alive = true;
  bool operator==(const Seen&) const = default;
};

struct Run {
  std::vector<Seen> requests;
  HttpRequestParser::Status last = HttpRequestParser::Status::kNeedMore;
  bool operator==(const Run&) const = default;
};

// Feeds `input` in chunks of `chunk` bytes (0: all at once); after each chunk, parses all it can.
Run feed(std::string_view input, size_t chunk) {
  HttpRequestParser parser(fuzzLimits());
  Run run;
  std::string pending;  // received, not yet consumed
  size_t fed = 0;
  while (fed < input.size() && run.last != HttpRequestParser::Status::kError) {
    const size_t n = chunk == 0 ? input.size() - fed : std::min(chunk, input.size() - fed);
    pending.append(input.substr(fed, n));
    fed += n;
    for (;;) {
      size_t consumed = 0;
      run.last = parser.parse(pending, &consumed);
      check(consumed <= pending.size(), "consumed within the input");
      if (run.last == HttpRequestParser::Status::kNeedMore) {
        check(consumed == pending.size(), "kNeedMore consumes everything");
      }
      pending.erase(0, consumed);
      if (run.last != HttpRequestParser::Status::kRequest) break;
      const HttpRequest& r = parser.request();
      check(!r.method.empty(), "a request has a method");
      check(r.path.empty() || r.target.find(r.path) != std::string::npos,
            "the path comes from the target");
      check(r.path.find_first_of("?#") == std::string::npos, "no query or fragment in the path");
      run.requests.push_back({r.method, r.target, r.path, r.keep_alive});
      if (!r.keep_alive) {
        size_t more = 0;
        check(parser.parse("GET / HTTP/1.1\r\n\r\n", &more) == HttpRequestParser::Status::kError,
              "nothing is parsed after a request that closes the connection");
        run.last = HttpRequestParser::Status::kError;
        break;
      }
    }
  }
  if (run.last == HttpRequestParser::Status::kError) {
    const int s = parser.errorStatus();
    check(s == 400 || s == 413 || s == 414 || s == 431, "error status is 400/413/414/431");
    check(!parser.error().empty(), "an error has a reason");
  }
  return run;
}

}  // namespace
}  // namespace slotproxy::admin

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slotproxy::admin;
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Run whole = feed(input, 0);
  const Run chunked = feed(input, chunk);
  check(whole == chunked, "same result whole and in chunks");
  check(feed(input, 1) == whole, "same result byte by byte");
  return 0;
}
