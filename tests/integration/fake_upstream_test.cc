// slotproxy against scripted fake cluster nodes (tests/integration/fake_upstream) on
// 127.0.30.0/24: the exact bytes the proxy sends on MOVED, ASK and split commands, replies that
// arrive in pieces or out of order across nodes, and the redirect cap.
//
// Every test starts two fresh fake primaries, A (127.0.30.151, slots 0-8191) and B
// (127.0.30.152, slots 8192-16383), and a fresh slotproxy (127.0.30.100:6379) seeded with both.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "tests/integration/fake_upstream/fake_redis.h"
#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFakeUpstream;
constexpr int kMaxRedirects = 3;  // passed to the proxy; the redirect-loop tests count on it
constexpr int kTimeoutMs = 10000;

std::string netIp(int host) { return "127.0." + std::to_string(kNet) + "." + std::to_string(host); }

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

// A key on the fake node that owns slots [first, last], whose slot differs from `avoid_slot`.
std::string keyBetween(int first, int last, std::string_view prefix, int avoid_slot = -1) {
  for (int n = 0;; ++n) {
    std::string key = std::string(prefix) + std::to_string(n);
    const int slot = slotOf(key);
    if (slot >= first && slot <= last && slot != avoid_slot) {
      return key;
    }
  }
}

class FakeUpstreamTest : public ::testing::Test {
 protected:
  static constexpr int kSplit = 8192;  // A owns [0, kSplit), B the rest

  void SetUp() override {
    if (!ProxyProcess::available()) {
      GTEST_SKIP() << "slotproxy is not built (no SLOTPROXY_BIN)";
    }
    topology_ = std::make_shared<FakeTopology>();
    a_ = std::make_unique<FakeRedis>("A", netIp(151), 6379, topology_);
    b_ = std::make_unique<FakeRedis>("B", netIp(152), 6379, topology_);
    topology_->addNode(std::string(40, 'a'), netIp(151), 6379);
    topology_->addNode(std::string(40, 'b'), netIp(152), 6379);
    topology_->assign(0, kSplit - 1, 0);
    topology_->assign(kSplit, 16383, 1);
    std::string error;
    ASSERT_TRUE(a_->start(&error)) << error;
    ASSERT_TRUE(b_->start(&error)) << error;
    proxy_ = std::make_unique<ProxyProcess>(
        netIp(kProxyHost), 6379,
        std::vector<std::string>{"--max-redirects", std::to_string(kMaxRedirects)});
    ASSERT_TRUE(proxy_->start({a_->address(), b_->address()}, &error)) << error;
    client_ = RespClient::connect(proxy_->address(), &error);
    ASSERT_NE(client_, nullptr) << error;
    // The proxy has a map once a routed command comes back from the right node.
    const std::string warm_key = keyBetween(0, kSplit - 1, "warmup:");
    ReplyPtr warm = call({"GET", warm_key});
    ASSERT_TRUE(replyIs(warm.get(), "A:" + warm_key)) << describe(warm.get());
    a_->clearRecorded();
    b_->clearRecorded();
  }

  void TearDown() override {
    if (proxy_ != nullptr) {
      EXPECT_TRUE(proxy_->running()) << "slotproxy died:\n" << tailFile(proxy_->log(), 30);
    }
    client_.reset();
    proxy_.reset();
    a_.reset();
    b_.reset();
  }

  ReplyPtr call(const std::vector<std::string>& argv) {
    std::string error;
    ReplyPtr r = client_->call(argv, &error, kTimeoutMs);
    EXPECT_NE(r, nullptr) << error;
    return r;
  }

  // A series of the proxy's /metrics, -1 if absent.
  double metric(const std::string& series) {
    return scrapeMetric(proxy_->adminAddress(), series).value_or(-1);
  }

  std::shared_ptr<FakeTopology> topology_;
  std::unique_ptr<FakeRedis> a_;
  std::unique_ptr<FakeRedis> b_;
  std::unique_ptr<ProxyProcess> proxy_;
  std::unique_ptr<RespClient> client_;
};

TEST(FakeUpstreamTopologyTest, ClusterSlotsIsUsedWhenClusterShardsIsUnknown) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "slotproxy is not built (no SLOTPROXY_BIN)";
  }
  // A Redis 6 cluster: no CLUSTER SHARDS. Three nodes, the middle one owning two ranges.
  auto topology = std::make_shared<FakeTopology>();
  topology->setShardsSupported(false);
  std::vector<std::unique_ptr<FakeRedis>> nodes;
  std::string error;
  for (int i = 0; i < 3; ++i) {
    const std::string name(1, static_cast<char>('P' + i));
    nodes.push_back(std::make_unique<FakeRedis>(name, netIp(161 + i), 6379, topology));
    topology->addNode(std::string(40, static_cast<char>('p' + i)), netIp(161 + i), 6379);
    ASSERT_TRUE(nodes.back()->start(&error)) << error;
  }
  topology->assign(0, 999, 1);
  topology->assign(1000, 8999, 0);
  topology->assign(9000, 9999, 1);
  topology->assign(10000, 16383, 2);
  ProxyProcess proxy(netIp(kProxyHost), 6379, {});
  ASSERT_TRUE(proxy.start({nodes[2]->address()}, &error)) << error;
  ContextPtr conn(proxy.connect());
  for (const auto& [first, last, owner] : std::vector<std::tuple<int, int, int>>{
           {0, 999, 1}, {1000, 8999, 0}, {9000, 9999, 1}, {10000, 16383, 2}}) {
    const std::string key = keyBetween(first, last, "r6:");
    ReplyPtr r = command(conn.get(), {"GET", key});
    EXPECT_TRUE(replyIs(r.get(), nodes[static_cast<size_t>(owner)]->name() + ":" + key))
        << key << " (slot " << slotOf(key) << "): " << describe(r.get(), conn.get());
  }
  for (const auto& node : nodes) {
    EXPECT_GT(node->commandCount(), 0u) << node->name();
  }
  EXPECT_TRUE(proxy.running()) << tailFile(proxy.log(), 30);
}

TEST_F(FakeUpstreamTest, MovedResendsTheCommandByteExactToTheNewOwnerAndUpdatesTheSlot) {
  const std::string key = keyBetween(0, kSplit - 1, "moved:");
  const int slot = slotOf(key);
  // The slot moved to B: A says so once, and so does the topology from now on.
  topology_->assign(slot, slot, 1);
  a_->setHandler([&](const FakeRedis::Command&) {
    return FakeReply::of("-MOVED " + std::to_string(slot) + " " + b_->address() + "\r\n");
  });

  // Lower-case command name and an extra argument: whatever the client sent is what moves.
  const std::string raw = encodeCommand({"get", key});
  std::string error;
  ASSERT_TRUE(client_->sendAll(raw, kTimeoutMs, &error)) << error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->readReplies(1, &replies, kTimeoutMs, &error)) << error;
  EXPECT_TRUE(replyIs(replies[0].get(), "B:" + key)) << describe(replies[0].get());
  EXPECT_EQ(a_->bytes(), raw);
  EXPECT_EQ(b_->bytes(), raw);

  // The slot now goes straight to B.
  ReplyPtr again = call({"GET", key});
  EXPECT_TRUE(replyIs(again.get(), "B:" + key)) << describe(again.get());
  EXPECT_EQ(a_->commandCount(), 1u);
  EXPECT_EQ(b_->bytes(), raw + encodeCommand({"GET", key}));
  EXPECT_EQ(metric("slotproxy_redirects_total{kind=\"moved\"}"), 1);
  EXPECT_EQ(metric("slotproxy_redirects_total{kind=\"ask\"}"), 0);
}

