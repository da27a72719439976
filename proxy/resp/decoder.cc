#include "proxy/resp/decoder.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace slotproxy::resp {
namespace {

// Longest `*`/`$`/`:`... header line content (between the type byte and CR) accepted before the
// CRLF: a 64-bit length needs at most 20 characters, so anything longer is garbage and must not
// make the decoder wait forever.
constexpr size_t kMaxHeaderLen = 64;

// Smallest encoding of one reply element ("_\r\n"), to bound reservations by the input size.
constexpr size_t kMinElementLen = 3;

// Multibulk: arguments reserved up front at most (Redis reserves min(multibulklen, 1024) too).
constexpr size_t kMaxArgsReserve = 1024;

constexpr std::string_view kOutOfMemory = "ERR Protocol error: out of memory";

enum class LineStatus : uint8_t { kFound, kIncomplete, kTooLong, kBadEol };

// Finds the CRLF ending the line whose content starts at `start` (<= data.size()) and may hold at
// most `max_len` bytes. `*scan` is where the search resumes (bytes before it hold no CR); it is
// advanced so that resuming never rescans. On kFound, `*cr` is the index of the CR.
LineStatus findLine(std::string_view data, size_t start, size_t max_len, size_t* scan, size_t* cr) {
  const size_t size = data.size();
  const size_t avail = size - start;
  // A CR at index start + max_len is the last one allowed.
  const size_t window_end = avail > max_len ? start + max_len + 1 : size;
  const size_t from = std::max(*scan, start);
  if (from < window_end) {
    const void* hit = std::memchr(data.data() + from, '\r', window_end - from);
    if (hit != nullptr) {
      const auto r = static_cast<size_t>(static_cast<const char*>(hit) - data.data());
      if (r + 1 >= size) {
        *scan = r;  // the LF has not arrived yet: look at this CR again next time
        return LineStatus::kIncomplete;
      }
      if (data[r + 1] != '\n') return LineStatus::kBadEol;
      *cr = r;
      return LineStatus::kFound;
    }
    *scan = window_end;
  }
  return avail > max_len ? LineStatus::kTooLong : LineStatus::kIncomplete;
}

// Parses a decimal int64. Strict mode follows Redis's string2ll (used for lengths): optional '-',
// no '+', no leading zeros, no "-0". Lenient mode (RESP3 integers) also accepts '+' and leading
// zeros. Either way the whole string must be digits and fit in int64.
bool parseInt(std::string_view s, bool strict, int64_t* out) {
  if (s.empty()) return false;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    i = 1;
  } else if (s[0] == '+' && !strict) {
    i = 1;
  }
  if (i == s.size()) return false;
  if (strict && s[i] == '0' && (s.size() - i > 1 || negative)) return false;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    const uint64_t d = static_cast<uint64_t>(static_cast<unsigned char>(s[i])) - uint64_t{'0'};
    if (d > 9) return false;
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  // Two's complement conversion is well defined in C++20.
  *out = negative ? static_cast<int64_t>(~v + 1) : static_cast<int64_t>(v);
  return true;
}

// A byte for an error message: printable ASCII as is, anything else as \xHH.
std::string printableByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string{'\\', 'x', kHex[u >> 4], kHex[u & 0xf]};
}

std::string exceedsLimit(std::string_view what, uint64_t n, size_t limit) {
  std::string msg = "ERR Protocol error: ";
  msg += what;
  msg += ' ';
  msg += std::to_string(n);
  msg += " exceeds limit ";
  msg += std::to_string(limit);
  return msg;
}

