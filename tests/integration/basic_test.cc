// Commands through slotproxy on a healthy real cluster (3 primaries + 3 replicas on
// 127.0.11.0/24): data commands of every type land on the primary that owns their slot, split
// commands merge like key-by-key execution, local and fan-out commands answer like one Redis,
// and the wire protocol edge cases (binary data, 8 MB values, protocol errors, inline commands)
// behave as with Redis itself.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fake_upstream/direct_cluster.h"
#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"
#include "tests/integration/fixture/suite.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetBasic;
constexpr int kTimeoutMs = 30000;

std::string str(const redisReply* r) { return std::string(r->str, r->len); }

class BasicTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_.start({.net = kNet}, "127.0." + std::to_string(kNet) + "." + std::to_string(kProxyHost));
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
    conn_ = ContextPtr(proxy_->connect());
    ASSERT_NE(conn_, nullptr);
    direct_ = std::make_unique<DirectCluster>(*cluster_);
    ASSERT_TRUE(direct_->ok()) << "no complete slot map from the cluster";
  }
  void TearDown() override {
    if (proxy_ != nullptr) {
      EXPECT_TRUE(proxy_->running()) << "slotproxy died:\n" << tailFile(proxy_->log(), 30);
    }
  }

  // Through the proxy.
  ReplyPtr proxied(const std::vector<std::string>& argv) {
    ReplyPtr r = command(conn_.get(), argv);
    EXPECT_NE(r, nullptr) << describe(nullptr, conn_.get());
    return r;
  }
  std::unique_ptr<RespClient> rawClient() {
    std::string error;
    auto c = RespClient::connect(proxy_->address(), &error);
    EXPECT_NE(c, nullptr) << error;
    return c;
  }

  static SuiteCluster suite_;
  static LocalCluster* cluster_;
  static ProxyProcess* proxy_;
  ContextPtr conn_;
  std::unique_ptr<DirectCluster> direct_;  // reads and writes bypassing the proxy
};
LocalCluster* BasicTest::cluster_ = nullptr;
ProxyProcess* BasicTest::proxy_ = nullptr;
SuiteCluster BasicTest::suite_;

#define EXPECT_REPLY(reply, text) \
  EXPECT_TRUE(replyIs((reply).get(), text)) << describe((reply).get())

#define EXPECT_INT(reply, n)                                                 \
  do {                                                                       \
    const ReplyPtr& r_ = (reply);                                            \
    ASSERT_NE(r_, nullptr);                                                  \
    EXPECT_EQ(r_->type, REDIS_REPLY_INTEGER) << describe(r_.get());          \
    EXPECT_EQ(r_->integer, static_cast<long long>(n)) << describe(r_.get()); \
  } while (0)

// Every element of an array reply as strings (nil as "(nil)").
std::vector<std::string> elements(const redisReply* r) {
  std::vector<std::string> out;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
    return {"(not an array: " + describe(r) + ")"};
  }
  for (size_t i = 0; i < r->elements; ++i) {
    out.push_back(r->element[i]->type == REDIS_REPLY_NIL ? "(nil)" : describe(r->element[i]));
  }
  return out;
}

