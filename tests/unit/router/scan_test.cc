// The cluster-wide SCAN cursor: shard in the low bits, the node's cursor above (no sockets).

#include "proxy/router/scan.h"

#include <gtest/gtest.h>

namespace slotproxy::router {
namespace {

TEST(ScanCursorTest, ZeroStartsTheFirstShardAtItsStart) {
  ScanCursor c{7, 7};
  ASSERT_TRUE(parseScanCursor("0", &c));
  EXPECT_EQ(c.shard, 0u);
  EXPECT_EQ(c.node_cursor, 0u);
}

TEST(ScanCursorTest, ACursorRoundTripsThroughNext) {
  uint64_t next = 0;
  ASSERT_TRUE(nextScanCursor(2, 3, 12345, &next));
  EXPECT_EQ(next, (uint64_t{12345} << kScanShardBits) | 2);
  ScanCursor c;
  ASSERT_TRUE(parseScanCursor(std::to_string(next), &c));
  EXPECT_EQ(c.shard, 2u);
  EXPECT_EQ(c.node_cursor, 12345u);
}

TEST(ScanCursorTest, AFinishedNodeMovesToTheNextShardAndTheLastOneEndsTheScan) {
  uint64_t next = 99;
  ASSERT_TRUE(nextScanCursor(0, 3, 0, &next));
  EXPECT_EQ(next, 1u);  // shard 1, from its start
  ASSERT_TRUE(nextScanCursor(1, 3, 0, &next));
  EXPECT_EQ(next, 2u);
  ASSERT_TRUE(nextScanCursor(2, 3, 0, &next));
  EXPECT_EQ(next, 0u);  // done, as Redis says it
  ASSERT_TRUE(nextScanCursor(0, 1, 0, &next));
  EXPECT_EQ(next, 0u);
}

TEST(ScanCursorTest, TheLargestPackableNodeCursorAndOneTooLarge) {
  const uint64_t largest = UINT64_MAX >> kScanShardBits;
  uint64_t next = 0;
  ASSERT_TRUE(nextScanCursor(5, 6, largest, &next));
  ScanCursor c;
  ASSERT_TRUE(parseScanCursor(std::to_string(next), &c));
  EXPECT_EQ(c.shard, 5u);
  EXPECT_EQ(c.node_cursor, largest);
  EXPECT_FALSE(nextScanCursor(5, 6, largest + 1, &next));
}

TEST(ScanCursorTest, GarbageIsAnInvalidCursor) {
  ScanCursor c;
  for (const char* bad : {"", "-1", "1x", " 1", "abc", "18446744073709551616", "+5"}) {
    EXPECT_FALSE(parseScanCursor(bad, &c)) << bad;
  }
  EXPECT_TRUE(parseScanCursor("18446744073709551615", &c));
}

}  // namespace
}  // namespace slotproxy::router
