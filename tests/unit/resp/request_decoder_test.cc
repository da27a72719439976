#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "proxy/resp/decoder.h"
#include "proxy/resp/encoder.h"
#include "tests/unit/resp/feed_util.h"

namespace slotproxy::resp {
namespace {

using test::RequestScript;

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

// ---- multibulk --------------------------------------------------------------------------------

TEST(RequestDecoder, MultibulkCommandGivesArgsAndConsumed) {
  RequestScript()
      .ok("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", {"SET", "key", "value"})
      .check();
}

TEST(RequestDecoder, EmptyAndBinaryBulkPayloads) {
  const std::string binary("a\r\nb\0c\r\n*$", 10);
  RequestScript().ok("*3\r\n$3\r\nSET\r\n$0\r\n\r\n" + bulk(binary), {"SET", "", binary}).check();
}

TEST(RequestDecoder, PipelineOfMultibulkAndInlineCommands) {
  RequestScript()
      .ok("*1\r\n$4\r\nPING\r\n", {"PING"})
      .ok("*2\r\n$3\r\nGET\r\n$1\r\na\r\n", {"GET", "a"})
      .ok("GET b\r\n", {"GET", "b"})
      .ok("*3\r\n$4\r\nMGET\r\n$1\r\nx\r\n$1\r\ny\r\n", {"MGET", "x", "y"})
      .ok("ECHO \"hi there\"\n", {"ECHO", "hi there"})
      .incomplete("*2\r\n$3\r\nGET\r\n$1\r\n")
      .check();
}

TEST(RequestDecoder, EmptyMultibulkIsConsumedWithoutArgs) {
  RequestScript().ok("*0\r\n", {}).ok("*-1\r\n", {}).ok("*1\r\n$4\r\nPING\r\n", {"PING"}).check();
}

TEST(RequestDecoder, IncompleteCommandConsumesNothing) {
  RequestScript().incomplete("*2\r\n$3\r\nGET\r\n$10\r\n12345").check();
  RequestScript().incomplete("*").check();
  RequestScript().incomplete("*1\r\n$3\r\nabc\r").check();
}

TEST(RequestDecoder, ArgsPointIntoInputForMultibulk) {
  RequestDecoder d;
  const std::string in = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  size_t consumed = 0;
  ASSERT_EQ(d.decode(in, &consumed), Status::kOk);
  EXPECT_EQ(consumed, in.size());
  ASSERT_EQ(d.args().size(), 2u);
  EXPECT_FALSE(d.isInline());
  EXPECT_EQ(d.args()[0].data(), in.data() + 8);
  EXPECT_EQ(d.args()[1].data(), in.data() + 17);
}

TEST(RequestDecoder, DecoderIsReusableAcrossManyCommands) {
  RequestDecoder d;
  std::string in;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "key" + std::to_string(i);
    in += "*2\r\n$3\r\nGET\r\n" + bulk(key);
  }
  std::string_view rest = in;
  for (int i = 0; i < 1000; ++i) {
    size_t consumed = 0;
    ASSERT_EQ(d.decode(rest, &consumed), Status::kOk);
    ASSERT_EQ(d.args().size(), 2u);
    EXPECT_EQ(d.args()[1], "key" + std::to_string(i));
    rest.remove_prefix(consumed);
  }
  size_t consumed = 1;
  EXPECT_EQ(d.decode(rest, &consumed), Status::kIncomplete);
  EXPECT_EQ(consumed, 0u);
}

// ---- multibulk errors -------------------------------------------------------------------------

TEST(RequestDecoder, NonNumericMultibulkLengthIsError) {
  RequestScript().error("*abc\r\n", "ERR Protocol error: invalid multibulk length").check();
  RequestScript().error("*\r\n", "ERR Protocol error: invalid multibulk length").check();
  RequestScript().error("*+1\r\n", "ERR Protocol error: invalid multibulk length").check();
  RequestScript().error("*01\r\n", "ERR Protocol error: invalid multibulk length").check();
  RequestScript().error("*1 \r\n", "ERR Protocol error: invalid multibulk length").check();
  RequestScript()
      .error("*99999999999999999999\r\n", "ERR Protocol error: invalid multibulk length")
      .check();
}

TEST(RequestDecoder, NegativeMultibulkLengthOtherThanMinusOneIsError) {
  RequestScript().error("*-2\r\n", "ERR Protocol error: invalid multibulk length").check();
  RequestScript().error("*-0\r\n", "ERR Protocol error: invalid multibulk length").check();
}

TEST(RequestDecoder, CrWithoutLfInHeaderIsError) {
  RequestScript()
      .error("*1\rX$4\r\nPING\r\n", "ERR Protocol error: invalid multibulk length")
      .check();
  RequestScript().error("*1\r\n$4\rXPING\r\n", "ERR Protocol error: invalid bulk length").check();
}

TEST(RequestDecoder, MissingDollarIsError) {
  RequestScript()
      .ok("*1\r\n$4\r\nPING\r\n", {"PING"})
      .error("*2\r\n$3\r\nGET\r\nx1\r\na\r\n", "ERR Protocol error: expected '$', got 'x'")
      .check();
  RequestScript()
      .error(std::string("*1\r\n\x01", 5), "ERR Protocol error: expected '$', got '\\x01'")
      .check();
}

TEST(RequestDecoder, BadBulkLengthIsError) {
  for (const char* len : {"-1", "-5", "abc", "", "01", "+3", "3x", "-0"}) {
    SCOPED_TRACE(len);
    RequestScript()
        .error(std::string("*1\r\n$") + len + "\r\nabc\r\n",
               "ERR Protocol error: invalid bulk length")
        .check();
  }
}

TEST(RequestDecoder, BulkPayloadMustBeFollowedByCrlf) {
  RequestScript()
      .error("*1\r\n$3\r\nabcd\r\n", "ERR Protocol error: bulk payload not followed by CRLF")
      .check();
  RequestScript()
      .error("*1\r\n$3\r\nabc\rx", "ERR Protocol error: bulk payload not followed by CRLF")
      .check();
  RequestScript()
      .error("*1\r\n$3\r\nabc\n\r", "ERR Protocol error: bulk payload not followed by CRLF")
      .check();
}

TEST(RequestDecoder, HeaderLineWithoutCrlfIsErrorAfter64Bytes) {
  RequestScript()
      .error("*" + std::string(65, '1'), "ERR Protocol error: too big mbulk count string")
      .check();
  RequestScript()
      .error("*1\r\n$" + std::string(65, '1'), "ERR Protocol error: too big bulk count string")
      .check();
  // 64 bytes may still be followed by a CR: wait.
  RequestScript().incomplete("*" + std::string(64, '0')).check();
}

TEST(RequestDecoder, ErrorIsStickyUntilReset) {
  RequestDecoder d;
  size_t consumed = 0;
  ASSERT_EQ(d.decode("*x\r\n", &consumed), Status::kError);
  EXPECT_EQ(d.error(), "ERR Protocol error: invalid multibulk length");
  EXPECT_EQ(d.decode("*1\r\n$4\r\nPING\r\n", &consumed), Status::kError);
  EXPECT_EQ(d.error(), "ERR Protocol error: invalid multibulk length");
  d.reset();
  EXPECT_EQ(d.error(), "");
  ASSERT_EQ(d.decode("*1\r\n$4\r\nPING\r\n", &consumed), Status::kOk);
  EXPECT_EQ(consumed, 14u);
  ASSERT_EQ(d.args().size(), 1u);
  EXPECT_EQ(d.args()[0], "PING");
}

TEST(RequestDecoder, ResetDropsPartialCommand) {
  RequestDecoder d;
  size_t consumed = 0;
  ASSERT_EQ(d.decode("*2\r\n$3\r\nGET\r\n", &consumed), Status::kIncomplete);
  d.reset();
  ASSERT_EQ(d.decode("PING\r\n", &consumed), Status::kOk);
  EXPECT_TRUE(d.isInline());
  ASSERT_EQ(d.args().size(), 1u);
  EXPECT_EQ(d.args()[0], "PING");
}

// ---- limits -----------------------------------------------------------------------------------

TEST(RequestDecoder, BulkLengthLimitNamesTheLimit) {
  RequestScript()
      .error("*2\r\n$3\r\nSET\r\n$600000000\r\n",
             "ERR Protocol error: bulk length 600000000 exceeds limit 536870912")
      .check();
  const Limits small{.max_bulk_len = 10};
  RequestScript()
      .ok("*1\r\n" + bulk("0123456789"), {"0123456789"})
      .error("*1\r\n$11\r\n", "ERR Protocol error: bulk length 11 exceeds limit 10")
      .check(small);
}

TEST(RequestDecoder, ArrayLengthLimitNamesTheLimit) {
  RequestScript()
      .error("*1048577\r\n",
             "ERR Protocol error: invalid multibulk length (1048577 exceeds limit 1048576)")
      .check();
  const Limits small{.max_array_len = 3};
  RequestScript()
      .ok("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", {"a", "b", "c"})
      .error("*4\r\n", "ERR Protocol error: invalid multibulk length (4 exceeds limit 3)")
      .check(small);
}

// Redis's processMultibulkBuffer caps a client that has not authenticated yet: 10 arguments,
// 16384-byte bulks (texts checked against redis-server 7.0.15 with requirepass).
TEST(RequestDecoder, UnauthenticatedClientsGetRedisCaps) {
  RequestDecoder d;
  d.setUnauthenticated(true);
  size_t consumed = 0;
  std::string ten = "*10\r\n";
  for (int i = 0; i < 10; ++i) ten += "$1\r\na\r\n";
  EXPECT_EQ(d.decode(ten, &consumed), Status::kOk);
  const std::string big = "*2\r\n$3\r\nGET\r\n$16384\r\n" + std::string(16384, 'k') + "\r\n";
  EXPECT_EQ(d.decode(big, &consumed), Status::kOk);
  EXPECT_EQ(d.decode("*11\r\n", &consumed), Status::kError);
  EXPECT_EQ(d.error(), "ERR Protocol error: unauthenticated multibulk length");

  RequestDecoder b;
  b.setUnauthenticated(true);
  EXPECT_EQ(b.decode("*2\r\n$3\r\nGET\r\n$16385\r\n", &consumed), Status::kError);
  EXPECT_EQ(b.error(), "ERR Protocol error: unauthenticated bulk length");

  RequestDecoder after;  // logged in: the usual limits only
  after.setUnauthenticated(true);
  after.setUnauthenticated(false);
  EXPECT_EQ(after.decode("*11\r\n", &consumed), Status::kIncomplete);
}

TEST(RequestDecoder, InlineLengthLimitNamesTheLimit) {
  const Limits small{.max_inline_len = 16};
  // 16 bytes before '\n' (the '\r' included) are fine.
  RequestScript()
      .ok("SET aaaaa bbbbb\r\n", {"SET", "aaaaa", "bbbbb"})
      .ok("SET aaaaa bbbbbb\n", {"SET", "aaaaa", "bbbbbb"})
      .check(small);
  // 17 bytes without a newline, or before it, are not.
  RequestScript()
      .error("SET aaaaa bbbbbbb", "ERR Protocol error: too big inline request (exceeds limit 16)")
      .check(small);
  RequestScript()
      .error("SET aaaaa bbbbbb\r\n",
             "ERR Protocol error: too big inline request (exceeds limit 16)")
      .check(small);
  RequestScript()
      .error(std::string(65537, 'a'),
             "ERR Protocol error: too big inline request (exceeds limit 65536)")
      .check();
  RequestScript().incomplete(std::string(65536, 'a')).check();
}

// ---- inline -----------------------------------------------------------------------------------

TEST(RequestDecoder, InlineCommandsSplitOnWhitespace) {
  RequestScript()
      .ok("PING\r\n", {"PING"})
      .ok("set a b\n", {"set", "a", "b"})
      .ok("  GET \t key  \r\n", {"GET", "key"})
      .ok("a\rb\r\n", {"a", "b"})
      .ok("x\vy\n", {"x\vy"})
      .check();
}

TEST(RequestDecoder, EmptyInlineLinesYieldNoArgs) {
  RequestScript().ok("\r\n", {}).ok("\n", {}).ok("   \t \r\n", {}).ok("PING\n", {"PING"}).check();
}

TEST(RequestDecoder, InlineDoubleQuotesProcessEscapes) {
  RequestScript()
      .ok(R"(SET "a b" "\x41\x7a\n\r\t\b\a\\\"\q")"
          "\r\n",
          {"SET", "a b", "Az\n\r\t\b\a\\\"q"})
      .ok(R"(SET "\x4" "\xzz")"
          "\r\n",
          {"SET", "x4", "xzz"})
      .ok(R"(x"a b")"
          "\n",
          {"xa b"})
      .ok("\"\"\n", {""})
      .check();
}