// The value of an integer reply; a huge negative number for anything else (fails the sums).
long long integerOf(const ReplyPtr& r) {
  return r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1000000;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(BasicTest, RandomKeysOfEveryTypeLandOnTheirPrimariesAndMatchDirectReads) {
  // Exact per-node key counts below: start from empty primaries.
  for (int p : direct_->primaries()) {
    EXPECT_REPLY(direct_->onNode(p, {"FLUSHALL"}), "OK");
  }
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  constexpr int kKeys = 2000;
  enum Kind { kString, kCounter, kHash, kList, kZset, kSet, kExpiring, kDeleted, kKinds };
  struct Key {
    std::string name;
    Kind kind;
    std::string value;  // kString; kCounter: the count
  };
  std::vector<Key> keys;
  std::set<int> slots;
  for (int i = 0; i < kKeys; ++i) {
    Key k{"basic:" + std::to_string(rng()) + ":" + std::to_string(i), static_cast<Kind>(i % kKinds),
          ""};
    slots.insert(slotOf(k.name));
    const std::string& n = k.name;
    switch (k.kind) {
      case kString:
      case kDeleted: {
        k.value = std::string(1 + rng() % 64, 'a');
        for (char& ch : k.value) {
          ch = static_cast<char>('a' + rng() % 26);
        }
        EXPECT_REPLY(proxied({"SET", n, k.value}), "OK");
        EXPECT_REPLY(proxied({"GET", n}), k.value);
        if (k.kind == kDeleted) {
          EXPECT_INT(proxied({"DEL", n}), 1);
        }
        break;
      }
      case kCounter: {
        const int count = 1 + static_cast<int>(rng() % 5);
        for (int c = 1; c <= count; ++c) {
          EXPECT_INT(proxied({"INCR", n}), c);
        }
        k.value = std::to_string(count);
        break;
      }
      case kHash:
        EXPECT_INT(proxied({"HSET", n, "f1", "v1:" + n, "f2", "v2"}), 2);
        EXPECT_EQ(elements(proxied({"HGETALL", n}).get()),
                  (std::vector<std::string>{"f1", "v1:" + n, "f2", "v2"}));
        break;
      case kList:
        EXPECT_INT(proxied({"LPUSH", n, "a", "b", n}), 3);
        EXPECT_EQ(elements(proxied({"LRANGE", n, "0", "-1"}).get()),
                  (std::vector<std::string>{n, "b", "a"}));
        break;
      case kZset:
        EXPECT_INT(proxied({"ZADD", n, "3", "m3", "1", "m1", "2", "m2"}), 3);
        EXPECT_EQ(elements(proxied({"ZRANGE", n, "0", "-1"}).get()),
                  (std::vector<std::string>{"m1", "m2", "m3"}));
        break;
      case kSet:
        EXPECT_INT(proxied({"SADD", n, "x", "y", "z", "x"}), 3);
        EXPECT_EQ(sorted(elements(proxied({"SMEMBERS", n}).get())),
                  (std::vector<std::string>{"x", "y", "z"}));
        break;
      case kExpiring: {
        EXPECT_REPLY(proxied({"SET", n, "soon"}), "OK");
        EXPECT_INT(proxied({"EXPIRE", n, "1000"}), 1);
        ReplyPtr ttl = proxied({"TTL", n});
        ASSERT_NE(ttl, nullptr);
        EXPECT_TRUE(ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0 && ttl->integer <= 1000)
            << describe(ttl.get());
        break;
      }
      case kKinds:
        break;
    }
    keys.push_back(std::move(k));
    if (HasFatalFailure()) {
      return;
    }
  }
  EXPECT_GT(slots.size(), 1500u);  // random keys spread over the slots

  // Every key, read from the primary that owns its slot without following any redirect.
  std::map<int, int> per_primary;  // live keys
  for (const Key& k : keys) {
    const std::string& n = k.name;
    SCOPED_TRACE(n);
    if (k.kind != kDeleted) {
      ++per_primary[direct_->ownerOf(n)];
    }
    switch (k.kind) {
      case kString:
      case kCounter:
        EXPECT_REPLY(direct_->onOwner(n, {"GET", n}), k.value);
        break;
      case kDeleted:
        EXPECT_INT(direct_->onOwner(n, {"EXISTS", n}), 0);
        break;
      case kHash:
        EXPECT_EQ(elements(direct_->onOwner(n, {"HGETALL", n}).get()),
                  (std::vector<std::string>{"f1", "v1:" + n, "f2", "v2"}));
        break;
      case kList:
        EXPECT_EQ(elements(direct_->onOwner(n, {"LRANGE", n, "0", "-1"}).get()),
                  (std::vector<std::string>{n, "b", "a"}));
        break;
      case kZset:
        EXPECT_EQ(elements(direct_->onOwner(n, {"ZRANGE", n, "0", "-1", "WITHSCORES"}).get()),
                  (std::vector<std::string>{"m1", "1", "m2", "2", "m3", "3"}));
        break;
      case kSet:
        EXPECT_EQ(sorted(elements(direct_->onOwner(n, {"SMEMBERS", n}).get())),
                  (std::vector<std::string>{"x", "y", "z"}));
        break;
      case kExpiring: {
        EXPECT_REPLY(direct_->onOwner(n, {"GET", n}), "soon");
        ReplyPtr ttl = direct_->onOwner(n, {"TTL", n});
        ASSERT_NE(ttl, nullptr);
        EXPECT_TRUE(ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0 && ttl->integer <= 1000)
            << describe(ttl.get());
        break;
      }
      case kKinds:
        break;
    }
  }
  // The keys really are spread over all three primaries, and each holds at least its share.
  ASSERT_EQ(direct_->primaries().size(), 3u);
  for (int p : direct_->primaries()) {
    EXPECT_GT(per_primary[p], kKeys / 5) << "primary " << cluster_->address(p);
    EXPECT_INT(direct_->onNode(p, {"DBSIZE"}), per_primary[p]);
  }
}

TEST_F(BasicTest, HashTaggedKeysWorkWithMultiKeyCommands) {
  ReplyPtr clean = proxied({"DEL", "{user1000}.a", "{user1000}.b", "{user1000}.u", "{user1000}.c",
                            "{user1000}.m1", "{user1000}.m2", "{user1000}.m3"});
  ASSERT_NE(clean, nullptr);
  ASSERT_EQ(clean->type, REDIS_REPLY_INTEGER) << describe(clean.get());
  EXPECT_INT(proxied({"SADD", "{user1000}.a", "x", "y"}), 2);
  EXPECT_INT(proxied({"SADD", "{user1000}.b", "y", "z"}), 2);
  EXPECT_INT(proxied({"SUNIONSTORE", "{user1000}.u", "{user1000}.a", "{user1000}.b"}), 3);
  EXPECT_REPLY(proxied({"RENAME", "{user1000}.a", "{user1000}.c"}), "OK");
  EXPECT_INT(proxied({"MSETNX", "{user1000}.m1", "v1", "{user1000}.m2", "v2"}), 1);
  EXPECT_INT(proxied({"MSETNX", "{user1000}.m1", "w1", "{user1000}.m3", "w3"}), 0);

  const std::string any = "{user1000}.u";
  EXPECT_EQ(sorted(elements(direct_->onOwner(any, {"SMEMBERS", "{user1000}.u"}).get())),
            (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_INT(direct_->onOwner(any, {"EXISTS", "{user1000}.a"}), 0);
  EXPECT_EQ(sorted(elements(direct_->onOwner(any, {"SMEMBERS", "{user1000}.c"}).get())),
            (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(
      elements(
          direct_->onOwner(any, {"MGET", "{user1000}.m1", "{user1000}.m2", "{user1000}.m3"}).get()),
      (std::vector<std::string>{"v1", "v2", "(nil)"}));
}

TEST_F(BasicTest, CrossSlotMultiKeyCommandsGetRedisCrossslotError) {
  ASSERT_NE(slotOf("{a}x"), slotOf("{b}x"));
  const std::string crossslot = "CROSSSLOT Keys in request don't hash to the same slot";
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{{"SUNIONSTORE", "{a}dest", "{a}x", "{b}x"},
                                             {"RENAME", "{a}x", "{b}x"},
                                             {"MSETNX", "{a}x", "1", "{b}x", "2"}}) {
    ReplyPtr r = proxied(argv);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->type, REDIS_REPLY_ERROR) << argv[0] << ": " << describe(r.get());
    EXPECT_EQ(str(r.get()), crossslot) << argv[0];
  }
  EXPECT_GE(scrapeMetric(proxy_->adminAddress(),
                         "slotproxy_command_errors_total{command=\"sunionstore\",kind=\"routing\"}")
                .value_or(-1),
            1);
  EXPECT_REPLY(proxied({"PING"}), "PONG");
}

TEST_F(BasicTest, SplitCommandsAcrossSlotsMergeInKeyOrderLikeKeyByKey) {
  std::mt19937 rng(42);
  // 60 keys over many slots; the first 40 exist, then repeats and missing keys interleaved.
  std::vector<std::string> present;
  std::vector<std::string> mset = {"MSET"};
  std::map<std::string, std::string> model;
  for (int i = 0; i < 40; ++i) {
    present.push_back("split:" + std::to_string(rng()) + ":" + std::to_string(i));
    mset.push_back(present.back());
    mset.push_back("v" + std::to_string(i));
    model[present.back()] = "v" + std::to_string(i);
  }
  // A repeated key in the same MSET: the later value wins, as in Redis.
  mset.push_back(present[3]);
  mset.push_back("v3-again");
  model[present[3]] = "v3-again";
  EXPECT_REPLY(proxied(mset), "OK");

  std::vector<std::string> query;
  std::set<int> owners;
  std::set<int> slots;
  for (int i = 0; i < 40; ++i) {
    query.push_back(present[static_cast<size_t>(i)]);
    if (i % 5 == 0) {
      query.push_back("split:missing:" + std::to_string(i));
    }
    if (i % 7 == 0) {
      query.push_back(present[static_cast<size_t>(i / 2)]);  // a duplicate
    }
  }
  for (const std::string& k : query) {
    owners.insert(direct_->ownerOf(k));
    slots.insert(slotOf(k));
  }
  ASSERT_EQ(owners.size(), 3u);
  ASSERT_GT(slots.size(), 30u);

  auto withCommand = [&](const std::string& name) {
    std::vector<std::string> argv = {name};
    argv.insert(argv.end(), query.begin(), query.end());
    return argv;
  };

  // MGET = GET key by key, in the client's order (missing keys nil, duplicates repeated).
  std::vector<std::string> expected_mget;
  for (const std::string& k : query) {
    const auto it = model.find(k);
    expected_mget.push_back(it == model.end() ? "(nil)" : it->second);
    ReplyPtr get = proxied({"GET", k});
    EXPECT_EQ(get->type == REDIS_REPLY_NIL ? "(nil)" : describe(get.get()), expected_mget.back());
    ReplyPtr direct = direct_->onOwner(k, {"GET", k});
    EXPECT_EQ(direct->type == REDIS_REPLY_NIL ? "(nil)" : describe(direct.get()),
              expected_mget.back());
  }
  EXPECT_EQ(elements(proxied(withCommand("MGET")).get()), expected_mget);

  // EXISTS and TOUCH count every occurrence; key by key gives the same sums.
  long long exists_sum = 0;
  long long touch_sum = 0;
  for (const std::string& k : query) {
    exists_sum += integerOf(proxied({"EXISTS", k}));
    touch_sum += integerOf(proxied({"TOUCH", k}));
  }
  EXPECT_GT(exists_sum, 40);  // duplicates counted
  EXPECT_INT(proxied(withCommand("EXISTS")), exists_sum);
  EXPECT_INT(proxied(withCommand("TOUCH")), touch_sum);

  // DEL then UNLINK: each key once (duplicates do not count twice), as key by key would.
  EXPECT_INT(proxied(withCommand("DEL")), 40);
  EXPECT_INT(proxied(withCommand("EXISTS")), 0);
  for (const std::string& k : present) {
    EXPECT_INT(direct_->onOwner(k, {"EXISTS", k}), 0);
  }
  EXPECT_REPLY(proxied(mset), "OK");
  EXPECT_INT(proxied(withCommand("UNLINK")), 40);
  EXPECT_INT(proxied(withCommand("UNLINK")), 0);
  for (const std::string& k : present) {
    EXPECT_INT(direct_->onOwner(k, {"EXISTS", k}), 0);
  }
}

TEST_F(BasicTest, LocalCommandsAnswerLikeRedis) {
  const int node = direct_->primaries()[0];
  EXPECT_REPLY(proxied({"PING"}), "PONG");
  EXPECT_REPLY(proxied({"PING", "hello world"}), "hello world");
  EXPECT_REPLY(proxied({"ECHO", std::string("a\0b\r\n", 5)}), std::string("a\0b\r\n", 5));
  EXPECT_REPLY(proxied({"SELECT", "0"}), "OK");
  ReplyPtr select1 = proxied({"SELECT", "1"});
  ASSERT_NE(select1, nullptr);
  EXPECT_EQ(select1->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(describe(select1.get()), describe(direct_->onNode(node, {"SELECT", "1"}).get()));

  ReplyPtr name = proxied({"CLIENT", "GETNAME"});
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->type, REDIS_REPLY_NIL) << describe(name.get());
  EXPECT_REPLY(proxied({"CLIENT", "SETNAME", "basic-test"}), "OK");
  EXPECT_REPLY(proxied({"CLIENT", "GETNAME"}), "basic-test");
  EXPECT_EQ(describe(proxied({"CLIENT", "SETNAME", "a b"}).get()),
            describe(direct_->onNode(node, {"CLIENT", "SETNAME", "a b"}).get()));
  EXPECT_REPLY(proxied({"CLIENT", "GETNAME"}), "basic-test");

  ReplyPtr id1 = proxied({"CLIENT", "ID"});
  ContextPtr other(proxy_->connect());
  ReplyPtr id2 = command(other.get(), {"CLIENT", "ID"});
  ASSERT_NE(id1, nullptr);
  ASSERT_NE(id2, nullptr);
  EXPECT_EQ(id1->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(id2->type, REDIS_REPLY_INTEGER);
  EXPECT_NE(id1->integer, id2->integer);
  EXPECT_EQ(describe(proxied({"CLIENT", "ID"}).get()), describe(id1.get()));  // stable

  ReplyPtr hello = proxied({"HELLO", "2"});
  ASSERT_NE(hello, nullptr);
  ASSERT_EQ(hello->type, REDIS_REPLY_ARRAY) << describe(hello.get());
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i + 1 < hello->elements; i += 2) {
    fields[str(hello->element[i])] = describe(hello->element[i + 1]);
  }
  EXPECT_EQ(fields["server"], "redis");
  EXPECT_EQ(fields["proto"], "(integer) 2");
  EXPECT_EQ(fields["id"], describe(id1.get()));
  for (const std::string version : {"1", "4"}) {  // (HELLO 3: Resp3ClientsGetRedisResp3Replies)
    ReplyPtr hello_n = proxied({"HELLO", version});
    ASSERT_NE(hello_n, nullptr);
    EXPECT_EQ(describe(hello_n.get()), describe(direct_->onNode(node, {"HELLO", version}).get()));
    EXPECT_EQ(describe(hello_n.get()), "(error) NOPROTO unsupported protocol version");
  }
  EXPECT_REPLY(proxied({"PING"}), "PONG");  // still RESP2

  for (const std::string key : {"", "foo", "{user1000}.following", "123456789", "a{}b"}) {
    ReplyPtr slot = proxied({"CLUSTER", "KEYSLOT", key});
    EXPECT_INT(slot, slotOf(key));
    EXPECT_EQ(describe(slot.get()),
              describe(direct_->onNode(node, {"CLUSTER", "KEYSLOT", key}).get()));
  }

  // QUIT: +OK, then the proxy closes the connection.
  auto raw = rawClient();
  ASSERT_NE(raw, nullptr);
  std::string error;
  ASSERT_TRUE(raw->sendAll(encodeCommand({"QUIT"}) + encodeCommand({"PING"}), 5000, &error));
  std::string bytes;
  EXPECT_TRUE(raw->readUntilEof(&bytes, 5000)) << "not closed after QUIT; got: " << bytes;
  EXPECT_EQ(bytes, "+OK\r\n");
}

// RESP3 replies, raw frames in order (RespClient::setRawFrames), for `commands` pipelined:
// `frames` of them (default: one per command).
std::vector<std::string> resp3Frames(RespClient& c,
                                     const std::vector<std::vector<std::string>>& commands,
                                     size_t frames = 0) {
  std::string bytes;
  for (const auto& argv : commands) bytes += encodeCommand(argv);
  std::vector<ReplyPtr> replies;
  std::string error;
  c.setRawFrames(true);
  EXPECT_TRUE(c.exchange(bytes, frames == 0 ? commands.size() : frames, &replies, 10000, &error))
      << error;
  std::vector<std::string> out;
  for (const ReplyPtr& r : replies) out.emplace_back(r->str, r->len);
  return out;
}

// A client that says HELLO 3 gets what Redis gives a RESP3 client: the nodes' replies over
// RESP3 connections of their own, and slotproxy's own replies in RESP3 types. Written out
// byte for byte (differential_test compares random commands with a real Redis).
TEST_F(BasicTest, Resp3ClientsGetRedisResp3Replies) {
  auto c = rawClient();
  ASSERT_NE(c, nullptr);
  const std::string a = keyInSlot(0, "r3"), b = keyInSlot(8000, "r3"), h = keyInSlot(16000, "r3");
  proxied({"DEL", a, b, h});
  const std::vector<std::string> hello = resp3Frames(*c, {{"HELLO", "3"}});
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_TRUE(hello[0].starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")) << hello[0];
  EXPECT_NE(hello[0].find("$5\r\nproto\r\n:3\r\n"), std::string::npos) << hello[0];

  EXPECT_EQ(resp3Frames(*c, {{"GET", a},
                             {"SET", a, "1"},
                             {"HSET", h, "f", "v"},
                             {"HGETALL", h},
                             {"ZADD", b, "1.5", "m"},
                             {"ZSCORE", b, "m"},
                             {"MGET", a, b, "nokey{r3}", h},
                             {"EXISTS", a, b, h},
                             {"CLIENT", "GETNAME"},
                             {"BLPOP", "nolist{r3}", "0.01"},
                             {"UNSUBSCRIBE"}}),
            (std::vector<std::string>{
                "_\r\n", "+OK\r\n", ":1\r\n", "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", ":1\r\n", ",1.5\r\n",
                "*4\r\n$1\r\n1\r\n_\r\n_\r\n_\r\n",  // WRONGTYPE reads as nil in MGET
                ":3\r\n", "_\r\n", "_\r\n", ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"}));

  // EXEC: a watched key changed (the node's null), and a watch slotproxy lost (its own null).
  // A switch of protocol loses a watch: its connection speaks the protocol the client had.
  ContextPtr other(proxy_->connect());
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(resp3Frames(*c, {{"WATCH", a}}), std::vector<std::string>{"+OK\r\n"});
  EXPECT_REPLY(command(other.get(), {"SET", a, "2"}), "OK");
  EXPECT_EQ(resp3Frames(*c, {{"MULTI"}, {"GET", a}, {"EXEC"}, {"MULTI"}, {"GET", a}, {"EXEC"}}),
            (std::vector<std::string>{"+OK\r\n", "+QUEUED\r\n", "_\r\n", "+OK\r\n", "+QUEUED\r\n",
                                      "*1\r\n$1\r\n2\r\n"}));
  EXPECT_EQ(resp3Frames(*c, {{"WATCH", a}}), std::vector<std::string>{"+OK\r\n"});
  std::vector<std::string> switched =
      resp3Frames(*c, {{"HELLO", "2"}, {"MULTI"}, {"GET", a}, {"EXEC"}, {"GET", "nokey{r3}"}});
  ASSERT_EQ(switched.size(), 5u);
  EXPECT_TRUE(switched[0].starts_with("*14\r\n")) << switched[0];
  switched.erase(switched.begin());
  EXPECT_EQ(switched, (std::vector<std::string>{"+OK\r\n", "+QUEUED\r\n", "*-1\r\n", "$-1\r\n"}));
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "3"}}).size(), 1u);
  EXPECT_EQ(resp3Frames(*c, {{"WATCH", a}}), std::vector<std::string>{"+OK\r\n"});
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "2"}}).size(), 1u);
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "3"}}).size(), 1u);
  EXPECT_EQ(resp3Frames(*c, {{"MULTI"}, {"GET", a}, {"EXEC"}}),
            (std::vector<std::string>{"+OK\r\n", "+QUEUED\r\n", "_\r\n"}));

  // RESET goes back to RESP2.
  EXPECT_EQ(resp3Frames(*c, {{"RESET"}, {"GET", "nokey{r3}"}}),
            (std::vector<std::string>{"+RESET\r\n", "$-1\r\n"}));
}

