// A primary "rescheduled" to a new pod IP under a write load through slotproxy: stopped
// (SIGTERM), its nodes.conf rewritten by the real `slotproxy nodes-conf --file ... --myself-ip
// NEWIP`, started at the new loopback address.
//   - Slowly: restarted only after its replica was promoted; it rejoins as a replica at the new
//     address.
//   - Quickly: restarted at once, within cluster-node-timeout, with its data persisted (a pod's
//     volume), so that it may stay primary at its new address; the proxy must then follow the
//     same node id to the new address. Which of the two the cluster did is printed.
// Net 127.0.23.0/24.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/failover/scenario.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 3;

TEST(MasterMovedTest, StoppedPrimaryFailsOverThenRejoinsAtNewAddress) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  ProxyProcess proxy(proxyIp(kNet), 6379, fastProxyFlags());
  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  Target target;
  if (!startUnderLoad(cluster, proxy, load, &target)) return;
  const auto& [victim, replica, affected] = target;
  std::string error;

  const std::string new_ip = movedIp(kNet, 0);
  logEvent("stop primary " + cluster.address(victim));
  cluster.stop(victim);
  ASSERT_TRUE(rewriteNodesConf(cluster, victim, new_ip, {}, &error)) << error;
  const auto cluster_ok_at = waitPrimary(cluster, 0, replica, 20000);
  ASSERT_TRUE(cluster_ok_at.has_value())
      << "replica " << cluster.address(replica) << " was not promoted";
  logEvent("cluster ok: " + cluster.address(replica) + " is primary");
  ASSERT_TRUE(load.waitAffectedSuccesses(200, 10000));
  expectFailoverCounted(proxy);

  logEvent("restart old primary at " + new_ip);
  ASSERT_TRUE(cluster.restartAt(victim, new_ip, &error)) << error;
  ASSERT_TRUE(cluster.waitPeersSeeAddress(victim, kClusterTimeoutMs, &error)) << error;
  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
  ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;
  EXPECT_EQ(cluster.replicaOf(replica), victim) << "the old primary did not rejoin as a replica";
  logEvent("old primary at " + cluster.address(victim) + " rejoined as a replica and synced");

  finishScenario({.name = "master_new_ip_after_failover",
                  .cluster_ok_at = *cluster_ok_at,
                  .affected = affected,
                  .min_failovers = 1},
                 cluster, proxy, load);
}

TEST(MasterMovedTest, PrimaryRestartedAtNewAddressWithinNodeTimeout) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  // A shutdown saves an RDB and the restart loads it, as a pod's persistent volume would keep its
  // data; without it a primary that stays primary would come back empty.
  LocalCluster cluster({.net = kNet, .extra_config = {"save 3600 1"}});
  ProxyProcess proxy(proxyIp(kNet), 6379, fastProxyFlags());
  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  Target target;
  if (!startUnderLoad(cluster, proxy, load, &target)) return;
  const auto& [victim, replica, affected] = target;
  std::string error;

  const std::string new_ip = movedIp(kNet, 1);
  logEvent("stop primary " + cluster.address(victim));
  const Clock::time_point stopped_at = Clock::now();
  cluster.stop(victim);
  ASSERT_TRUE(rewriteNodesConf(cluster, victim, new_ip, {}, &error)) << error;
  ASSERT_TRUE(cluster.restartAt(victim, new_ip, &error)) << error;
  logEvent("primary restarted at " + new_ip + " after " +
           std::to_string(msBetween(stopped_at, Clock::now())) + " ms");
  ASSERT_TRUE(cluster.waitPeersSeeAddress(victim, kClusterTimeoutMs, &error)) << error;
  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
  const Clock::time_point cluster_ok_at = Clock::now();
  const int now_primary = cluster.primaryOfSlot(0);
  ASSERT_TRUE(now_primary == victim || now_primary == replica) << now_primary;
  logEvent(now_primary == victim
               ? "cluster ok: the moved node stayed primary at " + cluster.address(victim)
               : "cluster ok: failed over to " + cluster.address(replica) +
                     "; the moved node is a replica");
  ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;

  finishScenario({.name = now_primary == victim ? "master_new_ip_quick_restart_stayed_primary"
                                                : "master_new_ip_quick_restart_failed_over",
                  .cluster_ok_at = cluster_ok_at,
                  .affected = affected},
                 cluster, proxy, load);
}

}  // namespace
}  // namespace slotproxy::testing