// A transaction is queued by the proxy and leaves as one block, MULTI ... EXEC. When its slot
// has moved, the node refuses the queued commands with MOVED and then either redirects EXEC
// itself (Redis 7.0 checks the whole transaction's keys at EXEC) or answers EXECABORT. Nothing
// ran either way: the whole block goes to the new owner, byte for byte, and the client only
// sees the transaction's result.
TEST_F(FakeUpstreamTest, TransactionIsSentAsOneBlockAndMovesWholeOnMoved) {
  for (const bool exec_redirected : {true, false}) {
    SCOPED_TRACE(exec_redirected ? "EXEC answers MOVED" : "EXEC answers EXECABORT");
    const std::string key = keyBetween(0, kSplit - 1, exec_redirected ? "tx1:" : "tx2:");
    const int slot = slotOf(key);
    const std::string moved = "-MOVED " + std::to_string(slot) + " " + b_->address() + "\r\n";
    topology_->assign(slot, slot, 1);
    a_->setHandler([moved, exec_redirected](const FakeRedis::Command& c) {
      if (c.args[0] == "MULTI") return FakeReply::of("+OK\r\n");
      if (c.args[0] == "EXEC" && !exec_redirected) {
        return FakeReply::of("-EXECABORT Transaction discarded because of previous errors.\r\n");
      }
      return FakeReply::of(moved);
    });
    b_->setHandler([](const FakeRedis::Command& c) {
      if (c.args[0] == "MULTI") return FakeReply::of("+OK\r\n");
      if (c.args[0] == "EXEC") return FakeReply::of("*2\r\n+OK\r\n:7\r\n");
      return FakeReply::of("+QUEUED\r\n");
    });
    a_->clearRecorded();
    b_->clearRecorded();

    const std::string set = encodeCommand({"SET", key, "v"});
    const std::string incr = encodeCommand({"INCR", key + "{" + key + "}"});  // same slot
    std::string error;
    ASSERT_TRUE(client_->sendAll(encodeCommand({"MULTI"}) + set + incr + encodeCommand({"EXEC"}),
                                 kTimeoutMs, &error))
        << error;
    std::vector<ReplyPtr> replies;
    ASSERT_TRUE(client_->readReplies(4, &replies, kTimeoutMs, &error)) << error;
    EXPECT_TRUE(replyIs(replies[0].get(), "OK")) << describe(replies[0].get());
    EXPECT_TRUE(replyIs(replies[1].get(), "QUEUED")) << describe(replies[1].get());
    EXPECT_TRUE(replyIs(replies[2].get(), "QUEUED")) << describe(replies[2].get());
    ASSERT_EQ(replies[3]->type, REDIS_REPLY_ARRAY) << describe(replies[3].get());
    ASSERT_EQ(replies[3]->elements, 2u);
    EXPECT_TRUE(replyIs(replies[3]->element[0], "OK"));
    EXPECT_EQ(replies[3]->element[1]->integer, 7);

    const std::string block = "*1\r\n$5\r\nMULTI\r\n" + set + incr + "*1\r\n$4\r\nEXEC\r\n";
    EXPECT_EQ(a_->bytes(), block);
    EXPECT_EQ(b_->bytes(), block);
  }
  EXPECT_EQ(metric("slotproxy_redirects_total{kind=\"moved\"}"), 2);
}

// A watch cannot follow its slot, nor outlive its connection: when EXEC is refused with MOVED,
// or the watch's connection dies, EXEC answers null (what a changed key gives) and the client's
// retry loop starts over. A WATCH itself refused with MOVED goes to the slot's new owner.
TEST_F(FakeUpstreamTest, WatchLostToAMovedSlotOrItsConnectionMakesExecAnswerNull) {
  const std::string key = keyBetween(0, kSplit - 1, "watch:");
  const int slot = slotOf(key);
  const std::string moved = "-MOVED " + std::to_string(slot) + " " + b_->address() + "\r\n";
  topology_->assign(slot, slot, 1);  // what refreshes find from now on
  bool watch_moves = false;          // A's answer to WATCH: +OK, then MOVED
  a_->setHandler([&](const FakeRedis::Command& c) {
    if (c.args[0] == "WATCH") return FakeReply::of(watch_moves ? moved : "+OK\r\n");
    if (c.args[0] == "MULTI") return FakeReply::of("+OK\r\n");
    if (c.args[0] == "EXEC") return FakeReply::of(moved);
    return FakeReply::of("+QUEUED\r\n");
  });
  b_->setHandler([](const FakeRedis::Command& c) {
    if (c.args[0] == "WATCH" || c.args[0] == "MULTI") return FakeReply::of("+OK\r\n");
    if (c.args[0] == "EXEC") return FakeReply::of("*1\r\n+OK\r\n");
    return FakeReply::of("+QUEUED\r\n");
  });
  const std::string tx =
      encodeCommand({"MULTI"}) + encodeCommand({"SET", key, "v"}) + encodeCommand({"EXEC"});
  auto attempt = [&](std::vector<ReplyPtr>* replies) {
    std::string error;
    ReplyPtr watch = client_->call({"WATCH", key}, &error, kTimeoutMs);
    EXPECT_TRUE(replyIs(watch.get(), "OK")) << describe(watch.get()) << error;
    ASSERT_TRUE(client_->sendAll(tx, kTimeoutMs, &error)) << error;
    ASSERT_TRUE(client_->readReplies(3, replies, kTimeoutMs, &error)) << error;
  };

  // EXEC refused with MOVED: null, and the block is not sent to B.
  std::vector<ReplyPtr> first;
  attempt(&first);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[2]->type, REDIS_REPLY_NIL) << describe(first[2].get());
  EXPECT_EQ(b_->commandCount(), 0u);

  // The retry: A refuses WATCH with MOVED, which is followed to B; the transaction runs there.
  watch_moves = true;
  std::vector<ReplyPtr> second;
  attempt(&second);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(describe(second[2].get()), "[OK]");
  EXPECT_EQ(b_->bytes(), encodeCommand({"WATCH", key}) + "*1\r\n$5\r\nMULTI\r\n" +
                             encodeCommand({"SET", key, "v"}) + "*1\r\n$4\r\nEXEC\r\n");

  // B's connection dies with WATCH in flight: the watch is lost, so WATCH answers +OK, EXEC
  // answers null, and nothing more is sent.
  b_->setHandler([](const FakeRedis::Command&) { return FakeReply::hangUp(); });
  b_->clearRecorded();
  std::vector<ReplyPtr> third;
  attempt(&third);
  ASSERT_EQ(third.size(), 3u);
  EXPECT_EQ(third[2]->type, REDIS_REPLY_NIL) << describe(third[2].get());
  EXPECT_EQ(b_->bytes(), encodeCommand({"WATCH", key}));
  a_->setHandler(nullptr);  // the handler refers to locals
  b_->setHandler(nullptr);
}

