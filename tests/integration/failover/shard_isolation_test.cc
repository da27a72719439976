// One hung shard must not stall replies from the other shards to other clients: with a primary
// frozen (SIGSTOP, well inside the node timeout, so the cluster does not fail over), a client
// whose request waits on it keeps waiting while other clients are served in full, and it gets
// its answer once the node resumes.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "tests/integration/failover/scenario.h"
#include "tests/integration/fixture/local_cluster.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 6;

// A key whose slot belongs to primary `node` (index into the cluster).
std::string keyOn(LocalCluster& cluster, int node, const std::string& prefix) {
  for (int n = 0;; ++n) {
    std::string key = prefix + std::to_string(n);
    if (cluster.primaryOfSlot(cluster.keySlot(key)) == node) return key;
  }
}

TEST(ShardIsolationTest, AFrozenPrimaryDoesNotStallOtherShardsOrOtherClients) {
  if (!ProxyProcess::available()) GTEST_SKIP() << "slotproxy binary not built";
  LocalCluster cluster(LocalCluster::Options{.net = kNet, .node_timeout_ms = 15000});
  std::string error;
  ASSERT_TRUE(cluster.start(&error)) << error;
  // A request timeout longer than the freeze: the waiting request is answered, not failed.
  ProxyProcess proxy(proxyIp(kNet), 6379, {"--request-timeout", "30s"});
  ASSERT_TRUE(proxy.start(cluster.seeds(), &error)) << error;

  const std::vector<int> primaries = cluster.primaries();
  ASSERT_EQ(primaries.size(), 3u);
  const int frozen = primaries[0];
  const std::string frozen_key = keyOn(cluster, frozen, "frozen:");
  ContextPtr waiting(proxy.connect());
  ASSERT_TRUE(replyIs(command(waiting.get(), {"SET", frozen_key, "before"}).get(), "OK"));

  cluster.pause(frozen);
  ASSERT_EQ(redisAppendCommand(waiting.get(), "INCR %s", (frozen_key + ":n").c_str()), REDIS_OK);
  int done = 0;
  while (done == 0) ASSERT_EQ(redisBufferWrite(waiting.get(), &done), REDIS_OK);

  // Other clients, other shards: every command answered while the frozen node is still frozen.
  for (int c = 0; c < 4; ++c) {
    ContextPtr other(proxy.connect());
    for (int i = 0; i < 50; ++i) {
      const int node = primaries[i % 2 == 0 ? 1 : 2];
      const std::string key =
          keyOn(cluster, node, "other:" + std::to_string(c) + ":" + std::to_string(i) + ":");
      ASSERT_TRUE(replyIs(command(other.get(), {"SET", key, "v"}).get(), "OK"))
          << "client " << c << " command " << i;
      ASSERT_TRUE(replyIs(command(other.get(), {"GET", key}).get(), "v"));
    }
  }
  EXPECT_TRUE(cluster.paused(frozen));

  cluster.resume(frozen);
  redisReply* reply = nullptr;
  ASSERT_EQ(redisGetReply(waiting.get(), reinterpret_cast<void**>(&reply)), REDIS_OK)
      << waiting->errstr;
  ReplyPtr owned(reply);
  ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER) << describe(reply);
  EXPECT_EQ(reply->integer, 1);
  EXPECT_EQ(proxy.stopGracefully(), 0);
}

}  // namespace
}  // namespace slotproxy::testing
