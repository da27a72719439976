#include "tests/unit/resp/feed_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <utility>

namespace slotproxy::resp::test {
namespace {

// Inputs up to this size are copied to a fresh buffer before every decode() call.
constexpr size_t kMoveBufferBelow = 64 * 1024;

const char* statusName(Status s) {
  switch (s) {
    case Status::kOk:
      return "kOk";
    case Status::kIncomplete:
      return "kIncomplete";
    case Status::kError:
      return "kError";
  }
  return "?";
}

std::string escaped(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// Drives any decoder through a buffer that grows by chunks; `on_ok` records a kOk.
template <typename Decoder, typename OnOk>
void feed(Decoder& decoder, std::string_view input, const ChunkPlan& plan, Status* last,
          std::string* error, size_t* leftover, OnOk on_ok) {
  std::string buf;
  size_t off = 0;  // consumed bytes at the front of buf
  size_t fed = 0;
  const bool move_buffer = input.size() < kMoveBufferBelow;
  *last = Status::kIncomplete;
  while (fed < input.size()) {
    const size_t chunk =
        std::min(std::max<size_t>(plan(input.size() - fed), 1), input.size() - fed);
    buf.append(input.substr(fed, chunk));
    fed += chunk;
    for (;;) {
      if (move_buffer) {
        std::string moved(buf.substr(off));  // new allocation while buf is alive: new address
        buf.swap(moved);
        off = 0;
      } else if (off > buf.size() / 2) {
        buf.erase(0, off);
        off = 0;
      }
      size_t consumed = 12345;
      const std::string_view view = std::string_view(buf).substr(off);
      const Status s = decoder.decode(view, &consumed);
      // Plain checks in this loop: it runs millions of times for the large-input tests.
      if (s == Status::kOk) {
        if (consumed == 0 || consumed > view.size()) ADD_FAILURE() << "bad consumed " << consumed;
        on_ok(decoder, view, consumed);
        off += consumed;
        continue;
      }
      if (consumed != 0) ADD_FAILURE() << "consumed " << consumed << " without kOk";
      if (s == Status::kError) {
        *last = Status::kError;
        *error = std::string(decoder.error());
        *leftover = buf.size() - off + (input.size() - fed);
        // Errors are sticky.
        size_t again = 1;
        EXPECT_EQ(decoder.decode(view, &again), Status::kError);
        EXPECT_EQ(again, 0u);
        return;
      }
      break;
    }
  }
  *leftover = buf.size() - off;
}

}  // namespace

ChunkPlan wholePlan() {
  return [](size_t remaining) { return remaining; };
}

ChunkPlan bytePlan() {
  return [](size_t) { return size_t{1}; };
}

ChunkPlan randomPlan(uint32_t seed, size_t max_chunk) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng, max_chunk](size_t) {
    return std::uniform_int_distribution<size_t>(1, std::max<size_t>(max_chunk, 1))(*rng);
  };
}

void PrintTo(const RequestResult& r, std::ostream* os) {
  *os << "{";
  for (size_t i = 0; i < r.commands.size(); ++i) {
    *os << (r.inline_flags[i] ? "inline" : "multibulk") << "[" << r.consumed[i] << "](";
    for (const auto& a : r.commands[i]) *os << '"' << escaped(a.substr(0, 40)) << "\" ";
    *os << ") ";
  }
  *os << statusName(r.last) << " '" << r.error << "' leftover=" << r.leftover << "}";
}

void PrintTo(const ReplyResult& r, std::ostream* os) {
  *os << "{";
  for (size_t i = 0; i < r.consumed.size(); ++i) {
    *os << typeName(r.types[i]) << (r.nulls[i] ? "(null)" : "") << "[" << r.consumed[i] << "] ";
  }
  *os << statusName(r.last) << " '" << r.error << "' leftover=" << r.leftover << "}";
}