std::string subscribeReply(std::string_view channel) {
  return "*3\r\n$9\r\nsubscribe\r\n" + bulk(channel) + ":1\r\n";
}

// A subscriber's node connection that dies moves its subscriptions to another node, once: when
// that connection dies too (here every node closes the connection after SUBSCRIBE), the client
// is disconnected, as the node's own death would: its library reconnects and subscribes again.
// No flapping between the nodes. Other clients go on.
TEST_F(FakeUpstreamTest, SubscriberIsDisconnectedWhenItsNodeConnectionsKeepDying) {
  const auto handler = [](const FakeRedis::Command& c) {
    FakeReply r = FakeReply::of(c.args[0] == "SUBSCRIBE" ? subscribeReply(c.args[1]) : "+OK\r\n");
    r.close = c.args[0] == "SUBSCRIBE";
    return r;
  };
  a_->setHandler(handler);
  b_->setHandler(handler);
  std::string error;
  ASSERT_TRUE(client_->sendAll(encodeCommand({"SUBSCRIBE", "ch"}), kTimeoutMs, &error)) << error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->readReplies(1, &replies, kTimeoutMs, &error)) << error;
  EXPECT_EQ(describe(replies[0].get()), "[subscribe, ch, (integer) 1]");
  EXPECT_TRUE(client_->closedWithin(kTimeoutMs));
  // The client's SUBSCRIBE on one node, the proxy's on the other: nothing more.
  EXPECT_EQ(a_->commandCount() + b_->commandCount(), 2u);
  EXPECT_EQ(a_->commandCount(), 1u);

  a_->setHandler(nullptr);
  b_->setHandler(nullptr);
  auto other = RespClient::connect(proxy_->address(), &error);
  ASSERT_NE(other, nullptr) << error;
  const std::string key = keyBetween(0, kSplit - 1, "after-sub:");
  ReplyPtr r = other->call({"GET", key}, &error, kTimeoutMs);
  EXPECT_TRUE(replyIs(r.get(), "A:" + key)) << describe(r.get()) << error;
}

std::string ssubscribeReply(std::string_view channel, int count) {
  return "*3\r\n$10\r\nssubscribe\r\n" + bulk(channel) + ":" + std::to_string(count) + "\r\n";
}

// A fake node's pub/sub script: SSUBSCRIBE answered with the connection's shard channel count,
// then `after` (bytes of its own); PING as in subscribed mode on a connection holding some; any
// other command as by default.
FakeRedis::Handler shardNode(const FakeRedis& node, std::string after = {}) {
  auto held = std::make_shared<std::map<uint64_t, int>>();  // count per connection
  return [&node, held, after](const FakeRedis::Command& c) {
    if (c.args[0] == "PING" && (*held)[c.conn] > 0) {
      return FakeReply::of("*2\r\n$4\r\npong\r\n" + bulk(c.args.size() > 1 ? c.args[1] : ""));
    }
    if (c.args[0] != "SSUBSCRIBE") return node.defaultReply(c);
    std::string reply;
    for (size_t i = 1; i < c.args.size(); ++i)
      reply += ssubscribeReply(c.args[i], ++(*held)[c.conn]);
    return FakeReply::of(reply + after);
  };
}

// A node that died: every connection closed, every command hung up on (topology queries aside).
void kill(FakeRedis& node) {
  node.setHandler([](const FakeRedis::Command&) { return FakeReply::hangUp(); });
  node.hangUpAll();
}

// The node of a shard channel dies and its replica takes the slot: the proxy subscribes the
// channel again there, its reply kept from the client, which hears what is published there next
// and has seen nothing else.
TEST_F(FakeUpstreamTest, ShardChannelsOfAFailedNodeAreSubscribedAgainOnTheSlotsNewPrimary) {
  const std::string channel = keyBetween(0, kSplit - 1, "sch:");
  a_->setHandler(shardNode(*a_));
  b_->setHandler(shardNode(*b_, "*3\r\n$8\r\nsmessage\r\n" + bulk(channel) + bulk("from B")));
  std::string error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->sendAll(encodeCommand({"SSUBSCRIBE", channel}), kTimeoutMs, &error));
  ASSERT_TRUE(client_->readReplies(1, &replies, kTimeoutMs, &error)) << error;
  EXPECT_EQ(describe(replies[0].get()), "[ssubscribe, " + channel + ", (integer) 1]");

  topology_->assign(0, kSplit - 1, 1);  // (B answers the proxy's refresh with it)
  kill(*a_);
  replies.clear();
  ASSERT_TRUE(client_->readReplies(1, &replies, kTimeoutMs, &error)) << error;
  EXPECT_EQ(describe(replies[0].get()), "[smessage, " + channel + ", from B]");
  std::vector<std::vector<std::string>> on_b;  // (B also gets the proxy's other traffic)
  for (const FakeRedis::Command& c : b_->commands()) {
    if (c.args[0] == "SSUBSCRIBE") on_b.push_back(c.args);
  }
  EXPECT_EQ(on_b, (std::vector<std::vector<std::string>>{{"SSUBSCRIBE", channel}}));

  // Still subscribed, through B: another channel of the slot is counted with the first.
  const std::string same_slot = "{" + channel + "}2";
  ASSERT_TRUE(client_->sendAll(encodeCommand({"SSUBSCRIBE", same_slot}), kTimeoutMs, &error));
  replies.clear();
  ASSERT_TRUE(client_->readReplies(1, &replies, kTimeoutMs, &error)) << error;
  EXPECT_EQ(describe(replies[0].get()), "[ssubscribe, " + same_slot + ", (integer) 2]");
  a_->setHandler(nullptr);
  b_->setHandler(nullptr);
}

