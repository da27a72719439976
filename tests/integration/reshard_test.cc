// Slots moving under slotproxy on a real cluster (3 primaries on 127.0.13.0/24): a live
// `redis-cli --cluster reshard` under a write/read load, and a slot left half-migrated by hand.
// Clients must never see MOVED, ASK, TRYAGAIN or any other error, and every counter must end up
// exactly as the clients' ledgers say.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fake_upstream/direct_cluster.h"
#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"
#include "tests/integration/fixture/suite.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetReshard;
constexpr int kTimeoutMs = 30000;

std::string str(const redisReply* r) { return std::string(r->str, r->len); }

// A key "<prefix><n>" whose slot is in [first, last].
std::string keyInRange(const std::string& prefix, int first, int last) {
  for (int n = 0;; ++n) {
    std::string key = prefix + std::to_string(n);
    const int slot = slotOf(key);
    if (slot >= first && slot <= last) {
      return key;
    }
  }
}

// Hash tags for each slot in [first, last] (index slot - first).
std::vector<std::string> tagsForSlots(int first, int last) {
  std::vector<std::string> tags(static_cast<size_t>(last - first + 1));
  size_t missing = tags.size();
  for (int n = 0; missing > 0; ++n) {
    const std::string tag = "t" + std::to_string(n);
    const int slot = slotOf(tag);
    if (slot >= first && slot <= last && tags[static_cast<size_t>(slot - first)].empty()) {
      tags[static_cast<size_t>(slot - first)] = tag;
      --missing;
    }
  }
  return tags;
}

class ReshardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_.start({.net = kNet, .masters = 3, .replicas_per_master = 0},
                 "127.0." + std::to_string(kNet) + "." + std::to_string(kProxyHost));
    cluster_ = suite_.cluster;
    proxy_ = suite_.proxy;
  }
  static void TearDownTestSuite() {
    suite_.stop();
    cluster_ = nullptr;
    proxy_ = nullptr;
  }

  void SetUp() override {
    if (!ProxyProcess::available()) {
      GTEST_SKIP() << "slotproxy is not built (no SLOTPROXY_BIN)";
    }
    suite_.expectUp();
    if (HasFatalFailure()) return;
  }
  void TearDown() override {
    if (proxy_ != nullptr) {
      EXPECT_TRUE(proxy_->running()) << "slotproxy died:\n" << tailFile(proxy_->log(), 30);
    }
  }

  // Marks `slot` importing on dst and migrating on src, as the first step of moving it.
  static void openSlot(int slot, int src, redisContext* to_src, int dst, redisContext* to_dst) {
    ASSERT_TRUE(replyIs(command(to_dst, {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING",
                                         cluster_->nodeId(src)})
                            .get(),
                        "OK"));
    ASSERT_TRUE(replyIs(command(to_src, {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING",
                                         cluster_->nodeId(dst)})
                            .get(),
                        "OK"));
  }

  // Gives `slot`, which holds no key (nothing to migrate), from `src` to `dst`.
  static void moveEmptySlot(int slot, int src, int dst) {
    ContextPtr to_src(cluster_->connectNode(src));
    ContextPtr to_dst(cluster_->connectNode(dst));
    ASSERT_NO_FATAL_FAILURE(openSlot(slot, src, to_src.get(), dst, to_dst.get()));
    for (redisContext* node : {to_dst.get(), to_src.get()}) {
      ASSERT_TRUE(replyIs(
          command(node, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", cluster_->nodeId(dst)})
              .get(),
          "OK"));
    }
  }

  static SuiteCluster suite_;
  static LocalCluster* cluster_;
  static ProxyProcess* proxy_;
};
LocalCluster* ReshardTest::cluster_ = nullptr;
ProxyProcess* ReshardTest::proxy_ = nullptr;
SuiteCluster ReshardTest::suite_;

// One load client: INCRs its own counters (so its ledger is exact), reads them back, and now and
// then writes and reads a pair of hash-tagged keys in a moving slot (MSET/MGET, and a
// MULTI/EXEC of two INCRs: TRYAGAIN while the slot is split between two nodes must stay
// invisible), and increments one with WATCH ... EXEC (a lost watch must be a retry, not an
// error).
struct LoadClient {
  int id = 0;
  std::vector<std::string> counters;
  std::map<std::string, long long> ledger;
  std::atomic<long long> ops{0};
  std::atomic<long long> watch_retries{0};  // EXECs answered null (watch lost to a move)
  std::vector<std::string> errors;          // first few unexpected replies

