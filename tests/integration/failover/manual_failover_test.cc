// A graceful failover (CLUSTER FAILOVER on the replica, as an operator does before taking a
// primary's pod down) and the failback, under a write load through slotproxy: the old primary
// answers what it had in flight with MOVED once it is demoted, so no client sees any error at
// all, and the ledger holds. Net 127.0.27.0/24.

#include <gtest/gtest.h>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/failover/scenario.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 7;

TEST(ManualFailoverTest, GracefulFailoverAndFailbackWithoutAnyClientError) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  // The default request timeout: a primary paused by a manual failover is not a hung node.
  ProxyProcess proxy(proxyIp(kNet), 6379, withFlag(fastProxyFlags(), "--request-timeout", "3s"));
  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  Target target;
  if (!startUnderLoad(cluster, proxy, load, &target)) return;
  const auto& [first, second, affected] = target;
  std::string error;

  std::optional<Clock::time_point> ok_at;
  for (const auto& [from, to] : {std::pair{first, second}, std::pair{second, first}}) {
    logEvent("CLUSTER FAILOVER on " + cluster.address(to) + " (primary " + cluster.address(from) +
             ")");
    ContextPtr c(cluster.connectNode(to));
    ASSERT_TRUE(replyIs(command(c.get(), {"CLUSTER", "FAILOVER"}).get(), "OK"));
    ok_at = waitPrimary(cluster, 0, to, 20000);
    ASSERT_TRUE(ok_at.has_value()) << cluster.address(to) << " was not promoted";
    // Every node agrees on the new roles and the old primary replicates from the new one
    // before the next failover (one asked too early times out in Redis).
    ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
    ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;
    ASSERT_TRUE(load.waitAffectedSuccesses(500, 10000));
  }
  finishScenario({.name = "manual_failover_and_failback",
                  .cluster_ok_at = *ok_at,
                  .affected = affected,
                  .max_outcome_unknown = 0},
                 cluster, proxy, load);
}

}  // namespace
}  // namespace slotproxy::testing
