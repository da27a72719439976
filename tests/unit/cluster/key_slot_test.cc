#include "proxy/cluster/key_slot.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace slotproxy::cluster {
namespace {

using namespace std::string_view_literals;

// Every expected slot below was checked once against redis-server 7.0.15's CLUSTER KEYSLOT.

TEST(Crc16, MatchesTheRedisClusterSpecTestVector) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(crc16(""), 0);
}

TEST(KeySlot, MatchesRedisForPlainKeys) {
  EXPECT_EQ(keySlot("foo"), 12182);
  EXPECT_EQ(keySlot("bar"), 5061);
  EXPECT_EQ(keySlot("hello"), 866);
  EXPECT_EQ(keySlot("123456789"), 12739);  // 0x31C3 & 0x3FFF
  EXPECT_EQ(keySlot("user1000"), 3443);
}

TEST(KeySlot, HashTagsPutKeysInTheSameSlot) {
  EXPECT_EQ(keySlot("{user1000}.following"), 3443);
  EXPECT_EQ(keySlot("{user1000}.followers"), 3443);
  EXPECT_EQ(keySlot("a{b}"), 3300);
  EXPECT_EQ(keySlot("a{b}"), keySlot("b"));
}

TEST(KeySlot, EmptyHashTagHashesTheWholeKey) {
  EXPECT_EQ(keySlot("foo{}{bar}"), 8363);
  EXPECT_NE(keySlot("foo{}{bar}"), keySlot("bar"));
  EXPECT_EQ(keySlot("{}"), 15257);
}

TEST(KeySlot, TagIsBetweenTheFirstOpenAndTheFirstCloseAfterIt) {
  EXPECT_EQ(keySlot("foo{{bar}}zap"), 4015);
  EXPECT_EQ(keySlot("foo{{bar}}zap"), keySlot("{bar"));
  EXPECT_EQ(keySlot("foo{bar}{zap}"), 5061);  // "bar"
  EXPECT_EQ(keySlot("}{x}"), 16287);          // a '}' before the '{' does not close anything
  EXPECT_EQ(keySlot("}{x}"), keySlot("x"));
}

TEST(KeySlot, UnclosedTagHashesTheWholeKey) { EXPECT_EQ(keySlot("foo{"), 7673); }

TEST(KeySlot, EmptyKeyIsSlotZero) { EXPECT_EQ(keySlot(""), 0); }

TEST(KeySlot, BinaryKeysHashEveryByteIncludingNul) {
  EXPECT_EQ(keySlot("a\0b"sv), 8383);
  EXPECT_EQ(keySlot("\0\xff\x01"sv), 5086);
  EXPECT_EQ(keySlot("key\0with\0nuls"sv), 7852);
  EXPECT_EQ(keySlot("{a\0b}zzz"sv), 8383);
  EXPECT_EQ(keySlot("\0"sv), 0);
  // The NUL must not end the key: "a" alone is a different slot.
  EXPECT_NE(keySlot("a\0b"sv), keySlot("a"));
}

TEST(KeySlot, TaggedKeyHashesLikeItsTag) {
  for (int i = 0; i < 20000; ++i) {
    const std::string tag = std::to_string(i);
    ASSERT_EQ(keySlot("{" + tag + "}:suffix"), keySlot(tag)) << tag;
    ASSERT_EQ(keySlot("prefix{" + tag + "}"), keySlot(tag)) << tag;
  }
}

}  // namespace
}  // namespace slotproxy::cluster