bool isSpace(char c) {  // C isspace() in the "C" locale, as sdssplitargs uses
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---- Reply grammar shared by ReplyDecoder and parseValue ----------------------------------------

bool typeFromByte(char c, Type* t) {
  switch (c) {
    case '+':
      *t = Type::kSimpleString;
      return true;
    case '-':
      *t = Type::kError;
      return true;
    case ':':
      *t = Type::kInteger;
      return true;
    case '$':
      *t = Type::kBulkString;
      return true;
    case '*':
      *t = Type::kArray;
      return true;
    case '_':
      *t = Type::kNull;
      return true;
    case ',':
      *t = Type::kDouble;
      return true;
    case '#':
      *t = Type::kBoolean;
      return true;
    case '!':
      *t = Type::kBlobError;
      return true;
    case '=':
      *t = Type::kVerbatim;
      return true;
    case '(':
      *t = Type::kBigNumber;
      return true;
    case '%':
      *t = Type::kMap;
      return true;
    case '~':
      *t = Type::kSet;
      return true;
    case '|':
      *t = Type::kAttribute;
      return true;
    case '>':
      *t = Type::kPush;
      return true;
    default:
      return false;
  }
}

// Longest line content accepted for a reply type.
size_t lineLimit(Type t, const Limits& limits) {
  switch (t) {
    case Type::kSimpleString:
    case Type::kError:
      return limits.max_bulk_len;
    case Type::kDouble:
    case Type::kBigNumber:
      return limits.max_inline_len;
    default:
      return kMaxHeaderLen;
  }
}

enum class Kind : uint8_t { kScalar, kBulk, kAggregate };

enum class HeaderError : uint8_t {
  kNone,
  kInvalidInteger,
  kInvalidBoolean,
  kInvalidNull,
  kInvalidDouble,
  kInvalidBigNumber,
  kInvalidBulkLen,
  kBulkTooBig,
  kInvalidVerbatim,
  kInvalidAggregateLen,
  kAggregateTooBig,
  kStreamed,
};

struct Header {
  Kind kind = Kind::kScalar;
  bool is_null = false;
  int64_t integer = 0;  // kInteger, kBoolean
  uint64_t len = 0;     // bulk payload bytes, or aggregate elements (2 per map/attribute entry)
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool equalsNoCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = (s[i] >= 'A' && s[i] <= 'Z') ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != lower[i]) return false;
  }
  return true;
}

// Loose check: [sign] then inf/nan, or digits with '.', 'e', 'E', '+', '-' and at least one digit.
bool validDouble(std::string_view s) {
  std::string_view body = s;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
  if (equalsNoCase(body, "inf") || equalsNoCase(body, "nan")) return true;
  bool digit = false;
  for (const char c : body) {
    if (isDigit(c)) {
      digit = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      return false;
    }
  }
  return digit;
}

bool validBigNumber(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), isDigit);
}

// Validates the line of an element of type `t` (content between the type byte and CRLF).
HeaderError parseHeader(Type t, std::string_view line, const Limits& limits, Header* h) {
  *h = Header{};
  switch (t) {
    case Type::kSimpleString:
    case Type::kError:
      return HeaderError::kNone;
    case Type::kInteger:
      return parseInt(line, /*strict=*/false, &h->integer) ? HeaderError::kNone
                                                           : HeaderError::kInvalidInteger;
    case Type::kBoolean:
      if (line == "t") {
        h->integer = 1;
        return HeaderError::kNone;
      }
      return line == "f" ? HeaderError::kNone : HeaderError::kInvalidBoolean;
    case Type::kNull:
      h->is_null = true;
      return line.empty() ? HeaderError::kNone : HeaderError::kInvalidNull;
    case Type::kDouble:
      return validDouble(line) ? HeaderError::kNone : HeaderError::kInvalidDouble;
    case Type::kBigNumber:
      return validBigNumber(line) ? HeaderError::kNone : HeaderError::kInvalidBigNumber;
    case Type::kBulkString:
    case Type::kBlobError:
    case Type::kVerbatim: {
      h->kind = Kind::kBulk;
      if (line == "?") return HeaderError::kStreamed;
      int64_t n = 0;
      if (!parseInt(line, /*strict=*/true, &n)) return HeaderError::kInvalidBulkLen;
      if (n == -1 && t == Type::kBulkString) {
        h->is_null = true;  // RESP2 null bulk
        return HeaderError::kNone;
      }
      if (n < 0) return HeaderError::kInvalidBulkLen;
      h->len = static_cast<uint64_t>(n);
      if (h->len > limits.max_bulk_len) return HeaderError::kBulkTooBig;
      if (t == Type::kVerbatim && h->len < 4) return HeaderError::kInvalidVerbatim;
      return HeaderError::kNone;
    }
    case Type::kArray:
    case Type::kSet:
    case Type::kPush:
    case Type::kMap:
    case Type::kAttribute: {
      h->kind = Kind::kAggregate;
      if (line == "?") return HeaderError::kStreamed;
      int64_t n = 0;
      if (!parseInt(line, /*strict=*/true, &n)) return HeaderError::kInvalidAggregateLen;
      if (n == -1 && t == Type::kArray) {
        h->is_null = true;  // RESP2 null array
        return HeaderError::kNone;
      }
      if (n < 0) return HeaderError::kInvalidAggregateLen;
      h->len = static_cast<uint64_t>(n);
      if (t == Type::kMap || t == Type::kAttribute) h->len *= 2;  // n <= 2^63-1: no overflow
      if (h->len > limits.max_array_len) return HeaderError::kAggregateTooBig;
      return HeaderError::kNone;
    }
  }
  return HeaderError::kInvalidInteger;  // unreachable
}

