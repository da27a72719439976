#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cluster/key_slot.h"
#include "proxy/router/router.h"

namespace slotproxy::router {
namespace {

using command::Merge;

// Slots checked against redis-server 7.0.15's CLUSTER KEYSLOT.
constexpr uint16_t kSlotFoo = 12182;
constexpr uint16_t kSlotBar = 5061;
constexpr uint16_t kSlotHello = 866;
constexpr uint16_t kSlotUser1000 = 3443;
constexpr uint16_t kSlotA = 15495;

constexpr std::string_view kCrossSlot = "CROSSSLOT Keys in request don't hash to the same slot";

struct Routed {
  Route route;
  std::vector<uint32_t> keys;
};

Routed routeOf(std::initializer_list<std::string_view> list) {
  const std::vector<std::string_view> args(list);
  Routed out;
  out.route = route(args, &out.keys);
  return out;
}

std::string join(std::initializer_list<std::string_view> list) {
  std::string out;
  for (const std::string_view s : list) {
    out += s;
    out += ' ';
  }
  return out;
}

void expectKind(std::initializer_list<std::string_view> args, RouteKind kind) {
  const Routed r = routeOf(args);
  EXPECT_EQ(r.route.kind, kind) << join(args) << " -> " << r.route.error;
  EXPECT_NE(r.route.cmd, nullptr) << join(args);
}

void expectSlot(std::initializer_list<std::string_view> args, uint16_t slot,
                std::vector<uint32_t> keys) {
  const Routed r = routeOf(args);
  EXPECT_EQ(r.route.kind, RouteKind::kSlot) << join(args) << " -> " << r.route.error;
  EXPECT_EQ(r.route.slot, slot) << join(args);
  EXPECT_EQ(r.keys, keys) << join(args);
  EXPECT_EQ(r.route.error, "") << join(args);
}

void expectError(std::initializer_list<std::string_view> args, std::string_view error) {
  const Routed r = routeOf(args);
  EXPECT_EQ(r.route.kind, RouteKind::kError) << join(args);
  EXPECT_EQ(r.route.error, error) << join(args);
}

TEST(Route, SlotConstantsMatchKeySlot) {
  EXPECT_EQ(cluster::keySlot("foo"), kSlotFoo);
  EXPECT_EQ(cluster::keySlot("bar"), kSlotBar);
  EXPECT_EQ(cluster::keySlot("hello"), kSlotHello);
  EXPECT_EQ(cluster::keySlot("user1000"), kSlotUser1000);
  EXPECT_EQ(cluster::keySlot("a"), kSlotA);
}

TEST(Route, ProxyAnswersLocalCommands) {
  expectKind({"PING"}, RouteKind::kLocal);
  expectKind({"PING", "hello"}, RouteKind::kLocal);
  expectKind({"ECHO", "x"}, RouteKind::kLocal);
  expectKind({"SELECT", "0"}, RouteKind::kLocal);
  expectKind({"QUIT"}, RouteKind::kLocal);
  expectKind({"HELLO"}, RouteKind::kLocal);
  expectKind({"HELLO", "3", "SETNAME", "app"}, RouteKind::kLocal);
  expectKind({"CLIENT", "SETNAME", "app"}, RouteKind::kLocal);
  expectKind({"CLIENT", "GETNAME"}, RouteKind::kLocal);
  expectKind({"CLIENT", "ID"}, RouteKind::kLocal);
  expectKind({"CLUSTER", "KEYSLOT", "foo"}, RouteKind::kLocal);

  const Routed r = routeOf({"CLUSTER", "KEYSLOT", "foo"});
  ASSERT_NE(r.route.cmd, nullptr);
  EXPECT_EQ(r.route.cmd->name, "cluster|keyslot");
  EXPECT_TRUE(r.keys.empty());
}

TEST(Route, KeyedCommandsGoToTheirSlot) {
  expectSlot({"GET", "foo"}, kSlotFoo, {1});
  expectSlot({"SET", "bar", "v", "EX", "10"}, kSlotBar, {1});
  expectSlot({"INCR", "hello"}, kSlotHello, {1});
  expectSlot({"HSET", "{user1000}.profile", "f", "v", "g", "w"}, kSlotUser1000, {1});
  expectSlot({"LPUSH", "foo", "a", "b"}, kSlotFoo, {1});
  expectSlot({"ZADD", "bar", "1", "m"}, kSlotBar, {1});
  expectSlot({"EXPIRE", "hello", "10"}, kSlotHello, {1});
  expectSlot({"OBJECT", "ENCODING", "foo"}, kSlotFoo, {2});
  expectSlot({"SPUBLISH", "hello", "msg"}, kSlotHello, {1});  // the shard channel picks the slot

  const Routed r = routeOf({"GET", "foo"});
  ASSERT_NE(r.route.cmd, nullptr);
  EXPECT_EQ(r.route.cmd->name, "get");
}

TEST(Route, HashTaggedMultiKeyCommandsGoToOneSlot) {
  expectSlot({"SUNIONSTORE", "{a}x", "{a}y"}, kSlotA, {1, 2});
  expectSlot({"SUNIONSTORE", "{a}dest", "{a}x", "{a}y", "a"}, kSlotA, {1, 2, 3, 4});
  expectSlot({"RENAME", "{user1000}.following", "{user1000}.followers"}, kSlotUser1000, {1, 2});
  expectSlot({"LMOVE", "{a}1", "{a}2", "LEFT", "RIGHT"}, kSlotA, {1, 2});
}

TEST(Route, CrossSlotMultiKeyCommandsAreRefused) {
  expectError({"SUNIONSTORE", "foo", "bar"}, kCrossSlot);
  expectError({"SUNIONSTORE", "{a}x", "{a}y", "foo"}, kCrossSlot);
  expectError({"RENAME", "foo", "bar"}, kCrossSlot);
  expectError({"SMOVE", "foo", "bar", "m"}, kCrossSlot);
  expectError({"MSETNX", "foo", "1", "bar", "2"}, kCrossSlot);  // atomic: not split

  const Routed r = routeOf({"RENAME", "foo", "bar"});
  ASSERT_NE(r.route.cmd, nullptr);
  EXPECT_EQ(r.route.cmd->name, "rename");
}

TEST(Route, SplittableCommandsAcrossSlotsAreSplit) {
  expectKind({"MGET", "foo", "bar"}, RouteKind::kSplit);
  expectKind({"MSET", "foo", "1", "bar", "2"}, RouteKind::kSplit);
  expectKind({"DEL", "foo", "bar", "hello"}, RouteKind::kSplit);
  expectKind({"UNLINK", "foo", "bar"}, RouteKind::kSplit);
  expectKind({"EXISTS", "foo", "bar"}, RouteKind::kSplit);
  expectKind({"TOUCH", "foo", "bar"}, RouteKind::kSplit);

  const Routed r = routeOf({"MSET", "foo", "1", "bar", "2"});
  EXPECT_EQ(r.keys, (std::vector<uint32_t>{1, 3}));
}

TEST(Route, SplittableCommandsInOneSlotAreRoutedWhole) {
  expectSlot({"MGET", "{a}1", "{a}2", "a"}, kSlotA, {1, 2, 3});
  expectSlot({"MSET", "{a}1", "x", "{a}2", "y"}, kSlotA, {1, 3});
  expectSlot({"DEL", "foo", "foo"}, kSlotFoo, {1, 2});
  expectSlot({"UNLINK", "foo"}, kSlotFoo, {1});
  expectSlot({"EXISTS", "{foo}a", "{foo}b"}, kSlotFoo, {1, 2});
  expectSlot({"TOUCH", "bar"}, kSlotBar, {1});
}

TEST(Route, UnknownCommandUsesRedisText) {
  expectError({"foo", "a", "b"}, "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  expectError({"FOO"}, "ERR unknown command 'FOO', with args beginning with: ");
  expectError({"GETT", "key"}, "ERR unknown command 'GETT', with args beginning with: 'key' ");
  EXPECT_EQ(routeOf({"foo", "a"}).route.cmd, nullptr);
}

// Redis (processCommand) caps the quoted arguments at 128 bytes in total: each one is cut to what
// is left of the 128. Text checked against redis-server 7.0.15.
TEST(Route, UnknownCommandCapsArgumentsLikeRedis) {
  const std::string x(100, 'x');
  const std::string y(100, 'y');
  expectError({"foo", x, y}, "ERR unknown command 'foo', with args beginning with: '" + x + "' '" +
                                 std::string(25, 'y') + "' ");
}

// Redis formats them with printf's %.*s, which stops at a NUL byte (checked against
// redis-server 7.0.15 by tests/integration/differential_test).
TEST(Route, UnknownCommandStopsArgumentsAtNulLikeRedis) {
  const std::string bin("a\0b", 3);
  expectError({"foo", bin, "c"}, "ERR unknown command 'foo', with args beginning with: 'a' 'c' ");
  expectError({std::string("fo\0o", 4), "x"},
              "ERR unknown command 'fo', with args beginning with: 'x' ");
}

TEST(Route, WrongArityUsesRedisText) {
  expectError({"GET"}, "ERR wrong number of arguments for 'get' command");
  expectError({"get", "a", "b"}, "ERR wrong number of arguments for 'get' command");
  expectError({"SET", "a"}, "ERR wrong number of arguments for 'set' command");
  expectError({"MSET", "a"}, "ERR wrong number of arguments for 'mset' command");
  // A key without its value, keys in different slots (it would be split): Redis's own error.
  expectError({"MSET", "{a}x", "1", "{b}y"}, "ERR wrong number of arguments for 'mset' command");
  expectError({"MSETNX", "{a}x", "1", "{a}y"},
              "ERR wrong number of arguments for 'msetnx' command");
  expectError({"CONFIG", "GET"}, "ERR wrong number of arguments for 'config|get' command");
  expectError({"CLUSTER", "KEYSLOT"},
              "ERR wrong number of arguments for 'cluster|keyslot' command");

  const Routed r = routeOf({"GET"});
  ASSERT_NE(r.route.cmd, nullptr);
  EXPECT_EQ(r.route.cmd->name, "get");
}

TEST(Route, UnsupportedCommandsNameTheCommandAndTheReason) {
  expectError({"CONFIG", "SET", "maxmemory", "0"},
              "ERR 'CONFIG SET' is not supported by slotproxy: node administration must be done "
              "on each Redis node directly, not through slotproxy");

  for (const std::initializer_list<std::string_view> args :
       {std::initializer_list<std::string_view>{"SYNC"},
        {"WAIT", "1", "0"},
        {"MONITOR"},
        {"ASKING"},
        {"READONLY"},
        {"MIGRATE", "h", "6379", "k", "0", "1000"}}) {
    const Routed r = routeOf(args);
    EXPECT_EQ(r.route.kind, RouteKind::kError) << join(args);
    const std::string prefix =
        "ERR '" + std::string(*args.begin()) + "' is not supported by slotproxy: ";
    EXPECT_TRUE(r.route.error.starts_with(prefix)) << join(args) << " -> " << r.route.error;
    EXPECT_GT(r.route.error.size(), prefix.size()) << join(args);  // a reason follows
    EXPECT_NE(r.route.cmd, nullptr) << join(args);
  }
}

TEST(Route, UnknownSubcommandOfAContainerIsRefused) {
  const Routed r = routeOf({"CONFIG", "FOO"});
  EXPECT_EQ(r.route.kind, RouteKind::kError);
  EXPECT_EQ(r.route.error,
            "ERR 'CONFIG' is not supported by slotproxy: unknown or missing subcommand (slotproxy "
            "knows the subcommands of Redis 7.0)");
}

TEST(Route, BlockingCommandsGetAConnectionOfTheirOwn) {
  for (const auto args : {std::initializer_list<std::string_view>{"BLPOP", "foo", "0"},
                          {"brpop", "foo", "1.5"},
                          {"BLMOVE", "foo", "{foo}x", "LEFT", "RIGHT", "0"},
                          {"BZPOPMIN", "foo", "0"},
                          {"BLMPOP", "0", "1", "foo", "LEFT"},
                          {"XREAD", "BLOCK", "0", "STREAMS", "foo", "$"},
                          {"xread", "count", "1", "block", "100", "streams", "foo", "0"},
                          {"XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "foo", ">"}}) {
    const Routed r = routeOf(args);
    EXPECT_EQ(r.route.kind, RouteKind::kBlocking) << join(args) << " -> " << r.route.error;
    EXPECT_EQ(r.route.slot, kSlotFoo) << join(args);
  }
  expectError({"BLPOP", "foo", "bar", "0"}, kCrossSlot);
  expectError({"BLMOVE", "foo", "bar", "LEFT", "RIGHT", "0"}, kCrossSlot);
  // WAIT stays refused: it counts acknowledgements of its own connection's writes.
  EXPECT_EQ(routeOf({"WAIT", "1", "0"}).route.kind, RouteKind::kError);
}

TEST(Route, XreadWithoutBlockGoesToTheStreamSlot) {
  expectSlot({"XREAD", "STREAMS", "foo", "0"}, kSlotFoo, {2});
  expectSlot({"XREAD", "COUNT", "10", "STREAMS", "{a}1", "{a}2", "0", "0"}, kSlotA, {4, 5});
  // A stream named "block" after STREAMS is a key, not the option.
  expectSlot({"XREAD", "STREAMS", "block", "0"}, cluster::keySlot("block"), {2});
  expectSlot({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "bar", ">"}, kSlotBar, {7});
  expectError({"XREAD", "STREAMS", "foo", "bar", "0", "0"}, kCrossSlot);
}

TEST(Route, EvalWithoutKeysGoesToAnyNodeAndWithKeysToTheirSlot) {
  expectKind({"EVAL", "return 1", "0"}, RouteKind::kAnyNode);
  expectKind({"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff831", "0", "arg"},
             RouteKind::kAnyNode);
  expectKind({"FCALL", "fn", "0"}, RouteKind::kAnyNode);
  expectSlot({"EVAL", "return 1", "1", "foo", "arg"}, kSlotFoo, {3});
  expectSlot({"EVAL", "return 1", "2", "{a}1", "{a}2", "arg"}, kSlotA, {3, 4});
  expectError({"EVAL", "return 1", "2", "foo", "bar"}, kCrossSlot);
  expectError({"EVAL", "return 1", "3", "foo"},
              "ERR Number of keys can't be greater than number of args");
  expectError({"EVAL", "return 1", "-1"}, "ERR Number of keys can't be negative");
}

TEST(Route, KeyspaceWideCommandsGoToAllPrimaries) {
  struct Case {
    std::initializer_list<std::string_view> args;
    Merge merge;
  };
  for (const Case& c :
       {Case{{"DBSIZE"}, Merge::kSumIntegers}, Case{{"KEYS", "*"}, Merge::kConcatArrays},
        Case{{"FLUSHALL"}, Merge::kAllOk}, Case{{"FLUSHDB", "ASYNC"}, Merge::kAllOk},
        Case{{"SCRIPT", "LOAD", "return 1"}, Merge::kFirstReply},
        Case{{"PUBSUB", "CHANNELS"}, Merge::kUnionArrays},
        Case{{"PUBSUB", "SHARDCHANNELS", "news*"}, Merge::kUnionArrays},
        Case{{"PUBSUB", "NUMSUB", "a", "b"}, Merge::kSumPairs},
        Case{{"PUBSUB", "SHARDNUMSUB", "a"}, Merge::kSumPairs},
        Case{{"PUBSUB", "NUMPAT"}, Merge::kSumIntegers}}) {
    const Routed r = routeOf(c.args);
    EXPECT_EQ(r.route.kind, RouteKind::kAllPrimaries) << join(c.args);
    ASSERT_NE(r.route.cmd, nullptr) << join(c.args);
    EXPECT_EQ(r.route.cmd->merge, c.merge) << join(c.args);
  }
}

TEST(Route, NodeIndependentCommandsGoToAnyNode) {
  expectKind({"COMMAND"}, RouteKind::kAnyNode);
  expectKind({"COMMAND", "COUNT"}, RouteKind::kAnyNode);
  expectKind({"TIME"}, RouteKind::kAnyNode);
  expectKind({"INFO"}, RouteKind::kAnyNode);
  expectKind({"PUBLISH", "ch", "msg"}, RouteKind::kAnyNode);
}

TEST(Route, CommandNamesAreCaseInsensitive) {
  expectSlot({"gEt", "foo"}, kSlotFoo, {1});
  expectSlot({"get", "foo"}, kSlotFoo, {1});
  expectKind({"ping"}, RouteKind::kLocal);
  expectKind({"cLiEnT", "sEtNaMe", "x"}, RouteKind::kLocal);
  expectKind({"cluster", "keyslot", "x"}, RouteKind::kLocal);
  expectKind({"mget", "foo", "bar"}, RouteKind::kSplit);
  expectKind({"mUlTi"}, RouteKind::kLocal);
  expectKind({"wAtCh", "k"}, RouteKind::kLocal);
  expectError({"wAiT", "1", "0"},
              "ERR 'WAIT' is not supported by slotproxy: WAIT counts replica acknowledgements of "
              "the writes made on its own connection, and slotproxy's backend connections are "
              "shared");
}

TEST(Route, KeysAreCaseSensitive) {
  EXPECT_NE(cluster::keySlot("FOO"), kSlotFoo);
  expectSlot({"GET", "FOO"}, cluster::keySlot("FOO"), {1});
}

TEST(Route, KeysScratchIsClearedOnEveryCall) {
  std::vector<uint32_t> keys = {7, 8, 9};
  const std::vector<std::string_view> get = {"GET", "foo"};
  EXPECT_EQ(route(get, &keys).kind, RouteKind::kSlot);
  EXPECT_EQ(keys, std::vector<uint32_t>{1});
  const std::vector<std::string_view> ping = {"PING"};
  EXPECT_EQ(route(ping, &keys).kind, RouteKind::kLocal);
  EXPECT_TRUE(keys.empty());
}

}  // namespace
}  // namespace slotproxy::router