// A RESP3 subscriber gets push frames, from a node connection that speaks RESP3. RESP3 has no
// subscribed context: its other commands run as usual, routed by slot, each reply in its turn
// among the node's replies.
TEST_F(BasicTest, Resp3SubscribersGetPushFramesAndRunAnyCommand) {
  auto c = rawClient();
  ASSERT_NE(c, nullptr);
  const std::string channel = "news:resp3";
  const std::string k1 = keyInSlot(0, "r3sub"), k2 = keyInSlot(8000, "r3sub"),
                    k3 = keyInSlot(16000, "r3sub");
  EXPECT_REPLY(proxied({"MSET", k1, "v1", k2, "v2"}), "OK");
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "3"}}).size(), 1u);
  EXPECT_EQ(resp3Frames(*c, {{"SUBSCRIBE", channel}, {"PSUBSCRIBE", "news:*"}}),
            (std::vector<std::string>{">3\r\n$9\r\nsubscribe\r\n$10\r\n" + channel + "\r\n:1\r\n",
                                      ">3\r\n$10\r\npsubscribe\r\n$6\r\nnews:*\r\n:2\r\n"}));
  ASSERT_NE(proxied({"PUBLISH", channel, "hi"}), nullptr);
  std::vector<std::string> got;
  std::vector<ReplyPtr> pushes;
  std::string error;
  ASSERT_TRUE(c->readReplies(2, &pushes, 10000, &error)) << error;
  for (const ReplyPtr& r : pushes) got.emplace_back(r->str, r->len);
  std::sort(got.begin(), got.end());  // message and pmessage may come either way
  EXPECT_EQ(got,
            (std::vector<std::string>{
                ">3\r\n$7\r\nmessage\r\n$10\r\n" + channel + "\r\n$2\r\nhi\r\n",
                ">4\r\n$8\r\npmessage\r\n$6\r\nnews:*\r\n$10\r\n" + channel + "\r\n$2\r\nhi\r\n"}));

  // Pub/sub commands and others of keys on every primary, pipelined: in order (and each
  // counted once in the metrics).
  const std::string mget_calls = "slotproxy_commands_total{command=\"mget\"}";
  const double mgets_before = scrapeMetric(proxy_->adminAddress(), mget_calls).value_or(0);
  EXPECT_EQ(
      resp3Frames(*c, {{"PING"},
                       {"PING", "x"},
                       {"GET", k1},
                       {"SUBSCRIBE", "other"},
                       {"GET", k2},
                       {"SET", k3, "v3"},
                       {"PSUBSCRIBE", "p*"},
                       {"MGET", k1, k2, k3},
                       {"NOSUCHCOMMAND"},
                       {"PING", "y"}}),
      (std::vector<std::string>{
          "+PONG\r\n", "$1\r\nx\r\n", "$2\r\nv1\r\n",
          ">3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:3\r\n", "$2\r\nv2\r\n", "+OK\r\n",
          ">3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:4\r\n",
          "*3\r\n$2\r\nv1\r\n$2\r\nv2\r\n$2\r\nv3\r\n",
          "-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: \r\n", "$1\r\ny\r\n"}));
  EXPECT_EQ(scrapeMetric(proxy_->adminAddress(), mget_calls), mgets_before + 1);
  // Inside MULTI its commands are queued (or refused) as any client's.
  EXPECT_EQ(
      resp3Frames(*c, {{"MULTI"}, {"SUBSCRIBE", "x"}, {"GET", k1}, {"EXEC"}}),
      (std::vector<std::string>{
          "+OK\r\n",
          "-ERR 'subscribe' inside MULTI is not supported by slotproxy: a transaction runs on "
          "one node\r\n",
          "+QUEUED\r\n", "-EXECABORT Transaction discarded because of previous errors.\r\n"}));
  // Its node connection speaks RESP3: no switching back while subscribed.
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "2"}}),
            std::vector<std::string>{"-ERR slotproxy: HELLO cannot switch the protocol of a "
                                     "subscribed client; unsubscribe first\r\n"});
  EXPECT_EQ(
      resp3Frames(*c,
                  {{"UNSUBSCRIBE", channel, "other"},
                   {"PUNSUBSCRIBE", "news:*", "p*"},
                   {"GET", "nokey{r3}"}},
                  5),
      (std::vector<std::string>{">3\r\n$11\r\nunsubscribe\r\n$10\r\n" + channel + "\r\n:3\r\n",
                                ">3\r\n$11\r\nunsubscribe\r\n$5\r\nother\r\n:2\r\n",
                                ">3\r\n$12\r\npunsubscribe\r\n$6\r\nnews:*\r\n:1\r\n",
                                ">3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n", "_\r\n"}));
  const std::vector<std::string> hello2 = resp3Frames(*c, {{"HELLO", "2"}});
  ASSERT_EQ(hello2.size(), 1u);
  EXPECT_TRUE(hello2[0].starts_with("*14\r\n")) << hello2[0];
}

TEST_F(BasicTest, FanOutCommandsCoverEveryPrimary) {
  EXPECT_REPLY(proxied({"FLUSHALL"}), "OK");
  for (int p : direct_->primaries()) {
    EXPECT_INT(direct_->onNode(p, {"DBSIZE"}), 0);
  }
  EXPECT_INT(proxied({"DBSIZE"}), 0);
  ReplyPtr none = proxied({"KEYS", "*"});
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(none->elements, 0u);

  std::vector<std::string> written;
  for (int i = 0; i < 300; ++i) {
    written.push_back("fanout:" + std::to_string(i));
    EXPECT_REPLY(proxied({"SET", written.back(), "x"}), "OK");
  }
  long long sum = 0;
  std::vector<std::string> direct_keys;
  for (int p : direct_->primaries()) {
    ReplyPtr n = direct_->onNode(p, {"DBSIZE"});
    EXPECT_GT(n->integer, 0) << cluster_->address(p);
    sum += n->integer;
    for (const std::string& k : elements(direct_->onNode(p, {"KEYS", "*"}).get())) {
      direct_keys.push_back(k);
    }
  }
  EXPECT_EQ(sum, 300);
  EXPECT_INT(proxied({"DBSIZE"}), sum);
  EXPECT_EQ(sorted(elements(proxied({"KEYS", "*"}).get())), sorted(written));
  EXPECT_EQ(sorted(direct_keys), sorted(written));
  EXPECT_EQ(sorted(elements(proxied({"KEYS", "fanout:1?"}).get())),
            sorted({"fanout:10", "fanout:11", "fanout:12", "fanout:13", "fanout:14", "fanout:15",
                    "fanout:16", "fanout:17", "fanout:18", "fanout:19"}));

  EXPECT_REPLY(proxied({"FLUSHALL"}), "OK");
  for (int p : direct_->primaries()) {
    EXPECT_INT(direct_->onNode(p, {"DBSIZE"}), 0);
  }
  EXPECT_INT(proxied({"DBSIZE"}), 0);
}

// CONFIG GET answers like one Redis when every primary has the same values (apps read a setting
// before relying on it: Spring Session reads notify-keyspace-events), and says which parameter
// differs otherwise, rather than pick one node's.
TEST_F(BasicTest, ConfigGetAnswersWhenEveryPrimaryAgrees) {
  EXPECT_EQ(describe(proxied({"CONFIG", "GET", "maxmemory-policy"}).get()),
            "[maxmemory-policy, noeviction]");
  // Several parameters: the pairs in some node's order, the same set as a node's own reply.
  auto pairs = [](const redisReply* r) {
    std::map<std::string, std::string> out;
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return out;
    for (size_t i = 0; i < r->elements; i += 2) {
      out[describe(r->element[i])] = describe(r->element[i + 1]);
    }
    return out;
  };
  const std::vector<std::string> several = {"CONFIG", "GET", "maxmemory*", "hz", "save"};
  const auto through_proxy = pairs(proxied(several).get());
  EXPECT_GE(through_proxy.size(), 4u);
  EXPECT_EQ(through_proxy, pairs(direct_->onNode(direct_->primaries()[0], several).get()));
  auto c = rawClient();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "3"}}).size(), 1u);
  EXPECT_EQ(resp3Frames(*c, {{"CONFIG", "GET", "maxmemory-policy"}}),
            std::vector<std::string>{"%1\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"});

  // One primary set apart: named. (`bind` differs on every node of this loopback cluster.)
  const int odd = direct_->primaries()[1];
  EXPECT_EQ(describe(direct_->onNode(odd, {"CONFIG", "SET", "notify-keyspace-events", "Ex"}).get()),
            "OK");
  EXPECT_EQ(describe(proxied({"CONFIG", "GET", "notify-keyspace-events"}).get()),
            "(error) ERR slotproxy: CONFIG GET: 'notify-keyspace-events' is not the same on every "
            "primary; ask the nodes directly");
  EXPECT_EQ(describe(direct_->onNode(odd, {"CONFIG", "SET", "notify-keyspace-events", ""}).get()),
            "OK");
  EXPECT_EQ(describe(proxied({"CONFIG", "GET", "notify-keyspace-events"}).get()),
            "[notify-keyspace-events, ]");
  EXPECT_EQ(describe(proxied({"CONFIG", "GET", "bind"}).get()),
            "(error) ERR slotproxy: CONFIG GET: 'bind' is not the same on every primary; ask the "
            "nodes directly");
  // Unknown parameters: nothing, as from Redis.
  EXPECT_EQ(describe(proxied({"CONFIG", "GET", "no-such-parameter"}).get()), "[]");
}

TEST_F(BasicTest, UnsupportedCommandsAreRefusedByNameAndTheConnectionStaysUsable) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"CLIENT", "LIST"}, "CLIENT LIST"},
      {{"WAIT", "1", "0"}, "WAIT"},
      {{"CONFIG", "SET", "maxmemory", "0"}, "CONFIG SET"},
  };
  for (const auto& [argv, name] : cases) {
    ReplyPtr r = proxied(argv);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_EQ(r->type, REDIS_REPLY_ERROR) << name << ": " << describe(r.get());
    const std::string message = str(r.get());
    EXPECT_EQ(message.rfind("ERR ", 0), 0u) << message;
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
  // Not subscribed, not blocked: a plain command runs at once.
  EXPECT_REPLY(proxied({"SET", "unsupported:after", "1"}), "OK");
  EXPECT_REPLY(proxied({"GET", "unsupported:after"}), "1");
  EXPECT_REPLY(proxied({"PING"}), "PONG");
}

TEST_F(BasicTest, MultiExecRunsOnTheSlotsPrimaryAndDiscardDropsTheQueue) {
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"SET", "{tx}a", "1"}), "QUEUED");
  EXPECT_REPLY(proxied({"INCRBY", "{tx}a", "5"}), "QUEUED");
  EXPECT_REPLY(proxied({"RPUSH", "{tx}list", "x", "y"}), "QUEUED");
  EXPECT_REPLY(proxied({"GET", "{tx}a"}), "QUEUED");
  EXPECT_REPLY(proxied({"PING"}), "QUEUED");
  ReplyPtr exec = proxied({"EXEC"});
  EXPECT_EQ(elements(exec.get()),
            (std::vector<std::string>{"OK", "(integer) 6", "(integer) 2", "6", "PONG"}));
  EXPECT_REPLY(direct_->onOwner("{tx}a", {"GET", "{tx}a"}), "6");

  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"SET", "{tx}discarded", "1"}), "QUEUED");
  EXPECT_REPLY(proxied({"DISCARD"}), "OK");
  ReplyPtr gone = direct_->onOwner("{tx}discarded", {"EXISTS", "{tx}discarded"});
  EXPECT_INT(gone, 0);

  // Empty, and Redis's errors for EXEC, DISCARD and MULTI out of place.
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_EQ(describe(proxied({"MULTI"}).get()), "(error) ERR MULTI calls can not be nested");
  EXPECT_EQ(elements(proxied({"EXEC"}).get()), std::vector<std::string>{});
  EXPECT_EQ(describe(proxied({"EXEC"}).get()), "(error) ERR EXEC without MULTI");
  EXPECT_EQ(describe(proxied({"DISCARD"}).get()), "(error) ERR DISCARD without MULTI");
  EXPECT_REPLY(proxied({"UNWATCH"}), "OK");

  // A queueing error aborts the transaction; a runtime error is one element of EXEC's reply.
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"SET", "{tx}b", "1"}), "QUEUED");
  EXPECT_EQ(describe(proxied({"INCR"}).get()),
            "(error) ERR wrong number of arguments for 'incr' command");
  EXPECT_EQ(describe(proxied({"EXEC"}).get()),
            "(error) EXECABORT Transaction discarded because of previous errors.");
  EXPECT_INT(direct_->onOwner("{tx}b", {"EXISTS", "{tx}b"}), 0);
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"INCR", "{tx}list"}), "QUEUED");  // a list: WRONGTYPE when run
  EXPECT_REPLY(proxied({"INCR", "{tx}counter"}), "QUEUED");
  ReplyPtr mixed = proxied({"EXEC"});
  ASSERT_EQ(elements(mixed.get()).size(), 2u) << describe(mixed.get());
  EXPECT_EQ(mixed->element[0]->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(describe(mixed->element[1]), "(integer) 1");
}

