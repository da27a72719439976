// A primary is SIGKILLed under a write load through slotproxy; its replica is promoted; the old
// primary is restarted and rejoins as a replica of the promoted one. Checks the ledger (no
// acknowledged INCRBY lost, none applied twice), that the only client errors are "outcome
// unknown", and that the proxy serves the failed slots within node-timeout + 2 s of the cluster
// itself being ok again, with two worker threads and a quarter of the increments made with
// WATCH ... EXEC. Net 127.0.20.0/24.

#include <gtest/gtest.h>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/failover/scenario.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 0;

TEST(MasterKilledTest, ReplicaPromotedAndOldMasterRejoinsWithoutLosingAcknowledgedWrites) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  // Two worker threads: the one that does not refresh rides out the failover on the maps and
  // the triggers it shares with worker 0 (TopologyHub).
  std::vector<std::string> flags = fastProxyFlags();
  flags.insert(flags.end(), {"--threads", "2"});
  ProxyProcess proxy(proxyIp(kNet), 6379, flags);
  // A quarter of the increments are optimistic (WATCH ... EXEC): a watch lost with the primary
  // must make EXEC answer null (and the client retry), never lose or repeat an increment.
  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads, .watch_every = 4});
  Target target;
  if (!startUnderLoad(cluster, proxy, load, &target)) return;
  const auto& [victim, replica, affected] = target;
  std::string error;

  logEvent("SIGKILL primary " + cluster.address(victim));
  cluster.kill(victim);
  const auto cluster_ok_at = waitPrimary(cluster, 0, replica, 20000);
  ASSERT_TRUE(cluster_ok_at.has_value())
      << "replica " << cluster.address(replica) << " was not promoted";
  logEvent("cluster ok: " + cluster.address(replica) + " is primary");
  ASSERT_TRUE(load.waitAffectedSuccesses(200, 10000));
  expectFailoverCounted(proxy);

  logEvent("restart old primary " + cluster.address(victim));
  ASSERT_TRUE(cluster.restart(victim, &error)) << error;
  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
  ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;
  EXPECT_EQ(cluster.replicaOf(replica), victim) << "the old primary did not rejoin as a replica";
  logEvent("old primary rejoined as a replica and synced");

  finishScenario({.name = "master_killed",
                  .cluster_ok_at = *cluster_ok_at,
                  .affected = affected,
                  .min_failovers = 1},
                 cluster, proxy, load);
}

}  // namespace
}  // namespace slotproxy::testing
