#include "proxy/router/fan_out.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace slotproxy::router {
namespace {

using command::Merge;

std::string merged(Merge kind, const std::vector<std::string>& replies) {
  std::string out;
  mergeFanOut(kind, replies, &out);
  return out;
}

constexpr const char* kUnexpected =
    "-ERR slotproxy: unexpected reply from a primary while merging\r\n";

TEST(FanOut, AnErrorFromAnyPrimaryIsTheReply) {
  EXPECT_EQ(merged(Merge::kSumIntegers, {":1\r\n", "-LOADING busy\r\n", "-ERR other\r\n"}),
            "-LOADING busy\r\n");
  EXPECT_EQ(merged(Merge::kSumPairs, {"*0\r\n", "-ERR x\r\n"}), "-ERR x\r\n");
}

TEST(FanOut, SumIntegersAddsAndRefusesOverflowAndOtherTypes) {
  EXPECT_EQ(merged(Merge::kSumIntegers, {":1\r\n", ":20\r\n", ":300\r\n"}), ":321\r\n");
  EXPECT_EQ(merged(Merge::kSumIntegers, {":9223372036854775807\r\n", ":1\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSumIntegers, {":1\r\n", "+OK\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSumIntegers, {":1\r\n", ":x\r\n"}),
            "-ERR slotproxy: malformed reply while merging\r\n");
}

TEST(FanOut, ConcatArraysKeepsEveryElement) {
  EXPECT_EQ(merged(Merge::kConcatArrays, {"*1\r\n$1\r\na\r\n", "*0\r\n", "*1\r\n$1\r\na\r\n"}),
            "*2\r\n$1\r\na\r\n$1\r\na\r\n");
  EXPECT_EQ(merged(Merge::kConcatArrays, {"*0\r\n", ":1\r\n"}), kUnexpected);
}

// PUBSUB CHANNELS: a channel with subscribers on two primaries is listed once.
TEST(FanOut, UnionArraysListsEachElementOnceInFirstSeenOrder) {
  EXPECT_EQ(merged(Merge::kUnionArrays,
                   {"*2\r\n$1\r\nb\r\n$1\r\na\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n$1\r\nc\r\n"}),
            "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n");
  EXPECT_EQ(merged(Merge::kUnionArrays, {"*0\r\n", "*0\r\n"}), "*0\r\n");
  EXPECT_EQ(merged(Merge::kUnionArrays, {"*0\r\n", "$1\r\na\r\n"}), kUnexpected);
}

// PUBSUB NUMSUB a b: every primary answers [a, n, b, m] for the same names; counts add up.
TEST(FanOut, SumPairsAddsTheCountOfEachName) {
  EXPECT_EQ(merged(Merge::kSumPairs, {"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:0\r\n",
                                      "*4\r\n$1\r\na\r\n:2\r\n$1\r\nb\r\n:5\r\n"}),
            "*4\r\n$1\r\na\r\n:3\r\n$1\r\nb\r\n:5\r\n");
  EXPECT_EQ(merged(Merge::kSumPairs, {"*0\r\n", "*0\r\n"}), "*0\r\n");
  // Names that differ, lengths that differ, an odd length, a count that is not an integer,
  // an overflowing sum: never a made-up count.
  EXPECT_EQ(merged(Merge::kSumPairs, {"*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n$1\r\nb\r\n:1\r\n"}),
            kUnexpected);
  EXPECT_EQ(merged(Merge::kSumPairs, {"*2\r\n$1\r\na\r\n:1\r\n", "*0\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSumPairs, {"*1\r\n$1\r\na\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSumPairs, {"*2\r\n$1\r\na\r\n$1\r\n1\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSumPairs,
                   {"*2\r\n$1\r\na\r\n:9223372036854775807\r\n", "*2\r\n$1\r\na\r\n:1\r\n"}),
            kUnexpected);
  EXPECT_EQ(merged(Merge::kSumPairs, {}), kUnexpected);
}

TEST(FanOut, AndIntegerArraysIsOneOnlyWhereEveryPrimarySaysOne) {
  EXPECT_EQ(
      merged(Merge::kAndIntegerArrays, {"*3\r\n:1\r\n:1\r\n:0\r\n", "*3\r\n:1\r\n:0\r\n:0\r\n"}),
      "*3\r\n:1\r\n:0\r\n:0\r\n");
  EXPECT_EQ(merged(Merge::kAndIntegerArrays, {"*1\r\n:1\r\n", "*2\r\n:1\r\n:1\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kAndIntegerArrays, {"*1\r\n+OK\r\n"}), kUnexpected);
}

TEST(FanOut, AllOkAndFirstReplyGiveTheFirstReply) {
  EXPECT_EQ(merged(Merge::kAllOk, {"+OK\r\n", "+OK\r\n"}), "+OK\r\n");
  EXPECT_EQ(merged(Merge::kFirstReply, {"$2\r\nab\r\n", "$2\r\nab\r\n"}), "$2\r\nab\r\n");
}

}  // namespace
}  // namespace slotproxy::router
