// 2,000 slots resharded from one primary to another (redis-cli --cluster reshard, keys moved
// with MIGRATE, MOVED and ASK on the way) under a write load through slotproxy. No client may
// see any error, and the ledger must match. Net 127.0.25.0/24.

#include <gtest/gtest.h>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/failover/scenario.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 5;
constexpr int kSlotsMoved = 2000;

TEST(ReshardUnderLoadTest, TwoThousandSlotsMoveWithoutClientErrorsOrLostWrites) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet});
  std::string error;
  ASSERT_TRUE(cluster.start(&error)) << error;
  ProxyProcess proxy(proxyIp(kNet), 6379, fastProxyFlags());
  ASSERT_TRUE(proxy.start(cluster.seeds(), &error)) << error;

  const int from = cluster.primaryOfSlot(0);
  const int to = cluster.primaryOfSlot(16383);
  ASSERT_GE(from, 0);
  ASSERT_GE(to, 0);
  ASSERT_NE(from, to);
  // reshard moves the lowest slots `from` owns: 0 .. kSlotsMoved - 1.
  const auto affected = slotRange(0, kSlotsMoved - 1);

  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  load.setAffected(affected);
  load.start();
  ASSERT_TRUE(load.waitAffectedSuccesses(300, 10000)) << "no load through the proxy";

  logEvent("reshard " + std::to_string(kSlotsMoved) + " slots " + cluster.address(from) + " -> " +
           cluster.address(to));
  ASSERT_TRUE(cluster.reshard(from, to, kSlotsMoved, &error)) << error;
  const Clock::time_point cluster_ok_at = Clock::now();
  logEvent("reshard done, cluster ok");
  for (int s : {0, kSlotsMoved / 2, kSlotsMoved - 1}) {
    EXPECT_EQ(cluster.primaryOfSlot(s), to) << "slot " << s;
  }
  EXPECT_EQ(cluster.primaryOfSlot(kSlotsMoved), from);

  finishScenario({.name = "reshard_2000_slots",
                  .cluster_ok_at = cluster_ok_at,
                  .affected = affected,
                  .max_outcome_unknown = 0},
                 cluster, proxy, load);
}

}  // namespace
}  // namespace slotproxy::testing
