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

// The table-driven crc16 (two bytes per step) against the bit-at-a-time definition, for every
// length up to 64 and every byte value.
TEST(Crc16, EqualsTheBitwiseDefinitionForAnyInput) {
  const auto bitwise = [](std::string_view data) {
    uint16_t crc = 0;
    for (const char c : data) {
      crc = static_cast<uint16_t>(crc ^ (static_cast<uint8_t>(c) << 8));
      for (int bit = 0; bit < 8; ++bit) {
        crc = static_cast<uint16_t>((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
      }
    }
    return crc;
  };
  std::string data;
  uint32_t seed = 12345;
  for (size_t len = 0; len <= 64; ++len) {
    for (int round = 0; round < 8; ++round) {
      data.clear();
      for (size_t i = 0; i < len; ++i) {
        seed = seed * 1103515245u + 12345u;
        data.push_back(static_cast<char>(seed >> 16));
      }
      ASSERT_EQ(crc16(data), bitwise(data)) << "length " << len;
    }
  }
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    ASSERT_EQ(crc16(one), bitwise(one)) << b;
    ASSERT_EQ(crc16(one + one), bitwise(one + one)) << b;
  }
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