// Checks the payload of a bulk-like element (its length was already checked).
bool validPayload(Type t, std::string_view payload) {
  return t != Type::kVerbatim || payload[3] == ':';
}

}  // namespace

// ================================ RequestDecoder ================================================

// Redis's processMultibulkBuffer, for a client that still has to AUTH.
constexpr uint64_t kMaxUnauthenticatedArgs = 10;
constexpr uint64_t kMaxUnauthenticatedBulk = 16384;

RequestDecoder::RequestDecoder(const Limits& limits) : limits_(limits) {}

void RequestDecoder::reset() {
  state_ = State::kIdle;
  inline_ = false;
  pos_ = scan_ = remaining_ = bulk_len_ = last_size_ = 0;
  spans_.clear();
  args_.clear();
  error_.clear();
  out_of_memory_ = false;
}

std::string_view RequestDecoder::error() const {
  return out_of_memory_ ? kOutOfMemory : std::string_view(error_);
}

size_t RequestDecoder::bytesNeededHint() const {
  if (state_ != State::kBulkPayload) return 0;
  const size_t need = pos_ + bulk_len_ + 2;
  return need > last_size_ ? need - last_size_ : 0;
}

Status RequestDecoder::fail(std::string msg) {
  state_ = State::kError;
  error_ = std::move(msg);
  args_.clear();
  return Status::kError;
}

Status RequestDecoder::decode(std::string_view data, size_t* consumed) {
  size_t ignored = 0;
  if (consumed == nullptr) consumed = &ignored;
  *consumed = 0;
  if (state_ == State::kError) return Status::kError;
  last_size_ = data.size();
  try {
    if (state_ == State::kIdle) {
      args_.clear();
      if (data.empty()) return Status::kIncomplete;
      inline_ = data[0] != '*';
      pos_ = scan_ = 0;
      spans_.clear();
      state_ = inline_ ? State::kInline : State::kCount;
    }
    return inline_ ? decodeInline(data, consumed) : decodeMultibulk(data, consumed);
  } catch (...) {  // only std::bad_alloc can get here
    state_ = State::kError;
    out_of_memory_ = true;
    args_.clear();
    return Status::kError;
  }
}

