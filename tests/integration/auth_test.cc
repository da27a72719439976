// A cluster run with requirepass (as the Bitnami redis-cluster chart does) behind slotproxy on
// 127.0.32.0/24: with the password (redis-password) everything works, over every kind of node
// connection (shared, blocking, subscriber, topology, probes); a client's AUTH with the same
// credentials is accepted; a wrong or missing password gives errors that say so, never a hang.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"
#include "tests/integration/fixture/process.h"
#include "tests/integration/fixture/suite.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetAuth;
constexpr char kPassword[] = "s3cret-pass";

std::string ip(int host) { return "127.0." + std::to_string(kNet) + "." + std::to_string(host); }

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_.start({.net = kNet, .password = kPassword}, ip(kProxyHost),
                 {"--redis-password", kPassword});
  }
  static void TearDownTestSuite() { suite_.stop(); }

  void SetUp() override {
    if (!ProxyProcess::available()) GTEST_SKIP() << "slotproxy is not built (no SLOTPROXY_BIN)";
    suite_.expectUp();
  }
  void TearDown() override {
    if (suite_.proxy != nullptr) {
      EXPECT_TRUE(suite_.proxy->running()) << "slotproxy died:\n"
                                           << tailFile(suite_.proxy->log(), 30);
    }
  }

  static std::unique_ptr<RespClient> client(const std::string& address) {
    std::string error;
    auto c = RespClient::connect(address, &error);
    EXPECT_NE(c, nullptr) << error;
    return c;
  }
  static std::string call(RespClient& c, const std::vector<std::string>& argv,
                          int timeout_ms = 5000) {
    std::string error;
    const ReplyPtr r = c.call(argv, &error, timeout_ms);
    return r == nullptr ? "(no reply: " + error + ")" : describe(r.get());
  }
  // Another slotproxy in front of the same cluster, with its own flags.
  static std::unique_ptr<ProxyProcess> otherProxy(int host, std::vector<std::string> args) {
    auto p = std::make_unique<ProxyProcess>(ip(host), 6379, std::move(args));
    std::string error;
    EXPECT_TRUE(p->start(suite_.cluster->seeds(), &error)) << error;
    return p;
  }

  static SuiteCluster suite_;
};
SuiteCluster AuthTest::suite_;

TEST_F(AuthTest, WithThePasswordEveryKindOfNodeConnectionWorks) {
  auto c = client(suite_.proxy->address());
  ASSERT_NE(c, nullptr);
  // Keys on all three primaries, a split MGET, a fan-out DBSIZE.
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(call(*c, {"SET", "key" + std::to_string(i), "v" + std::to_string(i)}), "OK");
  }
  EXPECT_EQ(call(*c, {"MGET", "key1", "key2", "key3"}), "[v1, v2, v3]");
  EXPECT_EQ(call(*c, {"DBSIZE"}), "(integer) 30");

  // A blocking command's own connection.
  auto pusher = client(suite_.proxy->address());
  ASSERT_NE(pusher, nullptr);
  std::string error;
  ASSERT_TRUE(c->sendAll(encodeCommand({"BLPOP", "queue", "10"}), 5000, &error)) << error;
  EXPECT_EQ(call(*pusher, {"RPUSH", "queue", "job"}), "(integer) 1");
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(c->readReplies(1, &replies, 10000, &error)) << error;
  EXPECT_EQ(describe(replies[0].get()), "[queue, job]");

  // A subscriber's connection.
  auto sub = client(suite_.proxy->address());
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(call(*sub, {"SUBSCRIBE", "news"}), "[subscribe, news, (integer) 1]");
  // (PUBLISH counts the subscribers of the node it reached; the cluster bus carries it on.)
  EXPECT_TRUE(call(*pusher, {"PUBLISH", "news", "hello"}).starts_with("(integer) "));
  replies.clear();
  ASSERT_TRUE(sub->readReplies(1, &replies, 5000, &error)) << error;
  EXPECT_EQ(describe(replies[0].get()), "[message, news, hello]");

  // RESP3 connections (AUTH, then HELLO 3): shared, a blocking command's, a subscriber's.
  auto c3 = client(suite_.proxy->address());
  ASSERT_NE(c3, nullptr);
  c3->setRawFrames(true);
  const auto frames = [&](const std::vector<std::string>& argv, size_t n = 1) {
    std::vector<ReplyPtr> got;
    std::string err;
    EXPECT_TRUE(c3->exchange(encodeCommand(argv), n, &got, 10000, &err)) << err;
    std::string out;
    for (const ReplyPtr& r : got) out.append(r->str, r->len);
    return out;
  };
  EXPECT_TRUE(frames({"HELLO", "3"}).starts_with("%7\r\n"));
  EXPECT_EQ(frames({"MGET", "key1", "key2", "nokey"}), "*3\r\n$2\r\nv1\r\n$2\r\nv2\r\n_\r\n");
  EXPECT_EQ(frames({"BLPOP", "queue", "0.01"}), "_\r\n");
  EXPECT_EQ(frames({"SUBSCRIBE", "news"}), ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
}

