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

TEST(FanOut, SameValuesIsOneNodesReplyWhenEveryPrimarySaysTheSame) {
  // The pairs come in each node's own order; RESP2 arrays or RESP3 maps.
  const std::string a = "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$4\r\nsave\r\n$0\r\n\r\n";
  const std::string b = "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n";
  EXPECT_EQ(merged(Merge::kSameValues, {a, b, a}), a);
  const std::string map = "%1\r\n$4\r\nsave\r\n$0\r\n\r\n";
  EXPECT_EQ(merged(Merge::kSameValues, {map, map}), map);
  EXPECT_EQ(merged(Merge::kSameValues, {"*0\r\n", "*0\r\n"}), "*0\r\n");

  // A value that differs, or a parameter only some nodes have: named.
  const std::string c = "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$9\r\nmaxmemory\r\n$2\r\n10\r\n";
  EXPECT_EQ(merged(Merge::kSameValues, {a, c}),
            "-ERR slotproxy: CONFIG GET: 'maxmemory' is not the same on every primary; ask the "
            "nodes directly\r\n");
  const std::string d = "*2\r\n$4\r\nsave\r\n$0\r\n\r\n";
  for (const auto& pair : {std::vector<std::string>{a, d}, std::vector<std::string>{d, a}}) {
    EXPECT_EQ(merged(Merge::kSameValues, pair),
              "-ERR slotproxy: CONFIG GET: 'maxmemory' is not the same on every primary; ask "
              "the nodes directly\r\n");
  }
  // A name with CR LF in it stays on one line.
  const std::string e = "*2\r\n$4\r\na\r\nb\r\n$1\r\n1\r\n";
  const std::string f = "*2\r\n$4\r\na\r\nb\r\n$1\r\n2\r\n";
  EXPECT_EQ(merged(Merge::kSameValues, {e, f}),
            "-ERR slotproxy: CONFIG GET: 'a  b' is not the same on every primary; ask the nodes "
            "directly\r\n");

  // Not pairs of a name and a value.
  EXPECT_EQ(merged(Merge::kSameValues, {"*1\r\n$1\r\na\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSameValues, {"*2\r\n:1\r\n$1\r\na\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSameValues, {a, ":1\r\n"}), kUnexpected);
  EXPECT_EQ(merged(Merge::kSameValues, {}), kUnexpected);
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