// Every transaction travels as one block on the node connection that all clients share, so no
// other client's command runs between its commands: two INCRs in one EXEC always give n, n+1,
// while other clients INCR the same key outside transactions.
TEST_F(BasicTest, TransactionsOfConcurrentClientsAreNeverInterleaved) {
  constexpr int kTxThreads = 6, kPlainThreads = 2, kRounds = 100, kDepth = 10;
  const std::string key = "{atomic}n";
  ASSERT_NE(direct_->onOwner(key, {"DEL", key}), nullptr);
  std::atomic<int> interleaved{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kTxThreads + kPlainThreads; ++t) {
    threads.emplace_back([&, t] {
      ContextPtr c(proxy_->connect());
      if (c == nullptr) {
        ++failures;
        return;
      }
      const bool tx = t < kTxThreads;
      for (int round = 0; round < kRounds; ++round) {
        // kDepth transactions (or INCRs) pipelined, then their replies.
        for (int i = 0; i < kDepth; ++i) {
          if (tx) {
            redisAppendCommand(c.get(), "MULTI");
            redisAppendCommand(c.get(), "INCR %s", key.c_str());
            redisAppendCommand(c.get(), "INCR %s", key.c_str());
            redisAppendCommand(c.get(), "EXEC");
          } else {
            redisAppendCommand(c.get(), "INCR %s", key.c_str());
          }
        }
        for (int i = 0; i < kDepth * (tx ? 4 : 1); ++i) {
          redisReply* raw = nullptr;
          if (redisGetReply(c.get(), reinterpret_cast<void**>(&raw)) != REDIS_OK) {
            ++failures;
            return;
          }
          ReplyPtr r(raw);
          if (!tx || i % 4 != 3) continue;
          if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            ++failures;
            continue;
          }
          if (r->element[1]->integer != r->element[0]->integer + 1) ++interleaved;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(interleaved.load(), 0);
  ReplyPtr total = direct_->onOwner(key, {"GET", key});
  EXPECT_REPLY(total, std::to_string(kRounds * kDepth * (2 * kTxThreads + kPlainThreads)).c_str());
}

// WATCH gives the client a node connection of its own until EXEC: EXEC answers null when a
// watched key changed meanwhile (through the proxy or straight on the node), and runs when
// nothing did; UNWATCH, DISCARD and EXEC end the watch, and its connection is closed.
TEST_F(BasicTest, WatchAbortsExecWhenAWatchedKeyChangedAndOnlyThen) {
  const std::string key = "{watch}k";
  EXPECT_REPLY(proxied({"SET", key, "1"}), "OK");

  // Unchanged: the transaction runs.
  EXPECT_REPLY(proxied({"WATCH", key}), "OK");
  EXPECT_REPLY(proxied({"GET", key}), "1");
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"SET", key, "2"}), "QUEUED");
  EXPECT_EQ(elements(proxied({"EXEC"}).get()), std::vector<std::string>{"OK"});

  // Changed on the node by another client: EXEC answers null and nothing runs.
  EXPECT_REPLY(proxied({"WATCH", key, "{watch}other"}), "OK");
  EXPECT_REPLY(direct_->onOwner(key, {"SET", key, "3"}), "OK");
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"INCR", key}), "QUEUED");
  ReplyPtr aborted = proxied({"EXEC"});
  ASSERT_NE(aborted, nullptr);
  EXPECT_EQ(aborted->type, REDIS_REPLY_NIL) << describe(aborted.get());
  EXPECT_REPLY(direct_->onOwner(key, {"GET", key}), "3");

  // Changed through the proxy by another client, watched by two WATCH calls.
  ContextPtr other(proxy_->connect());
  ASSERT_NE(other, nullptr);
  EXPECT_REPLY(proxied({"WATCH", "{watch}other"}), "OK");
  EXPECT_REPLY(proxied({"WATCH", key}), "OK");
  EXPECT_INT(command(other.get(), {"INCR", key}), 4);
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"INCR", key}), "QUEUED");
  ReplyPtr aborted2 = proxied({"EXEC"});
  ASSERT_NE(aborted2, nullptr);
  EXPECT_EQ(aborted2->type, REDIS_REPLY_NIL) << describe(aborted2.get());

  // UNWATCH and DISCARD forget the watch; so does EXEC (the next transaction runs).
  EXPECT_REPLY(proxied({"WATCH", key}), "OK");
  EXPECT_INT(command(other.get(), {"INCR", key}), 5);
  EXPECT_REPLY(proxied({"UNWATCH"}), "OK");
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"INCR", key}), "QUEUED");
  EXPECT_EQ(elements(proxied({"EXEC"}).get()), std::vector<std::string>{"(integer) 6"});
  EXPECT_REPLY(proxied({"WATCH", key}), "OK");
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"DISCARD"}), "OK");
  EXPECT_INT(command(other.get(), {"INCR", key}), 7);
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_REPLY(proxied({"INCR", key}), "QUEUED");
  EXPECT_EQ(elements(proxied({"EXEC"}).get()), std::vector<std::string>{"(integer) 8"});

  // An empty watched transaction asks the node: empty when unchanged, null when changed.
  EXPECT_REPLY(proxied({"WATCH", key}), "OK");
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_EQ(elements(proxied({"EXEC"}).get()), std::vector<std::string>{});
  EXPECT_REPLY(proxied({"WATCH", key}), "OK");
  EXPECT_INT(command(other.get(), {"DEL", key}), 1);
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  ReplyPtr empty_aborted = proxied({"EXEC"});
  ASSERT_NE(empty_aborted, nullptr);
  EXPECT_EQ(empty_aborted->type, REDIS_REPLY_NIL) << describe(empty_aborted.get());

  // A connection whose watch ended with EXEC is clean and reused: 20 WATCH ... EXEC rounds
  // open at most one node connection (closing one per round leaves TIME_WAIT sockets behind).
  auto connectionsReceived = [&] {
    ReplyPtr info = direct_->onOwner(key, {"INFO", "stats"});
    const std::string n =
        info != nullptr ? infoField(str(info.get()), "total_connections_received") : "";
    return n.empty() ? -1LL : std::stoll(n);
  };
  const long long received_before = connectionsReceived();
  for (int i = 0; i < 20; ++i) {
    EXPECT_REPLY(proxied({"WATCH", key}), "OK");
    EXPECT_REPLY(proxied({"MULTI"}), "OK");
    EXPECT_REPLY(proxied({"INCR", key}), "QUEUED");
    EXPECT_EQ(elements(proxied({"EXEC"}).get()),
              std::vector<std::string>{"(integer) " + std::to_string(i + 1)});
  }
  EXPECT_LE(connectionsReceived() - received_before, 1);
  // A watch given up without EXEC leaves its key watched on the connection: that one is
  // closed, never reused. (Redis 7.0's CLIENT LIST names each connection's last command.)
  EXPECT_REPLY(proxied({"WATCH", key}), "OK");
  EXPECT_REPLY(proxied({"UNWATCH"}), "OK");
  auto watchingConnections = [&] {
    ReplyPtr list = direct_->onOwner(key, {"CLIENT", "LIST"});
    const std::string text = list != nullptr ? str(list.get()) : "";
    int n = 0;
    for (size_t at = text.find("cmd=watch "); at != std::string::npos;
         at = text.find("cmd=watch ", at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_TRUE(waitFor([&] { return watchingConnections() == 0; }, kTimeoutMs))
      << watchingConnections() << " node connections still hold a watch";
}

TEST_F(BasicTest, WatchKeepsToOneSlotAndRedisErrorsOutOfPlace) {
  EXPECT_EQ(describe(proxied({"WATCH", "a", "b"}).get()),
            "(error) CROSSSLOT Keys in request don't hash to the same slot (slotproxy: the keys "
            "of WATCH and of its transaction must share one slot)");
  EXPECT_REPLY(proxied({"WATCH", "{ws}a"}), "OK");
  EXPECT_EQ(describe(proxied({"WATCH", "b"}).get()).rfind("(error) CROSSSLOT", 0), 0u);
  // The transaction's keys must be in the watched slot too.
  EXPECT_REPLY(proxied({"MULTI"}), "OK");
  EXPECT_EQ(describe(proxied({"WATCH", "{ws}a"}).get()),
            "(error) ERR WATCH inside MULTI is not allowed");
  EXPECT_REPLY(proxied({"SET", "{ws}a", "1"}), "QUEUED");
  EXPECT_EQ(describe(proxied({"SET", "b", "1"}).get()),
            "(error) CROSSSLOT Keys in request don't hash to the same slot");
  EXPECT_EQ(describe(proxied({"EXEC"}).get()),
            "(error) EXECABORT Transaction discarded because of previous errors.");
  EXPECT_INT(direct_->onOwner("{ws}a", {"EXISTS", "{ws}a"}), 0);
  // EXEC ended the watch: another slot may be watched now.
  EXPECT_REPLY(proxied({"WATCH", "b"}), "OK");
  EXPECT_REPLY(proxied({"RESET"}), "RESET");
  EXPECT_REPLY(proxied({"WATCH", "{ws}a"}), "OK");
  EXPECT_REPLY(proxied({"UNWATCH"}), "OK");
}

// The optimistic-locking loop clients build on WATCH (GET, compute, MULTI SET EXEC, retry on
// null): concurrent clients through the proxy lose no increment. Without a working watch,
// two clients reading the same value would both write value+1.
TEST_F(BasicTest, OptimisticIncrementsOverWatchLoseNoUpdate) {
  constexpr int kThreads = 6, kIncrements = 40;
  const std::string key = "{cas}n";
  ASSERT_NE(direct_->onOwner(key, {"SET", key, "0"}), nullptr);
  std::atomic<int> failures{0}, retries{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      ContextPtr c(proxy_->connect());
      if (c == nullptr) {
        ++failures;
        return;
      }
      for (int i = 0; i < kIncrements; ++i) {
        for (int attempt = 0;; ++attempt) {
          if (attempt > 10000) {
            ++failures;
            return;
          }
          ReplyPtr w = command(c.get(), {"WATCH", key});
          ReplyPtr v = command(c.get(), {"GET", key});
          if (!replyIs(w.get(), "OK") || v == nullptr || v->type != REDIS_REPLY_STRING) {
            ++failures;
            return;
          }
          const long long next = std::stoll(str(v.get())) + 1;
          redisAppendCommand(c.get(), "MULTI");
          redisAppendCommand(c.get(), "SET %s %lld", key.c_str(), next);
          redisAppendCommand(c.get(), "EXEC");
          ReplyPtr replies[3];
          for (auto& r : replies) {
            redisReply* raw = nullptr;
            if (redisGetReply(c.get(), reinterpret_cast<void**>(&raw)) != REDIS_OK) {
              ++failures;
              return;
            }
            r.reset(raw);
          }
          if (replies[2]->type == REDIS_REPLY_NIL) {
            ++retries;
            continue;
          }
          if (replies[2]->type != REDIS_REPLY_ARRAY) ++failures;
          break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_REPLY(direct_->onOwner(key, {"GET", key}), std::to_string(kThreads * kIncrements).c_str());
  RecordProperty("retries", retries.load());
}

// PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB count the subscribers of every
// primary: slotproxy's subscribers are spread over them (SUBSCRIBE goes to any primary,
// SSUBSCRIBE to the shard channel's), so one node's answer would count only its share.
// Redis 7 does not replicate SCRIPT LOAD: a promoted replica, or a primary added later, answers
// EVALSHA with NOSCRIPT. The proxy loads a script it loaded before on that node and runs the
// EVALSHA again, so the client never sees NOSCRIPT for it; SCRIPT FLUSH through the proxy
// forgets its scripts, as Redis does.
TEST_F(BasicTest, EvalshaOfAScriptLoadedThroughTheProxyRunsWhereItWasLost) {
  const std::string writer = "return redis.call('INCR', KEYS[1])";
  const std::string reader = "return redis.call('GET', KEYS[1])";
  ReplyPtr loaded = proxied({"SCRIPT", "LOAD", writer});
  ASSERT_TRUE(loaded != nullptr && loaded->type == REDIS_REPLY_STRING) << describe(loaded.get());
  const std::string write_sha = str(loaded.get());
  loaded = proxied({"SCRIPT", "LOAD", reader});
  ASSERT_TRUE(loaded != nullptr && loaded->type == REDIS_REPLY_STRING) << describe(loaded.get());
  const std::string read_sha = str(loaded.get());
  const std::string key = keyInSlot(9000, "script:");
  const int node = direct_->ownerOf(key);
  EXPECT_EQ(integerOf(proxied({"EVALSHA", write_sha, "1", key})), 1);
  const std::string reloads = "slotproxy_script_reloads_total";
  const double before = scrapeMetric(proxy_->adminAddress(), reloads).value_or(-1);
  EXPECT_GE(before, 0);

  // The node loses its scripts behind the proxy's back, as a promoted replica has none.
  auto flushNode = [&] {
    EXPECT_EQ(describe(direct_->onNode(node, {"SCRIPT", "FLUSH"}).get()), "OK");
    EXPECT_EQ(describe(direct_->onNode(node, {"SCRIPT", "EXISTS", write_sha}).get()),
              "[(integer) 0]");
  };
  flushNode();
  EXPECT_EQ(integerOf(proxied({"EVALSHA", write_sha, "1", key})), 2);
  EXPECT_EQ(describe(direct_->onNode(node, {"SCRIPT", "EXISTS", write_sha, read_sha}).get()),
            "[(integer) 1, (integer) 0]");
  flushNode();
  // Pipelined: an EVALSHA with commands after it gets Redis's NOSCRIPT (they have run already:
  // it must not run after them); the last one is loaded and run.
  std::string upper = read_sha;  // either case, as Redis takes it
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::vector<std::string>& c : std::vector<std::vector<std::string>>{
           {"EVALSHA_RO", upper, "1", key}, {"GET", key}, {"EVALSHA", write_sha, "1", key}}) {
    std::vector<const char*> argv;
    for (const std::string& a : c) argv.push_back(a.c_str());
    ASSERT_EQ(
        redisAppendCommandArgv(conn_.get(), static_cast<int>(argv.size()), argv.data(), nullptr),
        REDIS_OK);
  }
  std::vector<std::string> got = nextFrames(conn_.get(), 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].rfind("(error) NOSCRIPT", 0), 0u) << got[0];
  EXPECT_EQ(got[1], "2");
  EXPECT_EQ(got[2], "(integer) 3");
  EXPECT_EQ(describe(proxied({"EVALSHA_RO", upper, "1", key}).get()), "3");
  EXPECT_EQ(scrapeMetric(proxy_->adminAddress(), reloads), before + 3);

  // A script the proxy never loaded, and every script after SCRIPT FLUSH through the proxy: the
  // node's NOSCRIPT, as from Redis.
  ReplyPtr never = proxied({"EVALSHA", std::string(40, 'f'), "1", key});
  ASSERT_NE(never, nullptr);
  EXPECT_EQ(describe(never.get()).rfind("(error) NOSCRIPT", 0), 0u) << describe(never.get());
  EXPECT_EQ(describe(proxied({"SCRIPT", "FLUSH"}).get()), "OK");
  ReplyPtr flushed = proxied({"EVALSHA", write_sha, "1", key});
  ASSERT_NE(flushed, nullptr);
  EXPECT_EQ(describe(flushed.get()).rfind("(error) NOSCRIPT", 0), 0u) << describe(flushed.get());
}

TEST_F(BasicTest, PubsubIntrospectionCountsTheSubscribersOfEveryPrimary) {
  const std::string channel = "intro:news";
  std::vector<ContextPtr> subscribers;
  for (int i = 0; i < 6; ++i) {
    subscribers.emplace_back(proxy_->connect());
    ASSERT_NE(subscribers.back(), nullptr);
    EXPECT_EQ(describe(command(subscribers.back().get(), {"SUBSCRIBE", channel}).get()),
              "[subscribe, " + channel + ", (integer) 1]");
  }
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(describe(command(subscribers[i].get(), {"PSUBSCRIBE", "intro:*"}).get()),
              "[psubscribe, intro:*, (integer) 2]");
  }
  // The test means something only if the subscribers are on more than one primary.
  int primaries_with_subscribers = 0;
  for (int p : direct_->primaries()) {
    ReplyPtr r = direct_->onNode(p, {"PUBSUB", "NUMSUB", channel});
    ASSERT_TRUE(r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    if (r->element[1]->integer > 0) ++primaries_with_subscribers;
  }
  EXPECT_GE(primaries_with_subscribers, 2);

  EXPECT_EQ(describe(proxied({"PUBSUB", "NUMSUB", channel, "intro:none"}).get()),
            "[" + channel + ", (integer) 6, intro:none, (integer) 0]");
  EXPECT_EQ(describe(proxied({"PUBSUB", "CHANNELS", "intro:*"}).get()), "[" + channel + "]");
  EXPECT_EQ(describe(proxied({"PUBSUB", "NUMPAT"}).get()), "(integer) 2");

  // Shard channels of two primaries, each subscribed on its own primary.
  const std::string shard_a = "{intro-a}news";
  std::string shard_b;
  for (int slot = 0; shard_b.empty(); slot += 997) {
    const std::string c = keyInSlot(slot, "intro-b");
    if (direct_->ownerOf(c) != direct_->ownerOf(shard_a)) shard_b = c;
  }
  ContextPtr shard_sub_a(proxy_->connect()), shard_sub_b(proxy_->connect());
  ASSERT_NE(shard_sub_a, nullptr);
  ASSERT_NE(shard_sub_b, nullptr);
  EXPECT_EQ(describe(command(shard_sub_a.get(), {"SSUBSCRIBE", shard_a}).get()),
            "[ssubscribe, " + shard_a + ", (integer) 1]");
  EXPECT_EQ(describe(command(shard_sub_b.get(), {"SSUBSCRIBE", shard_b}).get()),
            "[ssubscribe, " + shard_b + ", (integer) 1]");
  EXPECT_EQ(sorted(elements(proxied({"PUBSUB", "SHARDCHANNELS"}).get())),
            sorted({shard_a, shard_b}));
  EXPECT_EQ(describe(proxied({"PUBSUB", "SHARDNUMSUB", shard_a, shard_b}).get()),
            "[" + shard_a + ", (integer) 1, " + shard_b + ", (integer) 1]");

  // Gone subscribers are gone from the counts (their node connections close).
  subscribers.clear();
  EXPECT_TRUE(waitFor(
      [&] {
        return describe(proxied({"PUBSUB", "NUMSUB", channel}).get()) ==
               "[" + channel + ", (integer) 0]";
      },
      10000));
  EXPECT_EQ(describe(proxied({"PUBSUB", "NUMPAT"}).get()), "(integer) 0");
}

// SUBSCRIBE/PSUBSCRIBE: the subscribed client gets a node connection of its own, and every
// PUBLISH, through the proxy or straight to any node, reaches it. Unsubscribing from everything
// or RESET brings it back to ordinary commands; closing it ends its subscription on the node.
TEST_F(BasicTest, SubscribersGetWhatIsPublishedAnywhereAndLeaveSubscribedModeAsInRedis) {
  const std::string channel = "news:subscribe-test";
  auto numsub = [&] {  // subscribers of `channel` over every node
    long long n = 0;
    for (int i = 0; i < cluster_->size(); ++i) {
      ContextPtr node(cluster_->connectNode(i));
      ReplyPtr r = node ? command(node.get(), {"PUBSUB", "NUMSUB", channel}) : nullptr;
      if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        n += r->element[1]->integer;
      }
    }
    return n;
  };
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(describe(command(sub.get(), {"SUBSCRIBE", channel}).get()),
            "[subscribe, " + channel + ", (integer) 1]");
  EXPECT_EQ(describe(command(sub.get(), {"PSUBSCRIBE", "news:*"}).get()),
            "[psubscribe, news:*, (integer) 2]");
  EXPECT_EQ(numsub(), 1);

  ReplyPtr published = proxied({"PUBLISH", channel, "through the proxy"});
  ASSERT_NE(published, nullptr);
  ContextPtr node(cluster_->connectNode(cluster_->size() - 1));  // a replica
  ASSERT_NE(node, nullptr);
  ASSERT_NE(command(node.get(), {"PUBLISH", channel, "straight to a node"}), nullptr);
  std::vector<std::string> got = nextFrames(sub.get(), 4);
  std::sort(got.begin(), got.end());  // message and pmessage of one PUBLISH may come either way
  EXPECT_EQ(got,
            (std::vector<std::string>{"[message, " + channel + ", straight to a node]",
                                      "[message, " + channel + ", through the proxy]",
                                      "[pmessage, news:*, " + channel + ", straight to a node]",
                                      "[pmessage, news:*, " + channel + ", through the proxy]"}));

  // Subscribed mode, as in Redis: only pub/sub commands, PING, QUIT and RESET; keys of every
  // primary get that error (the node would answer MOVED for another node's key), and commands
  // the proxy refuses get its own error, each in its turn between the node's replies.
  for (const int slot : {0, 8000, 16000}) {
    const std::string key = keyInSlot(slot, "ctx");
    ASSERT_EQ(redisAppendCommand(sub.get(), "GET %s", key.c_str()), REDIS_OK);
    ASSERT_EQ(redisAppendCommand(sub.get(), "PING %s", key.c_str()), REDIS_OK);
  }
  ASSERT_EQ(redisAppendCommand(sub.get(), "WAIT 1 0"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "PING"), REDIS_OK);
  const std::string context_error =
      "(error) ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
      "RESET are allowed in this context";
  std::vector<std::string> want;
  for (const int slot : {0, 8000, 16000}) {
    want.push_back(context_error);
    want.push_back("[pong, " + keyInSlot(slot, "ctx") + "]");
  }
  std::vector<std::string> in_order = nextFrames(sub.get(), 8);
  ASSERT_EQ(in_order.size(), 8u);
  EXPECT_EQ(in_order[6].rfind("(error) ERR 'WAIT' is not supported by slotproxy", 0), 0u)
      << in_order[6];
  in_order.resize(6);
  EXPECT_EQ(in_order, want);
  EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");

  // Unsubscribing from everything leaves subscribed mode, as in Redis: the commands pipelined
  // right behind the UNSUBSCRIBEs run as usual, routed by slot, after their replies.
  ASSERT_EQ(redisAppendCommand(sub.get(), "UNSUBSCRIBE"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "PUNSUBSCRIBE"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "SET {sub}k v"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "GET {sub}k"), REDIS_OK);
  EXPECT_EQ(nextFrames(sub.get(), 4),
            (std::vector<std::string>{"[unsubscribe, " + channel + ", (integer) 1]",
                                      "[punsubscribe, news:*, (integer) 0]", "OK", "v"}));
  EXPECT_TRUE(waitFor([&] { return numsub() == 0; }, 5000));

  // Not subscribed: UNSUBSCRIBE answers like Redis. RESET leaves subscribed mode too. And once
  // a subscribed client is gone, the node forgets it.
  EXPECT_EQ(describe(command(sub.get(), {"UNSUBSCRIBE", "a"}).get()),
            "[unsubscribe, a, (integer) 0]");
  EXPECT_EQ(describe(command(sub.get(), {"SUBSCRIBE", channel}).get()),
            "[subscribe, " + channel + ", (integer) 1]");
  EXPECT_EQ(describe(command(sub.get(), {"RESET"}).get()), "RESET");
  EXPECT_TRUE(waitFor([&] { return numsub() == 0; }, 5000));
  EXPECT_REPLY(command(sub.get(), {"GET", "{sub}k"}), "v");
  EXPECT_EQ(describe(command(sub.get(), {"SUBSCRIBE", channel}).get()),
            "[subscribe, " + channel + ", (integer) 1]");
  EXPECT_TRUE(waitFor([&] { return numsub() == 1; }, 5000));
  sub.reset();
  EXPECT_TRUE(waitFor([&] { return numsub() == 0; }, 5000));
}

TEST_F(BasicTest, ShardSubscribersGetWhatIsSpublishedToTheirSlotAndLeaveAsInRedis) {
  const std::string channel = "{shard-news}a";
  const std::string same_slot = "{shard-news}b";
  const int owner = direct_->ownerOf(channel);
  std::string elsewhere;  // a shard channel of another primary
  for (int slot = 0; elsewhere.empty(); slot += 997) {
    const std::string c = keyInSlot(slot, "elsewhere");
    if (direct_->ownerOf(c) != owner) elsewhere = c;
  }
  auto shardnumsub = [&](const std::string& of = {}) {
    const std::string c = of.empty() ? channel : of;
    ReplyPtr r = direct_->onNode(direct_->ownerOf(c), {"PUBSUB", "SHARDNUMSUB", c});
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                            : -1;
  };
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);

  // Not subscribed: channels of two slots are refused as by Redis; SUNSUBSCRIBE answers count 0.
  EXPECT_EQ(describe(command(sub.get(), {"SSUBSCRIBE", channel, elsewhere}).get()),
            "(error) CROSSSLOT Keys in request don't hash to the same slot");
  EXPECT_EQ(describe(command(sub.get(), {"SUNSUBSCRIBE", channel}).get()),
            "[sunsubscribe, " + channel + ", (integer) 0]");

  EXPECT_EQ(describe(command(sub.get(), {"SSUBSCRIBE", channel}).get()),
            "[ssubscribe, " + channel + ", (integer) 1]");
  EXPECT_EQ(shardnumsub(), 1);  // on the primary of the channel's slot
  EXPECT_INT(proxied({"SPUBLISH", channel, "through the proxy"}), 1);
  EXPECT_INT(direct_->onNode(owner, {"SPUBLISH", channel, "straight to the node"}), 1);
  EXPECT_EQ(nextFrames(sub.get(), 2),
            (std::vector<std::string>{"[smessage, " + channel + ", through the proxy]",
                                      "[smessage, " + channel + ", straight to the node]"}));

  // Subscribed: more channels of the slot join, and so do another node's (over a node
  // connection of their own); channels of two slots are refused in their turn. The counts are
  // the client's, over both nodes, as Redis counts them.
  ASSERT_EQ(redisAppendCommand(sub.get(), "SSUBSCRIBE %s", same_slot.c_str()), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "SSUBSCRIBE %s %s", channel.c_str(), elsewhere.c_str()),
            REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "SSUBSCRIBE %s", elsewhere.c_str()), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "PING"), REDIS_OK);
  std::vector<std::string> got = nextFrames(sub.get(), 4);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "[ssubscribe, " + same_slot + ", (integer) 2]",
                     "(error) CROSSSLOT Keys in request don't hash to the same slot",
                     "[ssubscribe, " + elsewhere + ", (integer) 3]", "[pong, ]"}));
  EXPECT_INT(proxied({"SPUBLISH", elsewhere, "from afar"}), 1);
  EXPECT_EQ(nextFrames(sub.get(), 1),
            std::vector<std::string>{"[smessage, " + elsewhere + ", from afar]"});

  // Unsubscribing from every shard channel leaves subscribed mode: each node drops its own
  // (the first node's two in no set order), then the commands pipelined behind run as usual.
  ASSERT_EQ(redisAppendCommand(sub.get(), "SUNSUBSCRIBE"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "SET {ssub}k v"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "GET {ssub}k"), REDIS_OK);
  got = nextFrames(sub.get(), 5);
  ASSERT_EQ(got.size(), 5u);
  const std::string first = got[0].starts_with("[sunsubscribe, " + channel) ? channel : same_slot;
  const std::string second = first == channel ? same_slot : channel;
  EXPECT_EQ(
      got, (std::vector<std::string>{"[sunsubscribe, " + first + ", (integer) 2]",
                                     "[sunsubscribe, " + second + ", (integer) 1]",
                                     "[sunsubscribe, " + elsewhere + ", (integer) 0]", "OK", "v"}));
  EXPECT_TRUE(waitFor([&] { return shardnumsub() == 0 && shardnumsub(elsewhere) == 0; }, 5000));
}