// While no primary serves their slot, a subscriber's shard channels wait in the proxy: joining
// and leaving them is answered there, with Redis's counts, and the client is back to plain
// commands.
TEST_F(FakeUpstreamTest, ShardChannelsWaitingForTheirNodeAreJoinedAndLeftThroughTheProxy) {
  // (One slot: the proxy sends them again in one command, one attempt per failure.)
  const std::string tag = keyBetween(0, kSplit - 1, "wait:");
  const std::string first = "{" + tag + "}a";
  const std::string second = "{" + tag + "}b";
  a_->setHandler(shardNode(*a_));
  b_->setHandler(shardNode(*b_));
  std::string error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(
      client_->sendAll(encodeCommand({"SSUBSCRIBE", first}) + encodeCommand({"SSUBSCRIBE", second}),
                       kTimeoutMs, &error));
  ASSERT_TRUE(client_->readReplies(2, &replies, kTimeoutMs, &error)) << error;
  EXPECT_EQ(describe(replies[1].get()), "[ssubscribe, " + second + ", (integer) 2]");

  kill(*a_);
  // Once the proxy holds A down, it stops trying to subscribe them again there: every attempt
  // it made (each logged) has failed, leaving them waiting once more.
  const auto settled = [&] {
    std::string log = tailFile(proxy_->log(), 100000);
    log.erase(0, log.rfind("fixture starts"));  // (this test's proxy alone)
    const auto count = [&log](std::string_view what) {
      size_t n = 0;
      for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
      return n;
    };
    return count(" down: ") > 0 &&
           count(") wait for a primary") == 1 + count(" subscribed again on ");
  };
  ASSERT_TRUE(waitFor(settled, kTimeoutMs)) << tailFile(proxy_->log(), 20);
  // Another channel of the slot joins them, also answered by the proxy.
  const std::string third = "{" + tag + "}c";
  const std::string key = keyBetween(kSplit, 16383, "after-wait:");
  ASSERT_TRUE(client_->sendAll(encodeCommand({"SSUBSCRIBE", third}) +
                                   encodeCommand({"SUNSUBSCRIBE"}) + encodeCommand({"GET", key}),
                               kTimeoutMs, &error));
  replies.clear();
  ASSERT_TRUE(client_->readReplies(5, &replies, kTimeoutMs, &error)) << error;
  EXPECT_EQ(describe(replies[0].get()), "[ssubscribe, " + third + ", (integer) 3]");
  EXPECT_EQ(describe(replies[1].get()), "[sunsubscribe, " + first + ", (integer) 2]");
  EXPECT_EQ(describe(replies[2].get()), "[sunsubscribe, " + second + ", (integer) 1]");
  EXPECT_EQ(describe(replies[3].get()), "[sunsubscribe, " + third + ", (integer) 0]");
  EXPECT_TRUE(replyIs(replies[4].get(), "B:" + key)) << describe(replies[4].get());
  for (const FakeRedis::Command& c : a_->commands()) {
    EXPECT_EQ(std::find(c.args.begin(), c.args.end(), third), c.args.end()) << c.raw;
  }
  a_->setHandler(nullptr);
  b_->setHandler(nullptr);
}

// With no primary for their slot within failover-hold, the subscriber is disconnected, as the
// node's death would disconnect it, so that its library notices.
TEST_F(FakeUpstreamTest, ShardSubscriberIsDisconnectedWhenNoPrimaryTakesItsChannels) {
  ProxyProcess proxy(netIp(kProxyHost + 1), 6379, {"--failover-hold", "300ms"});
  std::string error;
  ASSERT_TRUE(proxy.start({a_->address(), b_->address()}, &error)) << error;
  a_->setHandler(shardNode(*a_));
  auto sub = RespClient::connect(proxy.address(), &error);
  ASSERT_NE(sub, nullptr) << error;
  const std::string channel = keyBetween(0, kSplit - 1, "lost:");
  // (A routed reply: the proxy has its map.)
  ReplyPtr warm = sub->call({"GET", channel}, &error, kTimeoutMs);
  ASSERT_TRUE(replyIs(warm.get(), "A:" + channel)) << describe(warm.get()) << error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(sub->sendAll(encodeCommand({"SSUBSCRIBE", channel}), kTimeoutMs, &error));
  ASSERT_TRUE(sub->readReplies(1, &replies, kTimeoutMs, &error)) << error;
  ASSERT_EQ(describe(replies[0].get()), "[ssubscribe, " + channel + ", (integer) 1]");
  kill(*a_);
  EXPECT_TRUE(sub->closedWithin(kTimeoutMs));
  EXPECT_NE(tailFile(proxy.log(), 20).find("no reachable primary took 1 of its shard channels"),
            std::string::npos)
      << tailFile(proxy.log(), 20);
  EXPECT_TRUE(proxy.running());
  a_->setHandler(nullptr);
}

// A subscriber that does not read its messages is disconnected once its backlog in the proxy
// passes 8 times client-output-high-watermark, as Redis cuts off slow pub/sub clients.
TEST_F(FakeUpstreamTest, SubscriberThatDoesNotReadIsCutOff) {
  ProxyProcess proxy(
      netIp(kProxyHost + 1), 6379,
      {"--client-output-high-watermark", "64kb", "--client-output-low-watermark", "16kb"});
  std::string error;
  ASSERT_TRUE(proxy.start({a_->address(), b_->address()}, &error)) << error;
  std::string flood;  // 40 MB of messages: more than the kernel's socket buffers hold
  const std::string message = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n" + bulk(std::string(4096, 'm'));
  while (flood.size() < (40u << 20)) flood += message;
  const auto handler = [&flood](const FakeRedis::Command& c) {
    return FakeReply::of(c.args[0] == "SUBSCRIBE" ? subscribeReply(c.args[1]) + flood : "+OK\r\n");
  };
  a_->setHandler(handler);
  b_->setHandler(handler);
  auto slow = RespClient::connect(proxy.address(), &error);
  ASSERT_NE(slow, nullptr) << error;
  ASSERT_TRUE(slow->sendAll(encodeCommand({"SUBSCRIBE", "ch"}), kTimeoutMs, &error)) << error;
  EXPECT_TRUE(
      waitFor([&] { return tailFile(proxy.log(), 5).find("does not read") != std::string::npos; },
              kTimeoutMs))
      << tailFile(proxy.log(), 10);
  EXPECT_TRUE(slow->closedWithin(kTimeoutMs));  // after the bytes already on their way
  EXPECT_TRUE(proxy.running());
  a_->setHandler(nullptr);  // the handlers refer to `flood`
  b_->setHandler(nullptr);
}

// Queue-time errors abort the transaction without sending anything, as Redis does.
TEST_F(FakeUpstreamTest, RefusedCommandInsideMultiAbortsExecAndNothingIsSent) {
  const std::string key_a = keyBetween(0, kSplit - 1, "txa:");
  const std::string key_b = keyBetween(kSplit, 16383, "txb:");
  std::string error;
  ASSERT_TRUE(client_->sendAll(encodeCommand({"MULTI"}) + encodeCommand({"SET", key_a, "1"}) +
                                   encodeCommand({"SET", key_b, "2"}) + encodeCommand({"EXEC"}) +
                                   encodeCommand({"GET", key_a}),
                               kTimeoutMs, &error))
      << error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->readReplies(5, &replies, kTimeoutMs, &error)) << error;
  EXPECT_TRUE(replyIs(replies[1].get(), "QUEUED")) << describe(replies[1].get());
  EXPECT_EQ(describe(replies[2].get()),
            "(error) CROSSSLOT Keys in request don't hash to the same slot");
  EXPECT_EQ(describe(replies[3].get()),
            "(error) EXECABORT Transaction discarded because of previous errors.");
  EXPECT_TRUE(replyIs(replies[4].get(), "A:" + key_a)) << describe(replies[4].get());
  EXPECT_EQ(a_->bytes(), encodeCommand({"GET", key_a}));  // the transaction never left
  EXPECT_EQ(b_->commandCount(), 0u);
}