  bool pipelined = false;  // batches of INCR+GET in one write instead of one at a time

  void run(ProxyProcess& proxy, const std::atomic<bool>& stop) {
    if (pipelined) {
      runPipelined(proxy, stop);
      return;
    }
    ContextPtr c(proxy.connect());
    if (c == nullptr) {
      errors.push_back("cannot connect");
      return;
    }
    std::mt19937 rng(static_cast<uint32_t>(id));
    const std::string tag = "{" + keyInRange("pair" + std::to_string(id) + ":", 0, 499) + "}";
    for (long long i = 0; !stop.load() && errors.size() < 5; ++i) {
      const std::string& key = counters[rng() % counters.size()];
      ReplyPtr r = command(c.get(), {"INCR", key});
      const long long want = ++ledger[key];
      if (r == nullptr || r->type != REDIS_REPLY_INTEGER || r->integer != want) {
        errors.push_back("INCR " + key + " -> " + describe(r.get(), c.get()) + ", expected " +
                         std::to_string(want));
        if (r == nullptr) {
          return;
        }
        continue;
      }
      if (i % 4 == 0) {
        ReplyPtr g = command(c.get(), {"GET", key});
        if (!replyIs(g.get(), std::to_string(want))) {
          errors.push_back("GET " + key + " -> " + describe(g.get(), c.get()) + ", expected " +
                           std::to_string(want));
        }
      }
      if (i % 8 == 0) {
        // A transaction on two keys of a moving slot: applied once and whole, never refused.
        const long long n = ++ledger[tag + "txa"];
        ++ledger[tag + "txb"];
        ReplyPtr multi = command(c.get(), {"MULTI"});
        ReplyPtr qa = command(c.get(), {"INCR", tag + "txa"});
        ReplyPtr qb = command(c.get(), {"INCR", tag + "txb"});
        ReplyPtr exec = command(c.get(), {"EXEC"});
        const std::string want_exec =
            "[(integer) " + std::to_string(n) + ", (integer) " + std::to_string(n) + "]";
        if (!replyIs(multi.get(), "OK") || !replyIs(qa.get(), "QUEUED") ||
            !replyIs(qb.get(), "QUEUED") || describe(exec.get()) != want_exec) {
          errors.push_back("MULTI/INCR/INCR/EXEC " + tag + " -> " + describe(exec.get(), c.get()) +
                           ", expected " + want_exec);
        }
      }
      if (i % 8 == 4) {
        // Optimistic locking in a moving slot: WATCH, GET, MULTI SET EXEC, again on null. A
        // watch lost to the migration is a null EXEC (a retry), never an error or a lost write.
        const std::string cas = tag + "cas";
        const long long next = ++ledger[cas];
        std::string failed;
        for (int attempt = 0;; ++attempt) {
          ReplyPtr w = command(c.get(), {"WATCH", cas});
          ReplyPtr g = command(c.get(), {"GET", cas});
          ReplyPtr m = command(c.get(), {"MULTI"});
          ReplyPtr q = command(c.get(), {"SET", cas, std::to_string(next)});
          ReplyPtr e = command(c.get(), {"EXEC"});
          const std::string seen =
              g != nullptr && g->type == REDIS_REPLY_NIL ? "0" : describe(g.get());
          if (!replyIs(w.get(), "OK") || seen != std::to_string(next - 1) ||
              !replyIs(m.get(), "OK") || !replyIs(q.get(), "QUEUED") || e == nullptr ||
              (e->type != REDIS_REPLY_NIL && describe(e.get()) != "[OK]")) {
            failed = "WATCH/GET/MULTI/SET/EXEC " + cas + " -> " + describe(w.get()) + " / " + seen +
                     " / " + describe(e.get(), c.get()) + ", expected value " +
                     std::to_string(next - 1);
          } else if (e->type == REDIS_REPLY_NIL && attempt < 1000) {
            watch_retries.fetch_add(1);
            continue;
          } else if (e->type == REDIS_REPLY_NIL) {
            failed = "WATCH ... EXEC " + cas + ": null 1000 times";
          }
          break;
        }
        if (!failed.empty()) errors.push_back(failed);
      }
      if (i % 16 == 0) {
        const std::string v = std::to_string(i);
        ReplyPtr m = command(c.get(), {"MSET", tag + "a", v, tag + "b", v});
        ReplyPtr g = command(c.get(), {"MGET", tag + "a", tag + "b"});
        if (!replyIs(m.get(), "OK") || g == nullptr || g->type != REDIS_REPLY_ARRAY ||
            g->elements != 2 || !replyIs(g->element[0], v) || !replyIs(g->element[1], v)) {
          errors.push_back("MSET/MGET " + tag + " -> " + describe(m.get(), c.get()) + " / " +
                           describe(g.get(), c.get()) + ", expected " + v);
        }
      }
      ops.fetch_add(1);
    }
  }

