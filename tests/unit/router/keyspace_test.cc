// KeyspaceInterest: what a subscriber's keyspace mirrors hold and pass on (no sockets).

#include "proxy/router/keyspace.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace slotproxy::router {
namespace {

using Kind = PubSubFrame::Kind;
using Args = std::vector<std::string_view>;
using Command = std::vector<std::string>;

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
std::string reply(std::string_view kind, std::string_view name, int count, char type = '*') {
  return std::string(1, type) + "3\r\n" + bulk(kind) + bulk(name) + ":" + std::to_string(count) +
         "\r\n";
}
std::string message(std::string_view channel, std::string_view payload, char type = '*') {
  return std::string(1, type) + "3\r\n" + bulk("message") + bulk(channel) + bulk(payload);
}
std::string pmessage(std::string_view pattern, std::string_view channel, std::string_view payload,
                     char type = '*') {
  return std::string(1, type) + "4\r\n" + bulk("pmessage") + bulk(pattern) + bulk(channel) +
         bulk(payload);
}

constexpr std::string_view kExpired = "__keyevent@0__:expired";
constexpr std::string_view kKeyspace = "__keyspace@0__:user:1";

TEST(KeyspaceTest, ParsesPubSubFramesOfEitherProtocol) {
  for (const char type : {'*', '>'}) {
    // (The views point into the frame: it must outlive them.)
    const std::string m = message("ch", "hi", type);
    PubSubFrame f = parsePubSubFrame(m);
    EXPECT_EQ(f.kind, Kind::kMessage);
    EXPECT_EQ(f.channel, "ch");
    const std::string pm = pmessage("c*", "ch", "hi", type);
    f = parsePubSubFrame(pm);
    EXPECT_EQ(f.kind, Kind::kPmessage);
    EXPECT_EQ(f.name, "c*");
    EXPECT_EQ(f.channel, "ch");
    const std::string ps = reply("psubscribe", "c*", 2, type);
    f = parsePubSubFrame(ps);
    EXPECT_EQ(f.kind, Kind::kPsubscribe);
    EXPECT_EQ(f.name, "c*");
    EXPECT_EQ(parsePubSubFrame(reply("unsubscribe", "a", 0, type)).kind, Kind::kUnsubscribe);
    EXPECT_EQ(parsePubSubFrame(reply("punsubscribe", "a", 0, type)).kind, Kind::kPunsubscribe);
    EXPECT_EQ(parsePubSubFrame(reply("subscribe", "a", 1, type)).kind, Kind::kSubscribe);
  }
  // A null name (unsubscribing from nothing), in RESP2 and RESP3.
  PubSubFrame f = parsePubSubFrame("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
  EXPECT_EQ(f.kind, Kind::kUnsubscribe);
  EXPECT_EQ(f.name, "");
  EXPECT_EQ(parsePubSubFrame(">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n").kind, Kind::kUnsubscribe);
  // Binary names: the lengths decide, not the bytes.
  const std::string binary("a\r\n$1\r\nb\0", 10);
  const std::string binary_message = message(binary, "x");
  EXPECT_EQ(parsePubSubFrame(binary_message).channel, binary);
}

TEST(KeyspaceTest, AnythingElseIsOther) {
  const std::vector<std::string> others = {
      "+PONG\r\n",
      "+RESET\r\n",
      "-ERR no\r\n",
      ":1\r\n",
      "*2\r\n$4\r\npong\r\n$0\r\n\r\n",
      reply("ssubscribe", "a", 1),
      "*3\r\n$10\r\nsmessage\r\n$1\r\na\r\n$1\r\nb\r\n",
      "*4\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",  // the wrong count
      "*3\r\n$7\r\nmessage\r\n$9\r\na\r\n",                        // cut short
      "*3\r\n$7\r\nmessage\r\n$99999999999\r\na\r\n",
      "*3\r\n$7\r\nmessage\r\n$x\r\n",
      "*3\r\n$7\r\nmessag",
      "",
  };
  for (const std::string& frame : others) {
    EXPECT_EQ(parsePubSubFrame(frame).kind, Kind::kOther) << frame;
  }
}

TEST(KeyspaceTest, KeyspaceChannelsAndThePatternsThatMayMatchThem) {
  EXPECT_TRUE(isKeyspaceChannel(kExpired));
  EXPECT_TRUE(isKeyspaceChannel(kKeyspace));
  EXPECT_FALSE(isKeyspaceChannel("news"));
  EXPECT_FALSE(isKeyspaceChannel("__keyspace"));  // no database: Redis never publishes that
  EXPECT_FALSE(isKeyspaceChannel("x__keyspace@0__:a"));
  for (const std::string_view p : {"*", "?*", "__key*", "__keys*", "__keyevent@*", "_[_]key*",
                                   "__keyevent@0__:expired", "__keyspace@?__:user:*", "\\_*"}) {
    EXPECT_TRUE(mayMatchKeyspace(p)) << p;
  }
  for (const std::string_view p : {"news.*", "h?llo", "__x*", "__keyspace", "key*", "_key*"}) {
    EXPECT_FALSE(mayMatchKeyspace(p)) << p;
  }
  EXPECT_TRUE(isKeyspaceMessage(message(kExpired, "k")));
  EXPECT_TRUE(isKeyspaceMessage(pmessage("*", kExpired, "k", '>')));
  EXPECT_FALSE(isKeyspaceMessage(pmessage("*", "news", "k")));
  EXPECT_FALSE(isKeyspaceMessage(reply("subscribe", kExpired, 1)));
}

TEST(KeyspaceTest, MirrorsHoldOnlyTheKeyspaceNames) {
  KeyspaceInterest k;
  EXPECT_TRUE(k.idle());
  EXPECT_FALSE(KeyspaceInterest::adds(Args{"SUBSCRIBE", "news", "other"}));
  EXPECT_EQ(k.sent(Args{"SUBSCRIBE", "news", "other"}), Command{});
  EXPECT_TRUE(k.empty());

  EXPECT_TRUE(KeyspaceInterest::adds(Args{"subscribe", "news", kExpired}));
  EXPECT_EQ(k.sent(Args{"subscribe", "news", kExpired}),
            (Command{"subscribe", std::string(kExpired)}));
  EXPECT_TRUE(KeyspaceInterest::adds(Args{"PSUBSCRIBE", "news.*", "*"}));
  EXPECT_EQ(k.sent(Args{"PSUBSCRIBE", "news.*", "*"}), (Command{"PSUBSCRIBE", "*"}));
  EXPECT_FALSE(k.empty());
  EXPECT_EQ(k.subscribeAll(),
            (std::vector<Command>{{"SUBSCRIBE", std::string(kExpired)}, {"PSUBSCRIBE", "*"}}));

  // Unsubscribing: what the mirrors hold, by name or all; names they never held stay home.
  EXPECT_EQ(k.sent(Args{"UNSUBSCRIBE", "news"}), Command{});
  EXPECT_EQ(k.sent(Args{"PUNSUBSCRIBE", "news.*", "*"}), (Command{"PUNSUBSCRIBE", "*"}));
  EXPECT_EQ(k.sent(Args{"PUNSUBSCRIBE"}), Command{});  // none held there
  EXPECT_EQ(k.sent(Args{"PSUBSCRIBE", "__key*"}), (Command{"PSUBSCRIBE", "__key*"}));
  EXPECT_EQ(k.sent(Args{"PUNSUBSCRIBE"}), (Command{"PUNSUBSCRIBE"}));
  // The last one: nothing to send, the mirrors close.
  EXPECT_EQ(k.sent(Args{"UNSUBSCRIBE"}), Command{});
  EXPECT_TRUE(k.empty());
  EXPECT_TRUE(k.subscribeAll().empty());

  k.sent(Args{"PSUBSCRIBE", "*"});
  EXPECT_EQ(k.sent(Args{"RESET"}), Command{});
  EXPECT_TRUE(k.empty());
  EXPECT_EQ(k.sent(Args{"PING"}), Command{});
}

TEST(KeyspaceTest, MirrorsPassOnKeyspaceMessagesOnlyWhileTheClientHoldsThem) {
  KeyspaceInterest k;
  k.sent(Args{"SUBSCRIBE", kExpired});
  k.sent(Args{"PSUBSCRIBE", "*"});
  // Not before the client has its subscription reply.
  EXPECT_FALSE(k.forward(message(kExpired, "k")));
  k.heard(reply("subscribe", kExpired, 1));
  EXPECT_FALSE(k.idle());
  EXPECT_TRUE(k.forward(message(kExpired, "k")));
  EXPECT_FALSE(k.forward(pmessage("*", kExpired, "k")));
  k.heard(reply("psubscribe", "*", 2, '>'));
  EXPECT_TRUE(k.forward(pmessage("*", kExpired, "k", '>')));
  // What is PUBLISHed reaches the client from its home node alone.
  EXPECT_FALSE(k.forward(pmessage("*", "news", "hi")));
  EXPECT_FALSE(k.forward(message("news", "hi")));
  // Only for what the client holds, and replies are never passed on.
  EXPECT_FALSE(k.forward(message("__keyevent@0__:del", "k")));
  EXPECT_FALSE(k.forward(pmessage("__key*", kExpired, "k")));
  EXPECT_FALSE(k.forward(reply("subscribe", kExpired, 1)));
  EXPECT_FALSE(k.forward("+PONG\r\n"));

  // Not after its unsubscription reply.
  k.sent(Args{"UNSUBSCRIBE", kExpired});
  EXPECT_TRUE(k.forward(message(kExpired, "k")));  // in flight before the reply: as in Redis
  k.heard(reply("unsubscribe", kExpired, 1));
  EXPECT_FALSE(k.forward(message(kExpired, "k")));
  EXPECT_TRUE(k.forward(pmessage("*", kExpired, "k")));
  k.heard("+RESET\r\n");
  EXPECT_FALSE(k.forward(pmessage("*", kExpired, "k")));
}

}  // namespace
}  // namespace slotproxy::router