RequestResult feedRequests(std::string_view input, const ChunkPlan& plan, const Limits& limits) {
  RequestDecoder decoder(limits);
  RequestResult r;
  feed(decoder, input, plan, &r.last, &r.error, &r.leftover,
       [&r](const RequestDecoder& d, std::string_view view, size_t consumed) {
         std::vector<std::string> args;
         for (const std::string_view a : d.args()) {
           if (!d.isInline()) {  // multibulk args are views into the input
             EXPECT_GE(a.data(), view.data());
             EXPECT_LE(a.data() + a.size(), view.data() + consumed);
           }
           args.emplace_back(a);
         }
         r.commands.push_back(std::move(args));
         r.consumed.push_back(consumed);
         r.inline_flags.push_back(d.isInline());
       });
  return r;
}

ReplyResult feedReplies(std::string_view input, const ChunkPlan& plan, const Limits& limits) {
  ReplyDecoder decoder(limits);
  ReplyResult r;
  feed(decoder, input, plan, &r.last, &r.error, &r.leftover,
       [&r](const ReplyDecoder& d, std::string_view, size_t consumed) {
         r.consumed.push_back(consumed);
         r.types.push_back(d.type());
         r.nulls.push_back(d.isNull());
       });
  return r;
}

RequestScript& RequestScript::ok(std::string piece, std::vector<std::string> args) {
  expected_.commands.push_back(std::move(args));
  expected_.consumed.push_back(piece.size());
  expected_.inline_flags.push_back(piece.empty() || piece[0] != '*');
  input_ += piece;
  return *this;
}

RequestScript& RequestScript::error(std::string piece, std::string message) {
  expected_.last = Status::kError;
  expected_.error = std::move(message);
  expected_.leftover += piece.size();
  input_ += piece;
  return *this;
}

RequestScript& RequestScript::incomplete(std::string piece) {
  expected_.leftover += piece.size();
  input_ += piece;
  return *this;
}

void RequestScript::check(const Limits& limits) const {
  {
    SCOPED_TRACE("whole input");
    EXPECT_EQ(feedRequests(input_, wholePlan(), limits), expected_);
  }
  {
    SCOPED_TRACE("byte at a time");
    EXPECT_EQ(feedRequests(input_, bytePlan(), limits), expected_);
  }
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("random fragmentation, seed " + std::to_string(seed));
    EXPECT_EQ(feedRequests(input_, randomPlan(seed, input_.size() / 3 + 1), limits), expected_);
  }
}

ReplyScript& ReplyScript::ok(std::string piece, Type type, bool is_null) {
  expected_.consumed.push_back(piece.size());
  expected_.types.push_back(type);
  expected_.nulls.push_back(is_null);
  input_ += piece;
  frames_.push_back(std::move(piece));
  return *this;
}

ReplyScript& ReplyScript::error(std::string piece, std::string message) {
  expected_.last = Status::kError;
  expected_.error = std::move(message);
  expected_.leftover += piece.size();
  input_ += piece;
  return *this;
}

ReplyScript& ReplyScript::incomplete(std::string piece) {
  expected_.leftover += piece.size();
  input_ += piece;
  return *this;
}

void ReplyScript::check(const Limits& limits) const {
  {
    SCOPED_TRACE("whole input");
    EXPECT_EQ(feedReplies(input_, wholePlan(), limits), expected_);
  }
  {
    SCOPED_TRACE("byte at a time");
    EXPECT_EQ(feedReplies(input_, bytePlan(), limits), expected_);
  }
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("random fragmentation, seed " + std::to_string(seed));
    EXPECT_EQ(feedReplies(input_, randomPlan(seed, input_.size() / 3 + 1), limits), expected_);
  }
  for (size_t i = 0; i < frames_.size(); ++i) {
    SCOPED_TRACE("parseValue of frame " + std::to_string(i) + ": " + escaped(frames_[i]));
    Value v;
    ASSERT_TRUE(parseValue(frames_[i], &v, limits));
    EXPECT_EQ(v.raw, frames_[i]);
    EXPECT_EQ(v.type, expected_.types[i]);
    EXPECT_EQ(v.is_null, expected_.nulls[i]);
  }
}

}  // namespace slotproxy::resp::test
