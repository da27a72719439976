#pragma once

// Test helpers: feed a decoder an input in fragments (whole, byte at a time, random chunks from a
// seeded RNG) and record what it returns, so every case can be checked under every fragmentation.

#include <cstddef>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/resp/decoder.h"

namespace slotproxy::resp::test {

// Returns the size of the next chunk given the bytes not yet fed (> 0).
using ChunkPlan = std::function<size_t(size_t remaining)>;

ChunkPlan wholePlan();
ChunkPlan bytePlan();
// Random chunk sizes in [1, max_chunk] from a seeded generator.
ChunkPlan randomPlan(uint32_t seed, size_t max_chunk);

struct RequestResult {
  std::vector<std::vector<std::string>> commands;  // args of each kOk
  std::vector<size_t> consumed;                    // consumed of each kOk
  std::vector<bool> inline_flags;                  // isInline() of each kOk
  Status last = Status::kIncomplete;               // how feeding ended: kIncomplete or kError
  std::string error;                               // error() when last == kError
  size_t leftover = 0;                             // unconsumed bytes when feeding ended
  bool operator==(const RequestResult&) const = default;
};
void PrintTo(const RequestResult& r, std::ostream* os);

struct ReplyResult {
  std::vector<size_t> consumed;
  std::vector<Type> types;
  std::vector<bool> nulls;
  Status last = Status::kIncomplete;
  std::string error;
  size_t leftover = 0;
  bool operator==(const ReplyResult&) const = default;
};
void PrintTo(const ReplyResult& r, std::ostream* os);

// Feeds `input` chunk by chunk, decoding as many commands as possible after each chunk, as a
// connection would. The buffer holding the unconsumed bytes moves between calls (small inputs
// are copied to a fresh buffer before every call), to check that the decoder keeps offsets only.
RequestResult feedRequests(std::string_view input, const ChunkPlan& plan,
                           const Limits& limits = {});
ReplyResult feedReplies(std::string_view input, const ChunkPlan& plan, const Limits& limits = {});

// Builds an input from pieces and the result expected under every fragmentation.
class RequestScript {
 public:
  // A complete command; isInline() is expected when the piece does not start with '*'.
  RequestScript& ok(std::string piece, std::vector<std::string> args);
  // Bytes that must end in a protocol error with exactly `message`.
  RequestScript& error(std::string piece, std::string message);
  // Trailing bytes of an incomplete command.
  RequestScript& incomplete(std::string piece);

  const std::string& input() const { return input_; }
  const RequestResult& expected() const { return expected_; }

  // Expects `expected()` whole, byte at a time and under 20 random fragmentations.
  void check(const Limits& limits = {}) const;

 private:
  std::string input_;
  RequestResult expected_;
};

class ReplyScript {
 public:
  // A complete frame of top-level type `type`. check() also runs parseValue on it.
  ReplyScript& ok(std::string piece, Type type, bool is_null = false);
  ReplyScript& error(std::string piece, std::string message);
  ReplyScript& incomplete(std::string piece);

  const std::string& input() const { return input_; }
  const ReplyResult& expected() const { return expected_; }

  // Expects `expected()` under every fragmentation, and parseValue() to accept each frame with
  // raw == the frame and the expected type.
  void check(const Limits& limits = {}) const;

 private:
  std::string input_;
  std::vector<std::string> frames_;
  ReplyResult expected_;
};

}  // namespace slotproxy::resp::test