// A client's shard channels on every primary, with plain channels and patterns, over one
// connection: a client of Redis Cluster itself would need a connection per node. Replies keep
// the order of the commands across the nodes, with Redis's counts.
TEST_F(BasicTest, ShardChannelsOfEveryPrimaryShareOneClientConnection) {
  std::vector<std::string> shard;  // a shard channel of each primary, in the order found
  std::set<int> owners;
  for (int slot = 0; shard.size() < 3; slot += 331) {
    const std::string c = keyInSlot(slot, "everywhere");
    if (owners.insert(direct_->ownerOf(c)).second) shard.push_back(c);
  }
  auto shardnumsub = [&](const std::string& c) {
    ReplyPtr r = direct_->onNode(direct_->ownerOf(c), {"PUBSUB", "SHARDNUMSUB", c});
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                            : -1;
  };
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  for (const std::vector<std::string>& c :
       std::vector<std::vector<std::string>>{{"SUBSCRIBE", "plain"},
                                             {"SSUBSCRIBE", shard[0]},
                                             {"SSUBSCRIBE", shard[1]},
                                             {"PSUBSCRIBE", "pattern:*"},
                                             {"SSUBSCRIBE", shard[2]},
                                             {"GET", "k"},
                                             {"PING"}}) {
    std::vector<const char*> argv;
    for (const std::string& a : c) argv.push_back(a.c_str());
    ASSERT_EQ(
        redisAppendCommandArgv(sub.get(), static_cast<int>(argv.size()), argv.data(), nullptr),
        REDIS_OK);
  }
  EXPECT_EQ(
      nextFrames(sub.get(), 7),
      (std::vector<std::string>{
          "[subscribe, plain, (integer) 1]", "[ssubscribe, " + shard[0] + ", (integer) 1]",
          "[ssubscribe, " + shard[1] + ", (integer) 2]", "[psubscribe, pattern:*, (integer) 2]",
          "[ssubscribe, " + shard[2] + ", (integer) 3]",
          "(error) ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
          "QUIT / RESET are allowed in this context",
          "[pong, ]"}));
  for (const std::string& c : shard) EXPECT_EQ(shardnumsub(c), 1) << c;

  for (const std::string& c : shard) EXPECT_INT(proxied({"SPUBLISH", c, "to " + c}), 1);
  ASSERT_NE(proxied({"PUBLISH", "plain", "to all"}), nullptr);  // (counts one node's clients)
  std::vector<std::string> expected;
  for (const std::string& c : shard) expected.push_back("[smessage, " + c + ", to " + c + "]");
  expected.emplace_back("[message, plain, to all]");
  // (Messages of different nodes may come in either order.)
  EXPECT_EQ(sorted(nextFrames(sub.get(), 4)), sorted(expected));

  // Leaving the second node's channel closes its node connection; unsubscribing from it again
  // is answered as Redis answers for a channel not held.
  EXPECT_EQ(describe(command(sub.get(), {"SUNSUBSCRIBE", shard[1]}).get()),
            "[sunsubscribe, " + shard[1] + ", (integer) 2]");
  EXPECT_TRUE(waitFor([&] { return shardnumsub(shard[1]) == 0; }, 5000));
  EXPECT_EQ(describe(command(sub.get(), {"SUNSUBSCRIBE", shard[1]}).get()),
            "[sunsubscribe, " + shard[1] + ", (integer) 2]");
  EXPECT_INT(proxied({"SPUBLISH", shard[1], "gone"}), 0);

  // RESET leaves everything, on every node, and the client runs commands again.
  EXPECT_REPLY(command(sub.get(), {"RESET"}), "RESET");
  EXPECT_REPLY(command(sub.get(), {"SET", "{everywhere}k", "v"}), "OK");
  auto numsub = [&] {  // every primary's subscribers, added up
    ReplyPtr r = proxied({"PUBSUB", "NUMSUB", "plain"});
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                            : -1;
  };
  EXPECT_TRUE(waitFor(
      [&] { return shardnumsub(shard[0]) == 0 && shardnumsub(shard[2]) == 0 && numsub() == 0; },
      5000));
}