TEST_F(FakeUpstreamTest, AskSendsAskingThenTheCommandOnceAndLeavesTheMapAlone) {
  const std::string key = keyBetween(0, kSplit - 1, "ask:");
  const int slot = slotOf(key);
  std::atomic<int> asked{0};
  a_->setHandler([&](const FakeRedis::Command& c) {
    if (asked.fetch_add(1) == 0) {
      return FakeReply::of("-ASK " + std::to_string(slot) + " " + b_->address() + "\r\n");
    }
    return a_->defaultReply(c);
  });

  const std::string raw = encodeCommand({"GET", key});
  ReplyPtr first = call({"GET", key});
  EXPECT_TRUE(replyIs(first.get(), "B:" + key)) << describe(first.get());
  EXPECT_EQ(a_->bytes(), raw);
  EXPECT_EQ(b_->bytes(), "*1\r\n$6\r\nASKING\r\n" + raw);

  // ASK is for one command: the slot still belongs to A.
  const std::string other = keyInSlot(slot, "ask-other:");
  ReplyPtr second = call({"GET", other});
  EXPECT_TRUE(replyIs(second.get(), "A:" + other)) << describe(second.get());
  EXPECT_EQ(a_->bytes(), raw + encodeCommand({"GET", other}));
  EXPECT_EQ(b_->commandCount(), 2u);  // ASKING + GET, nothing more
  EXPECT_EQ(metric("slotproxy_redirects_total{kind=\"ask\"}"), 1);
  EXPECT_EQ(metric("slotproxy_redirects_total{kind=\"moved\"}"), 0);
}

TEST_F(FakeUpstreamTest, AskToANodeOutsideTheMapIsFollowed) {
  // C is in no topology reply: only the ASK names it.
  FakeRedis c("C", netIp(153), 6379, topology_);
  std::string error;
  ASSERT_TRUE(c.start(&error)) << error;
  const std::string key = keyBetween(kSplit, 16383, "ask-c:");
  const int slot = slotOf(key);
  std::atomic<int> asked{0};
  b_->setHandler([&](const FakeRedis::Command& cmd) {
    if (asked.fetch_add(1) == 0) {
      return FakeReply::of("-ASK " + std::to_string(slot) + " " + c.address() + "\r\n");
    }
    return b_->defaultReply(cmd);
  });
  ReplyPtr r = call({"GET", key});
  EXPECT_TRUE(replyIs(r.get(), "C:" + key)) << describe(r.get());
  EXPECT_EQ(c.bytes(), "*1\r\n$6\r\nASKING\r\n" + encodeCommand({"GET", key}));
  ReplyPtr again = call({"GET", key});
  EXPECT_TRUE(replyIs(again.get(), "B:" + key)) << describe(again.get());
  EXPECT_EQ(c.commandCount(), 2u);
}

TEST_F(FakeUpstreamTest, MovedWithAnEmptyHostMeansTheNodeThatAnswered) {
  // Redis with cluster-preferred-endpoint-type unknown-endpoint answers "MOVED <slot> :<port>":
  // same host as the node that replied. A2 shares A's IP on another port.
  FakeRedis a2("A2", netIp(151), 6380, topology_);
  std::string error;
  ASSERT_TRUE(a2.start(&error)) << error;
  const std::string key = keyBetween(0, kSplit - 1, "moved-empty:");
  const int slot = slotOf(key);
  a_->setHandler([&](const FakeRedis::Command&) {
    return FakeReply::of("-MOVED " + std::to_string(slot) + " :6380\r\n");
  });
  ReplyPtr r = call({"GET", key});
  EXPECT_TRUE(replyIs(r.get(), "A2:" + key)) << describe(r.get());
  EXPECT_EQ(a2.bytes(), encodeCommand({"GET", key}));
}

TEST_F(FakeUpstreamTest, RedirectedRequestKeepsItsPlaceInThePipeline) {
  const std::string moved = keyBetween(0, kSplit - 1, "keep-moved:");
  const std::string stays = keyBetween(0, kSplit - 1, "keep-stays:", slotOf(moved));
  const int slot = slotOf(moved);
  topology_->assign(slot, slot, 1);
  a_->setHandler([&](const FakeRedis::Command& c) {
    if (c.args[1] == moved) {
      return FakeReply::of("-MOVED " + std::to_string(slot) + " " + b_->address() + "\r\n");
    }
    return a_->defaultReply(c);
  });
  // B answers the resent request only after A has answered the one behind it.
  b_->setHandler([&](const FakeRedis::Command& c) {
    FakeReply reply = b_->defaultReply(c);
    reply.held = true;
    return reply;
  });
  std::string error;
  ASSERT_TRUE(client_->sendAll(encodeCommand({"GET", moved}) + encodeCommand({"GET", stays}),
                               kTimeoutMs, &error))
      << error;
  ASSERT_TRUE(b_->waitForCommands(1, kTimeoutMs));
  ASSERT_TRUE(waitFor([&] { return a_->repliesWritten() >= 2; }, kTimeoutMs));
  EXPECT_FALSE(client_->readableWithin(300)) << "a reply overtook the redirected request";
  b_->release();
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->readReplies(2, &replies, kTimeoutMs, &error)) << error;
  EXPECT_TRUE(replyIs(replies[0].get(), "B:" + moved)) << describe(replies[0].get());
  EXPECT_TRUE(replyIs(replies[1].get(), "A:" + stays)) << describe(replies[1].get());
}

TEST_F(FakeUpstreamTest, TryagainIsRetriedAndNeverReachesTheClient) {
  const std::string key = keyBetween(0, kSplit - 1, "tryagain:");
  std::atomic<int> calls{0};
  a_->setHandler([&](const FakeRedis::Command& c) {
    if (calls.fetch_add(1) < 2) {
      return FakeReply::of("-TRYAGAIN Multiple keys request during rehashing of slot\r\n");
    }
    return a_->defaultReply(c);
  });
  ReplyPtr r = call({"GET", key});
  EXPECT_TRUE(replyIs(r.get(), "A:" + key)) << describe(r.get());
  const std::string raw = encodeCommand({"GET", key});
  EXPECT_EQ(a_->bytes(), raw + raw + raw);
}

