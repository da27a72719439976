// Robustness: every command of slotproxy's command table (Redis 7.0's, subcommands included),
// with random arguments drawn from keys, numbers, keywords and odd strings, pipelined to
// slotproxy (the ASan+UBSan build under CI) in front of a real cluster on 127.0.33.0/24. Nothing
// is compared with Redis here (differential_test does that for well-formed commands): what must
// hold is that every command gets exactly one reply, in time, and that the proxy neither crashes
// nor stops serving. Left out: commands that may legitimately never answer or answer several
// times (blocking commands, pub/sub, MONITOR-like streams), and QUIT, which closes.
//
// A failure prints the seed (SLOTPROXY_RANDOM_SEED=<n> replays it) and the batch.

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "proxy/command/command_table.h"
#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"
#include "tests/integration/fixture/suite.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetRandomCommands;
constexpr int kTimeoutMs = 20000;

// Commands whose reply may never come, or comes as several frames, or ends the connection.
// `raw`: replies are split as raw frames (the RESP3 run), which any depth of nesting fits.
bool leftOut(const command::CommandInfo& cmd, bool raw) {
  static const std::set<std::string_view> kNames = {
      // Never answer, answer several times, or end the connection.
      "quit", "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
      "sunsubscribe", "monitor", "sync", "psync", "wait", "xread", "xreadgroup",
      // Node administration (refused by slotproxy anyway).
      "debug", "shutdown", "failover", "replicaof", "slaveof", "client|pause", "client|kill",
      "client|reply", "cluster|failover", "cluster|reset"};
  // Replies nested deeper than hiredis's reader takes; passed through as is.
  static const std::set<std::string_view> kDeep = {"command", "command|docs", "command|info"};
  return (cmd.flags & command::kBlocking) != 0 || kNames.contains(cmd.name) ||
         (!raw && kDeep.contains(cmd.name));
}

std::vector<std::vector<std::string>> commandNames(bool raw) {
  std::vector<std::vector<std::string>> names;
  for (size_t id = 0; id < command::count(); ++id) {
    const command::CommandInfo& cmd = command::byId(static_cast<uint16_t>(id));
    if (leftOut(cmd, raw) || cmd.isContainer()) continue;
    const std::string name(cmd.name);
    const size_t bar = name.find('|');
    if (bar == std::string::npos) {
      names.push_back({name});
    } else {
      names.push_back({name.substr(0, bar), name.substr(bar + 1)});
    }
  }
  return names;
}

std::string randomArg(std::mt19937_64& rng) {
  static const std::vector<std::string> kPool = {
      "k1",      "{t}a",     "{t}b",    "key:2", "0",     "1",
      "-1",      "100",      "3.5",     "inf",   "-inf",  "99999999999999999999",
      "STORE",   "BLOCK",    "STREAMS", "COUNT", "MATCH", "WITHSCORES",
      "LIMIT",   "KEYS",     "AUTH",    "GET",   "BY",    "TYPE",
      "REPLACE", "NX",       "XX",      "EX",    "*",     "",
      "\r\n",    "return 1", "$",       ">",     "+",     "-",
      "0-0",     "ASYNC",    "SYNC",    "LEFT",  "RIGHT"};
  std::uniform_int_distribution<size_t> pick(0, kPool.size());
  const size_t i = pick(rng);
  if (i == kPool.size()) return std::string(1000 + rng() % 3000, 'x');  // a long value
  return kPool[i];
}

class RandomCommandsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_.start({.net = kNet}, "127.0." + std::to_string(kNet) + "." + std::to_string(kProxyHost));
  }
  static void TearDownTestSuite() { suite_.stop(); }
  void SetUp() override {
    if (!ProxyProcess::available()) GTEST_SKIP() << "slotproxy is not built (no SLOTPROXY_BIN)";
    suite_.expectUp();
  }
  // 200 batches of 50 random commands on one connection, in RESP3 (HELLO 3; replies split as
  // raw frames) if `resp3`.
  static void run(bool resp3) {
    const uint64_t seed = testSeed("SLOTPROXY_RANDOM_SEED");
    SCOPED_TRACE("SLOTPROXY_RANDOM_SEED=" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const auto names = commandNames(resp3);
    ASSERT_GT(names.size(), 300u);
    std::string error;
    auto c = RespClient::connect(suite_.proxy->address(), &error);
    ASSERT_NE(c, nullptr) << error;
    c->setRawFrames(resp3);
    // (RESET, which ends every batch, goes back to RESP2.)
    const std::string start = resp3 ? encodeCommand({"HELLO", "3"}) : std::string();
    std::vector<ReplyPtr> replies;
    if (resp3) {
      ASSERT_TRUE(c->exchange(start, 1, &replies, kTimeoutMs, &error)) << error;
      ASSERT_TRUE(describe(replies[0].get()).starts_with("%7\r\n")) << describe(replies[0].get());
    }
    batches(rng, names, *c, start);
    if (HasFatalFailure()) return;
    // Still serving, on this connection and a new one.
    c->setRawFrames(false);
    EXPECT_TRUE(replyIs(c->call({"SET", "after", "random"}, &error).get(), "OK")) << error;
    auto fresh = RespClient::connect(suite_.proxy->address(), &error);
    ASSERT_NE(fresh, nullptr) << error;
    EXPECT_TRUE(replyIs(fresh->call({"GET", "after"}, &error).get(), "random")) << error;
  }

  static void batches(std::mt19937_64& rng, const std::vector<std::vector<std::string>>& names,
                      RespClient& c, const std::string& start) {
    std::string error;
    constexpr int kBatches = 200;
    constexpr size_t kPerBatch = 50;
    for (int b = 0; b < kBatches; ++b) {
      std::string bytes, shown;
      for (size_t i = 0; i < kPerBatch; ++i) {
        std::vector<std::string> argv = names[rng() % names.size()];
        for (int n = static_cast<int>(rng() % 7); n > 0; --n) argv.push_back(randomArg(rng));
        bytes += encodeCommand(argv);
        for (const std::string& a : argv)
          shown += (a.size() > 20 ? a.substr(0, 20) + "..." : a) + " ";
        shown += "\n";
      }
      std::vector<ReplyPtr> replies;
      ASSERT_TRUE(c.exchange(bytes, kPerBatch, &replies, kTimeoutMs, &error))
          << "batch " << b << ": " << error << "\n"
          << shown << "slotproxy log:\n"
          << tailFile(suite_.proxy->log(), 20);
      ASSERT_TRUE(suite_.proxy->running()) << tailFile(suite_.proxy->log(), 30);
      // MULTI (or WATCH) may have been left open, or a RESET's state: start each batch clean.
      const size_t n = start.empty() ? 1 : 2;
      ASSERT_TRUE(c.exchange(encodeCommand({"RESET"}) + start, n, &replies, kTimeoutMs, &error))
          << error;
    }
  }

  static SuiteCluster suite_;
};
SuiteCluster RandomCommandsTest::suite_;

TEST_F(RandomCommandsTest, EveryCommandWithRandomArgumentsGetsOneReply) { run(false); }

// The same in RESP3: the nodes' RESP3 replies (COMMAND DOCS included) and slotproxy's own.
TEST_F(RandomCommandsTest, InResp3EveryCommandWithRandomArgumentsGetsOneReply) { run(true); }

}  // namespace
}  // namespace slotproxy::testing
