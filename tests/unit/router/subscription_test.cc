// Subscription: when a subscribed client has left subscribed mode (no sockets).

#include "proxy/router/subscription.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace slotproxy::router
