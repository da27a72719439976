#include "proxy/resp/encoder.h"

#include <algorithm>
#include <charconv>

namespace slotproxy::resp {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// Appends <type><decimal v>\r\n in a single append.
template <typename Int>
void appendHeader(std::string& out, char type, Int v) {
  char buf[32];  // type byte + at most 20 digits/sign + CRLF
  buf[0] = type;
  char* p = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v).ptr;
  *p++ = '\r';
  *p++ = '\n';
  out.append(buf, static_cast<size_t>(p - buf));
}

// Number of decimal digits of v.
size_t digits(size_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// Reserves room for `extra` more bytes, growing geometrically (a bare reserve() may allocate the
// exact size, which turns repeated appends quadratic).
void ensureSpace(std::string& out, size_t extra) {
  const size_t need = out.size() + extra;
  if (need > out.capacity()) out.reserve(std::max(need, 2 * out.capacity()));
}

void appendLine(std::string& out, char type, std::string_view s) {
  out.push_back(type);
  const size_t start = out.size();
  out.append(s);
  for (size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  out.append(kCrlf);
}

}  // namespace

void appendArrayHeader(std::string& out, size_t n) { appendHeader(out, '*', n); }

void appendBulkHeader(std::string& out, size_t len) { appendHeader(out, '$', len); }

void appendBulk(std::string& out, std::string_view s) {
  appendHeader(out, '$', s.size());
  out.append(s);
  out.append(kCrlf);
}

void appendNullBulk(std::string& out) { out.append("$-1\r\n"); }

void appendNullArray(std::string& out) { out.append("*-1\r\n"); }

void appendNull(std::string& out) { out.append("_\r\n"); }

void appendMapHeader(std::string& out, size_t n) { appendHeader(out, '%', n); }

void appendPushHeader(std::string& out, size_t n) { appendHeader(out, '>', n); }

void appendInteger(std::string& out, int64_t v) { appendHeader(out, ':', v); }

void appendSimple(std::string& out, std::string_view s) { appendLine(out, '+', s); }

void appendError(std::string& out, std::string_view msg) { appendLine(out, '-', msg); }

void appendCommand(std::string& out, std::span<const std::string_view> args) {
  size_t total = 3 + digits(args.size());
  for (const std::string_view a : args) total += 5 + digits(a.size()) + a.size();
  ensureSpace(out, total);
  appendHeader(out, '*', args.size());
  for (const std::string_view a : args) appendBulk(out, a);
}

std::string_view commandBytes(std::span<const std::string_view> args, std::string_view raw,
                              std::string* storage) {
  if (!raw.empty()) return raw;
  appendCommand(*storage, args);
  return *storage;
}

}  // namespace slotproxy::resp
