// What each Redis node keeps for itself, through failovers (a graceful one of the subscriber's
// home node and back, then another primary killed and its replica promoted, then the home node
// killed):
//  - keyspace notifications: a subscriber through slotproxy hears those of every primary exactly
//    once, and is never disconnected, not even when its home node dies (its subscriptions move
//    to another primary) or hangs (a keepalive PING finds it out);
//  - scripts: Redis does not replicate SCRIPT LOAD, yet pipelined EVALSHAs of a script loaded
//    through slotproxy run on every new primary without a NOSCRIPT;
//  - shard channels: a subscriber's channel of the killed primary's slot is subscribed again on
//    its promoted replica, and the client is never disconnected; a new SSUBSCRIBE there waits
//    for the replica.
// Net 127.0.28.0/24.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "tests/integration/failover/scenario.h"
#include "tests/integration/fixture/helpers.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 8;
constexpr std::array<int, 3> kSlots = {0, 8000, 16000};  // one per primary of the fixture
// The notifications of the test's own keys (the fixture writes keys of its own).
const std::string kPattern = "__keyspace@0__:ksf:*";

// The next n frames on `c`, sorted (notifications of several nodes come in any order).
std::vector<std::string> frames(redisContext* c, size_t n) {
  std::vector<std::string> out = nextFrames(c, static_cast<int>(n));
  std::sort(out.begin(), out.end());
  return out;
}

// PUBSUB NUMSUB of the ordinary channel "plain" on node `node` (its own clients), -1 on error.
long long plainSubscribers(LocalCluster& cluster, int node) {
  ContextPtr c(cluster.connectNode(node));
  ReplyPtr r = c ? command(c.get(), {"PUBSUB", "NUMSUB", "plain"}) : nullptr;
  return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                          : -1;
}

