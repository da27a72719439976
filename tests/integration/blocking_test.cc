// Blocking commands through slotproxy (127.0.18.0/24): each goes over a backend connection of
// its own, so it stalls nobody else; the blocked client runs nothing more until it is answered,
// as with Redis; a client that goes away while blocked releases its backend connection; past
// max-own-conns such commands get an error at once.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <thread>

#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"
#include "tests/integration/fixture/process.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetBlocking;

class BlockingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new LocalCluster(LocalCluster::Options{.net = kNet});
    std::string error;
    ASSERT_TRUE(cluster_->start(&error)) << error;
    if (!ProxyProcess::available()) return;
    proxy_ = new ProxyProcess("127.0.18.100", 6379, {});
    ASSERT_TRUE(proxy_->start(cluster_->seeds(), &error)) << error;
    limited_ = new ProxyProcess("127.0.18.101", 6379, {"--max-own-conns", "2"});
    ASSERT_TRUE(limited_->start(cluster_->seeds(), &error)) << error;
  }
  static void TearDownTestSuite() {
    // A clean exit: under the sanitizer build a leaked request or connection fails it.
    for (ProxyProcess* p : {proxy_, limited_}) {
      if (p != nullptr) {
        EXPECT_EQ(p->stopGracefully(), 0) << tailFile(p->log(), 30);
      }
      delete p;
    }
    delete cluster_;
    proxy_ = nullptr;
    limited_ = nullptr;
    cluster_ = nullptr;
  }
  void SetUp() override {
    if (proxy_ == nullptr) GTEST_SKIP() << "slotproxy binary not built";
  }

  // Sends `argv` without waiting for the reply.
  static void send(redisContext* c, const std::vector<std::string>& argv) {
    std::vector<const char*> parts;
    std::vector<size_t> lens;
    for (const std::string& a : argv) {
      parts.push_back(a.data());
      lens.push_back(a.size());
    }
    ASSERT_EQ(redisAppendCommandArgv(c, static_cast<int>(argv.size()), parts.data(), lens.data()),
              REDIS_OK);
    int done = 0;
    while (done == 0) ASSERT_EQ(redisBufferWrite(c, &done), REDIS_OK);
  }
  static ReplyPtr receive(redisContext* c) {
    redisReply* reply = nullptr;
    if (redisGetReply(c, reinterpret_cast<void**>(&reply)) != REDIS_OK) return nullptr;
    return ReplyPtr(reply);
  }
  // Number of clients blocked on the primary that owns `key`.
  static int blockedOnOwner(const std::string& key) {
    const int node = cluster_->primaryOfSlot(cluster_->keySlot(key));
    ContextPtr c(cluster_->connectNode(node));
    ReplyPtr info = command(c.get(), {"INFO", "clients"});
    return info ? std::stoi(infoField(info->str, "blocked_clients")) : -1;
  }

  static LocalCluster* cluster_;
  static ProxyProcess* proxy_;
  static ProxyProcess* limited_;  // --max-own-conns 2
};

LocalCluster* BlockingTest::cluster_ = nullptr;
ProxyProcess* BlockingTest::proxy_ = nullptr;
ProxyProcess* BlockingTest::limited_ = nullptr;

TEST_F(BlockingTest, BlpopTimesOutWithNil) {
  ContextPtr c(proxy_->connect());
  ReplyPtr r = command(c.get(), {"BLPOP", "blocking:empty", "0.2"});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->type, REDIS_REPLY_NIL) << describe(r.get());
}