TEST_F(AuthTest, ClientAuthWithTheNodesCredentialsIsAcceptedAndOnlyThen) {
  auto c = client(suite_.proxy->address());
  ASSERT_NE(c, nullptr);
  const std::string kWrongPass =
      "(error) WRONGPASS invalid username-password pair or user is "
      "disabled.";
  EXPECT_EQ(call(*c, {"AUTH", kPassword}), "OK");
  EXPECT_EQ(call(*c, {"AUTH", "default", kPassword}), "OK");
  EXPECT_EQ(call(*c, {"AUTH", "nope"}), kWrongPass);
  EXPECT_EQ(call(*c, {"AUTH", "someone", kPassword}), kWrongPass);
  EXPECT_EQ(call(*c, {"AUTH", "a", "b", "c"}), "(error) ERR syntax error");
  const std::string hello = call(*c, {"HELLO", "2", "AUTH", "default", kPassword});
  EXPECT_TRUE(hello.starts_with("[server, redis, version,")) << hello;
  EXPECT_EQ(call(*c, {"HELLO", "2", "AUTH", "default", "nope"}), kWrongPass);
  EXPECT_EQ(call(*c, {"SET", "after-auth", "1"}), "OK");  // the connection still serves
}

// client-password: clients must AUTH first, and get exactly what redis-server 7.0.15 with
// requirepass answers (texts checked against it).
TEST_F(AuthTest, ClientPasswordIsRequiredAsRedisRequiresRequirepass) {
  auto setup = client(suite_.proxy->address());
  ASSERT_NE(setup, nullptr);
  EXPECT_EQ(call(*setup, {"MSET", "key1", "v1", "key2", "v2"}), "OK");
  auto proxy =
      otherProxy(kProxyHost + 4, {"--redis-password", kPassword, "--client-password", "app-pw"});
  auto c = client(proxy->address());
  ASSERT_NE(c, nullptr);
  const std::string kNoAuth = "(error) NOAUTH Authentication required.";
  const std::string kWrongPass =
      "(error) WRONGPASS invalid username-password pair or user is disabled.";
  const std::vector<std::pair<std::vector<std::string>, std::string>> script = {
      {{"GET", "key1"}, kNoAuth},
      {{"PING"}, kNoAuth},
      {{"NOSUCH", "x"}, "(error) ERR unknown command 'NOSUCH', with args beginning with: 'x' "},
      {{"GET"}, "(error) ERR wrong number of arguments for 'get' command"},
      {{"MSET", "a", "1", "b"}, kNoAuth},  // Redis checks MSET's pairs after authentication
      {{"HELLO", "2"},
       "(error) NOAUTH HELLO must be called with the client already authenticated, otherwise the "
       "HELLO AUTH <user> <pass> option can be used to authenticate the client and select the "
       "RESP protocol version at the same time"},
      {{"AUTH", "x"}, kWrongPass},
      {{"AUTH", "default", "x"}, kWrongPass},
      {{"AUTH", "someone", "app-pw"}, kWrongPass},
      {{"AUTH", kPassword}, kWrongPass},  // the nodes' password is not the clients'
      {{"GET", "key1"}, kNoAuth},
      {{"AUTH", "app-pw"}, "OK"},
      {{"GET", "key1"}, "v1"},
      {{"RESET"}, "RESET"},
      {{"GET", "key1"}, kNoAuth},
      {{"AUTH", "default", "app-pw"}, "OK"},
      {{"GET", "key2"}, "v2"},
  };
  std::string bytes;
  for (const auto& [argv, want] : script) bytes += encodeCommand(argv);
  std::vector<ReplyPtr> replies;
  std::string error;
  ASSERT_TRUE(c->exchange(bytes, script.size(), &replies, 10000, &error)) << error;
  for (size_t i = 0; i < script.size(); ++i) {
    EXPECT_EQ(describe(replies[i].get()), script[i].second) << "command " << i;
  }
  auto h = client(proxy->address());
  ASSERT_NE(h, nullptr);
  const std::string hello = call(*h, {"HELLO", "2", "AUTH", "default", "app-pw", "SETNAME", "x"});
  EXPECT_TRUE(hello.starts_with("[server, redis, version,")) << hello;
  EXPECT_EQ(call(*h, {"CLIENT", "GETNAME"}), "x");
  EXPECT_EQ(call(*h, {"GET", "key1"}), "v1");
  // RESET in subscribed mode (the node answers it) logs out too.
  EXPECT_EQ(call(*h, {"SUBSCRIBE", "news"}), "[subscribe, news, (integer) 1]");
  EXPECT_EQ(call(*h, {"RESET"}), "RESET");
  EXPECT_EQ(call(*h, {"GET", "key1"}), kNoAuth);
}