// Once the first node connection holds nothing, PING and the proxy's own errors are answered
// as in subscribed mode all the same: the client still holds a channel elsewhere.
TEST_F(BasicTest, SubscriberWhoseFirstNodeHoldsNothingIsStillSubscribed) {
  const std::string first = keyInSlot(200, "emptied");
  std::string second;
  for (int slot = 7000; second.empty(); slot += 997) {
    const std::string c = keyInSlot(slot, "emptied");
    if (direct_->ownerOf(c) != direct_->ownerOf(first)) second = c;
  }
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  for (const std::string& c : {first, second}) {
    ASSERT_EQ(redisAppendCommand(sub.get(), "SSUBSCRIBE %s", c.c_str()), REDIS_OK);
  }
  ASSERT_EQ(redisAppendCommand(sub.get(), "SUNSUBSCRIBE %s", first.c_str()), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "PING"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "GET k"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "SUNSUBSCRIBE"), REDIS_OK);
  ASSERT_EQ(redisAppendCommand(sub.get(), "PING"), REDIS_OK);  // out of subscribed mode
  EXPECT_EQ(
      nextFrames(sub.get(), 7),
      (std::vector<std::string>{
          "[ssubscribe, " + first + ", (integer) 1]", "[ssubscribe, " + second + ", (integer) 2]",
          "[sunsubscribe, " + first + ", (integer) 1]", "[pong, ]",
          "(error) ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
          "QUIT / RESET are allowed in this context",
          "[sunsubscribe, " + second + ", (integer) 0]", "PONG"}));
}

// A node connection holding shard channels that fails (here: the node drops its subscribers'
// connections), the home one or another, loses the client nothing: the proxy subscribes them
// again on the slot's primary, with its channels and patterns elsewhere if need be; their
// replies are its own, and the counts stay the client's. A second failure within 10 s
// disconnects the client, as the node's death would: no flapping.
TEST_F(BasicTest, ShardSubscriberKeepsItsChannelsWhenItsNodeConnectionsFail) {
  auto shardnumsub = [&](const std::string& c) {
    ReplyPtr r = direct_->onNode(direct_->ownerOf(c), {"PUBSUB", "SHARDNUMSUB", c});
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                            : -1;
  };
  auto numsub = [&](const std::string& c) {  // every primary's subscribers, added up
    ReplyPtr r = proxied({"PUBSUB", "NUMSUB", c});
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                            : -1;
  };
  auto killSubscribers = [&](const std::string& of) {
    return integerOf(direct_->onNode(direct_->ownerOf(of), {"CLIENT", "KILL", "TYPE", "pubsub"}));
  };
  // What is published next reaches the client, and nothing came before it.
  auto hears = [&](redisContext* c, const std::string& command, const std::string& channel) {
    ReplyPtr receivers = proxied({command, channel, "to " + channel});
    if (command == "SPUBLISH") EXPECT_INT(receivers, 1);  // (PUBLISH counts one node's clients)
    const std::string kind = command == "SPUBLISH" ? "smessage" : "message";
    EXPECT_EQ(nextFrames(c, 1),
              std::vector<std::string>{"[" + kind + ", " + channel + ", to " + channel + "]"});
  };
  auto disconnected = [](redisContext* c) {
    void* frame = nullptr;
    const bool eof = redisGetReply(c, &frame) != REDIS_OK && c->err == REDIS_ERR_EOF;
    if (frame != nullptr) freeReplyObject(frame);
    return eof;  // (not a timeout)
  };

  for (const bool home_fails : {false, true}) {
    SCOPED_TRACE(home_fails ? "the home lane fails" : "another lane fails");
    const std::string prefix = home_fails ? "home-lane:" : "far-lane:";  // (each round its own)
    const std::string home = keyInSlot(100, prefix);
    std::string far;  // a shard channel of another primary
    for (int slot = 6000; far.empty(); slot += 997) {
      const std::string c = keyInSlot(slot, prefix);
      if (direct_->ownerOf(c) != direct_->ownerOf(home)) far = c;
    }
    const std::string plain = prefix + "plain";
    const std::string victim = home_fails ? home : far;
    ContextPtr sub(proxy_->connect());
    ASSERT_NE(sub, nullptr);
    for (const auto& [command, channel] :
         {std::pair{"SSUBSCRIBE", home}, std::pair{"SSUBSCRIBE", far},
          std::pair{"SUBSCRIBE", plain}}) {
      ASSERT_EQ(redisAppendCommand(sub.get(), "%s %s", command, channel.c_str()), REDIS_OK);
    }
    EXPECT_EQ(nextFrames(sub.get(), 3),
              (std::vector<std::string>{"[ssubscribe, " + home + ", (integer) 1]",
                                        "[ssubscribe, " + far + ", (integer) 2]",
                                        "[subscribe, " + plain + ", (integer) 1]"}));

    EXPECT_GE(killSubscribers(victim), 1);
    EXPECT_TRUE(waitFor([&] { return shardnumsub(victim) == 1 && numsub(plain) == 1; }, 5000));
    hears(sub.get(), "SPUBLISH", victim);
    hears(sub.get(), "SPUBLISH", home_fails ? far : home);
    hears(sub.get(), "PUBLISH", plain);
    const std::string more = "{" + victim + "}more";  // (the victim's slot)
    EXPECT_EQ(describe(command(sub.get(), {"SSUBSCRIBE", more}).get()),
              "[ssubscribe, " + more + ", (integer) 3]");
    EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");

    EXPECT_GE(killSubscribers(victim), 1);
    EXPECT_TRUE(disconnected(sub.get())) << sub->errstr;
  }

  // A client with one shard channel, on its home lane alone: a new home lane takes its PING.
  const std::string lone = keyInSlot(100, "lone-lane:");
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(describe(command(sub.get(), {"SSUBSCRIBE", lone}).get()),
            "[ssubscribe, " + lone + ", (integer) 1]");
  EXPECT_GE(killSubscribers(lone), 1);
  EXPECT_TRUE(waitFor([&] { return shardnumsub(lone) == 1; }, 5000));
  hears(sub.get(), "SPUBLISH", lone);
  EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");
  EXPECT_EQ(describe(command(sub.get(), {"SUNSUBSCRIBE"}).get()),
            "[sunsubscribe, " + lone + ", (integer) 0]");
  EXPECT_REPLY(command(sub.get(), {"PING"}), "PONG");  // out of subscribed mode
  EXPECT_TRUE(waitFor([&] { return shardnumsub(lone) == 0; }, 5000));
}