TEST_F(BlockingTest, BlpopIsWokenByAPushFromAnotherClientWhileOthersAreServed) {
  ContextPtr blocked(proxy_->connect());
  send(blocked.get(), {"BLPOP", "{blk}list", "0"});
  // The same slot, the same node: served while the BLPOP blocks (it has its own connection).
  ASSERT_TRUE(waitFor([] { return blockedOnOwner("{blk}list") == 1; }, 10000));
  ContextPtr other(proxy_->connect());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        replyIs(command(other.get(), {"SET", "{blk}k" + std::to_string(i), "v"}).get(), "OK"));
  }
  ASSERT_EQ(describe(command(other.get(), {"RPUSH", "{blk}list", "hello"}).get()), "(integer) 1");
  ReplyPtr r = receive(blocked.get());
  ASSERT_NE(r, nullptr) << blocked->errstr;
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << describe(r.get());
  ASSERT_EQ(r->elements, 2u);
  EXPECT_TRUE(replyIs(r->element[0], "{blk}list"));
  EXPECT_TRUE(replyIs(r->element[1], "hello"));
}

TEST_F(BlockingTest, CommandsPipelinedBehindABlockedOneWaitForIt) {
  ContextPtr blocked(proxy_->connect());
  // BLPOP, then a SET of the key a later push would create: Redis runs the SET only after the
  // BLPOP returns, and so must the proxy (the pop must not see the SET's effect first).
  send(blocked.get(), {"BLPOP", "{ord}list", "0"});
  send(blocked.get(), {"GET", "{ord}after"});
  ASSERT_TRUE(waitFor([] { return blockedOnOwner("{ord}list") == 1; }, 10000));
  ContextPtr other(proxy_->connect());
  ASSERT_TRUE(replyIs(command(other.get(), {"SET", "{ord}after", "set-before-push"}).get(), "OK"));
  ASSERT_EQ(describe(command(other.get(), {"LPUSH", "{ord}list", "x"}).get()), "(integer) 1");
  ReplyPtr pop = receive(blocked.get());
  ASSERT_NE(pop, nullptr);
  ASSERT_EQ(pop->type, REDIS_REPLY_ARRAY) << describe(pop.get());
  ReplyPtr get = receive(blocked.get());
  ASSERT_NE(get, nullptr);
  // Had the GET run before the BLPOP returned, it would have read nil.
  EXPECT_TRUE(replyIs(get.get(), "set-before-push")) << describe(get.get());
}

TEST_F(BlockingTest, XreadBlockIsWokenByXadd) {
  ContextPtr blocked(proxy_->connect());
  send(blocked.get(), {"XREAD", "BLOCK", "0", "STREAMS", "blocking:stream", "$"});
  ASSERT_TRUE(waitFor([] { return blockedOnOwner("blocking:stream") == 1; }, 10000));
  ContextPtr other(proxy_->connect());
  ReplyPtr id = command(other.get(), {"XADD", "blocking:stream", "*", "f", "v"});
  ASSERT_NE(id, nullptr);
  ASSERT_EQ(id->type, REDIS_REPLY_STRING) << describe(id.get());
  ReplyPtr r = receive(blocked.get());
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << describe(r.get());
}

TEST_F(BlockingTest, ClientGoneWhileBlockedReleasesTheBackendConnection) {
  {
    ContextPtr blocked(proxy_->connect());
    send(blocked.get(), {"BLPOP", "blocking:abandoned", "0"});
    ASSERT_TRUE(waitFor([] { return blockedOnOwner("blocking:abandoned") == 1; }, 10000));
  }  // the client disconnects
  // The proxy closes the BLPOP's connection: Redis has nobody blocked any more, and a later push
  // stays in the list (no one pops it on behalf of the vanished client).
  EXPECT_TRUE(waitFor([] { return blockedOnOwner("blocking:abandoned") == 0; }, 10000));
  ContextPtr other(proxy_->connect());
  ASSERT_EQ(describe(command(other.get(), {"RPUSH", "blocking:abandoned", "kept"}).get()),
            "(integer) 1");
  EXPECT_EQ(describe(command(other.get(), {"LLEN", "blocking:abandoned"}).get()), "(integer) 1");
}