TEST(NodeLocalStateTest, NotificationsAndScriptsOfEveryPrimarySurviveFailovers) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  std::string error;
  ASSERT_TRUE(cluster.start(&error)) << error;
  ProxyProcess proxy(proxyIp(kNet), 6379, fastProxyFlags());
  ASSERT_TRUE(proxy.start(cluster.seeds(), &error)) << error;
  for (int i = 0; i < cluster.size(); ++i) {
    ContextPtr node(cluster.connectNode(i));
    ASSERT_NE(node, nullptr);
    ASSERT_TRUE(replyIs(
        command(node.get(), {"CONFIG", "SET", "notify-keyspace-events", "K$"}).get(), "OK"));
  }
  auto numsub = [&](int node) { return plainSubscribers(cluster, node); };
  auto numpat = [&](int node) {  // patterns held
    ContextPtr c(cluster.connectNode(node));
    ReplyPtr r = c ? command(c.get(), {"PUBSUB", "NUMPAT"}) : nullptr;
    return r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  };

  ContextPtr sub = connectTo(proxy.address(), 1000, 10000);  // a lost notification fails in 10 s
  ASSERT_NE(sub, nullptr);
  ASSERT_EQ(describe(command(sub.get(), {"SUBSCRIBE", "plain"}).get()),
            "[subscribe, plain, (integer) 1]");
  ASSERT_EQ(describe(command(sub.get(), {"PSUBSCRIBE", kPattern}).get()),
            "[psubscribe, " + kPattern + ", (integer) 2]");
  int home = -1;  // the primary holding the ordinary channel: the subscriber's home node
  for (int p : cluster.primaries()) {
    if (numsub(p) == 1) home = p;
  }
  ASSERT_NE(home, -1);

  ContextPtr client(proxy.connect());
  ASSERT_NE(client, nullptr);
  // A write in each primary's slots: each notification once, and nothing else before the next
  // round's (a copy from another node would come before them).
  auto expectEachOnce = [&](const std::string& round) {
    SCOPED_TRACE(round);
    for (const std::string& batch : {round, round + ":next"}) {
      std::vector<std::string> want;
      for (const int slot : kSlots) {
        const std::string key = keyInSlot(slot, "ksf:" + batch + ":");
        EXPECT_TRUE(replyIs(command(client.get(), {"SET", key, "v"}).get(), "OK"));
        want.push_back("[pmessage, " + kPattern + ", __keyspace@0__:" + key + ", set]");
      }
      std::sort(want.begin(), want.end());
      EXPECT_EQ(frames(sub.get(), want.size()), want);
    }
  };
  expectEachOnce("healthy");
  ReplyPtr loaded = command(client.get(), {"SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"});
  ASSERT_TRUE(loaded != nullptr && loaded->type == REDIS_REPLY_STRING);
  const std::string sha(loaded->str, loaded->len);
  // An EVALSHA in every primary's slots, pipelined: each has a command after it, so a NOSCRIPT
  // would reach the client (slotproxy loads a script and retries only for a client's last
  // command): the scripts must be on a new primary before the first EVALSHA.
  auto expectScriptsRun = [&](const std::string& round) {
    SCOPED_TRACE(round);
    std::vector<std::string> keys;
    for (const int slot : kSlots) keys.push_back(keyInSlot(slot, "script:" + round + ":"));
    for (const std::string& key : keys) {
      ASSERT_EQ(redisAppendCommand(client.get(), "EVALSHA %s 1 %s", sha.c_str(), key.c_str()),
                REDIS_OK);
    }
    ASSERT_EQ(redisAppendCommand(client.get(), "PING"), REDIS_OK);
    EXPECT_EQ(nextFrames(client.get(), 4),
              (std::vector<std::string>{"(integer) 1", "(integer) 1", "(integer) 1", "PONG"}));
  };
  expectScriptsRun("healthy");

  // The home node demoted: it still publishes the notifications of the writes it replicates,
  // and its replica, now primary, gets a mirror; then the failback.
  int home_slot = -1;
  for (const int slot : kSlots) {
    if (cluster.primaryOfSlot(slot) == home) home_slot = slot;
  }
  ASSERT_NE(home_slot, -1);
  const int replica = cluster.replicaOf(home);
  ASSERT_GE(replica, 0);
  for (const auto& [from, to] : {std::pair{home, replica}, std::pair{replica, home}}) {
    logEvent("CLUSTER FAILOVER on " + cluster.address(to));
    ContextPtr c(cluster.connectNode(to));
    ASSERT_TRUE(replyIs(command(c.get(), {"CLUSTER", "FAILOVER"}).get(), "OK"));
    ASSERT_TRUE(waitPrimary(cluster, home_slot, to, 20000).has_value());
    ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
    ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;
    // The proxy's map follows (a 1 s refresh): a mirror on the replica while it is primary.
    const long long mirrored = to == replica ? 1 : 0;
    EXPECT_TRUE(waitFor([&] { return numpat(replica) == mirrored; }, 10000));
    expectEachOnce(to == replica ? "home-demoted" : "home-promoted");
    expectScriptsRun(to == replica ? "home-demoted" : "home-promoted");
  }

  // Another primary killed: the subscriber stays, and hears its replica once promoted.
  int victim = -1;
  int victim_slot = -1;
  for (const int slot : kSlots) {
    if (cluster.primaryOfSlot(slot) != home) {
      victim_slot = slot;
      victim = cluster.primaryOfSlot(slot);
    }
  }
  ASSERT_NE(victim, -1);
  const int heir = cluster.replicaOf(victim);
  ASSERT_GE(heir, 0);
  // A shard subscriber of both nodes: its channel of the victim's slot is subscribed again on
  // the promoted replica.
  const std::string lost = keyInSlot(victim_slot, "shard:");
  const std::string kept = keyInSlot(home_slot, "shard:");
  ContextPtr shard_sub = connectTo(proxy.address(), 1000, 10000);
  ASSERT_NE(shard_sub, nullptr);
  ASSERT_EQ(describe(command(shard_sub.get(), {"SSUBSCRIBE", lost}).get()),
            "[ssubscribe, " + lost + ", (integer) 1]");
  ASSERT_EQ(describe(command(shard_sub.get(), {"SSUBSCRIBE", kept}).get()),
            "[ssubscribe, " + kept + ", (integer) 2]");
  auto shardnumsub = [&](int node, const std::string& channel) {
    ContextPtr c(cluster.connectNode(node));
    ReplyPtr r = c ? command(c.get(), {"PUBSUB", "SHARDNUMSUB", channel}) : nullptr;
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                            : -1;
  };
  auto hears = [&](const std::string& channel) {
    ReplyPtr receivers = command(client.get(), {"SPUBLISH", channel, "hi"});
    EXPECT_EQ(describe(receivers.get()), "(integer) 1");
    EXPECT_EQ(nextFrames(shard_sub.get(), 1),
              std::vector<std::string>{"[smessage, " + channel + ", hi]"});
  };
  logEvent("SIGKILL " + cluster.address(victim));
  cluster.kill(victim);
  EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");
  EXPECT_EQ(describe(command(shard_sub.get(), {"PING"}).get()), "[pong, ]");
  // A client's first SSUBSCRIBE to the dead node's slot, once the proxy knows it is down (a
  // GET there tells it), waits for the replica instead of failing.
  ContextPtr reader(proxy.connect());
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(redisAppendCommand(reader.get(), "GET %s", lost.c_str()), REDIS_OK);
  for (int done = 0; done == 0;) ASSERT_EQ(redisBufferWrite(reader.get(), &done), REDIS_OK);
  EXPECT_TRUE(waitFor(
      [&] {
        return tailFile(proxy.log(), 50).find("(" + cluster.address(victim) + ") down") !=
               std::string::npos;
      },
      10000));
  const std::string late = keyInSlot(victim_slot, "late:");
  ContextPtr late_sub = connectTo(proxy.address(), 1000, 20000);
  ASSERT_NE(late_sub, nullptr);
  ASSERT_EQ(redisAppendCommand(late_sub.get(), "SSUBSCRIBE %s", late.c_str()), REDIS_OK);
  ASSERT_TRUE(waitPrimary(cluster, victim_slot, heir, 20000).has_value());
  EXPECT_EQ(nextFrames(late_sub.get(), 1),
            std::vector<std::string>{"[ssubscribe, " + late + ", (integer) 1]"});
  EXPECT_EQ(nextFrames(reader.get(), 1), std::vector<std::string>{"(nil)"});
  EXPECT_TRUE(waitFor([&] { return numpat(heir) == 1; }, 10000));
  expectEachOnce("after-kill");
  expectScriptsRun("after-kill");
  EXPECT_TRUE(waitFor([&] { return shardnumsub(heir, lost) == 1; }, 10000));
  hears(lost);
  hears(kept);
  EXPECT_EQ(describe(command(client.get(), {"SPUBLISH", late, "hi"}).get()), "(integer) 1");
  EXPECT_EQ(nextFrames(late_sub.get(), 1),
            std::vector<std::string>{"[smessage, " + late + ", hi]"});
  EXPECT_EQ(describe(command(shard_sub.get(), {"SUNSUBSCRIBE", lost}).get()),
            "[sunsubscribe, " + lost + ", (integer) 1]");
  shard_sub.reset();  // (the home node's death next would be its second loss within 10 s)

  // The subscriber's home node killed: its subscriptions move to another primary (the client
  // sees nothing), and its replica, once promoted, gets a mirror.
  logEvent("SIGKILL " + cluster.address(home) + " (the subscriber's home node)");
  cluster.kill(home);
  EXPECT_TRUE(waitFor(
      [&] {
        for (int p : cluster.primaries()) {
          if (p != home && numsub(p) == 1) return true;
        }
        return false;
      },
      10000))
      << "the subscription did not move";
  EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");
  ASSERT_TRUE(waitPrimary(cluster, home_slot, replica, 20000).has_value());
  EXPECT_TRUE(waitFor([&] { return numpat(replica) == 1; }, 10000));
  expectEachOnce("home-killed");
  expectScriptsRun("home-killed");
  EXPECT_TRUE(proxy.running());
}