Status RequestDecoder::decodeMultibulk(std::string_view data, size_t* consumed) {
  const size_t size = data.size();
  for (;;) {
    if (pos_ > size) return Status::kIncomplete;  // caller passed fewer bytes than before
    switch (state_) {
      case State::kCount: {
        size_t scan = 1;
        size_t cr = 0;
        switch (findLine(data, 1, kMaxHeaderLen, &scan, &cr)) {
          case LineStatus::kIncomplete:
            return Status::kIncomplete;
          case LineStatus::kTooLong:
            return fail("ERR Protocol error: too big mbulk count string");
          case LineStatus::kBadEol:
            return fail("ERR Protocol error: invalid multibulk length");
          case LineStatus::kFound:
            break;
        }
        int64_t n = 0;
        if (!parseInt(data.substr(1, cr - 1), /*strict=*/true, &n) || n < -1) {
          return fail("ERR Protocol error: invalid multibulk length");
        }
        pos_ = cr + 2;
        if (n <= 0) {  // "*0" and "*-1": nothing to run, consumed
          state_ = State::kIdle;
          *consumed = pos_;
          return Status::kOk;
        }
        const auto count = static_cast<uint64_t>(n);
        if (count > limits_.max_array_len) {
          return fail("ERR Protocol error: invalid multibulk length (" + std::to_string(count) +
                      " exceeds limit " + std::to_string(limits_.max_array_len) + ")");
        }
        if (unauthenticated_ && count > kMaxUnauthenticatedArgs) {
          return fail("ERR Protocol error: unauthenticated multibulk length");
        }
        remaining_ = static_cast<size_t>(count);
        spans_.reserve(std::min(remaining_, kMaxArgsReserve));
        state_ = State::kBulkHeader;
        break;
      }
      case State::kBulkHeader: {
        if (pos_ >= size) return Status::kIncomplete;
        if (data[pos_] != '$') {
          return fail("ERR Protocol error: expected '$', got '" + printableByte(data[pos_]) + "'");
        }
        size_t scan = pos_ + 1;
        size_t cr = 0;
        switch (findLine(data, pos_ + 1, kMaxHeaderLen, &scan, &cr)) {
          case LineStatus::kIncomplete:
            return Status::kIncomplete;
          case LineStatus::kTooLong:
            return fail("ERR Protocol error: too big bulk count string");
          case LineStatus::kBadEol:
            return fail("ERR Protocol error: invalid bulk length");
          case LineStatus::kFound:
            break;
        }
        int64_t n = 0;
        if (!parseInt(data.substr(pos_ + 1, cr - pos_ - 1), /*strict=*/true, &n) || n < 0) {
          return fail("ERR Protocol error: invalid bulk length");
        }
        const auto len = static_cast<uint64_t>(n);
        if (len > limits_.max_bulk_len) {
          return fail(exceedsLimit("bulk length", len, limits_.max_bulk_len));
        }
        if (unauthenticated_ && len > kMaxUnauthenticatedBulk) {
          return fail("ERR Protocol error: unauthenticated bulk length");
        }
        bulk_len_ = static_cast<size_t>(len);
        pos_ = cr + 2;
        state_ = State::kBulkPayload;
        break;
      }
      case State::kBulkPayload: {
        // bulk_len_ < 2^63, so the sum cannot overflow.
        if (size - pos_ < bulk_len_ + 2) return Status::kIncomplete;
        const size_t end = pos_ + bulk_len_;
        if (data[end] != '\r' || data[end + 1] != '\n') {
          return fail("ERR Protocol error: bulk payload not followed by CRLF");
        }
        spans_.push_back(Span{pos_, bulk_len_});
        pos_ = end + 2;
        if (--remaining_ > 0) {
          state_ = State::kBulkHeader;
          break;
        }
        args_.reserve(spans_.size());
        for (const Span& s : spans_) args_.emplace_back(data.data() + s.offset, s.len);
        state_ = State::kIdle;
        *consumed = pos_;
        return Status::kOk;
      }
      case State::kIdle:
      case State::kInline:
      case State::kError:
        return fail("ERR Protocol error: internal decoder state");  // unreachable
    }
  }
}

Status RequestDecoder::decodeInline(std::string_view data, size_t* consumed) {
  const size_t size = data.size();
  const size_t max = limits_.max_inline_len;
  // The '\n' may sit at index max at the latest: the line before it (a trailing '\r' included)
  // holds at most max bytes.
  const size_t window_end = size > max ? max + 1 : size;
  const void* nl = nullptr;
  if (scan_ < window_end) {
    nl = std::memchr(data.data() + scan_, '\n', window_end - scan_);
    if (nl == nullptr) scan_ = window_end;
  }
  if (nl == nullptr) {
    if (size > max) {
      return fail("ERR Protocol error: too big inline request (exceeds limit " +
                  std::to_string(max) + ")");
    }
    return Status::kIncomplete;
  }
  const auto nl_pos = static_cast<size_t>(static_cast<const char*>(nl) - data.data());
  size_t line_len = nl_pos;
  if (line_len > 0 && data[line_len - 1] == '\r') --line_len;
  if (!splitInline(data.substr(0, line_len))) {
    return fail("ERR Protocol error: unbalanced quotes in request");
  }
  state_ = State::kIdle;
  *consumed = nl_pos + 1;
  return Status::kOk;
}