  // Pipelines of 100 INCR and 100 GET: replies must come back in order even when requests in
  // the middle of a batch are redirected.
  void runPipelined(ProxyProcess& proxy, const std::atomic<bool>& stop) {
    std::string error;
    auto c = RespClient::connect(proxy.address(), &error);
    if (c == nullptr) {
      errors.push_back(error);
      return;
    }
    std::mt19937 rng(static_cast<uint32_t>(id));
    while (!stop.load() && errors.size() < 5) {
      std::string batch;
      std::vector<std::string> expected;
      for (int i = 0; i < 100; ++i) {
        const std::string& key = counters[rng() % counters.size()];
        const long long want = ++ledger[key];
        batch += encodeCommand({"INCR", key}) + encodeCommand({"GET", key});
        expected.push_back("(integer) " + std::to_string(want));
        expected.push_back(std::to_string(want));
      }
      std::vector<ReplyPtr> replies;
      if (!c->exchange(batch, expected.size(), &replies, kTimeoutMs, &error)) {
        errors.push_back("pipeline: " + error);
        return;
      }
      for (size_t i = 0; i < expected.size(); ++i) {
        if (describe(replies[i].get()) != expected[i]) {
          errors.push_back("pipelined reply " + std::to_string(i) + ": " +
                           describe(replies[i].get()) + ", expected " + expected[i]);
          break;
        }
      }
      ops.fetch_add(100);
    }
  }
};