// Keyspace notifications are published by each node for its own keys only: a subscriber through
// the proxy hears those of every primary, once each, and what is PUBLISHed still once, whatever
// its patterns match.
TEST_F(BasicTest, KeyspaceNotificationsOfEveryPrimaryReachOneSubscriberOnce) {
  for (int i = 0; i < cluster_->size(); ++i) {
    ContextPtr node(cluster_->connectNode(i));
    ASSERT_NE(node, nullptr);
    EXPECT_REPLY(command(node.get(), {"CONFIG", "SET", "notify-keyspace-events", "KEA"}), "OK");
  }
  std::vector<std::string> keys;  // one per primary
  std::set<int> owners;
  for (int slot = 3; keys.size() < 3; slot += 613) {
    const std::string k = keyInSlot(slot, "ks:");
    if (owners.insert(direct_->ownerOf(k)).second) keys.push_back(k);
  }
  const std::string set_event = "__keyevent@0__:set";
  const std::string channel = "news:ks";
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  ASSERT_EQ(redisAppendCommand(sub.get(), "SUBSCRIBE %s %s", set_event.c_str(), channel.c_str()),
            REDIS_OK);
  EXPECT_EQ(nextFrames(sub.get(), 2),
            (std::vector<std::string>{"[subscribe, " + set_event + ", (integer) 1]",
                                      "[subscribe, " + channel + ", (integer) 2]"}));
  EXPECT_EQ(describe(command(sub.get(), {"PSUBSCRIBE", "*"}).get()),
            "[psubscribe, *, (integer) 3]");
  // Each keyspace name is held on every primary; the others on the subscriber's home node alone.
  auto subscribed = [&](const std::string& name, const std::string& kind) {
    long long n = 0;
    for (int p : direct_->primaries()) {
      ReplyPtr r = kind == "NUMPAT" ? direct_->onNode(p, {"PUBSUB", kind})
                                    : direct_->onNode(p, {"PUBSUB", kind, name});
      if (kind == "NUMPAT") {
        n += integerOf(r);
      } else if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        n += r->element[1]->integer;
      }
    }
    return n;
  };
  EXPECT_EQ(subscribed(set_event, "NUMSUB"), 3);
  EXPECT_EQ(subscribed(channel, "NUMSUB"), 1);
  EXPECT_EQ(subscribed("", "NUMPAT"), 3);

  // Each SET: the event on the channel, and both notifications through the pattern.
  std::vector<std::string> want;
  for (const std::string& k : keys) {
    EXPECT_REPLY(proxied({"SET", k, "v"}), "OK");
    want.push_back("[message, " + set_event + ", " + k + "]");
    want.push_back("[pmessage, *, " + set_event + ", " + k + "]");
    want.push_back("[pmessage, *, __keyspace@0__:" + k + ", set]");
  }
  // (Counted by the node it went to: 2 on the home node, channel and pattern; 1 on another,
  // its mirror's pattern.)
  const long long receivers = integerOf(proxied({"PUBLISH", channel, "hello"}));
  EXPECT_TRUE(receivers == 1 || receivers == 2) << receivers;
  want.push_back("[message, " + channel + ", hello]");
  want.push_back("[pmessage, *, " + channel + ", hello]");
  std::vector<std::string> got = nextFrames(sub.get(), static_cast<int>(want.size()));
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  // Nothing twice: what comes next is the notifications of later writes on every primary (a
  // copy would have come from its node before them).
  want.clear();
  for (const std::string& k : keys) {
    EXPECT_REPLY(proxied({"SET", k + ":after", "v"}), "OK");
    want.push_back("[message, " + set_event + ", " + k + ":after]");
    want.push_back("[pmessage, *, " + set_event + ", " + k + ":after]");
    want.push_back("[pmessage, *, __keyspace@0__:" + k + ":after, set]");
  }
  got = nextFrames(sub.get(), static_cast<int>(want.size()));
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);

  // Unsubscribing stops them everywhere, in order with the replies.
  EXPECT_EQ(describe(command(sub.get(), {"PUNSUBSCRIBE", "*"}).get()),
            "[punsubscribe, *, (integer) 2]");
  EXPECT_TRUE(waitFor([&] { return subscribed("", "NUMPAT") == 0; }, 5000));
  want.clear();
  for (const std::string& k : keys) {
    EXPECT_EQ(integerOf(proxied({"DEL", k})), 1);
    EXPECT_REPLY(proxied({"SET", k, "w"}), "OK");
    want.push_back("[message, " + set_event + ", " + k + "]");
  }
  got = nextFrames(sub.get(), 3);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(describe(command(sub.get(), {"UNSUBSCRIBE", set_event}).get()),
            "[unsubscribe, " + set_event + ", (integer) 1]");
  EXPECT_TRUE(waitFor([&] { return subscribed(set_event, "NUMSUB") == 0; }, 5000));
  EXPECT_EQ(describe(command(sub.get(), {"UNSUBSCRIBE"}).get()),
            "[unsubscribe, " + channel + ", (integer) 0]");
  EXPECT_REPLY(command(sub.get(), {"GET", keys[1]}), "w");

  // A notification connection that fails costs the subscriber nothing: the proxy opens another
  // (at the client's next command or the next topology refresh), and the node's notifications
  // come again.
  ASSERT_EQ(redisAppendCommand(sub.get(), "SUBSCRIBE %s %s", set_event.c_str(), channel.c_str()),
            REDIS_OK);
  EXPECT_EQ(nextFrames(sub.get(), 2),
            (std::vector<std::string>{"[subscribe, " + set_event + ", (integer) 1]",
                                      "[subscribe, " + channel + ", (integer) 2]"}));
  int victim = -1;  // a primary other than the subscriber's home node
  for (int p : direct_->primaries()) {
    ReplyPtr r = direct_->onNode(p, {"PUBSUB", "NUMSUB", channel});
    ASSERT_TRUE(r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    if (r->element[1]->integer == 0) victim = p;
  }
  ASSERT_NE(victim, -1);
  std::string victim_key;
  for (const std::string& k : keys) {
    if (direct_->ownerOf(k) == victim) victim_key = k;
  }
  // (Its mirror; a connection of an earlier case may still be closing.)
  EXPECT_GE(integerOf(direct_->onNode(victim, {"CLIENT", "KILL", "TYPE", "pubsub"})), 1);
  EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");
  EXPECT_TRUE(waitFor([&] { return subscribed(set_event, "NUMSUB") == 3; }, 15000));
  EXPECT_REPLY(proxied({"SET", victim_key, "again"}), "OK");
  EXPECT_EQ(nextFrames(sub.get(), 1),
            std::vector<std::string>{"[message, " + set_event + ", " + victim_key + "]"});
  EXPECT_EQ(describe(command(sub.get(), {"RESET"}).get()), "RESET");
  EXPECT_TRUE(waitFor([&] { return subscribed(set_event, "NUMSUB") == 0; }, 5000));

  for (int i = 0; i < cluster_->size(); ++i) {
    ContextPtr node(cluster_->connectNode(i));
    if (node) command(node.get(), {"CONFIG", "SET", "notify-keyspace-events", ""});
  }
}

// The same in RESP3: every primary's notifications as push frames, between the replies of the
// commands the client runs meanwhile.
TEST_F(BasicTest, Resp3SubscribersGetKeyspaceNotificationsOfEveryPrimary) {
  auto configure = [&](const std::string& events) {
    for (int i = 0; i < cluster_->size(); ++i) {
      ContextPtr node(cluster_->connectNode(i));
      ASSERT_NE(node, nullptr);
      EXPECT_REPLY(command(node.get(), {"CONFIG", "SET", "notify-keyspace-events", events}), "OK");
    }
  };
  configure("K$");
  std::vector<std::string> keys;  // one per primary
  std::set<int> owners;
  for (int slot = 7; keys.size() < 3; slot += 587) {
    const std::string k = keyInSlot(slot, "r3ks:");
    if (owners.insert(direct_->ownerOf(k)).second) keys.push_back(k);
  }
  auto c = rawClient();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "3"}}).size(), 1u);
  const std::string pattern = "__keyspace@0__:r3ks:*";
  auto bulk = [](const std::string& s) {
    return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
  };
  EXPECT_EQ(resp3Frames(*c, {{"PSUBSCRIBE", pattern}}),
            std::vector<std::string>{">3\r\n" + bulk("psubscribe") + bulk(pattern) + ":1\r\n"});
  std::vector<std::vector<std::string>> sets;
  std::vector<std::string> want;
  for (const std::string& k : keys) {
    sets.push_back({"SET", k, "v"});
    want.push_back("+OK\r\n");
    want.push_back(">4\r\n" + bulk("pmessage") + bulk(pattern) + bulk("__keyspace@0__:" + k) +
                   bulk("set"));
  }
  std::vector<std::string> got = resp3Frames(*c, sets, want.size());
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(resp3Frames(*c, {{"PUNSUBSCRIBE"}, {"GET", keys[2]}}),
            (std::vector<std::string>{">3\r\n" + bulk("punsubscribe") + bulk(pattern) + ":0\r\n",
                                      "$1\r\nv\r\n"}));
  configure("");
}

// Channels and patterns are not tied to a node (PUBLISH reaches every node): when the home
// node connection of an idle subscriber fails, the proxy subscribes them again on another
// primary, and the client sees nothing but what is published.
TEST_F(BasicTest, SubscriberMovesToAnotherPrimaryWhenItsNodeConnectionFails) {
  auto holders = [&](const std::string& channel) {  // primaries holding `channel`
    std::vector<int> out;
    for (int p : direct_->primaries()) {
      ReplyPtr r = direct_->onNode(p, {"PUBSUB", "NUMSUB", channel});
      if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          r->element[1]->integer > 0) {
        out.push_back(p);
      }
    }
    return out;
  };
  auto killHome = [&](const std::string& channel) {  // true once the subscription moved
    const std::vector<int> before = holders(channel);
    if (before.size() != 1) return false;
    EXPECT_GE(integerOf(direct_->onNode(before[0], {"CLIENT", "KILL", "TYPE", "pubsub"})), 1);
    return waitFor(
        [&] {
          const std::vector<int> now = holders(channel);
          return now.size() == 1 && now[0] != before[0];
        },
        5000);
  };
  const std::string channel = "moving:2";
  ContextPtr sub(proxy_->connect());
  ASSERT_NE(sub, nullptr);
  ASSERT_EQ(redisAppendCommand(sub.get(), "SUBSCRIBE %s other", channel.c_str()), REDIS_OK);
  EXPECT_EQ(nextFrames(sub.get(), 2),
            (std::vector<std::string>{"[subscribe, " + channel + ", (integer) 1]",
                                      "[subscribe, other, (integer) 2]"}));
  EXPECT_EQ(describe(command(sub.get(), {"PSUBSCRIBE", "moving:*"}).get()),
            "[psubscribe, moving:*, (integer) 3]");
  ASSERT_TRUE(killHome(channel)) << "the subscription did not move";
  // Subscribed as before: what is published, the counts, PING.
  // (PUBLISH counts the receivers of the node it reached only.)
  EXPECT_GE(integerOf(proxied({"PUBLISH", channel, "after the move"})), 0);
  std::vector<std::string> got = nextFrames(sub.get(), 2);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got,
            (std::vector<std::string>{"[message, " + channel + ", after the move]",
                                      "[pmessage, moving:*, " + channel + ", after the move]"}));
  EXPECT_EQ(describe(command(sub.get(), {"SUBSCRIBE", "third"}).get()),
            "[subscribe, third, (integer) 4]");
  EXPECT_EQ(describe(command(sub.get(), {"PING"}).get()), "[pong, ]");
  EXPECT_EQ(describe(command(sub.get(), {"RESET"}).get()), "RESET");
  EXPECT_TRUE(waitFor([&] { return holders(channel).empty(); }, 5000));

  // RESP3: the new node connection speaks it too.
  const std::string channel3 = "moving:3";
  auto c = rawClient();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "3"}}).size(), 1u);
  auto push = [](const std::vector<std::string>& parts) {
    std::string out = ">" + std::to_string(parts.size()) + "\r\n";
    for (const std::string& p : parts) out += "$" + std::to_string(p.size()) + "\r\n" + p + "\r\n";
    return out;
  };
  EXPECT_EQ(resp3Frames(*c, {{"SUBSCRIBE", channel3}}),
            std::vector<std::string>{">3\r\n$9\r\nsubscribe\r\n$8\r\n" + channel3 + "\r\n:1\r\n"});
  ASSERT_TRUE(killHome(channel3)) << "the RESP3 subscription did not move";
  EXPECT_GE(integerOf(proxied({"PUBLISH", channel3, "hi"})), 0);
  // (The message reaches the new home node over the cluster bus when PUBLISH went elsewhere: it
  // may come after a reply to a command sent now.)
  EXPECT_EQ(resp3Frames(*c, {}, 1), std::vector<std::string>{push({"message", channel3, "hi"})});
  EXPECT_EQ(resp3Frames(*c, {{"GET", "moving:none"}}), std::vector<std::string>{"_\r\n"});
}

// The same in RESP3: push frames with the client's counts, and other commands run between.
TEST_F(BasicTest, Resp3ShardChannelsOfSeveralPrimariesShareOneClientConnection) {
  std::vector<std::string> shard;
  std::set<int> owners;
  for (int slot = 5; shard.size() < 2; slot += 331) {
    const std::string c = keyInSlot(slot, "r3everywhere");
    if (owners.insert(direct_->ownerOf(c)).second) shard.push_back(c);
  }
  const std::string key = keyInSlot(12000, "r3k");
  EXPECT_REPLY(proxied({"SET", key, "v"}), "OK");
  auto c = rawClient();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(resp3Frames(*c, {{"HELLO", "3"}}).size(), 1u);
  auto push = [](std::string_view name, const std::string& channel, int count) {
    return ">3\r\n$" + std::to_string(name.size()) + "\r\n" + std::string(name) + "\r\n$" +
           std::to_string(channel.size()) + "\r\n" + channel + "\r\n:" + std::to_string(count) +
           "\r\n";
  };
  EXPECT_EQ(resp3Frames(*c, {{"SSUBSCRIBE", shard[0]},
                             {"GET", key},
                             {"SSUBSCRIBE", shard[1]},
                             {"PING"},
                             {"SUNSUBSCRIBE", shard[0]},
                             {"SUNSUBSCRIBE"},
                             {"GET", key}}),
            (std::vector<std::string>{push("ssubscribe", shard[0], 1), "$1\r\nv\r\n",
                                      push("ssubscribe", shard[1], 2), "+PONG\r\n",
                                      push("sunsubscribe", shard[0], 1),
                                      push("sunsubscribe", shard[1], 0), "$1\r\nv\r\n"}));
}

// SCAN walks every primary in turn behind one cursor, and ends with 0 like Redis.
TEST_F(BasicTest, ScanReturnsEveryKeyOfEveryPrimaryBehindOneCursor) {
  std::set<std::string> written;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "scan:" + std::to_string(i);
    redisAppendCommand(conn_.get(), "SET %s v", key.c_str());
    written.insert(key);
  }
  for (int i = 0; i < 300; ++i) {
    void* reply = nullptr;
    ASSERT_EQ(redisGetReply(conn_.get(), &reply), REDIS_OK);
    freeReplyObject(reply);
  }
  std::set<int> owners;
  for (const std::string& key : written) owners.insert(direct_->ownerOf(key));
  ASSERT_EQ(owners.size(), 3u) << "the keys should spread over every primary";

  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    ReplyPtr r = proxied({"SCAN", cursor, "MATCH", "scan:*", "COUNT", "40"});
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << describe(r.get());
    ASSERT_EQ(r->elements, 2u) << describe(r.get());
    cursor = str(r->element[0]);
    for (size_t i = 0; i < r->element[1]->elements; ++i)
      seen.insert(str(r->element[1]->element[i]));
    ASSERT_LT(++calls, 1000) << "the scan does not end";
  } while (cursor != "0");
  EXPECT_EQ(seen, written);
  EXPECT_GE(calls, 3);  // at least one call per primary

  EXPECT_EQ(describe(proxied({"SCAN", "abc"}).get()), "(error) ERR invalid cursor");
  EXPECT_EQ(describe(proxied({"SCAN", "1023"}).get()), "[0, []]");  // no shard 1023: over
}

