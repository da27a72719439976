// A replica "rescheduled" to a new pod IP under a write load through slotproxy: stopped, its
// nodes.conf rewritten by the real `slotproxy nodes-conf --file ... --myself-ip NEWIP`, started
// at the new loopback address. Then (second test) it is promoted with CLUSTER FAILOVER, so the
// proxy must send the slots' writes to the node's NEW address. Net 127.0.22.0/24.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/failover/scenario.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 2;

// Starts a cluster, the proxy and the load (startUnderLoad); moves the target's replica to
// movedIp(kNet, 0).
void moveReplica(LocalCluster& cluster, ProxyProcess& proxy, LedgerLoad& load, Target* target) {
  if (!startUnderLoad(cluster, proxy, load, target)) return;
  const int primary = target->primary;
  const int replica = target->replica;
  std::string error;
  const std::string new_ip = movedIp(kNet, 0);
  logEvent("stop replica " + cluster.address(replica));
  cluster.stop(replica);
  ASSERT_TRUE(rewriteNodesConf(cluster, replica, new_ip, {}, &error)) << error;
  logEvent("restart replica at " + new_ip);
  ASSERT_TRUE(cluster.restartAt(replica, new_ip, &error)) << error;
  ASSERT_TRUE(cluster.waitPeersSeeAddress(replica, kClusterTimeoutMs, &error)) << error;
  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
  ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;
  ASSERT_EQ(cluster.replicaOf(primary), replica);
  logEvent("replica at " + cluster.address(replica) + " known to all peers and synced");
}

TEST(ReplicaMovedTest, ReplicaRestartedAtNewAddressDisturbsNoClient) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  ProxyProcess proxy(proxyIp(kNet), 6379, fastProxyFlags());
  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  Target target;
  moveReplica(cluster, proxy, load, &target);
  if (HasFatalFailure()) {
    return;
  }
  const auto& [primary, replica, affected] = target;
  const Clock::time_point cluster_ok_at = Clock::now();
  // Nothing was in flight to a replica: no client may see any error at all.
  finishScenario({.name = "replica_new_ip",
                  .cluster_ok_at = cluster_ok_at,
                  .affected = affected,
                  .max_outcome_unknown = 0},
                 cluster, proxy, load);
}

// The promotion comes soon after the move, before the proxy's periodic refresh has seen the new
// address (the default refresh-interval, 5 s): the proxy first hears of 127.0.22.200 from a
// MOVED, then from the refresh that the MOVED triggers. Both name the same node.
TEST(ReplicaMovedTest, ReplicaAtNewAddressPromotedServesItsSlotsThroughTheProxy) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  ProxyProcess proxy(proxyIp(kNet), 6379, withFlag(fastProxyFlags(), "--refresh-interval", "5s"));
  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  Target target;
  moveReplica(cluster, proxy, load, &target);
  if (HasFatalFailure()) {
    return;
  }
  const auto& [primary, replica, affected] = target;
  ASSERT_TRUE(load.waitAffectedSuccesses(500, 10000));

  // A manual failover: the primary stops writes, the replica catches up and takes over; writes
  // in flight on the old primary get MOVED, which the proxy follows to the new address.
  logEvent("CLUSTER FAILOVER on " + cluster.address(replica));
  {
    ContextPtr c(cluster.connectNode(replica));
    ReplyPtr r = command(c.get(), {"CLUSTER", "FAILOVER"});
    ASSERT_TRUE(replyIs(r.get(), "OK")) << describe(r.get(), c.get());
  }
  const auto cluster_ok_at = waitPrimary(cluster, 0, replica, 20000);
  ASSERT_TRUE(cluster_ok_at.has_value())
      << "replica " << cluster.address(replica) << " was not promoted";
  logEvent("cluster ok: " + cluster.address(replica) + " is primary");
  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, nullptr));

  // A graceful failover loses nothing and leaves nothing in doubt.
  finishScenario({.name = "replica_new_ip_then_promoted",
                  .cluster_ok_at = *cluster_ok_at,
                  .affected = affected,
                  .max_outcome_unknown = 0,
                  .min_failovers = 1},
                 cluster, proxy, load);
}

}  // namespace
}  // namespace slotproxy::testing
