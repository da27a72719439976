#include <gtest/gtest.h>

#include <random>
#include <string>

#include "proxy/resp/decoder.h"
#include "tests/unit/resp/feed_util.h"

namespace slotproxy::resp {
namespace {

using test::ReplyScript;

std::string nested(char type, size_t depth, std::string_view leaf) {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += std::string(1, type) + "1\r\n";
  return s + std::string(leaf);
}

TEST(ReplyDecoder, Resp2Types) {
  ReplyScript()
      .ok("+OK\r\n", Type::kSimpleString)
      .ok("+\r\n", Type::kSimpleString)
      .ok("-ERR unknown command 'foo'\r\n", Type::kError)
      .ok(":0\r\n", Type::kInteger)
      .ok(":-9223372036854775808\r\n", Type::kInteger)
      .ok(":+42\r\n", Type::kInteger)
      .ok("$5\r\nhello\r\n", Type::kBulkString)
      .ok("$0\r\n\r\n", Type::kBulkString)
      .ok("$4\r\n\r\n\r\n\r\n", Type::kBulkString)
      .ok("$-1\r\n", Type::kBulkString, /*is_null=*/true)
      .ok("*-1\r\n", Type::kArray, /*is_null=*/true)
      .ok("*0\r\n", Type::kArray)
      .ok("*3\r\n:1\r\n$3\r\nfoo\r\n*2\r\n+a\r\n$-1\r\n", Type::kArray)
      .check();
}

TEST(ReplyDecoder, Resp3ScalarTypes) {
  ReplyScript()
      .ok("_\r\n", Type::kNull, /*is_null=*/true)
      .ok(",3.14\r\n", Type::kDouble)
      .ok(",-1.5e-10\r\n", Type::kDouble)
      .ok(",inf\r\n", Type::kDouble)
      .ok(",-inf\r\n", Type::kDouble)
      .ok(",nan\r\n", Type::kDouble)
      .ok("#t\r\n", Type::kBoolean)
      .ok("#f\r\n", Type::kBoolean)
      .ok("!21\r\nSYNTAX invalid syntax\r\n", Type::kBlobError)
      .ok("=15\r\ntxt:Some string\r\n", Type::kVerbatim)
      .ok("(3492890328409238509324850943850943825024385\r\n", Type::kBigNumber)
      .ok("(-12\r\n", Type::kBigNumber)
      .check();
}

TEST(ReplyDecoder, Resp3AggregateTypes) {
  ReplyScript()
      .ok("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", Type::kMap)
      .ok("%0\r\n", Type::kMap)
      .ok("~3\r\n+a\r\n+b\r\n:3\r\n", Type::kSet)
      .ok(">3\r\n$7\r\nmessage\r\n$7\r\nchannel\r\n$5\r\nhello\r\n", Type::kPush)
      .ok("%2\r\n$1\r\na\r\n%1\r\n+x\r\n~2\r\n:1\r\n_\r\n$1\r\nb\r\n*2\r\n%0\r\n#t\r\n", Type::kMap)
      .check();
}

TEST(ReplyDecoder, AttributeIsPrefixOfTheFollowingValue) {
  // The example of the RESP3 spec: one frame, type of the array.
  ReplyScript()
      .ok("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
          "*2\r\n:2039123\r\n:9543892\r\n",
          Type::kArray)
      .ok("|0\r\n+OK\r\n", Type::kSimpleString)
      .ok("|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n_\r\n", Type::kNull, /*is_null=*/true)
      .ok("|1\r\n+ttl\r\n:3600\r\n$-1\r\n", Type::kBulkString, /*is_null=*/true)
      .check();
}

TEST(ReplyDecoder, AttributeInsideAggregateDoesNotCountAsElement) {
  ReplyScript()
      .ok("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", Type::kArray)
      .ok("*1\r\n|1\r\n+a\r\n+b\r\n*1\r\n|0\r\n:7\r\n", Type::kArray)
      .ok("+after\r\n", Type::kSimpleString)
      .check();
  // Without the attributed value the array is not complete.
  ReplyScript().incomplete("*1\r\n|1\r\n+a\r\n+b\r\n").check();
}

TEST(ReplyDecoder, PushFramesInterleaveWithReplies) {
  ReplyScript()
      .ok("+OK\r\n", Type::kSimpleString)
      .ok(">2\r\n+invalidate\r\n*1\r\n$3\r\nkey\r\n", Type::kPush)
      .ok("$3\r\nbar\r\n", Type::kBulkString)
      .ok(">2\r\n+invalidate\r\n_\r\n", Type::kPush)
      .check();
}

TEST(ReplyDecoder, PipelineEndingInPartialFrame) {
  ReplyScript()
      .ok(":1\r\n", Type::kInteger)
      .ok("*2\r\n$1\r\na\r\n$1\r\nb\r\n", Type::kArray)
      .incomplete("*2\r\n$1\r\na\r\n$1")
      .check();
}

TEST(ReplyDecoder, InvalidTypeByteIsError) {
  ReplyScript()
      .ok("+OK\r\n", Type::kSimpleString)
      .error("x\r\n", "ERR Protocol error: invalid reply type byte 'x'")
      .check();
  ReplyScript().error("*1\r\n;3\r\n", "ERR Protocol error: invalid reply type byte ';'").check();
  ReplyScript()
      .error(std::string("\0", 1), "ERR Protocol error: invalid reply type byte '\\x00'")
      .check();
}

TEST(ReplyDecoder, MalformedLinesAreErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {":abc\r\n", "ERR Protocol error: invalid integer"},
      {":\r\n", "ERR Protocol error: invalid integer"},
      {":1.5\r\n", "ERR Protocol error: invalid integer"},
      {":9223372036854775808\r\n", "ERR Protocol error: invalid integer"},
      {"#x\r\n", "ERR Protocol error: invalid boolean"},
      {"#\r\n", "ERR Protocol error: invalid boolean"},
      {"_x\r\n", "ERR Protocol error: invalid null"},
      {",abc\r\n", "ERR Protocol error: invalid double"},
      {",\r\n", "ERR Protocol error: invalid double"},
      {"(12a\r\n", "ERR Protocol error: invalid big number"},
      {"(\r\n", "ERR Protocol error: invalid big number"},
      {"$abc\r\n", "ERR Protocol error: invalid bulk length"},
      {"$-2\r\n", "ERR Protocol error: invalid bulk length"},
      {"!-1\r\n", "ERR Protocol error: invalid bulk length"},
      {"$01\r\n", "ERR Protocol error: invalid bulk length"},
      {"*x\r\n", "ERR Protocol error: invalid aggregate length"},
      {"*-2\r\n", "ERR Protocol error: invalid aggregate length"},
      {"%-1\r\n", "ERR Protocol error: invalid aggregate length"},
      {"~-1\r\n", "ERR Protocol error: invalid aggregate length"},
      {"=3\r\nabc\r\n", "ERR Protocol error: invalid verbatim string"},
      {"=5\r\nabcde\r\n", "ERR Protocol error: invalid verbatim string"},
      {"$3\r\nabcd\r\n", "ERR Protocol error: bulk payload not followed by CRLF"},
      {"+OK\rX\r\n", "ERR Protocol error: CR not followed by LF"},
      {"$?\r\n;4\r\nHell\r\n;0\r\n",
       "ERR Protocol error: streamed RESP3 strings and aggregates are not supported"},
      {"*?\r\n:1\r\n.\r\n",
       "ERR Protocol error: streamed RESP3 strings and aggregates are not supported"},
  };
  for (const auto& [in, msg] : cases) {
    SCOPED_TRACE(in);
    ReplyScript().error(in, msg).check();
    Value v;
    EXPECT_FALSE(parseValue(in, &v));
  }
}

TEST(ReplyDecoder, BulkLengthLimitNamesTheLimit) {
  ReplyScript()
      .error("$536870913\r\n", "ERR Protocol error: bulk length 536870913 exceeds limit 536870912")
      .check();
  const Limits small{.max_bulk_len = 4};
  ReplyScript()
      .ok("!4\r\nERRx\r\n", Type::kBlobError)
      .error("=5\r\n", "ERR Protocol error: bulk length 5 exceeds limit 4")
      .check(small);
}

TEST(ReplyDecoder, AggregateLengthLimitNamesTheLimit) {
  ReplyScript()
      .error("*1048577\r\n", "ERR Protocol error: aggregate length 1048577 exceeds limit 1048576")
      .check();
  // A map entry counts as two elements.
  ReplyScript()
      .error("%524289\r\n", "ERR Protocol error: aggregate length 1048578 exceeds limit 1048576")
      .check();
  const Limits small{.max_array_len = 4};
  ReplyScript()
      .ok("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", Type::kMap)
      .ok("~4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", Type::kSet)
      .error(">5\r\n", "ERR Protocol error: aggregate length 5 exceeds limit 4")
      .check(small);
  ReplyScript()
      .error("|3\r\n", "ERR Protocol error: aggregate length 6 exceeds limit 4")
      .check(small);
}

TEST(ReplyDecoder, DepthLimitNamesTheLimit) {
  ReplyScript().ok(nested('*', 32, ":1\r\n"), Type::kArray).check();
  ReplyScript()
      .error(nested('*', 33, ":1\r\n"), "ERR Protocol error: reply nesting depth exceeds limit 32")
      .check();
  const Limits small{.max_depth = 2};
  ReplyScript()
      .ok("%1\r\n*0\r\n~1\r\n_\r\n", Type::kMap)
      .ok("|1\r\n+a\r\n*1\r\n:1\r\n*1\r\n*1\r\n:1\r\n", Type::kArray)
      .error("*1\r\n|1\r\n*0\r\n", "ERR Protocol error: reply nesting depth exceeds limit 2")
      .check(small);
  ReplyScript()
      .error(">1\r\n%1\r\n*0\r\n", "ERR Protocol error: reply nesting depth exceeds limit 2")
      .check(small);
}

TEST(ReplyDecoder, LineLengthLimits) {
  ReplyScript()
      .error(":" + std::string(65, '1'), "ERR Protocol error: integer line exceeds limit 64")
      .check();
  ReplyScript().incomplete(":" + std::string(64, '1')).check();
  const Limits small{.max_bulk_len = 8, .max_inline_len = 6};
  ReplyScript()
      .ok("+12345678\r\n", Type::kSimpleString)
      .error("-123456789", "ERR Protocol error: error line exceeds limit 8")
      .check(small);
  ReplyScript()
      .ok(",1.2345\r\n", Type::kDouble)
      .error("(1234567", "ERR Protocol error: big number line exceeds limit 6")
      .check(small);
}

TEST(ReplyDecoder, ErrorIsStickyUntilReset) {
  ReplyDecoder d;
  size_t consumed = 0;
  ASSERT_EQ(d.decode("?\r\n", &consumed), Status::kError);
  EXPECT_EQ(d.error(), "ERR Protocol error: invalid reply type byte '?'");
  EXPECT_EQ(d.decode("+OK\r\n", &consumed), Status::kError);
  d.reset();
  EXPECT_EQ(d.error(), "");
  ASSERT_EQ(d.decode("+OK\r\n", &consumed), Status::kOk);
  EXPECT_EQ(consumed, 5u);
  EXPECT_EQ(d.type(), Type::kSimpleString);
}

TEST(ReplyDecoder, EightMegabyteBulkFedOneByteAtATime) {
  const std::string payload(8 * 1024 * 1024, 'p');
  const std::string frame =
      "*2\r\n$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n:1\r\n";
  const auto r = test::feedReplies(frame + "+OK\r\n", test::bytePlan());
  ASSERT_EQ(r.consumed.size(), 2u);
  EXPECT_EQ(r.consumed[0], frame.size());
  EXPECT_EQ(r.types[0], Type::kArray);
  EXPECT_EQ(r.consumed[1], 5u);
  const auto chunks = test::feedReplies(frame, test::randomPlan(7, 5000));
  ASSERT_EQ(chunks.consumed.size(), 1u);
  EXPECT_EQ(chunks.consumed[0], frame.size());
}

std::string randomReply(std::mt19937& rng) {
  static constexpr std::string_view kAlphabet = "+-:$*_,#!=(%~|>\r\n\r\n0123456789-?tfx.";
  const size_t len = std::uniform_int_distribution<size_t>(0, 100)(rng);
  std::string s;
  for (size_t i = 0; i < len; ++i) {
    s += rng() % 8 == 0 ? static_cast<char>(rng() & 0xff) : kAlphabet[rng() % kAlphabet.size()];
  }
  return s;
}

TEST(ReplyDecoder, RandomBytesNeverCrashAndAgreeWithParseValue) {
  std::mt19937 rng(99);
  const Limits small{.max_bulk_len = 16, .max_array_len = 6, .max_depth = 3, .max_inline_len = 10};
  for (int i = 0; i < 3000; ++i) {
    const std::string in = randomReply(rng);
    const Limits& limits = i % 2 == 0 ? small : Limits{};
    const auto whole = test::feedReplies(in, test::wholePlan(), limits);
    ASSERT_EQ(test::feedReplies(in, test::bytePlan(), limits), whole) << i;
    ASSERT_EQ(test::feedReplies(in, test::randomPlan(static_cast<uint32_t>(i), 7), limits), whole)
        << i;
    // Every frame the decoder delimits parses; parseValue accepts nothing else.
    size_t off = 0;
    for (size_t k = 0; k < whole.consumed.size(); ++k) {
      Value v;
      ASSERT_TRUE(parseValue(std::string_view(in).substr(off, whole.consumed[k]), &v, limits)) << i;
      EXPECT_EQ(v.type, whole.types[k]);
      off += whole.consumed[k];
    }
    Value v;
    if (parseValue(in, &v, limits)) {
      ASSERT_FALSE(whole.consumed.empty()) << i;
      EXPECT_EQ(whole.consumed[0], in.size()) << i;
    }
  }
}

}  // namespace
}  // namespace slotproxy::resp