TEST_F(FakeUpstreamTest, SplitPartRedirectedAloneIsResentByteExact) {
  const std::string a1 = keyBetween(0, kSplit - 1, "part-a:");
  const std::string b1 = keyBetween(kSplit, 16383, "part-b:");
  const int slot = slotOf(a1);
  std::atomic<int> asked{0};
  a_->setHandler([&](const FakeRedis::Command& c) {
    if (asked.fetch_add(1) == 0) {
      return FakeReply::of("-ASK " + std::to_string(slot) + " " + b_->address() + "\r\n");
    }
    return a_->defaultReply(c);
  });
  ReplyPtr r = call({"MGET", b1, a1});
  EXPECT_EQ(describe(r.get()), "[B:" + b1 + ", B:" + a1 + "]");
  EXPECT_EQ(a_->bytes(), encodeCommand({"MGET", a1}));
  EXPECT_EQ(b_->bytes(),
            encodeCommand({"MGET", b1}) + "*1\r\n$6\r\nASKING\r\n" + encodeCommand({"MGET", a1}));
}

TEST_F(FakeUpstreamTest, ReplyWrittenInPiecesWithPausesReachesTheClientIntact) {
  const std::string k1 = keyBetween(0, kSplit - 1, "piece1:");
  const std::string k2 = keyBetween(0, kSplit - 1, "piece2:");
  const std::string k3 = keyBetween(0, kSplit - 1, "piece3:");
  const std::string big(1 << 20, 'x');
  a_->setHandler([&](const FakeRedis::Command& c) {
    if (c.args[1] == k1) {
      // One byte at a time.
      std::vector<std::string> bytes;
      for (char ch : bulk("hello world")) {
        bytes.emplace_back(1, ch);
      }
      return FakeReply::inPieces(bytes, 5);
    }
    if (c.args[1] == k2) {
      return FakeReply{};  // written together with k3's reply, the cut inside both frames
    }
    if (c.args[1] == k3) {
      const std::string both = bulk("first") + bulk(big);
      return FakeReply::inPieces(
          {both.substr(0, 7), both.substr(7, 100), both.substr(107, 500000), both.substr(500107)},
          40);
    }
    return a_->defaultReply(c);
  });

  std::string error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->exchange(
      encodeCommand({"GET", k1}) + encodeCommand({"GET", k2}) + encodeCommand({"GET", k3}), 3,
      &replies, kTimeoutMs, &error))
      << error;
  EXPECT_TRUE(replyIs(replies[0].get(), "hello world")) << describe(replies[0].get());
  EXPECT_TRUE(replyIs(replies[1].get(), "first")) << describe(replies[1].get());
  ASSERT_EQ(replies[2]->type, REDIS_REPLY_STRING);
  EXPECT_TRUE(std::string_view(replies[2]->str, replies[2]->len) == big);
  // And the connection is in step afterwards.
  a_->setHandler(nullptr);
  ReplyPtr after = call({"GET", k1});
  EXPECT_TRUE(replyIs(after.get(), "A:" + k1)) << describe(after.get());
}

TEST_F(FakeUpstreamTest, RepliesFromTwoNodesAnsweredOutOfOrderLeaveInRequestOrder) {
  const std::string ka = keyBetween(0, kSplit - 1, "order-a:");
  const std::string kb = keyBetween(kSplit, 16383, "order-b:");
  a_->setHandler([&](const FakeRedis::Command& c) {
    return c.args[1] == ka ? FakeReply::heldBack(bulk("late-from-A")) : a_->defaultReply(c);
  });

  std::string error;
  ASSERT_TRUE(client_->sendAll(
      encodeCommand({"GET", ka}) + encodeCommand({"PING"}) + encodeCommand({"GET", kb}), kTimeoutMs,
      &error))
      << error;
  ASSERT_TRUE(a_->waitForCommands(1, kTimeoutMs));
  ASSERT_TRUE(b_->waitForCommands(1, kTimeoutMs));
  ASSERT_TRUE(waitFor([&] { return b_->repliesWritten() >= 1; }, kTimeoutMs));
  // B has answered and PING is local, but neither may overtake A's pending reply.
  EXPECT_FALSE(client_->readableWithin(300)) << "a reply overtook the one A holds back";

  a_->release();
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->readReplies(3, &replies, kTimeoutMs, &error)) << error;
  EXPECT_TRUE(replyIs(replies[0].get(), "late-from-A")) << describe(replies[0].get());
  EXPECT_TRUE(replyIs(replies[1].get(), "PONG")) << describe(replies[1].get());
  EXPECT_TRUE(replyIs(replies[2].get(), "B:" + kb)) << describe(replies[2].get());
}

TEST_F(FakeUpstreamTest, AnAnsweredReplyIsNotWithheldBehindALaterSlowOne) {
  // The proxy gathers a pipeline's replies into one write, but only briefly: an answered reply
  // does not wait for a later one that a node is slow to give.
  const std::string kb = keyBetween(kSplit, 16383, "first-b:");
  const std::string ka = keyBetween(0, kSplit - 1, "slow-a:");
  a_->setHandler([&](const FakeRedis::Command& c) {
    return c.args[1] == ka ? FakeReply::heldBack(bulk("late-from-A")) : a_->defaultReply(c);
  });

  std::string error;
  ASSERT_TRUE(
      client_->sendAll(encodeCommand({"GET", kb}) + encodeCommand({"GET", ka}), kTimeoutMs, &error))
      << error;
  ASSERT_TRUE(a_->waitForCommands(1, kTimeoutMs));
  std::vector<ReplyPtr> first;
  ASSERT_TRUE(client_->readReplies(1, &first, 1000, &error))
      << "B's reply waited for A's: " << error;
  EXPECT_TRUE(replyIs(first[0].get(), "B:" + kb)) << describe(first[0].get());

  a_->release();
  std::vector<ReplyPtr> second;
  ASSERT_TRUE(client_->readReplies(1, &second, kTimeoutMs, &error)) << error;
  EXPECT_TRUE(replyIs(second[0].get(), "late-from-A")) << describe(second[0].get());
}

TEST_F(FakeUpstreamTest, QuitAfterAPendingRequestAnswersItFirstThenCloses) {
  const std::string ka = keyBetween(0, kSplit - 1, "quit-a:");
  const std::string kb = keyBetween(kSplit, 16383, "quit-b:");
  a_->setHandler([&](const FakeRedis::Command&) { return FakeReply::heldBack(bulk("late")); });
  std::string error;
  ASSERT_TRUE(client_->sendAll(
      encodeCommand({"GET", ka}) + encodeCommand({"QUIT"}) + encodeCommand({"GET", kb}), kTimeoutMs,
      &error))
      << error;
  ASSERT_TRUE(a_->waitForCommands(1, kTimeoutMs));
  EXPECT_FALSE(client_->readableWithin(300)) << "+OK overtook the pending GET";
  a_->release();
  std::string bytes;
  EXPECT_TRUE(client_->readUntilEof(&bytes, kTimeoutMs)) << "not closed; got: " << bytes;
  EXPECT_EQ(bytes, bulk("late") + "+OK\r\n");
  EXPECT_EQ(b_->commandCount(), 0u) << "a command after QUIT was executed";
}

