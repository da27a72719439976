// Transaction: what MULTI ... EXEC queues, refuses and finally sends (no sockets).

#include "proxy/router/transaction.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/cluster/key_slot.h"
#include "proxy/resp/encoder.h"

namespace slotproxy::router {
namespace {

constexpr Transaction::Limits kLimits{.max_commands = 3, .max_bytes = 1000};

struct Queued {
  std::string reply;
  std::string raw;
};

// Routes `argv` as the worker does, then queues it as the client sent it in RESP (or inline,
// raw empty, when `inline_cmd`).
Queued queue(Transaction& tx, const std::vector<std::string_view>& argv, bool inline_cmd = false) {
  std::vector<uint32_t> keys;
  const Route r = route(argv, &keys);
  std::string raw;
  resp::appendCommand(raw, argv);
  return {tx.queue(r, argv, inline_cmd ? std::string_view() : raw), raw};
}

TEST(TransactionTest, QueuesCommandsOfOneSlotAndSendsMultiThemExec) {
  Transaction tx(kLimits);
  const Queued set = queue(tx, {"SET", "{user:1}name", "ann"});
  const Queued incr = queue(tx, {"INCR", "{user:1}visits"});
  EXPECT_EQ(set.reply, "+QUEUED\r\n");
  EXPECT_EQ(incr.reply, "+QUEUED\r\n");
  EXPECT_FALSE(tx.aborted());
  EXPECT_EQ(tx.size(), 2u);
  EXPECT_EQ(tx.slot(), cluster::keySlot("user:1"));
  EXPECT_FALSE(tx.readonly());
  EXPECT_EQ(tx.takePayload(),
            "*1\r\n$5\r\nMULTI\r\n" + set.raw + incr.raw + "*1\r\n$4\r\nEXEC\r\n");
}

TEST(TransactionTest, KeysInAnotherSlotAbortIt) {
  Transaction tx(kLimits);
  EXPECT_EQ(queue(tx, {"SET", "a", "1"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(queue(tx, {"SET", "b", "1"}).reply,
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  EXPECT_TRUE(tx.aborted());
  EXPECT_EQ(tx.size(), 1u);
  EXPECT_EQ(tx.slot(), cluster::keySlot("a"));  // unchanged by the refused command
}

TEST(TransactionTest, AMultiKeyCommandOverSeveralSlotsAbortsIt) {
  Transaction tx(kLimits);
  EXPECT_EQ(queue(tx, {"MGET", "a", "b"}).reply,
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  EXPECT_TRUE(tx.aborted());
}

TEST(TransactionTest, KeylessCommandsGoWithAnySlotAndPingAndEchoAreForwarded) {
  Transaction tx(kLimits);
  EXPECT_EQ(queue(tx, {"PING"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(queue(tx, {"TIME"}).reply, "+QUEUED\r\n");
  EXPECT_FALSE(tx.slot().has_value());
  EXPECT_EQ(queue(tx, {"GET", "k"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(tx.slot(), cluster::keySlot("k"));
}

// After WATCH the worker pins the watched slot: keys elsewhere abort, keyless commands and
// UNWATCH (harmless inside EXEC) are queued, and the block goes to the pinned slot.
TEST(TransactionTest, APinnedSlotRefusesKeysOfOtherSlots) {
  Transaction tx(kLimits);
  tx.pinSlot(cluster::keySlot("w"));
  EXPECT_EQ(tx.slot(), cluster::keySlot("w"));
  EXPECT_EQ(queue(tx, {"PING"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(queue(tx, {"UNWATCH"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(queue(tx, {"SET", "{w}x", "1"}).reply, "+QUEUED\r\n");
  EXPECT_FALSE(tx.aborted());
  EXPECT_EQ(queue(tx, {"SET", "a", "1"}).reply,
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  EXPECT_TRUE(tx.aborted());
  EXPECT_EQ(tx.slot(), cluster::keySlot("w"));
}

// Only commands Redis flags read-only keep a transaction safe to send twice.
TEST(TransactionTest, ReadonlyOnlyWhenEveryCommandIsFlaggedReadonly) {
  Transaction reads(kLimits);
  queue(reads, {"GET", "k"});
  queue(reads, {"EXISTS", "k"});
  EXPECT_TRUE(reads.readonly());
  queue(reads, {"PING"});  // not flagged read-only by Redis: the proxy does not guess
  EXPECT_FALSE(reads.readonly());
  Transaction writes(kLimits);
  queue(writes, {"GET", "k"});
  queue(writes, {"DEL", "k"});
  EXPECT_FALSE(writes.readonly());
}

TEST(TransactionTest, CommandsServedByTheProxyOrByEveryPrimaryAreRefused) {
  for (const std::vector<std::string_view>& argv :
       {std::vector<std::string_view>{"KEYS", "*"}, {"CLIENT", "SETNAME", "x"}, {"DBSIZE"}}) {
    Transaction tx(kLimits);
    const std::string reply = queue(tx, argv).reply;
    EXPECT_TRUE(reply.starts_with("-ERR '")) << reply;
    EXPECT_NE(reply.find("inside MULTI is not supported by slotproxy"), std::string::npos) << reply;
    EXPECT_TRUE(tx.aborted());
    EXPECT_EQ(tx.size(), 0u);
  }
  Transaction tx(kLimits);
  EXPECT_EQ(queue(tx, {"CLIENT", "SETNAME", "x"}).reply.substr(0, 22), "-ERR 'client setname' ");
}

TEST(TransactionTest, LimitsOnCommandsAndBytes) {
  Transaction by_count(kLimits);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(queue(by_count, {"INCR", "k"}).reply, "+QUEUED\r\n");
  EXPECT_TRUE(
      queue(by_count, {"INCR", "k"}).reply.starts_with("-ERR slotproxy: transaction too large"));
  EXPECT_TRUE(by_count.aborted());
  EXPECT_EQ(by_count.size(), 3u);

  Transaction by_bytes(kLimits);
  const std::string big(990, 'v');
  EXPECT_TRUE(queue(by_bytes, {"SET", "k", big})
                  .reply.starts_with("-ERR slotproxy: transaction too large"));
  EXPECT_TRUE(by_bytes.aborted());
  EXPECT_EQ(by_bytes.size(), 0u);
}

TEST(TransactionTest, ARouteErrorIsAnsweredAndAbortsIt) {
  Transaction tx(kLimits);
  EXPECT_EQ(queue(tx, {"NOSUCH"}).reply.substr(0, 23), "-ERR unknown command 'N");
  EXPECT_TRUE(tx.aborted());
  EXPECT_EQ(tx.size(), 0u);
}

TEST(TransactionTest, AnInlineCommandIsSentInRespForm) {
  Transaction tx(kLimits);
  const Queued q = queue(tx, {"INCR", "k"}, /*inline_cmd=*/true);
  EXPECT_EQ(q.reply, "+QUEUED\r\n");
  EXPECT_EQ(tx.takePayload(), "*1\r\n$5\r\nMULTI\r\n" + q.raw + "*1\r\n$4\r\nEXEC\r\n");
}

TEST(TransactionTest, ABlockingCommandIsQueuedLikeAnyOther) {
  Transaction tx(kLimits);
  EXPECT_EQ(queue(tx, {"BLPOP", "list", "0"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(tx.slot(), cluster::keySlot("list"));
}

}  // namespace
}  // namespace slotproxy::router
