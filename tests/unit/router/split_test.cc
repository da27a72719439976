#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cluster/key_slot.h"
#include "proxy/router/router.h"

namespace slotproxy::router {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// Slots (checked against redis-server 7.0.15): foo 12182, bar 5061, hello 866, a 15495, b 3300,
// c 7365.

// A split command: routed (must be kSplit) and planned.
struct Split {
  std::vector<std::string_view> args;
  std::vector<uint32_t> keys;
  SplitPlan plan;
  bool planned = false;

  explicit Split(std::initializer_list<std::string_view> list) : args(list) {
    const Route r = route(args, &keys);
    EXPECT_EQ(r.kind, RouteKind::kSplit) << r.error;
    if (r.cmd != nullptr) planned = planSplit(*r.cmd, args, keys, &plan);
  }

  std::string part(size_t i) const {
    std::string out;
    encodePart(args, keys, plan, plan.parts.at(i), &out);
    return out;
  }

  std::string merge(const std::vector<std::string>& replies) const {
    std::string out;
    mergeReplies(plan, replies, &out);
    return out;
  }
};

void expectPart(const SplitPart& part, uint16_t slot, std::vector<uint32_t> keys) {
  EXPECT_EQ(part.slot, slot);
  EXPECT_EQ(part.keys, keys);
}

TEST(PlanSplit, MgetGroupsKeysBySlotInOrderOfFirstAppearance) {
  const Split s({"MGET", "foo", "bar", "hello", "{foo}x"});
  ASSERT_TRUE(s.planned);
  EXPECT_EQ(s.plan.kind, SplitKind::kMget);
  EXPECT_EQ(s.plan.key_count, 4u);
  ASSERT_EQ(s.plan.parts.size(), 3u);
  expectPart(s.plan.parts[0], 12182, {0, 3});
  expectPart(s.plan.parts[1], 5061, {1});
  expectPart(s.plan.parts[2], 866, {2});
  EXPECT_EQ(s.part(0), "*3\r\n$4\r\nMGET\r\n$3\r\nfoo\r\n$6\r\n{foo}x\r\n");
  EXPECT_EQ(s.part(1), "*2\r\n$4\r\nMGET\r\n$3\r\nbar\r\n");
  EXPECT_EQ(s.part(2), "*2\r\n$4\r\nMGET\r\n$5\r\nhello\r\n");
}

TEST(PlanSplit, MsetKeepsEachValueWithItsKey) {
  const Split s({"MSET", "foo", "1", "bar", "two", "{foo}y", "3"});
  ASSERT_TRUE(s.planned);
  EXPECT_EQ(s.plan.kind, SplitKind::kMset);
  EXPECT_EQ(s.plan.key_count, 3u);
  ASSERT_EQ(s.plan.parts.size(), 2u);
  expectPart(s.plan.parts[0], 12182, {0, 2});
  expectPart(s.plan.parts[1], 5061, {1});
  EXPECT_EQ(s.part(0), "*5\r\n$4\r\nMSET\r\n$3\r\nfoo\r\n$1\r\n1\r\n$6\r\n{foo}y\r\n$1\r\n3\r\n");
  EXPECT_EQ(s.part(1), "*3\r\n$4\r\nMSET\r\n$3\r\nbar\r\n$3\r\ntwo\r\n");
}

TEST(PlanSplit, MsetBinaryValuesAreCopiedVerbatim) {
  const Split s({"mset", "foo", "a\r\nb\0c"sv, "bar", ""});
  ASSERT_TRUE(s.planned);
  EXPECT_EQ(s.part(0), "*3\r\n$4\r\nmset\r\n$3\r\nfoo\r\n$6\r\na\r\nb\0c\r\n"s);
  EXPECT_EQ(s.part(1), "*3\r\n$4\r\nmset\r\n$3\r\nbar\r\n$0\r\n\r\n");
}

TEST(PlanSplit, DelSumsAndKeepsTheClientsCommandName) {
  const Split s({"del", "a", "b", "c", "a"});
  ASSERT_TRUE(s.planned);
  EXPECT_EQ(s.plan.kind, SplitKind::kSumIntegers);
  EXPECT_EQ(s.plan.key_count, 4u);
  ASSERT_EQ(s.plan.parts.size(), 3u);
  expectPart(s.plan.parts[0], 15495, {0, 3});
  expectPart(s.plan.parts[1], 3300, {1});
  expectPart(s.plan.parts[2], 7365, {2});
  EXPECT_EQ(s.part(0), "*3\r\n$3\r\ndel\r\n$1\r\na\r\n$1\r\na\r\n");
  EXPECT_EQ(s.part(1), "*2\r\n$3\r\ndel\r\n$1\r\nb\r\n");
  EXPECT_EQ(s.part(2), "*2\r\n$3\r\ndel\r\n$1\r\nc\r\n");
}

TEST(PlanSplit, UnlinkExistsTouchSumIntegers) {
  for (const std::string_view name : {"UNLINK", "EXISTS", "TOUCH"}) {
    const Split s({name, "foo", "bar"});
    ASSERT_TRUE(s.planned) << name;
    EXPECT_EQ(s.plan.kind, SplitKind::kSumIntegers) << name;
    EXPECT_EQ(s.part(1), "*2\r\n$" + std::to_string(name.size()) + "\r\n" + std::string(name) +
                             "\r\n$3\r\nbar\r\n");
  }
}

TEST(PlanSplit, ReturnsFalseWhenAllKeysShareOneSlot) {
  const std::vector<std::string_view> args = {"MGET", "{a}1", "{a}2", "a"};
  std::vector<uint32_t> keys;
  const Route r = route(args, &keys);
  ASSERT_EQ(r.kind, RouteKind::kSlot);
  ASSERT_NE(r.cmd, nullptr);
  SplitPlan plan;
  plan.parts.push_back({1, {9}});  // stale content is replaced
  EXPECT_FALSE(planSplit(*r.cmd, args, keys, &plan));
  ASSERT_EQ(plan.parts.size(), 1u);
  expectPart(plan.parts[0], 15495, {0, 1, 2});
  EXPECT_EQ(plan.key_count, 3u);
}

TEST(EncodePart, AppendsToWhatIsAlreadyThere) {
  const Split s({"MGET", "foo", "bar"});
  std::string out = "+PREVIOUS\r\n";
  encodePart(s.args, s.keys, s.plan, s.plan.parts[1], &out);
  EXPECT_EQ(out, "+PREVIOUS\r\n*2\r\n$4\r\nMGET\r\n$3\r\nbar\r\n");
}

// ------------------------------------------------------------------------------------------------
// mergeReplies

TEST(MergeReplies, MgetValuesFollowTheClientsKeyOrder) {
  // Keys: foo bar hello {foo}x -> parts {foo, {foo}x}, {bar}, {hello}.
  const Split s({"MGET", "foo", "bar", "hello", "{foo}x"});
  EXPECT_EQ(
      s.merge({"*2\r\n$2\r\nv0\r\n$-1\r\n", "*1\r\n$6\r\na\r\nb\0c\r\n"s, "*1\r\n$0\r\n\r\n"}),
      "*4\r\n$2\r\nv0\r\n$6\r\na\r\nb\0c\r\n$0\r\n\r\n$-1\r\n"s);
}

TEST(MergeReplies, MgetKeepsResp3Nulls) {
  const Split s({"MGET", "foo", "bar"});
  EXPECT_EQ(s.merge({"*1\r\n_\r\n", "*1\r\n$1\r\nb\r\n"}), "*2\r\n_\r\n$1\r\nb\r\n");
}

TEST(MergeReplies, MgetWithRepeatedKeys) {
  const Split s({"MGET", "bar", "foo", "bar"});
  // parts: {bar, bar} (keys 0, 2), {foo} (key 1)
  EXPECT_EQ(s.merge({"*2\r\n$1\r\n1\r\n$1\r\n1\r\n", "*1\r\n$1\r\n2\r\n"}),
            "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n");
}

TEST(MergeReplies, MsetAllOkIsOk) {
  const Split s({"MSET", "foo", "1", "bar", "2", "hello", "3"});
  EXPECT_EQ(s.merge({"+OK\r\n", "+OK\r\n", "+OK\r\n"}), "+OK\r\n");
}

TEST(MergeReplies, FirstErrorInPartOrderWins) {
  const Split mset({"MSET", "foo", "1", "bar", "2", "hello", "3"});
  EXPECT_EQ(mset.merge({"+OK\r\n", "-OOM command not allowed\r\n", "-ERR later\r\n"}),
            "-OOM command not allowed\r\n");
  const Split mget({"MGET", "foo", "bar", "hello"});
  EXPECT_EQ(mget.merge({"*1\r\n$1\r\na\r\n", "*1\r\n$1\r\nb\r\n", "-CLUSTERDOWN down\r\n"}),
            "-CLUSTERDOWN down\r\n");
  const Split del({"DEL", "foo", "bar"});
  EXPECT_EQ(del.merge({"!9\r\nERR blob!\r\n", "-ERR second\r\n"}), "!9\r\nERR blob!\r\n");
  EXPECT_EQ(del.merge({":1\r\n", "-MOVED 5061 10.0.0.2:6379\r\n"}),
            "-MOVED 5061 10.0.0.2:6379\r\n");
}

TEST(MergeReplies, SumsIntegers) {
  const Split del({"DEL", "a", "b", "c"});
  EXPECT_EQ(del.merge({":1\r\n", ":0\r\n", ":2\r\n"}), ":3\r\n");
  const Split exists({"EXISTS", "foo", "bar"});
  EXPECT_EQ(exists.merge({":0\r\n", ":0\r\n"}), ":0\r\n");
  EXPECT_EQ(exists.merge({":4000000000\r\n", ":4000000000\r\n"}), ":8000000000\r\n");
}

TEST(MergeReplies, MalformedPartsGiveAnError) {
  const std::string kSplitError = "-ERR slotproxy: unexpected reply to a split command part\r\n";
  const Split del({"DEL", "foo", "bar"});
  EXPECT_EQ(del.merge({":1\r\n", "+OK\r\n"}), kSplitError);
  EXPECT_EQ(del.merge({":1\r\n", ""}), kSplitError);
  EXPECT_EQ(del.merge({":1\r\n", ":1"}), kSplitError);  // truncated
  EXPECT_EQ(del.merge({"$1\r\n1\r\n", ":1\r\n"}), kSplitError);

  // A sum that does not fit in 64 bits (no node counts that far) is not wrapped around.
  EXPECT_EQ(del.merge({":9223372036854775807\r\n", ":1\r\n"}), kSplitError);
  EXPECT_EQ(del.merge({":-9223372036854775808\r\n", ":-1\r\n"}), kSplitError);

  const std::string kMgetError = "-ERR slotproxy: unexpected reply to a split MGET part\r\n";
  const Split mget({"MGET", "foo", "bar", "{foo}2"});
  EXPECT_EQ(mget.merge({"*1\r\n$1\r\na\r\n", "*1\r\n$1\r\nb\r\n"}), kMgetError);  // 1 of 2
  EXPECT_EQ(mget.merge({"*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n", "*1\r\n$1\r\nb\r\n"}),
            kMgetError);
  EXPECT_EQ(mget.merge({"*2\r\n$1\r\na\r\n$1\r\na\r\n", ":1\r\n"}), kMgetError);
  EXPECT_EQ(mget.merge({"*2\r\n$1\r\na\r\n$1\r\na\r\n", "*-1\r\n"}), kMgetError);
  EXPECT_EQ(mget.merge({"*2\r\n$1\r\na\r\n", "*1\r\n$1\r\nb\r\n"}), kMgetError);  // truncated
  EXPECT_EQ(mget.merge({"*2\r\n$1\r\na\r\n$1\r\na\r\n", ""}), kMgetError);
}

// A split MSET is +OK only when every part said +OK: any other part reply, even an empty or
// unparsable one, must not be reported as success.
TEST(MergeReplies, MsetPartThatIsNotOkGivesAnError) {
  const Split s({"MSET", "foo", "1", "bar", "2"});
  EXPECT_NE(s.merge({"+OK\r\n", ""}), "+OK\r\n");
  EXPECT_NE(s.merge({"+OK\r\n", ":1\r\n"}), "+OK\r\n");
  EXPECT_NE(s.merge({"+OK\r\n", "+QUEUED\r\n"}), "+OK\r\n");
  EXPECT_TRUE(s.merge({"+OK\r\n", "garbage"}).starts_with("-ERR "));
}

TEST(MergeReplies, AppendsToWhatIsAlreadyThere) {
  const Split s({"DEL", "foo", "bar"});
  std::string out = ":7\r\n";
  const std::vector<std::string> replies = {":1\r\n", ":1\r\n"};
  mergeReplies(s.plan, replies, &out);
  EXPECT_EQ(out, ":7\r\n:2\r\n");
}

}  // namespace
}  // namespace slotproxy::router