TEST(RequestDecoder, InlineSingleQuotesTakeOnlyEscapedQuote) {
  RequestScript()
      .ok(R"(SET 'it\'s' '\n\x41')"
          "\n",
          {"SET", "it's", R"(\n\x41)"})
      .ok("''\n", {""})
      .check();
}

TEST(RequestDecoder, InlineUnbalancedQuotesAreError) {
  for (const char* line : {"SET \"abc\r\n", "x\"a b\"y\n", "SET 'abc\n", "SET \"a\"b\n",
                           "SET 'a'b\n", "\"abc\\\"\n"}) {
    SCOPED_TRACE(line);
    RequestScript().error(line, "ERR Protocol error: unbalanced quotes in request").check();
  }
}

TEST(RequestDecoder, InlineNulByteEndsTheLineLikeRedis) {
  RequestScript().ok(std::string("GET a\0b c\r\n", 11), {"GET", "a"}).check();
  RequestScript()
      .error(std::string("GET \"a\0b\"\r\n", 11),
             "ERR Protocol error: unbalanced quotes in request")
      .check();
}

TEST(RequestDecoder, InlineArgsOwnedByDecoder) {
  RequestDecoder d;
  std::string in = "SET \"a b\" c\r\n";
  size_t consumed = 0;
  ASSERT_EQ(d.decode(in, &consumed), Status::kOk);
  EXPECT_TRUE(d.isInline());
  in.assign(in.size(), 'z');  // the input may be reused: inline args do not point into it
  ASSERT_EQ(d.args().size(), 3u);
  EXPECT_EQ(d.args()[1], "a b");
  EXPECT_EQ(d.args()[2], "c");
}