// sdssplitargs on one line. Unquoted arguments end at ' ', '\t', '\r', '\n'; "double quotes"
// take \n \r \t \b \a \\ \" and \xHH escapes (any other \c gives c); 'single quotes' take only \'.
// A closing quote must be followed by whitespace or the end of the line. sdssplitargs works on a C
// string, so a NUL byte ends the line.
bool RequestDecoder::splitInline(std::string_view line) {
  if (!line.empty()) {
    if (const void* nul = std::memchr(line.data(), '\0', line.size()); nul != nullptr) {
      line = line.substr(0, static_cast<size_t>(static_cast<const char*>(nul) - line.data()));
    }
  }
  inline_buf_.clear();
  inline_buf_.reserve(line.size());  // unquoting never grows the text
  spans_.clear();
  size_t i = 0;
  const size_t n = line.size();
  const auto at = [&](size_t k) { return k < n ? line[k] : '\0'; };
  for (;;) {
    while (i < n && isSpace(line[i])) ++i;
    if (i == n) break;
    const size_t start = inline_buf_.size();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(i);
      if (in_double) {
        if (c == '\\' && at(i + 1) == 'x' && hexValue(at(i + 2)) >= 0 && hexValue(at(i + 3)) >= 0) {
          inline_buf_.push_back(static_cast<char>(hexValue(at(i + 2)) * 16 + hexValue(at(i + 3))));
          i += 3;
        } else if (c == '\\' && at(i + 1) != '\0') {
          ++i;
          char e = line[i];
          switch (e) {
            case 'n':
              e = '\n';
              break;
            case 'r':
              e = '\r';
              break;
            case 't':
              e = '\t';
              break;
            case 'b':
              e = '\b';
              break;
            case 'a':
              e = '\a';
              break;
            default:
              break;
          }
          inline_buf_.push_back(e);
        } else if (c == '"') {
          if (at(i + 1) != '\0' && !isSpace(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // unterminated quotes
        } else {
          inline_buf_.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(i + 1) == '\'') {
          ++i;
          inline_buf_.push_back('\'');
        } else if (c == '\'') {
          if (at(i + 1) != '\0' && !isSpace(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          inline_buf_.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            inline_buf_.push_back(c);
            break;
        }
      }
      if (i < n) ++i;
    }
    spans_.push_back(Span{start, inline_buf_.size() - start});
  }
  args_.reserve(spans_.size());
  for (const Span& s : spans_) args_.emplace_back(inline_buf_.data() + s.offset, s.len);
  return true;
}

// ================================ ReplyDecoder ==================================================

ReplyDecoder::ReplyDecoder(const Limits& limits) : limits_(limits) {
  stack_.reserve(std::min<size_t>(limits_.max_depth, 64));
}

void ReplyDecoder::reset() {
  state_ = State::kValueStart;
  type_ = Type::kNull;
  is_null_ = false;
  elem_type_ = Type::kNull;
  pos_ = line_start_ = scan_ = bulk_len_ = 0;
  stack_.clear();
  error_.clear();
  out_of_memory_ = false;
}

std::string_view ReplyDecoder::error() const {
  return out_of_memory_ ? kOutOfMemory : std::string_view(error_);
}

Status ReplyDecoder::fail(std::string msg) {
  state_ = State::kError;
  error_ = std::move(msg);
  return Status::kError;
}

bool ReplyDecoder::elementDone() {
  while (!stack_.empty()) {
    Level& top = stack_.back();
    if (--top.remaining > 0) return false;
    const bool attribute = top.attribute;
    stack_.pop_back();
    // A finished attribute is not an element of its parent: the value it prefixes is.
    if (attribute) return false;
  }
  return true;
}

Status ReplyDecoder::decode(std::string_view data, size_t* consumed) {
  size_t ignored = 0;
  if (consumed == nullptr) consumed = &ignored;
  *consumed = 0;
  if (state_ == State::kError) return Status::kError;
  try {
    return decodeFrame(data, consumed);
  } catch (...) {  // only std::bad_alloc can get here
    state_ = State::kError;
    out_of_memory_ = true;
    return Status::kError;
  }
}

Status ReplyDecoder::decodeFrame(std::string_view data, size_t* consumed) {
  const size_t size = data.size();
  for (;;) {
    if (pos_ > size) return Status::kIncomplete;  // caller passed fewer bytes than before
    bool element_done = false;
    switch (state_) {
      case State::kValueStart: {
        if (pos_ >= size) return Status::kIncomplete;
        if (!typeFromByte(data[pos_], &elem_type_)) {
          return fail("ERR Protocol error: invalid reply type byte '" + printableByte(data[pos_]) +
                      "'");
        }
        line_start_ = scan_ = pos_ + 1;
        state_ = State::kLine;
        break;
      }
      case State::kLine: {
        size_t cr = 0;
        const size_t max_len = lineLimit(elem_type_, limits_);
        switch (findLine(data, line_start_, max_len, &scan_, &cr)) {
          case LineStatus::kIncomplete:
            return Status::kIncomplete;
          case LineStatus::kTooLong:
            return fail("ERR Protocol error: " + std::string(typeName(elem_type_)) +
                        " line exceeds limit " + std::to_string(max_len));
          case LineStatus::kBadEol:
            return fail("ERR Protocol error: CR not followed by LF");
          case LineStatus::kFound:
            break;
        }
        Header h;
        const HeaderError err =
            parseHeader(elem_type_, data.substr(line_start_, cr - line_start_), limits_, &h);
        switch (err) {
          case HeaderError::kNone:
            break;
          case HeaderError::kInvalidInteger:
            return fail("ERR Protocol error: invalid integer");
          case HeaderError::kInvalidBoolean:
            return fail("ERR Protocol error: invalid boolean");
          case HeaderError::kInvalidNull:
            return fail("ERR Protocol error: invalid null");
          case HeaderError::kInvalidDouble:
            return fail("ERR Protocol error: invalid double");
          case HeaderError::kInvalidBigNumber:
            return fail("ERR Protocol error: invalid big number");
          case HeaderError::kInvalidBulkLen:
            return fail("ERR Protocol error: invalid bulk length");
          case HeaderError::kBulkTooBig:
            return fail(exceedsLimit("bulk length", h.len, limits_.max_bulk_len));
          case HeaderError::kInvalidVerbatim:
            return fail("ERR Protocol error: invalid verbatim string");
          case HeaderError::kInvalidAggregateLen:
            return fail("ERR Protocol error: invalid aggregate length");
          case HeaderError::kAggregateTooBig:
            return fail(exceedsLimit("aggregate length", h.len, limits_.max_array_len));
          case HeaderError::kStreamed:
            return fail(
                "ERR Protocol error: streamed RESP3 strings and aggregates are not supported");
        }
        pos_ = cr + 2;
        if (stack_.empty() && elem_type_ != Type::kAttribute) {
          type_ = elem_type_;  // the top-level value (after any attribute prefix)
          is_null_ = h.is_null;
        }
        if (h.is_null || h.kind == Kind::kScalar) {
          element_done = true;
        } else if (h.kind == Kind::kBulk) {
          bulk_len_ = static_cast<size_t>(h.len);
          state_ = State::kPayload;
        } else {
          if (stack_.size() >= limits_.max_depth) {
            return fail("ERR Protocol error: reply nesting depth exceeds limit " +
                        std::to_string(limits_.max_depth));
          }
          const bool attribute = elem_type_ == Type::kAttribute;
          if (h.len > 0) {
            stack_.push_back(Level{static_cast<size_t>(h.len), attribute});
            state_ = State::kValueStart;
          } else if (attribute) {
            state_ = State::kValueStart;  // empty attribute: the value follows
          } else {
            element_done = true;  // empty aggregate
          }
        }
        break;
      }
      case State::kPayload: {
        // bulk_len_ < 2^63, so the sum cannot overflow.
        if (size - pos_ < bulk_len_ + 2) return Status::kIncomplete;
        const size_t end = pos_ + bulk_len_;
        if (data[end] != '\r' || data[end + 1] != '\n') {
          return fail("ERR Protocol error: bulk payload not followed by CRLF");
        }
        if (!validPayload(elem_type_, data.substr(pos_, bulk_len_))) {
          return fail("ERR Protocol error: invalid verbatim string");
        }
        pos_ = end + 2;
        element_done = true;
        break;
      }
      case State::kError:
        return Status::kError;
    }
    if (element_done) {
      if (elementDone()) {
        *consumed = pos_;
        pos_ = 0;
        state_ = State::kValueStart;
        return Status::kOk;
      }
      state_ = State::kValueStart;
    }
  }
}

// ================================ parseValue ====================================================

namespace {

// Recursive descent over one frame; recursion depth is bounded by limits.max_depth. Accepts
// exactly what ReplyDecoder accepts.
class TreeParser {
 public:
  TreeParser(std::string_view frame, const Limits& limits) : frame_(frame), limits_(limits) {}

  // Parses attribute prefixes plus one value at pos_, `depth` aggregates deep.
  bool parse(Value* out, size_t depth) {
    const size_t start = pos_;
    for (;;) {
      if (pos_ >= frame_.size()) return false;
      Type t = Type::kNull;
      if (!typeFromByte(frame_[pos_], &t)) return false;
      const size_t line_start = pos_ + 1;
      size_t scan = line_start;
      size_t cr = 0;
      if (findLine(frame_, line_start, lineLimit(t, limits_), &scan, &cr) != LineStatus::kFound) {
        return false;
      }
      const std::string_view line = frame_.substr(line_start, cr - line_start);
      Header h;
      if (parseHeader(t, line, limits_, &h) != HeaderError::kNone) return false;
      pos_ = cr + 2;
      if (t == Type::kAttribute) {
        if (depth >= limits_.max_depth) return false;
        if (!parseChildren(h.len, &out->attributes, depth + 1)) return false;
        continue;  // the attributed value follows
      }
      out->type = t;
      out->is_null = h.is_null;
      out->integer = h.integer;
      if (h.kind == Kind::kScalar) {
        out->str = line;
      } else if (h.kind == Kind::kBulk && !h.is_null) {
        if (frame_.size() - pos_ < h.len + 2) return false;
        const size_t end = pos_ + static_cast<size_t>(h.len);
        if (frame_[end] != '\r' || frame_[end + 1] != '\n') return false;
        out->str = frame_.substr(pos_, static_cast<size_t>(h.len));
        if (!validPayload(t, out->str)) return false;
        pos_ = end + 2;
      } else if (h.kind == Kind::kAggregate && !h.is_null) {
        if (depth >= limits_.max_depth) return false;
        if (!parseChildren(h.len, &out->elements, depth + 1)) return false;
      }
      out->raw = frame_.substr(start, pos_ - start);
      return true;
    }
  }

  size_t pos() const { return pos_; }

 private:
  bool parseChildren(uint64_t n, std::vector<Value>* out, size_t depth) {
    // Reserve no more than the remaining bytes could possibly hold.
    out->reserve(out->size() + static_cast<size_t>(
                                   std::min<uint64_t>(n, (frame_.size() - pos_) / kMinElementLen)));
    for (uint64_t i = 0; i < n; ++i) {
      out->emplace_back();
      if (!parse(&out->back(), depth)) return false;
    }
    return true;
  }

  std::string_view frame_;
  const Limits& limits_;
  size_t pos_ = 0;
};

}  // namespace

bool parseValue(std::string_view frame, Value* out, const Limits& limits) {
  if (out == nullptr) return false;
  try {
    *out = Value{};
    TreeParser parser(frame, limits);
    return parser.parse(out, 0) && parser.pos() == frame.size();
  } catch (...) {  // only std::bad_alloc can get here
    return false;
  }
}

std::string_view errorText(std::string_view frame) {
  std::string_view message = frame.substr(frame.empty() ? 0 : 1);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  return message;
}

}  // namespace slotproxy::resp
