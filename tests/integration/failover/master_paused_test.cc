// A primary is SIGSTOPped for 6 s (three times cluster-node-timeout) under a write load through
// slotproxy: its replica is promoted while it sleeps. On SIGCONT the old primary still believes
// it owns its slots until gossip tells it otherwise, and would acknowledge writes it then loses
// when it resyncs as a replica (REDIS-NOTES). The ledger check is the point here: no
// acknowledged INCRBY may be lost. Run twice: with the fast flags (request-timeout 1 s) and with
// a request-timeout longer than the pause. Net 127.0.21.0/24.

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/failover/scenario.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 1;
constexpr auto kPauseFor = std::chrono::seconds(6);

// The pause: SIGSTOP the primary of slot 0, wait for its replica's promotion, SIGCONT it after
// kPauseFor, wait for it to rejoin as a replica, then the closing checks.
void pauseScenario(const std::string& name, const std::vector<std::string>& proxy_flags) {
  LocalCluster cluster({.net = kNet});
  ProxyProcess proxy(proxyIp(kNet), 6379, proxy_flags);
  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  Target target;
  if (!startUnderLoad(cluster, proxy, load, &target)) return;
  const auto& [victim, replica, affected] = target;
  std::string error;

  logEvent(name + ": SIGSTOP primary " + cluster.address(victim));
  const Clock::time_point paused_at = Clock::now();
  cluster.pause(victim);
  const auto cluster_ok_at = waitPrimary(cluster, 0, replica, 20000);
  if (!cluster_ok_at) {
    cluster.resume(victim);
    FAIL() << "replica " << cluster.address(replica) << " was not promoted";
  }
  logEvent(name + ": cluster ok: " + cluster.address(replica) + " is primary");
  if (load.waitAffectedSuccesses(200, 3000)) {
    expectFailoverCounted(proxy);
  }
  // The rest of the pause. Not a synchronisation: the pause length is the fault being injected.
  std::this_thread::sleep_until(paused_at + kPauseFor);
  logEvent(name + ": SIGCONT old primary " + cluster.address(victim));
  cluster.resume(victim);

  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
  ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;
  EXPECT_EQ(cluster.replicaOf(replica), victim) << "the old primary did not become a replica";
  logEvent(name + ": old primary demoted and synced");

  finishScenario(
      {.name = name, .cluster_ok_at = *cluster_ok_at, .affected = affected, .min_failovers = 1},
      cluster, proxy, load);
}

TEST(MasterPausedTest, PausedPastNodeTimeoutThenResumedLosesNoAcknowledgedWrite) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  pauseScenario("master_sigstop_6s", fastProxyFlags());
}

// The same with a request timeout longer than the pause: the writes in flight to the paused
// primary are still waiting for their replies when it wakes up, still believing it is primary,
// and would acknowledge them before it learns of its demotion and discards them. The proxy must
// not pass those acknowledgements on once its map names another primary for the slot.
TEST(MasterPausedTest, RequestTimeoutLongerThanPauseStillLosesNoAcknowledgedWrite) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  pauseScenario("master_sigstop_6s_request_timeout_15s",
                withFlag(fastProxyFlags(), "--request-timeout", "15s"));
}

}  // namespace
}  // namespace slotproxy::testing
