// The whole cluster "rescheduled" at once under a write load through slotproxy, as when every
// pod of a StatefulSet restarts with a new IP: all six nodes are stopped, each nodes.conf is
// repaired by the real `slotproxy nodes-conf --myself-ip NEWIP --resolve-peers --hosts-file F`
// (peers are found by the hostnames they announce, cluster-announce-hostname), and all six start
// at new loopback addresses. The cluster re-forms by itself; the proxy, NOT restarted, must find
// it again: its seed is a name, `redis-seeds:6379`, that it resolves through its own hosts file
// (--hosts-file F2, re-read at every refresh), which the test rewrites to the new addresses as a
// headless Service's DNS would change. Data survive in RDB files (save on shutdown), as on a
// pod's volume. Net 127.0.24.0/24.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/failover/scenario.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFailover + 4;
constexpr char kSeedName[] = "redis-seeds";

std::string hostnameOf(int i) { return "redis-" + std::to_string(i) + ".failover.test"; }

// Writes `text` to `path` atomically (temp file + rename), as a resolver's data changes at once.
bool writeAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      return false;
    }
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// The seeds file of the proxy: every current node address under kSeedName.
std::string seedsHostsFile(LocalCluster& cluster) {
  std::string text = "# slotproxy --hosts-file: the seed name, like a headless Service\n";
  for (int i = 0; i < cluster.size(); ++i) {
    text += cluster.ip(i) + " " + kSeedName + "\n";
  }
  return text;
}

bool setHostname(LocalCluster& cluster, int i, std::string* error) {
  ContextPtr c(cluster.connectNode(i));
  ReplyPtr r = command(c.get(), {"CONFIG", "SET", "cluster-announce-hostname", hostnameOf(i)});
  if (!replyIs(r.get(), "OK")) {
    *error = "CONFIG SET cluster-announce-hostname on " + cluster.address(i) + ": " +
             describe(r.get(), c.get());
    return false;
  }
  return true;
}

// Every node's CLUSTER NODES shows every other node with its hostname ("ip:port@cport,host").
bool waitHostnamesGossiped(LocalCluster& cluster, int timeout_ms, std::string* error) {
  return waitFor(
      [&] {
        for (int i = 0; i < cluster.size(); ++i) {
          ContextPtr c(cluster.connectNode(i));
          ReplyPtr r = command(c.get(), {"CLUSTER", "NODES"});
          if (r == nullptr || r->type != REDIS_REPLY_STRING) {
            *error = "CLUSTER NODES on " + cluster.address(i) + ": " + describe(r.get(), c.get());
            return false;
          }
          const std::string nodes(r->str, r->len);
          for (int k = 0; k < cluster.size(); ++k) {
            if (nodes.find("," + hostnameOf(k) + " ") == std::string::npos) {
              *error = cluster.address(i) + " does not show the hostname of node " +
                       std::to_string(k) + " yet:\n" + nodes;
              return false;
            }
          }
        }
        return true;
      },
      timeout_ms, 50);
}

TEST(AllNodesMovedTest, WholeClusterRestartedAtNewAddressesIsFoundAgainWithoutProxyRestart) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "no slotproxy binary";
  }
  LocalCluster cluster({.net = kNet, .extra_config = {"save 3600 1"}});
  std::string error;
  ASSERT_TRUE(cluster.start(&error)) << error;
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(setHostname(cluster, i, &error)) << error;
  }
  ASSERT_TRUE(waitHostnamesGossiped(cluster, 10000, &error)) << error;

  const std::string dir = testTmpDir() + "/net-" + std::to_string(kNet);
  const std::string peers_hosts = dir + "/peers.hosts";  // for nodes-conf --resolve-peers
  const std::string seeds_hosts = dir + "/seeds.hosts";  // for the proxy's --hosts-file
  ASSERT_TRUE(writeAtomically(seeds_hosts, seedsHostsFile(cluster)));
  std::vector<std::string> flags = fastProxyFlags();
  flags.insert(flags.end(), {"--hosts-file", seeds_hosts});
  ProxyProcess proxy(proxyIp(kNet), 6379, flags);
  ASSERT_TRUE(proxy.start({std::string(kSeedName) + ":6379"}, &error))
      << error << "\n(slotproxy run may not accept --hosts-file for seed names)";

  LedgerLoad load({.proxy_address = proxy.address(), .threads = kLoadThreads});
  const auto affected = slotRange(0, 16383);
  load.setAffected(affected);
  load.start();
  ASSERT_TRUE(load.waitAffectedSuccesses(2000, 10000)) << "no load through the proxy";

  // Redis 7.0 writes the peers' hostnames to nodes.conf only when it saves it.
  for (int i = 0; i < cluster.size(); ++i) {
    ContextPtr c(cluster.connectNode(i));
    ReplyPtr r = command(c.get(), {"CLUSTER", "SAVECONFIG"});
    ASSERT_TRUE(replyIs(r.get(), "OK")) << describe(r.get(), c.get());
  }

  // Replicas first, so that no primary's shutdown waits for a replica and no replica can start
  // an election while its primary is down.
  std::vector<int> order = cluster.replicas();
  for (int p : cluster.primaries()) {
    order.push_back(p);
  }
  ASSERT_EQ(static_cast<int>(order.size()), cluster.size());
  logEvent("stopping all six nodes");
  for (int i : order) {
    cluster.stop(i);
  }
  logEvent("all six nodes stopped");

  std::string peers_text;
  for (int i = 0; i < cluster.size(); ++i) {
    peers_text += movedIp(kNet, i) + " " + hostnameOf(i) + "\n";
  }
  ASSERT_TRUE(writeAtomically(peers_hosts, peers_text));
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(rewriteNodesConf(cluster, i, movedIp(kNet, i),
                                 {"--resolve-peers", "--hosts-file", peers_hosts}, &error))
        << error;
  }
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(cluster.restartAt(i, movedIp(kNet, i), &error)) << error;
    ASSERT_TRUE(setHostname(cluster, i, &error)) << error;
  }
  logEvent("all six nodes restarted at new addresses");
  // The name the proxy was started with now resolves to the new addresses.
  ASSERT_TRUE(writeAtomically(seeds_hosts, seedsHostsFile(cluster)));

  ASSERT_TRUE(cluster.waitClusterOk(kClusterTimeoutMs, &error)) << error;
  const Clock::time_point cluster_ok_at = Clock::now();
  logEvent("cluster ok at the new addresses");
  for (int i = 0; i < cluster.size(); ++i) {
    EXPECT_TRUE(cluster.waitPeersSeeAddress(i, kClusterTimeoutMs, &error)) << error;
  }
  ASSERT_TRUE(cluster.waitReplicasSynced(kClusterTimeoutMs, &error)) << error;

  // Each of the three primaries was stopped with writes in flight.
  finishScenario({.name = "all_nodes_new_ips",
                  .cluster_ok_at = cluster_ok_at,
                  .affected = affected,
                  .max_outcome_unknown = kLoadThreads * 3},
                 cluster, proxy, load);
}

}  // namespace
}  // namespace slotproxy::testing