TEST_F(ReshardTest, LiveReshardUnderLoadIsInvisibleToClients) {
  constexpr int kClients = 8;
  constexpr int kCountersPerClient = 250;
  const int from = cluster_->primaryOfSlot(0);
  const int to = cluster_->primaryOfSlot(8000);
  ASSERT_GE(from, 0);
  ASSERT_GE(to, 0);
  ASSERT_NE(from, to);

  // Ballast in the slots that move, so that each slot takes a while to migrate and the load
  // meets slots that are half-migrated (ASK) and multi-key requests that get TRYAGAIN.
  {
    constexpr int kBallastPerSlot = 40;
    const std::vector<std::string> tags = tagsForSlots(0, 499);
    ContextPtr c(cluster_->connectNode(from));
    ASSERT_NE(c, nullptr);
    const std::string value(256, 'b');
    for (const std::string& tag : tags) {
      for (int i = 0; i < kBallastPerSlot; ++i) {
        const std::string key = "ballast:{" + tag + "}:" + std::to_string(i);
        redisAppendCommand(c.get(), "SET %b %b", key.data(), key.size(), value.data(),
                           value.size());
      }
      for (int i = 0; i < kBallastPerSlot; ++i) {
        void* reply = nullptr;
        ASSERT_EQ(redisGetReply(c.get(), &reply), REDIS_OK) << c->errstr;
        ReplyPtr r(static_cast<redisReply*>(reply));
        ASSERT_TRUE(replyIs(r.get(), "OK")) << describe(r.get());
      }
    }
  }

  std::vector<std::unique_ptr<LoadClient>> clients;
  for (int t = 0; t < kClients; ++t) {
    auto lc = std::make_unique<LoadClient>();
    lc->id = t;
    lc->pipelined = t >= kClients - 2;
    for (int j = 0; j < kCountersPerClient; ++j) {
      const std::string prefix = "rs:" + std::to_string(t) + ":" + std::to_string(j) + ":";
      // Half of them in the slots that move (the 500 lowest of `from`), half anywhere.
      lc->counters.push_back(j % 2 == 0 ? keyInRange(prefix, 0, 499) : prefix + "any");
    }
    clients.push_back(std::move(lc));
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& lc : clients) {
    threads.emplace_back([&, raw = lc.get()] { raw->run(*proxy_, stop); });
  }
  auto allDid = [&](long long n) {
    return std::all_of(clients.begin(), clients.end(),
                       [n](const auto& lc) { return lc->ops.load() >= n || !lc->errors.empty(); });
  };
  auto snapshot = [&] {
    std::vector<long long> out;
    for (const auto& lc : clients) {
      out.push_back(lc->ops.load());
    }
    return out;
  };
  EXPECT_TRUE(waitFor([&] { return allDid(200); }, kTimeoutMs));

  std::string error;
  const bool moved = cluster_->reshard(from, to, 500, &error);
  EXPECT_TRUE(moved) << error;
  const bool moved_back = moved && cluster_->reshard(to, from, 300, &error);
  EXPECT_TRUE(moved_back) << error;
  // The load keeps going after the last move (every client makes progress on the new map).
  const std::vector<long long> after_move = snapshot();
  EXPECT_TRUE(waitFor(
      [&] {
        for (size_t i = 0; i < clients.size(); ++i) {
          if (clients[i]->ops.load() < after_move[i] + 200 && clients[i]->errors.empty()) {
            return false;
          }
        }
        return true;
      },
      kTimeoutMs));
  stop.store(true);
  for (std::thread& th : threads) {
    th.join();
  }

  long long total = 0, watch_retries = 0;
  for (const auto& lc : clients) {
    total += lc->ops.load();
    watch_retries += lc->watch_retries.load();
    for (const std::string& e : lc->errors) {
      ADD_FAILURE() << "client " << lc->id << ": " << e;
    }
  }
  RecordProperty("operations", std::to_string(total));
  RecordProperty("watch_retries", std::to_string(watch_retries));
  // The load did cross the moves: the proxy followed redirects the clients never saw.
  const double moved_redirects =
      scrapeMetric(proxy_->adminAddress(), "slotproxy_redirects_total{kind=\"moved\"}")
          .value_or(-1);
  const double ask_redirects =
      scrapeMetric(proxy_->adminAddress(), "slotproxy_redirects_total{kind=\"ask\"}").value_or(-1);
  RecordProperty("moved_redirects", std::to_string(moved_redirects));
  RecordProperty("ask_redirects", std::to_string(ask_redirects));
  EXPECT_GT(moved_redirects, 0);
  ASSERT_TRUE(moved_back);
  // The slots really moved: 0-299 went there and back, 300-499 stayed on `to`.
  EXPECT_EQ(cluster_->primaryOfSlot(0), from);
  EXPECT_EQ(cluster_->primaryOfSlot(299), from);
  EXPECT_EQ(cluster_->primaryOfSlot(300), to);
  EXPECT_EQ(cluster_->primaryOfSlot(499), to);

  DirectCluster direct(*cluster_);
  ASSERT_TRUE(direct.ok());
  int wrong = 0;
  for (const auto& lc : clients) {
    for (const auto& [key, n] : lc->ledger) {
      ReplyPtr r = direct.onOwner(key, {"GET", key});
      if (!replyIs(r.get(), std::to_string(n)) && ++wrong <= 10) {
        ADD_FAILURE() << key << " (slot " << slotOf(key) << "): cluster has " << describe(r.get())
                      << ", ledger " << n;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST_F(ReshardTest, HalfMigratedSlotServesKeysOnBothSides) {
  const int slot = 5000;
  const int src = cluster_->primaryOfSlot(slot);
  ASSERT_GE(src, 0);
  const int dst = src == 0 ? 1 : 0;
  const std::string tag = "{" + keyInSlot(slot, "half") + "}";
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) {
    keys.push_back(tag + ":" + std::to_string(i));
    ASSERT_EQ(slotOf(keys.back()), slot);
    ASSERT_TRUE(cluster_->setDirect(keys.back(), "v" + std::to_string(i)));
  }
  ContextPtr to_src(cluster_->connectNode(src));
  ContextPtr to_dst(cluster_->connectNode(dst));
  ASSERT_NO_FATAL_FAILURE(openSlot(slot, src, to_src.get(), dst, to_dst.get()));
  // Keys 0-4 move to dst; 5-9 stay on src.
  std::vector<std::string> migrate = {"MIGRATE", cluster_->ip(dst), "6379", "", "0", "5000",
                                      "KEYS"};
  migrate.insert(migrate.end(), keys.begin(), keys.begin() + 5);
  ReplyPtr migrated = command(to_src.get(), migrate);
  ASSERT_TRUE(replyIs(migrated.get(), "OK")) << describe(migrated.get());
  // Sanity: the source now redirects for a moved key.
  ReplyPtr ask = command(to_src.get(), {"GET", keys[0]});
  ASSERT_NE(ask, nullptr);
  ASSERT_EQ(ask->type, REDIS_REPLY_ERROR);
  ASSERT_EQ(str(ask.get()).rfind("ASK ", 0), 0u) << str(ask.get());

  const std::string ask_series = "slotproxy_redirects_total{kind=\"ask\"}";
  const double asks_before = scrapeMetric(proxy_->adminAddress(), ask_series).value_or(-1);
  ASSERT_GE(asks_before, 0);
  ContextPtr conn(proxy_->connect());
  ASSERT_NE(conn, nullptr);
  auto proxied = [&](const std::vector<std::string>& argv) { return command(conn.get(), argv); };
  // Reads on both sides.
  for (int i = 0; i < 10; ++i) {
    ReplyPtr r = proxied({"GET", keys[static_cast<size_t>(i)]});
    EXPECT_TRUE(replyIs(r.get(), "v" + std::to_string(i)))
        << keys[static_cast<size_t>(i)] << ": " << describe(r.get(), conn.get());
  }
  // Writes on both sides, a new key (created on the importing node) and a delete.
  for (int i = 0; i < 10; ++i) {
    ReplyPtr r = proxied({"APPEND", keys[static_cast<size_t>(i)], "+w"});
    EXPECT_EQ(describe(r.get(), conn.get()), "(integer) " + std::to_string(4))
        << keys[static_cast<size_t>(i)];
  }
  const std::string fresh = tag + ":new";
  EXPECT_TRUE(replyIs(proxied({"SET", fresh, "created"}).get(), "OK"));
  EXPECT_TRUE(replyIs(proxied({"GET", fresh}).get(), "created"));
  EXPECT_EQ(describe(proxied({"DEL", keys[3]}).get()), "(integer) 1");
  EXPECT_EQ(describe(proxied({"EXISTS", keys[3]}).get()), "(integer) 0");
  EXPECT_EQ(describe(proxied({"INCR", tag + ":counter"}).get()), "(integer) 1");
  EXPECT_EQ(describe(proxied({"INCR", tag + ":counter"}).get()), "(integer) 2");
  // Each command on a moved or new key took an ASK (reads and appends of keys 0-4 at least).
  EXPECT_GE(scrapeMetric(proxy_->adminAddress(), ask_series).value_or(-1), asks_before + 10);
  // The primaries report the open slot (src migrating, dst importing): one slot "migrating"
  // in slotproxy_slots and both sides in /topology. (A manual refresh asks them at once.)
  auto slotsIn = [&](const std::string& state) {
    httpRequest(proxy_->adminAddress(), "POST", "/refresh");
    return scrapeMetric(proxy_->adminAddress(), "slotproxy_slots{state=\"" + state + "\"}")
        .value_or(-1);
  };
  EXPECT_TRUE(waitFor([&] { return slotsIn("migrating") == 1; }, kTimeoutMs, 100));
  EXPECT_EQ(slotsIn("importing"), 0);
  const std::string topology = httpGet(proxy_->adminAddress(), "/topology").value_or("");
  for (const std::string& side :
       {"{\"slot\": " + std::to_string(slot) + ", \"state\": \"migrating\", \"node\": \"" +
            cluster_->nodeId(src) + "\", \"peer\": \"" + cluster_->nodeId(dst) + "\"}",
        "{\"slot\": " + std::to_string(slot) + ", \"state\": \"importing\", \"node\": \"" +
            cluster_->nodeId(dst) + "\", \"peer\": \"" + cluster_->nodeId(src) + "\"}"}) {
    EXPECT_NE(topology.find(side), std::string::npos) << side << "\n" << topology;
  }

  // Where everything is, read directly: moved keys and new keys on dst, the rest on src.
  auto onDst = [&](const std::vector<std::string>& argv) {
    EXPECT_TRUE(replyIs(command(to_dst.get(), {"ASKING"}).get(), "OK"));
    return command(to_dst.get(), argv);
  };
  for (int i = 0; i < 10; ++i) {
    const std::string& k = keys[static_cast<size_t>(i)];
    const std::string want = "v" + std::to_string(i) + "+w";
    if (i == 3) {
      EXPECT_EQ(describe(onDst({"EXISTS", k}).get()), "(integer) 0");
    } else if (i < 5) {
      EXPECT_TRUE(replyIs(onDst({"GET", k}).get(), want)) << k;
    } else {
      EXPECT_TRUE(replyIs(command(to_src.get(), {"GET", k}).get(), want)) << k;
    }
  }
  EXPECT_TRUE(replyIs(onDst({"GET", fresh}).get(), "created"));
  EXPECT_TRUE(replyIs(onDst({"GET", tag + ":counter"}).get(), "2"));

  // Finish the migration; the proxy follows the slot to its new owner.
  std::vector<std::string> rest = {"MIGRATE", cluster_->ip(dst), "6379", "", "0", "5000", "KEYS"};
  rest.insert(rest.end(), keys.begin() + 5, keys.end());
  ASSERT_TRUE(replyIs(command(to_src.get(), rest).get(), "OK"));
  for (int i = 0; i < cluster_->size(); ++i) {
    ContextPtr n(cluster_->connectNode(i));
    EXPECT_TRUE(replyIs(command(n.get(), {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE",
                                          cluster_->nodeId(dst)})
                            .get(),
                        "OK"));
  }
  std::string error;
  ASSERT_TRUE(cluster_->waitClusterOk(kTimeoutMs, &error)) << error;
  ASSERT_EQ(cluster_->primaryOfSlot(slot), dst);
  for (int i = 0; i < 10; ++i) {
    ReplyPtr r = proxied({"GET", keys[static_cast<size_t>(i)]});
    if (i == 3) {
      EXPECT_EQ(describe(r.get(), conn.get()), "(nil)");
    } else {
      EXPECT_TRUE(replyIs(r.get(), "v" + std::to_string(i) + "+w"))
          << keys[static_cast<size_t>(i)] << ": " << describe(r.get(), conn.get());
    }
  }
  ReplyPtr all = proxied({"MGET", keys[0], keys[9], fresh});
  EXPECT_EQ(describe(all.get(), conn.get()), "[v0+w, v9+w, created]");
  // Nothing is open any more.
  EXPECT_TRUE(waitFor([&] { return slotsIn("migrating") == 0 && slotsIn("importing") == 0; },
                      kTimeoutMs, 100));
}

// A shard subscriber whose channel's slot moves away is unsubscribed by the node, as a client of
// Redis itself would be; it leaves subscribed mode, and subscribing again reaches the new owner.
TEST_F(ReshardTest, ShardSubscriberIsUnsubscribedWhenItsSlotMovesAndCanSubscribeAgain) {
  const int slot = 11000;
  const int src = cluster_->primaryOfSlot(slot);
  ASSERT_GE(src, 0);
  const int dst = (src + 1) % cluster_->size();
  const std::string channel = "{" + keyInSlot(slot, "shard") + "}ch";
  ASSERT_EQ(slotOf(channel), slot);
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(describe(command(sub.get(), {"SSUBSCRIBE", channel}).get()),
            "[ssubscribe, " + channel + ", (integer) 1]");

  ASSERT_NO_FATAL_FAILURE(moveEmptySlot(slot, src, dst));
  // The old owner drops the channel: the client gets Redis's own sunsubscribe, then is out of
  // subscribed mode.
  void* frame = nullptr;
  ASSERT_EQ(redisGetReply(sub.get(), &frame), REDIS_OK) << sub->errstr;
  ReplyPtr dropped(static_cast<redisReply*>(frame));
  EXPECT_EQ(describe(dropped.get()), "[sunsubscribe, " + channel + ", (integer) 0]");
  EXPECT_TRUE(replyIs(command(sub.get(), {"SET", "{shard}after", "v"}).get(), "OK"));

  std::string error;
  ASSERT_TRUE(cluster_->waitClusterOk(kTimeoutMs, &error)) << error;
  // Subscribing again: until the proxy's map has the new owner, the old one answers MOVED,
  // which the client gets as TRYAGAIN (and never as MOVED).
  std::string last;
  EXPECT_TRUE(waitFor(
      [&] {
        last = describe(command(sub.get(), {"SSUBSCRIBE", channel}).get());
        EXPECT_TRUE(last.starts_with("[ssubscribe, ") || last.starts_with("(error) TRYAGAIN "))
            << last;
        return last.starts_with("[ssubscribe, ");
      },
      kTimeoutMs, 50))
      << last;
  EXPECT_EQ(last, "[ssubscribe, " + channel + ", (integer) 1]");
  ContextPtr publisher(proxy_->connect());
  ASSERT_NE(publisher, nullptr);
  EXPECT_EQ(describe(command(publisher.get(), {"SPUBLISH", channel, "moved"}).get()),
            "(integer) 1");
  ASSERT_EQ(redisGetReply(sub.get(), &frame), REDIS_OK) << sub->errstr;
  ReplyPtr message(static_cast<redisReply*>(frame));
  EXPECT_EQ(describe(message.get()), "[smessage, " + channel + ", moved]");
}

// The same for a client whose shard channels are on two primaries: the node losing the slot
// drops its channel with a count that includes the other node's channel, and the client stays
// subscribed to that one.
TEST_F(ReshardTest, ShardSubscriberOfTwoNodesKeepsTheOtherWhenOneSlotMoves) {
  const int slot = 12500;
  const int src = cluster_->primaryOfSlot(slot);
  ASSERT_GE(src, 0);
  const int dst = (src + 1) % cluster_->size();
  const std::string channel = "{" + keyInSlot(slot, "shard2") + "}ch";
  std::string other;  // a shard channel of the third primary
  for (int s = 0; other.empty(); s += 331) {
    const int owner = cluster_->primaryOfSlot(s);
    if (owner != src && owner != dst) other = "{" + keyInSlot(s, "shard2") + "}other";
  }
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(describe(command(sub.get(), {"SSUBSCRIBE", channel}).get()),
            "[ssubscribe, " + channel + ", (integer) 1]");
  EXPECT_EQ(describe(command(sub.get(), {"SSUBSCRIBE", other}).get()),
            "[ssubscribe, " + other + ", (integer) 2]");

  ASSERT_NO_FATAL_FAILURE(moveEmptySlot(slot, src, dst));
  void* frame = nullptr;
  ASSERT_EQ(redisGetReply(sub.get(), &frame), REDIS_OK) << sub->errstr;
  ReplyPtr dropped(static_cast<redisReply*>(frame));
  EXPECT_EQ(describe(dropped.get()), "[sunsubscribe, " + channel + ", (integer) 1]");

  // Still subscribed to the other channel: in subscribed mode, and its messages arrive.
  EXPECT_EQ(describe(command(sub.get(), {"GET", "k"}).get()),
            "(error) ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT "
            "/ RESET are allowed in this context");
  ContextPtr publisher(proxy_->connect());
  ASSERT_NE(publisher, nullptr);
  EXPECT_EQ(describe(command(publisher.get(), {"SPUBLISH", other, "still"}).get()), "(integer) 1");
  ASSERT_EQ(redisGetReply(sub.get(), &frame), REDIS_OK) << sub->errstr;
  ReplyPtr message(static_cast<redisReply*>(frame));
  EXPECT_EQ(describe(message.get()), "[smessage, " + other + ", still]");
  EXPECT_EQ(describe(command(sub.get(), {"SUNSUBSCRIBE"}).get()),
            "[sunsubscribe, " + other + ", (integer) 0]");
  EXPECT_TRUE(replyIs(command(sub.get(), {"SET", "{shard2}after", "v"}).get(), "OK"));
  std::string error;
  ASSERT_TRUE(cluster_->waitClusterOk(kTimeoutMs, &error)) << error;
}

}  // namespace
}  // namespace slotproxy::testing
