#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/resp/limits.h"
#include "proxy/resp/value.h"

namespace slotproxy::resp {

// Decodes client commands: RESP multibulk of bulk strings (as Redis's processMultibulkBuffer), or
// inline commands (as processInlineBuffer + sdssplitargs). A first byte '*' selects multibulk,
// anything else inline. Never throws; no allocation per argument once warmed up.
//
// The result never depends on how the input was fragmented: every limit is checked against the
// position of the offending byte, not against how much happened to be buffered.
class RequestDecoder {
 public:
  explicit RequestDecoder(const Limits& limits = {});

  // Decodes one command from the start of `data`. The caller passes the unconsumed input each
  // time: after kIncomplete it calls again with the same bytes at the start (the buffer may have
  // moved) plus more appended; the decoder keeps only offsets, so it resumes without rescanning
  // (feeding an 8 MB bulk one byte at a time is linear).
  //
  // kOk: *consumed = bytes of this command; args() are views into `data` (multibulk) or into
  //   decoder-owned storage (inline, after quote processing), valid until the next
  //   decode()/reset(); isInline() tells which. An empty inline line ("\r\n", "\n", or only
  //   spaces) and "*0\r\n" / "*-1\r\n" are consumed and yield kOk with args() empty (callers skip
  //   these).
  // kIncomplete: *consumed = 0; bytesNeededHint() may tell how many more bytes are needed.
  // kError: *consumed = 0; error() is the Redis-style message without "-" and CRLF, e.g.
  //   "ERR Protocol error: invalid bulk length". Limits are named:
  //   "ERR Protocol error: bulk length 600000000 exceeds limit 536870912",
  //   "ERR Protocol error: invalid multibulk length (2000000 exceeds limit 1048576)",
  //   "ERR Protocol error: too big inline request (exceeds limit 65536)".
  //   The decoder stays in error until reset(). A `*`/`$` header line longer than 64 bytes
  //   without CRLF is an error; an inline line (up to '\n', a preceding '\r' included) longer
  //   than max_inline_len is an error.
  Status decode(std::string_view data, size_t* consumed);

  const std::vector<std::string_view>& args() const { return args_; }
  bool isInline() const { return inline_; }
  std::string_view error() const;

  // Forgets any partial command and a sticky error; keeps allocated capacity.
  void reset();

  // Redis's caps on a client that has not authenticated yet (requirepass): more than 10
  // arguments, or a bulk longer than 16384 bytes, is the protocol error "unauthenticated
  // multibulk length" / "unauthenticated bulk length". Applies from the next header parsed.
  void setUnauthenticated(bool on) { unauthenticated_ = on; }

  // How many more bytes at least the current command needs beyond what the last decode() saw
  // (0 if unknown). Known while waiting for a bulk payload.
  size_t bytesNeededHint() const;

 private:
  enum class State : uint8_t { kIdle, kInline, kCount, kBulkHeader, kBulkPayload, kError };
  struct Span {
    size_t offset;
    size_t len;
  };

  Status decodeInline(std::string_view data, size_t* consumed);
  Status decodeMultibulk(std::string_view data, size_t* consumed);
  bool splitInline(std::string_view line);
  Status fail(std::string msg);

  Limits limits_;
  State state_ = State::kIdle;
  bool inline_ = false;      // the last command (or the one in progress) is inline
  size_t pos_ = 0;           // next unparsed offset in the current command
  size_t scan_ = 0;          // inline: bytes already searched for '\n'
  size_t remaining_ = 0;     // multibulk: bulks still expected
  size_t bulk_len_ = 0;      // multibulk: payload length of the current bulk
  size_t last_size_ = 0;     // data.size() at the last call, for bytesNeededHint()
  std::vector<Span> spans_;  // multibulk args as offsets while the command is incomplete
  std::vector<std::string_view> args_;
  std::string inline_buf_;  // unquoted inline args, back to back
  std::string error_;
  bool out_of_memory_ = false;  // error() is the fixed out-of-memory message
  bool unauthenticated_ = false;
};

// Delimits replies from Redis: all RESP2 and RESP3 types, nested aggregates with an explicit
// stack bounded by max_depth. Streamed RESP3 strings and aggregates (`$?`, `*?`) are rejected.
class ReplyDecoder {
 public:
  explicit ReplyDecoder(const Limits& limits = {});

  // Finds the end of one complete reply at the start of `data`, same resume contract as
  // RequestDecoder::decode().
  // kOk: *consumed = frame length; type() = top-level type (isNull() for `$-1`, `*-1`, `_`). An
  //   attribute (`|`) is a prefix of the value that follows: the attribute plus that value are
  //   ONE frame, type() = the following value's type. Push frames (`>`) are their own frames with
  //   type kPush.
  // kError: error() names the problem ("ERR Protocol error: invalid reply type byte 'x'",
  //   limits, depth...); sticky until reset().
  Status decode(std::string_view data, size_t* consumed);

  Type type() const { return type_; }
  bool isNull() const { return is_null_; }
  std::string_view error() const;
  void reset();

 private:
  enum class State : uint8_t { kValueStart, kLine, kPayload, kError };
  struct Level {
    size_t remaining;  // elements still expected at this level
    bool attribute;    // an attribute map: when done, the value it prefixes follows
  };

  Status decodeFrame(std::string_view data, size_t* consumed);
  // Called when a whole element ended at pos_. Returns true when the frame is complete.
  bool elementDone();
  Status fail(std::string msg);

  Limits limits_;
  State state_ = State::kValueStart;
  Type type_ = Type::kNull;
  bool is_null_ = false;
  Type elem_type_ = Type::kNull;  // type of the element being parsed
  size_t pos_ = 0;                // next unparsed offset in the current frame
  size_t line_start_ = 0;         // kLine: offset just after the type byte
  size_t scan_ = 0;               // kLine: bytes already searched for '\r'
  size_t bulk_len_ = 0;           // kPayload: payload length
  std::vector<Level> stack_;      // enclosing aggregates, innermost last
  std::string error_;
  bool out_of_memory_ = false;  // error() is the fixed out-of-memory message
};

// Parses a complete frame (as delimited by ReplyDecoder) into a tree. The frame must be exactly
// one reply (optionally prefixed by attributes). Returns false on malformed input, trailing bytes
// or limits; never throws. Recursion depth is bounded by limits.max_depth.
bool parseValue(std::string_view frame, Value* out, const Limits& limits = {});

// Whether a complete reply frame is an error, simple (-) or blob (!).
inline bool isErrorFrame(std::string_view frame) {
  return !frame.empty() && (frame[0] == '-' || frame[0] == '!');
}

// The text of a simple error frame: "-MOVED 3999 10.0.0.5:6379\r\n" -> "MOVED 3999 10.0.0.5:6379".
std::string_view errorText(std::string_view frame);

}  // namespace slotproxy::resp