TEST_F(BasicTest, UnknownCommandAndBadArityGetRedisOwnErrorTexts) {
  const int node = direct_->primaries()[0];
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"FOOBAR", "a", "b"}, {"foobar"}, {"GET"}, {"SET", "k"}, {"CLIENT", "NOSUCH"}}) {
    ReplyPtr mine = proxied(argv);
    ReplyPtr redis = direct_->onNode(node, argv);
    ASSERT_NE(mine, nullptr);
    ASSERT_NE(redis, nullptr);
    EXPECT_EQ(mine->type, REDIS_REPLY_ERROR) << argv[0];
    if (argv[0] == "CLIENT") {
      // command/POLICY.md: an unknown subcommand of a container is refused by the proxy (not
      // forwarded); the error names the container.
      EXPECT_NE(str(mine.get()).find("'CLIENT'"), std::string::npos) << describe(mine.get());
      continue;
    }
    EXPECT_EQ(describe(mine.get()), describe(redis.get())) << argv[0];
  }
  EXPECT_REPLY(proxied({"PING"}), "PONG");
}

TEST_F(BasicTest, LocalCommandsRejectBadArgumentsWithRedisOwnErrors) {
  const int node = direct_->primaries()[0];
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{{"PING", "a", "b"},
                                             {"ECHO", "a", "b"},
                                             {"SELECT", "x"},
                                             {"HELLO", "x"},
                                             {"HELLO", "1"},
                                             {"HELLO", "4"},
                                             {"HELLO", "2", "AUTH"},
                                             {"CLIENT", "SETNAME", "a\nb"},
                                             {"CLIENT", "GETNAME", "x"},
                                             {"CLIENT", "ID", "x"},
                                             {"CLUSTER", "KEYSLOT", "a", "b"}}) {
    std::string line;
    for (const std::string& a : argv) {
      line += a + " ";
    }
    ReplyPtr mine = proxied(argv);
    ReplyPtr redis = direct_->onNode(node, argv);
    EXPECT_EQ(describe(mine.get()), describe(redis.get())) << line;
  }
  EXPECT_REPLY(proxied({"PING"}), "PONG");
}

TEST_F(BasicTest, SplitMsetWithAMissingValueGetsTheArityErrorAndWritesNothing) {
  // Its own proxy: this request once crashed slotproxy, and the suite's proxy must survive.
  ProxyProcess own("127.0." + std::to_string(kNet) + "." + std::to_string(kProxyHost + 1), 6379,
                   {});
  std::string error;
  ASSERT_TRUE(own.start(cluster_->seeds(), &error)) << error;
  ContextPtr conn(own.connect());
  ASSERT_NE(conn, nullptr);
  ASSERT_NE(slotOf("{a}odd"), slotOf("{b}odd"));
  // Redis's answer to an MSET with a key but no value (keys in one slot, so Redis itself checks).
  ReplyPtr redis = direct_->onOwner("{a}odd", {"MSET", "{a}odd", "1", "{a}odd2"});
  ASSERT_NE(redis, nullptr);
  ASSERT_EQ(describe(redis.get()), "(error) ERR wrong number of arguments for 'mset' command");

  ReplyPtr mine = command(conn.get(), {"MSET", "{a}odd", "1", "{b}odd"});
  EXPECT_EQ(describe(mine.get(), conn.get()), describe(redis.get()));
  EXPECT_TRUE(own.running()) << "slotproxy died:\n" << tailFile(own.log(), 40);
  // Nothing written: MSET is all or nothing.
  EXPECT_INT(direct_->onOwner("{a}odd", {"EXISTS", "{a}odd"}), 0);
  EXPECT_INT(direct_->onOwner("{b}odd", {"EXISTS", "{b}odd"}), 0);
  ContextPtr again(own.connect());
  EXPECT_TRUE(replyIs(command(again.get(), {"PING"}).get(), "PONG"));
}

TEST_F(BasicTest, ReplyWithMoreThanAMillionElementsIsRelayed) {
  // max-multibulk-len (default 1048576) bounds the arguments of a client's request. A reply is
  // not a request: LRANGE of a longer list is ordinary Redis traffic and must come through,
  // without failing the backend connection under the requests pipelined behind it.
  constexpr int kElements = 1100000;
  constexpr int kPerPush = 10000;
  const std::string list = "{huge}list";
  const std::string counter = "{huge}counter";
  EXPECT_INT(proxied({"DEL", list, counter}), 0);
  for (int i = 0; i < kElements; i += kPerPush) {
    std::vector<std::string> push = {"RPUSH", list};
    for (int j = i; j < i + kPerPush; ++j) {
      push.push_back(std::to_string(j));
    }
    ReplyPtr r = proxied(push);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->type, REDIS_REPLY_INTEGER) << describe(r.get());
  }
  EXPECT_INT(direct_->onOwner(list, {"LLEN", list}), kElements);

  // The LRANGE and a write pipelined behind it on the same slot (same backend connection).
  auto raw = rawClient();
  ASSERT_NE(raw, nullptr);
  std::vector<ReplyPtr> replies;
  std::string error;
  ASSERT_TRUE(
      raw->exchange(encodeCommand({"LRANGE", list, "0", "-1"}) + encodeCommand({"INCR", counter}),
                    2, &replies, kTimeoutMs, &error))
      << error;
  // The write behind it is unharmed...
  EXPECT_EQ(describe(replies[1].get()), "(integer) 1");
  EXPECT_REPLY(direct_->onOwner(counter, {"GET", counter}), "1");
  // ...and the range is whole.
  const redisReply* range = replies[0].get();
  ASSERT_EQ(range->type, REDIS_REPLY_ARRAY) << describe(range).substr(0, 300);
  ASSERT_EQ(range->elements, static_cast<size_t>(kElements));
  EXPECT_TRUE(replyIs(range->element[0], "0"));
  EXPECT_TRUE(replyIs(range->element[kElements - 1], std::to_string(kElements - 1)));
  EXPECT_INT(proxied({"DEL", list, counter}), 2);
}

TEST_F(BasicTest, ScriptReplyNested40DeepIsRelayed) {
  // Redis relays a Lua table nested 40 deep as 41 nested arrays; so must the proxy, without
  // failing the backend connection under the requests pipelined behind it. (Raw bytes: hiredis
  // 0.14 parses at most 7 levels.)
  const std::string script =
      "local t = {} local c = t for i = 1, 40 do local n = {} c[1] = n c = n end c[1] = 7 "
      "return t";
  const std::string key = "{nested}k";
  const std::string counter = "{nested}counter";
  std::string nested;
  for (int i = 0; i < 41; ++i) {
    nested += "*1\r\n";
  }
  nested += ":7\r\n";
  std::string error;
  auto node = RespClient::connect(cluster_->address(direct_->ownerOf(key)), &error);
  ASSERT_NE(node, nullptr) << error;
  ASSERT_TRUE(node->sendAll(encodeCommand({"EVAL", script, "1", key}), kTimeoutMs, &error));
  std::string theirs;
  ASSERT_TRUE(node->readBytes(nested.size(), &theirs, kTimeoutMs)) << theirs;
  ASSERT_EQ(theirs, nested) << "Redis itself answers differently";

  auto raw = rawClient();
  ASSERT_NE(raw, nullptr);
  ASSERT_TRUE(
      raw->sendAll(encodeCommand({"EVAL", script, "1", key}) + encodeCommand({"INCR", counter}),
                   kTimeoutMs, &error))
      << error;
  const std::string expected = nested + ":1\r\n";
  std::string mine;
  EXPECT_TRUE(raw->readBytes(expected.size(), &mine, kTimeoutMs)) << mine;
  EXPECT_EQ(mine, expected);
  EXPECT_REPLY(direct_->onOwner(counter, {"GET", counter}), "1");
}

TEST_F(BasicTest, BinarySafeKeysAndValuesRoundTrip) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) {
    all_bytes.push_back(static_cast<char>(b));
  }
  const std::vector<std::string> keys = {std::string("bin\0key", 7), "bin\r\nkey",
                                         std::string("\xff\xfe\x00\r", 4), "bin key with spaces",
                                         all_bytes};
  const std::vector<std::string> values = {all_bytes, std::string("\0", 1), "\r\n", "\xff", ""};
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_REPLY(proxied({"SET", keys[i], values[i]}), "OK");
    EXPECT_REPLY(proxied({"GET", keys[i]}), values[i]);
    EXPECT_REPLY(direct_->onOwner(keys[i], {"GET", keys[i]}), values[i]);
    EXPECT_INT(proxied({"HSET", keys[i] + "h", values[i], keys[i]}), 1);
    EXPECT_REPLY(direct_->onOwner(keys[i] + "h", {"HGET", keys[i] + "h", values[i]}), keys[i]);
  }
  // And through a split MGET.
  std::vector<std::string> mget = {"MGET"};
  mget.insert(mget.end(), keys.begin(), keys.end());
  EXPECT_EQ(elements(proxied(mget).get()), values);
}

TEST_F(BasicTest, EightMegabyteValueRoundTripsByteExact) {
  std::mt19937 rng(7);
  std::string value(8 << 20, '\0');
  for (char& ch : value) {
    ch = static_cast<char>(rng());
  }
  EXPECT_REPLY(proxied({"SET", "big:8mb", value}), "OK");
  ReplyPtr got = proxied({"GET", "big:8mb"});
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->type, REDIS_REPLY_STRING);
  EXPECT_EQ(got->len, value.size());
  EXPECT_TRUE(std::string_view(got->str, got->len) == value) << "8 MB value differs via proxy";
  ReplyPtr direct = direct_->onOwner("big:8mb", {"GET", "big:8mb"});
  ASSERT_NE(direct, nullptr);
  EXPECT_TRUE(direct->type == REDIS_REPLY_STRING &&
              std::string_view(direct->str, direct->len) == value)
      << "8 MB value differs on the node";
  EXPECT_INT(proxied({"STRLEN", "big:8mb"}), value.size());
  EXPECT_INT(proxied({"DEL", "big:8mb"}), 1);
}

TEST_F(BasicTest, ProtocolErrorIsAnsweredOnceThenTheConnectionIsClosed) {
  // A bad bulk length, followed by a valid command that must never run.
  const std::string bad = "*1\r\n$x\r\n" + encodeCommand({"SET", "protoerr:after", "ran"});
  auto raw = rawClient();
  ASSERT_NE(raw, nullptr);
  std::string error;
  ASSERT_TRUE(raw->sendAll(bad, 5000, &error)) << error;
  std::string mine;
  EXPECT_TRUE(raw->readUntilEof(&mine, 5000)) << "connection not closed; got: " << mine;
  EXPECT_EQ(mine.rfind("-ERR Protocol error", 0), 0u) << mine;
  EXPECT_EQ(mine.find("\r\n"), mine.size() - 2) << "more than one reply: " << mine;

  // Redis itself says the same.
  std::string theirs;
  auto node = RespClient::connect(cluster_->address(direct_->primaries()[0]), &error);
  ASSERT_NE(node, nullptr) << error;
  ASSERT_TRUE(node->sendAll("*1\r\n$x\r\n", 5000, &error)) << error;
  EXPECT_TRUE(node->readUntilEof(&theirs, 5000));
  EXPECT_EQ(mine, theirs);

  ReplyPtr after = proxied({"EXISTS", "protoerr:after"});
  EXPECT_INT(after, 0);
}

TEST_F(BasicTest, InlineCommandsWork) {
  auto raw = rawClient();
  ASSERT_NE(raw, nullptr);
  std::string error;
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(raw->exchange("PING\r\n", 1, &replies, 5000, &error)) << error;
  EXPECT_REPLY(replies[0], "PONG");
  replies.clear();
  ASSERT_TRUE(raw->exchange("SET inline:key \"hello world\"\r\nGET inline:key\n" +
                                encodeCommand({"STRLEN", "inline:key"}) + "ECHO x\r\n",
                            4, &replies, 5000, &error))
      << error;
  EXPECT_REPLY(replies[0], "OK");
  EXPECT_REPLY(replies[1], "hello world");
  EXPECT_INT(replies[2], 11);
  EXPECT_REPLY(replies[3], "x");
  EXPECT_REPLY(direct_->onOwner("inline:key", {"GET", "inline:key"}), "hello world");
}

}  // namespace
}  // namespace slotproxy::testing
