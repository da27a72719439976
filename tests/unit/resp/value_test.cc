#include <gtest/gtest.h>

#include <string>

#include "proxy/resp/decoder.h"

namespace slotproxy::resp {
namespace {

TEST(ParseValue, ScalarsKeepPayloadAndRaw) {
  Value v;
  ASSERT_TRUE(parseValue("+OK\r\n", &v));
  EXPECT_EQ(v.type, Type::kSimpleString);
  EXPECT_EQ(v.str, "OK");
  EXPECT_EQ(v.raw, "+OK\r\n");
  EXPECT_FALSE(v.is_null);

  ASSERT_TRUE(parseValue("-MOVED 3999 127.0.0.1:6381\r\n", &v));
  EXPECT_EQ(v.type, Type::kError);
  EXPECT_EQ(v.str, "MOVED 3999 127.0.0.1:6381");

  ASSERT_TRUE(parseValue(":-42\r\n", &v));
  EXPECT_EQ(v.type, Type::kInteger);
  EXPECT_EQ(v.integer, -42);
  EXPECT_EQ(v.str, "-42");

  ASSERT_TRUE(parseValue(":9223372036854775807\r\n", &v));
  EXPECT_EQ(v.integer, INT64_MAX);

  ASSERT_TRUE(parseValue("#t\r\n", &v));
  EXPECT_EQ(v.type, Type::kBoolean);
  EXPECT_EQ(v.integer, 1);
  ASSERT_TRUE(parseValue("#f\r\n", &v));
  EXPECT_EQ(v.integer, 0);

  ASSERT_TRUE(parseValue(",1.5e3\r\n", &v));
  EXPECT_EQ(v.type, Type::kDouble);
  EXPECT_EQ(v.str, "1.5e3");

  ASSERT_TRUE(parseValue("(-123456789012345678901234567890\r\n", &v));
  EXPECT_EQ(v.type, Type::kBigNumber);
  EXPECT_EQ(v.str, "-123456789012345678901234567890");

  ASSERT_TRUE(parseValue("$5\r\nhe\r\no\r\n", &v));
  EXPECT_EQ(v.type, Type::kBulkString);
  EXPECT_EQ(v.str, "he\r\no");

  ASSERT_TRUE(parseValue("!10\r\nERR broken\r\n", &v));
  EXPECT_EQ(v.type, Type::kBlobError);
  EXPECT_EQ(v.str, "ERR broken");
}

TEST(ParseValue, VerbatimKeepsFormatPrefix) {
  Value v;
  ASSERT_TRUE(parseValue("=15\r\ntxt:Some string\r\n", &v));
  EXPECT_EQ(v.type, Type::kVerbatim);
  EXPECT_EQ(v.str, "txt:Some string");
}

TEST(ParseValue, NullsKeepTheirEncoding) {
  Value v;
  ASSERT_TRUE(parseValue("$-1\r\n", &v));
  EXPECT_EQ(v.type, Type::kBulkString);
  EXPECT_TRUE(v.is_null);
  EXPECT_EQ(v.str, "");
  ASSERT_TRUE(parseValue("*-1\r\n", &v));
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_TRUE(v.is_null);
  EXPECT_TRUE(v.elements.empty());
  ASSERT_TRUE(parseValue("_\r\n", &v));
  EXPECT_EQ(v.type, Type::kNull);
  EXPECT_TRUE(v.is_null);
  ASSERT_TRUE(parseValue("*0\r\n", &v));
  EXPECT_FALSE(v.is_null);
}

TEST(ParseValue, ClusterSlotsReplyTree) {
  const std::string frame =
      "*1\r\n*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:30001\r\n$40\r\n"
      "09dbe9720cda62f7865eabc5fd8857c5d2678366\r\n*3\r\n$9\r\n127.0.0.1\r\n:30004\r\n$40\r\n"
      "821d8ca00d7ccf931ed3ffc7e3db0599d2271abf\r\n";
  Value v;
  ASSERT_TRUE(parseValue(frame, &v));
  EXPECT_EQ(v.raw, frame);
  ASSERT_EQ(v.elements.size(), 1u);
  const Value& range = v.elements[0];
  ASSERT_EQ(range.elements.size(), 4u);
  EXPECT_EQ(range.elements[0].integer, 0);
  EXPECT_EQ(range.elements[1].integer, 5460);
  EXPECT_EQ(range.elements[1].raw, ":5460\r\n");
  const Value& master = range.elements[2];
  ASSERT_EQ(master.elements.size(), 3u);
  EXPECT_EQ(master.elements[0].str, "127.0.0.1");
  EXPECT_EQ(master.elements[1].integer, 30001);
  EXPECT_EQ(master.elements[2].str, "09dbe9720cda62f7865eabc5fd8857c5d2678366");
  EXPECT_EQ(master.raw.substr(0, 4), "*3\r\n");
  EXPECT_EQ(master.raw.size(), 4 + 15 + 8 + 47u);
  // Views point into the frame.
  EXPECT_EQ(master.raw.data(), frame.data() + 19);
}

TEST(ParseValue, NestedMapsHoldKeyValuePairs) {
  const std::string frame =
      "%2\r\n+server\r\n%2\r\n+name\r\n$5\r\nredis\r\n+proto\r\n:3\r\n+modules\r\n~0\r\n";
  Value v;
  ASSERT_TRUE(parseValue(frame, &v));
  EXPECT_EQ(v.type, Type::kMap);
  ASSERT_EQ(v.elements.size(), 4u);
  EXPECT_EQ(v.elements[0].str, "server");
  const Value& inner = v.elements[1];
  EXPECT_EQ(inner.type, Type::kMap);
  ASSERT_EQ(inner.elements.size(), 4u);
  EXPECT_EQ(inner.elements[1].str, "redis");
  EXPECT_EQ(inner.elements[3].integer, 3);
  EXPECT_EQ(inner.raw, "%2\r\n+name\r\n$5\r\nredis\r\n+proto\r\n:3\r\n");
  EXPECT_EQ(v.elements[3].type, Type::kSet);
  EXPECT_TRUE(v.elements[3].elements.empty());
}

TEST(ParseValue, AttributesAreCollectedAndIncludedInRaw) {
  const std::string frame = "|1\r\n+ttl\r\n:3600\r\n*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n";
  Value v;
  ASSERT_TRUE(parseValue(frame, &v));
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_EQ(v.raw, frame);
  ASSERT_EQ(v.attributes.size(), 2u);
  EXPECT_EQ(v.attributes[0].str, "ttl");
  EXPECT_EQ(v.attributes[1].integer, 3600);
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].raw, "|1\r\n+a\r\n+b\r\n:1\r\n");
  EXPECT_EQ(v.elements[0].integer, 1);
  ASSERT_EQ(v.elements[0].attributes.size(), 2u);
  EXPECT_EQ(v.elements[0].attributes[1].str, "b");
  EXPECT_TRUE(v.elements[1].attributes.empty());
}