TEST_F(FakeUpstreamTest, ProtocolErrorAfterAPendingRequestAnswersItFirstThenCloses) {
  const std::string ka = keyBetween(0, kSplit - 1, "perr-a:");
  a_->setHandler([&](const FakeRedis::Command&) { return FakeReply::heldBack(bulk("late")); });
  std::string error;
  ASSERT_TRUE(client_->sendAll(encodeCommand({"GET", ka}) + "*1\r\n$x\r\n", kTimeoutMs, &error))
      << error;
  ASSERT_TRUE(a_->waitForCommands(1, kTimeoutMs));
  EXPECT_FALSE(client_->readableWithin(300)) << "the protocol error overtook the pending GET";
  a_->release();
  std::string bytes;
  EXPECT_TRUE(client_->readUntilEof(&bytes, kTimeoutMs)) << "not closed; got: " << bytes;
  EXPECT_EQ(bytes.rfind(bulk("late") + "-ERR Protocol error", 0), 0u) << bytes;
  EXPECT_EQ(bytes.find("\r\n", bulk("late").size()), bytes.size() - 2) << bytes;
}

TEST_F(FakeUpstreamTest, ReplyForAVanishedClientIsDroppedAndOthersGetTheirOwn) {
  const std::string kx = keyBetween(0, kSplit - 1, "vanished-x:");
  const std::string ky = keyBetween(0, kSplit - 1, "vanished-y:");
  a_->setHandler([&](const FakeRedis::Command& c) {
    return c.args[1] == kx ? FakeReply::heldBack(bulk("for-x")) : a_->defaultReply(c);
  });
  std::string error;
  // X sends and dies (RST) while its request is at the node.
  ASSERT_TRUE(client_->sendAll(encodeCommand({"GET", kx}), kTimeoutMs, &error)) << error;
  ASSERT_TRUE(a_->waitForCommands(1, kTimeoutMs));
  client_->abort();
  ASSERT_TRUE(waitFor(
      [&] {
        return scrapeMetric(proxy_->adminAddress(), "slotproxy_client_connections").value_or(-1) ==
               0;
      },
      kTimeoutMs));
  // Y's request goes out on the same backend connection, behind X's.
  auto y = RespClient::connect(proxy_->address(), &error);
  ASSERT_NE(y, nullptr) << error;
  ASSERT_TRUE(y->sendAll(encodeCommand({"GET", ky}), kTimeoutMs, &error)) << error;
  ASSERT_TRUE(a_->waitForCommands(2, kTimeoutMs));
  a_->release();
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(y->readReplies(1, &replies, kTimeoutMs, &error)) << error;
  EXPECT_TRUE(replyIs(replies[0].get(), "A:" + ky)) << describe(replies[0].get());
  EXPECT_FALSE(y->readableWithin(200)) << "an extra reply reached Y";
  client_ = std::move(y);  // TearDown and later calls use a live client
}

TEST_F(FakeUpstreamTest, NodeDyingWithARequestInFlightRetriesReadsAndReportsWritesAsUnknown) {
  const std::string key = keyBetween(0, kSplit - 1, "dying:");
  std::atomic<int> gets{0};
  std::atomic<int> sets{0};
  a_->setHandler([&](const FakeRedis::Command& c) {
    if (c.args[0] == "GET" && gets.fetch_add(1) == 0) {
      return FakeReply::hangUp();
    }
    if (c.args[0] == "SET" && sets.fetch_add(1) == 0) {
      return FakeReply::hangUp();
    }
    return a_->defaultReply(c);
  });
  // A read is retried once on a new connection.
  ReplyPtr get = call({"GET", key});
  EXPECT_TRUE(replyIs(get.get(), "A:" + key)) << describe(get.get());
  EXPECT_EQ(gets.load(), 2);
  // A write is not: its outcome is unknown, and the client is told so.
  ReplyPtr set = call({"SET", key, "v"});
  ASSERT_NE(set, nullptr);
  ASSERT_EQ(set->type, REDIS_REPLY_ERROR) << describe(set.get());
  EXPECT_NE(std::string(set->str, set->len).find("outcome unknown"), std::string::npos)
      << describe(set.get());
  EXPECT_EQ(sets.load(), 1);
  EXPECT_EQ(metric("slotproxy_outcome_unknown_total"), 1);
  EXPECT_EQ(metric("slotproxy_read_retries_total"), 1);
  // The node is usable again.
  ReplyPtr after = call({"SET", key, "v2"});
  EXPECT_TRUE(replyIs(after.get(), "OK")) << describe(after.get());
}

TEST_F(FakeUpstreamTest, PipelineWrittenEarlyIntoAClosedNodeConnectionLosesNothing) {
  // The proxy is stopped while a client's pipeline for A arrives and A then closes its
  // connection. Resumed, the proxy dispatches the pipeline before it reads A's end of stream,
  // writing to A every 4 KB as it goes: the first write goes into the closed connection, the
  // next ones fail. The requests stay queued until the turn's flush fails the connection and
  // hands them all back; every GET is then answered, in order, on a new connection. (A log
  // line in that branch, once: about 40 early writes failed with EPIPE in this test.)
  std::vector<std::string> keys;
  std::string pipeline;
  for (int n = 0; keys.size() < 3000; ++n) {
    std::string key = "early:" + std::to_string(n);
    if (slotOf(key) < kSplit) {
      pipeline += encodeCommand({"GET", key});
      keys.push_back(std::move(key));
    }
  }
  ASSERT_GT(pipeline.size(), 4 * 4096u);
  ASSERT_EQ(::kill(proxy_->pid(), SIGSTOP), 0);
  const ssize_t sent = client_->sendSome(pipeline);
  a_->hangUpAll();
  ASSERT_EQ(::kill(proxy_->pid(), SIGCONT), 0);
  ASSERT_GT(sent, 4 * 4096);
  std::string error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client_->exchange(std::string_view(pipeline).substr(static_cast<size_t>(sent)),
                                keys.size(), &replies, kTimeoutMs, &error))
      << error;
  size_t wrong = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!replyIs(replies[i].get(), "A:" + keys[i]) && ++wrong <= 5) {
      ADD_FAILURE() << "reply " << i << " to GET " << keys[i] << ": " << describe(replies[i].get());
    }
  }
  EXPECT_EQ(wrong, 0u);
  const std::vector<FakeRedis::Command> received = a_->commands();
  ASSERT_FALSE(received.empty());
  EXPECT_GT(received.front().conn, 1u) << "A was not reconnected";
}