// ---- large inputs -----------------------------------------------------------------------------

std::string eightMegabyteSet() {
  std::string value(8 * 1024 * 1024, 'v');
  for (size_t i = 0; i < value.size(); i += 4093) value[i] = static_cast<char>('a' + i % 26);
  return value;
}

TEST(RequestDecoder, EightMegabyteBulkFedOneByteAtATime) {
  const std::string value = eightMegabyteSet();
  const std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" + bulk(value) + "*1\r\n$4\r\nPING\r\n";
  const auto r = test::feedRequests(in, test::bytePlan());
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_EQ(r.last, Status::kIncomplete);
  EXPECT_EQ(r.leftover, 0u);
  EXPECT_EQ(r.consumed[0], in.size() - 14);
  ASSERT_EQ(r.commands[0].size(), 3u);
  EXPECT_TRUE(r.commands[0][2] == value);
  EXPECT_EQ(r.commands[1], std::vector<std::string>{"PING"});
}

TEST(RequestDecoder, EightMegabyteBulkFedInRandomChunks) {
  const std::string value = eightMegabyteSet();
  const std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" + bulk(value);
  for (const size_t max_chunk : {7u, 1000u, 100000u}) {
    const auto r = test::feedRequests(in, test::randomPlan(42, max_chunk));
    ASSERT_EQ(r.commands.size(), 1u);
    EXPECT_EQ(r.consumed[0], in.size());
    EXPECT_TRUE(r.commands[0][2] == value);
  }
}