// As redis-server 7.0.15 does, a client that has not logged in and does not read its errors is
// closed once they outgrow 16 KB; a short pipeline before AUTH, and any pipeline after it, are
// answered in full.
TEST_F(AuthTest, AClientThatNeitherLogsInNorReadsIsClosed) {
  auto proxy =
      otherProxy(kProxyHost + 6, {"--redis-password", kPassword, "--client-password", "app-pw"});
  std::string get, error;
  // 46 KB, one read of the proxy's (64 KB): its 68 KB of NOAUTH errors pile up before a write.
  for (int i = 0; i < 2000; ++i) get += encodeCommand({"GET", "key1"});
  std::vector<ReplyPtr> replies;

  auto flood = client(proxy->address());
  ASSERT_NE(flood, nullptr);
  ASSERT_TRUE(flood->sendAll(get, 5000, &error)) << error;
  std::string received;
  EXPECT_TRUE(flood->readUntilEof(&received, 5000))
      << "not closed; " << received.size() << " bytes of replies";
  EXPECT_LT(received.size(), 2000 * std::string("-NOAUTH Authentication required.\r\n").size());

  auto brief = client(proxy->address());
  ASSERT_NE(brief, nullptr);
  std::string some;
  for (int i = 0; i < 100; ++i) some += encodeCommand({"GET", "key1"});
  ASSERT_TRUE(brief->exchange(some + encodeCommand({"AUTH", "app-pw"}) + get, 2101, &replies, 10000,
                              &error))
      << error;
  EXPECT_EQ(describe(replies[99].get()), "(error) NOAUTH Authentication required.");
  EXPECT_EQ(describe(replies[100].get()), "OK");
  EXPECT_EQ(describe(replies[2100].get()), describe(replies[101].get()));
  EXPECT_FALSE(describe(replies[2100].get()).starts_with("(error)"))
      << describe(replies[2100].get());
  EXPECT_TRUE(proxy->running());
}

TEST_F(AuthTest, AWrongOrMissingPasswordIsReportedNotHung) {
  // Requests wait for a topology up to failover-hold, then say why there is none.
  for (const auto& [host, args, cause] :
       {std::tuple<int, std::vector<std::string>, std::string>{
            kProxyHost + 1, {"--redis-password", "wrong", "--failover-hold", "1s"}, "WRONGPASS"},
        {kProxyHost + 2, {"--failover-hold", "1s"}, "NOAUTH"}}) {
    SCOPED_TRACE(cause);
    auto proxy = otherProxy(host, args);
    auto c = client(proxy->address());
    ASSERT_NE(c, nullptr);
    const std::string reply = call(*c, {"GET", "key1"}, 15000);
    EXPECT_TRUE(reply.starts_with("(error) CLUSTERDOWN")) << reply;
    EXPECT_NE(reply.find(cause), std::string::npos) << reply;
    EXPECT_TRUE(proxy->running());
  }
}

TEST_F(AuthTest, CheckUsesThePasswordAndNamesAWrongOne) {
  const std::string seed = suite_.cluster->address(0);
  const std::string log = testTmpDir() + "/auth-check.log";
  std::string error;
  std::remove(log.c_str());
  EXPECT_EQ(runCommand({ProxyProcess::binaryPath(), "check", "--seeds", seed, "--redis-password",
                        kPassword},
                       log, 30000, &error),
            0)
      << error << tailFile(log, 20);
  std::remove(log.c_str());
  EXPECT_EQ(runCommand(
                {ProxyProcess::binaryPath(), "check", "--seeds", seed, "--redis-password", "wrong"},
                log, 30000, &error),
            1)
      << error;
  EXPECT_NE(tailFile(log, 20).find("authentication to " + seed + " failed: WRONGPASS"),
            std::string::npos)
      << tailFile(log, 20);
}

TEST_F(AuthTest, ThePasswordCanComeFromAFile) {
  const std::string path = testTmpDir() + "/auth-password";
  {
    std::ofstream f(path);
    f << kPassword << "\n";  // as `kubectl create secret --from-file` often leaves it
  }
  auto proxy = otherProxy(kProxyHost + 3, {"--redis-password-file", path});
  auto c = client(proxy->address());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(call(*c, {"SET", "from-file", "yes"}, 15000), "OK");
  EXPECT_EQ(call(*c, {"AUTH", kPassword}), "OK");

  // The clients' password too.
  const std::string client_path = testTmpDir() + "/auth-client-password";
  {
    std::ofstream f(client_path);
    f << "app-pw\n";
  }
  auto guarded = otherProxy(kProxyHost + 5,
                            {"--redis-password-file", path, "--client-password-file", client_path});
  auto g = client(guarded->address());
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(call(*g, {"GET", "from-file"}), "(error) NOAUTH Authentication required.");
  EXPECT_EQ(call(*g, {"AUTH", "app-pw"}), "OK");
  EXPECT_EQ(call(*g, {"GET", "from-file"}, 15000), "yes");
}

}  // namespace
}  // namespace slotproxy::testing
