// Subscription: when a subscribed client has left subscribed mode (no sockets).

#include "proxy/router/subscription.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace slotproxy::router {
namespace {

constexpr std::string_view kMessage = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n";
constexpr std::string_view kPmessage =
    "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n";
constexpr std::string_view kReply = "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";

void send(Subscription& s, std::vector<std::string_view> args) { s.sent(args); }

TEST(SubscriptionTest, MessagesAreNotReplies) {
  Subscription s;
  send(s, {"SUBSCRIBE", "ch"});
  EXPECT_EQ(s.repliesDue(), 1u);
  EXPECT_FALSE(s.received(kMessage));
  EXPECT_FALSE(s.received(kPmessage));
  EXPECT_EQ(s.repliesDue(), 1u);
  EXPECT_TRUE(s.received(kReply));
  EXPECT_EQ(s.repliesDue(), 0u);
  EXPECT_FALSE(s.leaving());
}

TEST(SubscriptionTest, LeavesWhenTheLastChannelAndPatternAreGoneAndAnswered) {
  Subscription s;
  send(s, {"subscribe", "a", "b"});
  send(s, {"PSUBSCRIBE", "p*"});
  EXPECT_EQ(s.repliesDue(), 3u);
  send(s, {"UNSUBSCRIBE"});  // a and b: two replies
  EXPECT_EQ(s.repliesDue(), 5u);
  EXPECT_FALSE(s.leaving());  // the pattern is still there
  send(s, {"PUNSUBSCRIBE", "p*"});
  EXPECT_TRUE(s.leaving());
  for (int i = 0; i < 5; ++i) {
    s.received(kReply);
    EXPECT_FALSE(s.done());
  }
  s.received(kReply);
  EXPECT_TRUE(s.done());
}

TEST(SubscriptionTest, UnsubscribeFromNothingStillAnswersOnce) {
  Subscription s;
  send(s, {"SUBSCRIBE", "a"});
  send(s, {"UNSUBSCRIBE", "a"});
  send(s, {"UNSUBSCRIBE"});  // nothing left: one reply with a nil channel
  EXPECT_EQ(s.repliesDue(), 3u);
}

TEST(SubscriptionTest, PingErrorsAndResetAnswerOnceAndResetLeaves) {
  Subscription s;
  send(s, {"SUBSCRIBE", "a", "a"});  // one reply per name given, duplicates included
  EXPECT_EQ(s.repliesDue(), 2u);
  send(s, {"PING"});
  send(s, {"GET", "k"});  // refused by Redis in subscribed mode: one error
  EXPECT_EQ(s.repliesDue(), 4u);
  EXPECT_FALSE(s.leaving());
  send(s, {"RESET"});
  EXPECT_TRUE(s.leaving());
  EXPECT_EQ(s.repliesDue(), 5u);
}

TEST(SubscriptionTest, UnsubscribingAChannelNeverSubscribedLeavesTheOthers) {
  Subscription s;
  send(s, {"SUBSCRIBE", "a"});
  send(s, {"UNSUBSCRIBE", "b"});
  EXPECT_FALSE(s.leaving());
  EXPECT_EQ(s.repliesDue(), 2u);
}

constexpr std::string_view kSsubscribeReply = "*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1\r\n";
// What a node sends for shard channel `a`, asked (SUNSUBSCRIBE) or not (its slot moved away).
constexpr std::string_view kSunsubscribeA = "*3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:0\r\n";

TEST(SubscriptionTest, ShardChannelsKeepTheClientSubscribedUntilSunsubscribed) {
  Subscription s;
  send(s, {"SSUBSCRIBE", "a", "b"});
  EXPECT_EQ(s.repliesDue(), 2u);
  EXPECT_FALSE(s.leaving());
  EXPECT_FALSE(s.received("*3\r\n$8\r\nsmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"));
  send(s, {"sunsubscribe", "a"});
  EXPECT_FALSE(s.leaving());  // b is still there
  send(s, {"SUNSUBSCRIBE"});  // b: one reply
  EXPECT_TRUE(s.leaving());
  EXPECT_EQ(s.repliesDue(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s.received(kSsubscribeReply));
  EXPECT_FALSE(s.done());
  EXPECT_TRUE(s.received(kSunsubscribeA));  // asked for: a reply
  EXPECT_TRUE(s.done());
}

TEST(SubscriptionTest, RefusedSsubscribeAnswersOnceAndSubscribesNothingNew) {
  Subscription s;
  send(s, {"SSUBSCRIBE", "a"});
  EXPECT_TRUE(s.received(kSsubscribeReply));
  send(s, {"SSUBSCRIBE", "a", "b", "c"});  // three replies due, unless refused
  send(s, {"PING"});
  EXPECT_EQ(s.repliesDue(), 4u);
  EXPECT_TRUE(s.received("-MOVED 15495 127.0.0.1:6380\r\n"));  // one error answers it all
  EXPECT_EQ(s.repliesDue(), 1u);
  EXPECT_TRUE(s.received("*2\r\n$4\r\npong\r\n$0\r\n\r\n"));
  EXPECT_EQ(s.repliesDue(), 0u);
  // b and c were never subscribed; a, subscribed before, still is.
  EXPECT_FALSE(s.leaving());
  send(s, {"SUNSUBSCRIBE", "a", "b"});
  EXPECT_TRUE(s.leaving());
  EXPECT_EQ(s.repliesDue(), 2u);
  EXPECT_TRUE(s.received("-MOVED 15495 127.0.0.1:6380\r\n"));  // also one error for both
  EXPECT_EQ(s.repliesDue(), 0u);
  EXPECT_FALSE(s.leaving());  // refused: a is still subscribed
  send(s, {"SUNSUBSCRIBE"});
  EXPECT_TRUE(s.leaving());
  EXPECT_TRUE(s.received("-MOVED 15495 127.0.0.1:6380\r\n"));
  EXPECT_FALSE(s.leaving());
  send(s, {"SUNSUBSCRIBE"});
  EXPECT_TRUE(s.received(kSunsubscribeA));
  EXPECT_TRUE(s.done());
}

TEST(SubscriptionTest, ShardChannelTheNodeDropsIsNotAReplyAndCanEndSubscribedMode) {
  Subscription s;
  send(s, {"SSUBSCRIBE", "a"});
  EXPECT_TRUE(s.received(kSsubscribeReply));
  EXPECT_FALSE(s.done());
  EXPECT_FALSE(s.received(kSunsubscribeA));  // the slot moved away: not asked for
  EXPECT_TRUE(s.done());
}

TEST(SubscriptionTest, ShardChannelTheNodeDropsLeavesRepliesDueAlone) {
  Subscription s;
  send(s, {"SUBSCRIBE", "x"});
  send(s, {"SSUBSCRIBE", "a"});
  send(s, {"PING"});
  EXPECT_TRUE(s.received(kReply));
  EXPECT_TRUE(s.received(kSsubscribeReply));
  EXPECT_FALSE(s.received(kSunsubscribeA));
  EXPECT_EQ(s.repliesDue(), 1u);  // the PONG
  EXPECT_FALSE(s.leaving());      // x
}

// isReply() tells, before the frame is applied, what received() will answer: the proxy's own
// resubscriptions swallow replies, never messages nor a channel the node drops.
TEST(SubscriptionTest, IsReplyAnswersAsReceivedWouldAndChangesNothing) {
  Subscription s;
  send(s, {"SSUBSCRIBE", "a"});
  const std::string_view smessage = "*3\r\n$8\r\nsmessage\r\n$1\r\na\r\n$2\r\nhi\r\n";
  for (const std::string_view frame : {kMessage, kPmessage, smessage}) {
    EXPECT_FALSE(s.isReply(frame)) << frame;
  }
  EXPECT_TRUE(s.isReply(kSsubscribeReply));
  EXPECT_TRUE(s.isReply("-MOVED 1 127.0.0.1:6379\r\n"));
  EXPECT_EQ(s.repliesDue(), 1u);  // (nothing applied)
  EXPECT_TRUE(s.received(kSsubscribeReply));
  EXPECT_FALSE(s.isReply(kSunsubscribeA));  // held, so the node dropped it
  EXPECT_EQ(s.shardChannels(), (std::unordered_set<std::string>{"a"}));
  EXPECT_FALSE(s.received(kSunsubscribeA));
  EXPECT_TRUE(s.shardChannels().empty());
  send(s, {"SUNSUBSCRIBE", "a"});
  EXPECT_TRUE(s.isReply(kSunsubscribeA));  // no longer held: the answer to that command
}

TEST(SubscriptionTest, Resp3PushFramesCountAsTheirRespTwoArrays) {
  Subscription s;
  const std::string_view subscribe[] = {"SUBSCRIBE", "a"};
  s.sent(subscribe);
  EXPECT_TRUE(s.received(">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"));
  EXPECT_EQ(s.repliesDue(), 0u);
  EXPECT_FALSE(s.received(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"));
  EXPECT_FALSE(s.received(">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\na\r\n$2\r\nhi\r\n"));
  const std::string_view ssubscribe[] = {"SSUBSCRIBE", "{s}x"};
  s.sent(ssubscribe);
  EXPECT_TRUE(s.received(">3\r\n$10\r\nssubscribe\r\n$4\r\n{s}x\r\n:1\r\n"));
  const std::string_view unsubscribe[] = {"UNSUBSCRIBE"};
  s.sent(unsubscribe);
  EXPECT_TRUE(s.received(">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"));
  EXPECT_FALSE(s.done());
  // The node drops the shard channel (its slot moved): not a reply, and nothing is left.
  EXPECT_FALSE(s.received(">3\r\n$12\r\nsunsubscribe\r\n$4\r\n{s}x\r\n:0\r\n"));
  EXPECT_TRUE(s.done());
}

TEST(SubscriptionTest, ShardCountCountsWhatIsHeldOnceTheCommandsSentApply) {
  Subscription s;
  send(s, {"SSUBSCRIBE", "a", "b"});
  send(s, {"SUBSCRIBE", "plain"});  // not a shard channel
  EXPECT_EQ(s.shardCount(), 2u);
  send(s, {"SUNSUBSCRIBE", "a"});
  EXPECT_EQ(s.shardCount(), 1u);
}

TEST(AddToShardCountTest, AddsToTheCountOfShardChannelRepliesInEitherProtocol) {
  std::string out;
  EXPECT_TRUE(addToShardCount("*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1\r\n", 2, &out));
  EXPECT_EQ(out, "*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:3\r\n");
  EXPECT_TRUE(addToShardCount(">3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:9\r\n", 1, &out));
  EXPECT_EQ(out, ">3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:10\r\n");
  // A null channel (SUNSUBSCRIBE with nothing held), RESP2 and RESP3.
  EXPECT_TRUE(addToShardCount("*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n", 4, &out));
  EXPECT_EQ(out, "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:4\r\n");
  EXPECT_TRUE(addToShardCount(">3\r\n$12\r\nsunsubscribe\r\n_\r\n:0\r\n", 4, &out));
  EXPECT_EQ(out, ">3\r\n$12\r\nsunsubscribe\r\n_\r\n:4\r\n");
  // A channel whose name looks like a count.
  EXPECT_TRUE(addToShardCount("*3\r\n$10\r\nssubscribe\r\n$5\r\nx\r\n:7\r\n:2\r\n", 1, &out));
  EXPECT_EQ(out, "*3\r\n$10\r\nssubscribe\r\n$5\r\nx\r\n:7\r\n:3\r\n");
}

TEST(AddToShardCountTest, LeavesEverythingElseAlone) {
  std::string out = "untouched";
  for (const std::string_view frame : {
           kMessage,
           kReply,  // subscribe counts channels and patterns, not shard channels
           std::string_view("*3\r\n$8\r\nsmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"),
           std::string_view("-MOVED 1 127.0.0.1:6379\r\n"),
           std::string_view("*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:x\r\n"),
           std::string_view("*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:\r\n"),
           std::string_view("*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1"),
       }) {
    EXPECT_FALSE(addToShardCount(frame, 1, &out)) << frame;
  }
  EXPECT_EQ(out, "untouched");
}

}  // namespace
}  // namespace slotproxy::router