// A home node that hangs (SIGSTOP: connections stay open, nothing answers) sends no reset: the
// proxy's keepalive PING on the quiet subscriber connection goes unanswered, and the
// subscription moves to another primary, where the client hears the next message.
TEST(NodeLocalStateTest, SubscriberMovesOffAHungHomeNode) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  std::string error;
  ASSERT_TRUE(cluster.start(&error)) << error;
  ProxyProcess proxy(proxyIp(kNet), 6379, fastProxyFlags());
  ASSERT_TRUE(proxy.start(cluster.seeds(), &error)) << error;
  auto numsub = [&](int node) { return plainSubscribers(cluster, node); };
  ContextPtr sub = connectTo(proxy.address(), 1000, 20000);
  ASSERT_NE(sub, nullptr);
  ASSERT_EQ(describe(command(sub.get(), {"SUBSCRIBE", "plain"}).get()),
            "[subscribe, plain, (integer) 1]");
  int home = -1;
  for (int p : cluster.primaries()) {
    if (numsub(p) == 1) home = p;
  }
  ASSERT_NE(home, -1);

  logEvent("SIGSTOP " + cluster.address(home) + " (the subscriber's home node)");
  cluster.pause(home);
  int moved_to = -1;
  EXPECT_TRUE(waitFor(
      [&] {
        for (int p = 0; p < cluster.size(); ++p) {
          if (p != home && numsub(p) == 1) moved_to = p;
        }
        return moved_to != -1;
      },
      20000))
      << "the subscription did not leave the hung node";
  ASSERT_NE(moved_to, -1);
  ContextPtr publisher(cluster.connectNode(moved_to));
  ASSERT_NE(publisher, nullptr);
  EXPECT_EQ(describe(command(publisher.get(), {"PUBLISH", "plain", "after"}).get()), "(integer) 1");
  EXPECT_EQ(nextFrames(sub.get(), 1), std::vector<std::string>{"[message, plain, after]"});
  EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");

  cluster.resume(home);
  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
  EXPECT_TRUE(proxy.running());
  EXPECT_EQ(proxy.stopGracefully(), 0);
}

}  // namespace
}  // namespace slotproxy::testing