TEST_F(FakeUpstreamTest, MovedLoopStopsAtTheRedirectCapWithAClearError) {
  const std::string key = keyBetween(0, kSplit - 1, "loop:");
  const int slot = slotOf(key);
  a_->setHandler([&](const FakeRedis::Command&) {
    return FakeReply::of("-MOVED " + std::to_string(slot) + " " + b_->address() + "\r\n");
  });
  b_->setHandler([&](const FakeRedis::Command&) {
    return FakeReply::of("-MOVED " + std::to_string(slot) + " " + a_->address() + "\r\n");
  });

  ReplyPtr r = call({"GET", key});
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR) << describe(r.get());
  const std::string message(r->str, r->len);
  EXPECT_EQ(message.rfind("ERR ", 0), 0u) << message;
  EXPECT_NE(message.find("redirect"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(slot)), std::string::npos) << message;
  EXPECT_EQ(message.find("\r"), std::string::npos) << message;
  // The first send and kMaxRedirects redirects followed, then the cap.
  EXPECT_EQ(a_->commandCount() + b_->commandCount(), static_cast<size_t>(kMaxRedirects + 1));
  EXPECT_GE(metric("slotproxy_redirects_total{kind=\"moved\"}"), kMaxRedirects);
  EXPECT_EQ(metric("slotproxy_command_errors_total{command=\"get\",kind=\"redirect_limit\"}"), 1);

  ReplyPtr ping = call({"PING"});
  EXPECT_TRUE(replyIs(ping.get(), "PONG")) << describe(ping.get());
}

TEST_F(FakeUpstreamTest, AskLoopStopsAtTheRedirectCapWithAClearError) {
  const std::string key = keyBetween(0, kSplit - 1, "askloop:");
  const int slot = slotOf(key);
  auto bounce = [&](FakeRedis& self, FakeRedis& other) {
    return [&self, &other, slot](const FakeRedis::Command& c) {
      if (c.args[0] == "ASKING") {
        return self.defaultReply(c);
      }
      return FakeReply::of("-ASK " + std::to_string(slot) + " " + other.address() + "\r\n");
    };
  };
  a_->setHandler(bounce(*a_, *b_));
  b_->setHandler(bounce(*b_, *a_));

  ReplyPtr r = call({"GET", key});
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR) << describe(r.get());
  const std::string message(r->str, r->len);
  EXPECT_EQ(message.rfind("ERR ", 0), 0u) << message;
  EXPECT_NE(message.find("redirect"), std::string::npos) << message;
  size_t gets = 0;
  size_t askings = 0;
  for (const FakeRedis* node : {a_.get(), b_.get()}) {
    for (const auto& c : node->commands()) {
      (c.args[0] == "ASKING" ? askings : gets) += 1;
    }
  }
  EXPECT_EQ(gets, static_cast<size_t>(kMaxRedirects + 1));
  EXPECT_EQ(askings, static_cast<size_t>(kMaxRedirects));  // each ASK followed once, with ASKING
  EXPECT_GE(metric("slotproxy_redirects_total{kind=\"ask\"}"), kMaxRedirects);
  EXPECT_EQ(metric("slotproxy_command_errors_total{command=\"get\",kind=\"redirect_limit\"}"), 1);

  ReplyPtr ping = call({"PING"});
  EXPECT_TRUE(replyIs(ping.get(), "PONG")) << describe(ping.get());
}

TEST_F(FakeUpstreamTest, SplitMgetSendsOneExactSubCommandPerSlotAndMergesInKeyOrder) {
  const std::string tag = "{" + keyBetween(0, kSplit - 1, "tag") + "}";
  const std::string a1 = tag + "x";
  const std::string a2 = tag + "y";
  const std::string b1 = keyBetween(kSplit, 16383, "mget-b:");
  const std::string a3 = keyBetween(0, kSplit - 1, "mget-c:", slotOf(a1));
  ASSERT_EQ(slotOf(a1), slotOf(a2));

  ReplyPtr r = call({"MGET", a1, b1, a2, a3, b1});
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << describe(r.get());
  ASSERT_EQ(r->elements, 5u);
  EXPECT_TRUE(replyIs(r->element[0], "A:" + a1));
  EXPECT_TRUE(replyIs(r->element[1], "B:" + b1));
  EXPECT_TRUE(replyIs(r->element[2], "A:" + a2));
  EXPECT_TRUE(replyIs(r->element[3], "A:" + a3));
  EXPECT_TRUE(replyIs(r->element[4], "B:" + b1));
  // One sub-command per slot, keys in the client's order within it.
  EXPECT_EQ(a_->bytes(), encodeCommand({"MGET", a1, a2}) + encodeCommand({"MGET", a3}));
  EXPECT_EQ(b_->bytes(), encodeCommand({"MGET", b1, b1}));
}

TEST_F(FakeUpstreamTest, SplitMsetAndDelSendExactSubCommandsAndMergeTheReplies) {
  const std::string a1 = keyBetween(0, kSplit - 1, "mset-a:");
  const std::string b1 = keyBetween(kSplit, 16383, "mset-b:");
  auto handler = [](FakeRedis& self) {
    return [&self](const FakeRedis::Command& c) {
      if (c.args[0] == "MSET") {
        return FakeReply::of("+OK\r\n");
      }
      if (c.args[0] == "DEL") {
        return FakeReply::of(":" + std::to_string(c.args.size() - 1) + "\r\n");
      }
      return self.defaultReply(c);
    };
  };
  a_->setHandler(handler(*a_));
  b_->setHandler(handler(*b_));

  const std::string vb("vb\r\n\0!", 6);
  ReplyPtr mset = call({"MSET", a1, "va", b1, vb});
  EXPECT_TRUE(replyIs(mset.get(), "OK")) << describe(mset.get());
  ReplyPtr del = call({"DEL", b1, a1, b1});
  ASSERT_NE(del, nullptr);
  EXPECT_EQ(del->type, REDIS_REPLY_INTEGER) << describe(del.get());
  EXPECT_EQ(del->integer, 3);
  EXPECT_EQ(a_->bytes(), encodeCommand({"MSET", a1, "va"}) + encodeCommand({"DEL", a1}));
  EXPECT_EQ(b_->bytes(), encodeCommand({"MSET", b1, vb}) + encodeCommand({"DEL", b1, b1}));
}

TEST_F(FakeUpstreamTest, SplitPartErrorBecomesTheWholeReplyAndTheConnectionStaysInStep) {
  const std::string a1 = keyBetween(0, kSplit - 1, "err-a:");
  const std::string b1 = keyBetween(kSplit, 16383, "err-b:");
  b_->setHandler([](const FakeRedis::Command&) {
    return FakeReply::of("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  });
  ReplyPtr r = call({"MGET", a1, b1});
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR) << describe(r.get());
  EXPECT_EQ(std::string(r->str, r->len),
            "WRONGTYPE Operation against a key holding the wrong kind of value");
  ReplyPtr next = call({"GET", a1});
  EXPECT_TRUE(replyIs(next.get(), "A:" + a1)) << describe(next.get());
}

}  // namespace
}  // namespace slotproxy::testing