TEST(RequestDecoder, BytesNeededHintWhileWaitingForPayload) {
  RequestDecoder d;
  size_t consumed = 0;
  EXPECT_EQ(d.bytesNeededHint(), 0u);
  const std::string head = "*2\r\n$3\r\nSET\r\n$100\r\n0123456789";
  ASSERT_EQ(d.decode(head, &consumed), Status::kIncomplete);
  EXPECT_EQ(d.bytesNeededHint(), 92u);  // 90 payload bytes + CRLF
  ASSERT_EQ(d.decode(head + std::string(90, 'x') + "\r", &consumed), Status::kIncomplete);
  EXPECT_EQ(d.bytesNeededHint(), 1u);
  ASSERT_EQ(d.decode(head + std::string(90, 'x') + "\r\n", &consumed), Status::kOk);
  EXPECT_EQ(d.bytesNeededHint(), 0u);
}

// ---- garbage and round trips ------------------------------------------------------------------

std::string randomInput(std::mt19937& rng) {
  static constexpr std::string_view kAlphabet = "*$\r\n0123456789-+ \"'\\xabcPING\t";
  const size_t len = std::uniform_int_distribution<size_t>(0, 120)(rng);
  std::string s;
  for (size_t i = 0; i < len; ++i) {
    if (rng() % 4 == 0) {
      s += static_cast<char>(rng() & 0xff);
    } else {
      s += kAlphabet[rng() % kAlphabet.size()];
    }
  }
  return s;
}

TEST(RequestDecoder, RandomBytesNeverCrashAndDoNotDependOnFragmentation) {
  std::mt19937 rng(2024);
  const Limits small{.max_bulk_len = 20, .max_array_len = 5, .max_inline_len = 40};
  for (int i = 0; i < 3000; ++i) {
    const std::string in = randomInput(rng);
    const Limits& limits = i % 2 == 0 ? small : Limits{};
    const auto whole = test::feedRequests(in, test::wholePlan(), limits);
    ASSERT_EQ(test::feedRequests(in, test::bytePlan(), limits), whole) << i;
    ASSERT_EQ(test::feedRequests(in, test::randomPlan(static_cast<uint32_t>(i), 9), limits), whole)
        << i;
  }
}

TEST(RequestDecoder, AppendCommandRoundTrips) {
  const std::vector<std::vector<std::string>> commands = {
      {"PING"},
      {"SET", "key", "value"},
      {"SET", "", std::string("\r\n\0*$", 5)},
      {"MSET", "a", "1", "b", "2", "c", std::string(300, 'x')},
  };
  std::string wire;
  RequestScript script;
  for (const auto& c : commands) {
    const std::vector<std::string_view> views(c.begin(), c.end());
    std::string one;
    appendCommand(one, views);
    script.ok(one, c);
    wire += one;
  }
  EXPECT_EQ(script.input(), wire);
  script.check();
}

}  // namespace
}  // namespace slotproxy::resp