TEST(ParseValue, PushFrame) {
  Value v;
  ASSERT_TRUE(parseValue(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", &v));
  EXPECT_EQ(v.type, Type::kPush);
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[2].str, "hi");
}

TEST(ParseValue, RejectsIncompleteTrailingAndMalformedFrames) {
  Value v;
  for (const char* bad : {"", "+OK", "+OK\r", "$5\r\nhell\r\n", "*2\r\n:1\r\n", "+OK\r\n+OK\r\n",
                          "|1\r\n+a\r\n+b\r\n", "*1\r\n", "$3\r\nabc\r\nx", ":1x\r\n", "x\r\n"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parseValue(bad, &v));
  }
  EXPECT_FALSE(parseValue("+OK\r\n", nullptr));
}

TEST(ParseValue, EnforcesLimits) {
  Value v;
  const Limits limits{.max_bulk_len = 3, .max_array_len = 2, .max_depth = 2};
  EXPECT_TRUE(parseValue("$3\r\nabc\r\n", &v, limits));
  EXPECT_FALSE(parseValue("$4\r\nabcd\r\n", &v, limits));
  EXPECT_TRUE(parseValue("*2\r\n:1\r\n:2\r\n", &v, limits));
  EXPECT_FALSE(parseValue("*3\r\n:1\r\n:2\r\n:3\r\n", &v, limits));
  EXPECT_TRUE(parseValue("%1\r\n:1\r\n:2\r\n", &v, limits));
  EXPECT_FALSE(parseValue("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", &v, limits));
  EXPECT_TRUE(parseValue("*1\r\n*1\r\n:1\r\n", &v, limits));
  EXPECT_FALSE(parseValue("*1\r\n*1\r\n*1\r\n:1\r\n", &v, limits));
  EXPECT_FALSE(parseValue("*1\r\n|0\r\n:1\r\n", &v, Limits{.max_depth = 1}));
}

TEST(ParseValue, HugeDeclaredCountInShortFrameFailsWithoutHugeAllocation) {
  Value v;
  EXPECT_FALSE(parseValue("*1048576\r\n:1\r\n", &v));
  EXPECT_FALSE(parseValue("%524288\r\n", &v));
}

TEST(ParseValue, ReusedOutputIsCleared) {
  Value v;
  ASSERT_TRUE(parseValue("*2\r\n:1\r\n:2\r\n", &v));
  ASSERT_TRUE(parseValue("+OK\r\n", &v));
  EXPECT_TRUE(v.elements.empty());
  EXPECT_EQ(v.integer, 0);
}

TEST(ParseValue, DeepNestingUpToTheLimit) {
  std::string frame;
  for (int i = 0; i < 32; ++i) frame += "*1\r\n";
  frame += "_\r\n";
  Value v;
  ASSERT_TRUE(parseValue(frame, &v));
  const Value* p = &v;
  for (int i = 0; i < 32; ++i) {
    ASSERT_EQ(p->elements.size(), 1u);
    p = &p->elements[0];
  }
  EXPECT_EQ(p->type, Type::kNull);
  EXPECT_FALSE(parseValue("*1\r\n" + frame, &v));
}

}  // namespace
}  // namespace slotproxy::resp