// A queue consumer's loop (BLPOP, answered, BLPOP...) reuses its node connection: one
// connection opened for 20 rounds, instead of a connect and a close (a TIME_WAIT socket) each.
TEST_F(BlockingTest, RepeatedBlockingCommandsReuseANodeConnection) {
  const std::string key = "blocking:consumer";
  const int node = cluster_->primaryOfSlot(cluster_->keySlot(key));
  ContextPtr direct(cluster_->connectNode(node));
  auto received = [&] {
    ReplyPtr info = command(direct.get(), {"INFO", "stats"});
    return info ? std::stoll(infoField(info->str, "total_connections_received")) : -1LL;
  };
  ContextPtr c(proxy_->connect());
  ASSERT_NE(c, nullptr);
  const long long before = received();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(describe(command(c.get(), {"RPUSH", key, std::to_string(i)}).get()), "(integer) 1");
    EXPECT_EQ(describe(command(c.get(), {"BLPOP", key, "1"}).get()),
              "[" + key + ", " + std::to_string(i) + "]");
  }
  EXPECT_LE(received() - before, 1);
}

TEST_F(BlockingTest, CrossSlotBlockingCommandGetsCrossslot) {
  ContextPtr c(proxy_->connect());
  ReplyPtr r = command(c.get(), {"BLPOP", "blocking:a", "blocking:b", "0"});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(describe(r.get()), "(error) CROSSSLOT Keys in request don't hash to the same slot");
}

// Blocking commands, WATCH and subscriptions hold a node connection each. Past max-own-conns on
// a node, one more gets an error naming the limit at once (not a hang, not a connection the node
// may refuse); plain commands are served meanwhile, and a connection whose command is answered
// makes room again.
TEST_F(BlockingTest, OwnConnectionsPastMaxOwnConnsGetAnErrorNamingTheLimit) {
  const std::string a = "{own}:a", b = "{own}:b", c = "{own}:c";  // one slot, one node
  ContextPtr first(limited_->connect()), second(limited_->connect()), third(limited_->connect());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_NE(third, nullptr);
  send(first.get(), {"BLPOP", a, "0"});
  send(second.get(), {"BLPOP", b, "0"});
  ASSERT_TRUE(waitFor([&] { return blockedOnOwner(a) == 2; }, 10000));

  using ::testing::HasSubstr;
  using ::testing::StartsWith;
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"BLPOP", c, "0"}, {"WATCH", a}, {"SSUBSCRIBE", "{own}:channel"}}) {
    SCOPED_TRACE(argv[0]);
    const std::string reply = describe(command(third.get(), argv).get());
    EXPECT_THAT(reply, StartsWith("(error) ERR slotproxy: 2 connections to "));
    EXPECT_THAT(reply, HasSubstr("(max-own-conns)"));
  }
  // The refused WATCH watches nothing: the transaction runs.
  EXPECT_EQ(describe(command(third.get(), {"MULTI"}).get()), "OK");
  EXPECT_EQ(describe(command(third.get(), {"SET", "{own}:k", "v"}).get()), "QUEUED");
  EXPECT_EQ(describe(command(third.get(), {"EXEC"}).get()), "[OK]");
  EXPECT_EQ(scrapeMetric("127.0.18.101:9379",
                         "slotproxy_command_errors_total{command=\"blpop\",kind=\"conn_limit\"}"),
            1.0);

  // Answering the first BLPOP frees its connection: the third client's BLPOP now blocks, and is
  // woken as usual.
  EXPECT_EQ(describe(command(third.get(), {"RPUSH", a, "x"}).get()), "(integer) 1");
  EXPECT_EQ(describe(receive(first.get()).get()), "[" + a + ", x]");
  send(third.get(), {"BLPOP", c, "0"});
  ASSERT_TRUE(waitFor([&] { return blockedOnOwner(a) == 2; }, 10000));
  EXPECT_EQ(describe(command(first.get(), {"RPUSH", c, "y"}).get()), "(integer) 1");
  EXPECT_EQ(describe(receive(third.get()).get()), "[" + c + ", y]");
  EXPECT_EQ(describe(command(first.get(), {"RPUSH", b, "z"}).get()), "(integer) 1");
  EXPECT_EQ(describe(receive(second.get()).get()), "[" + b + ", z]");
}

}  // namespace
}  // namespace slotproxy::testing
