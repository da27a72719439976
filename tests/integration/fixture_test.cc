// Tests of the integration-test fixture itself: LocalCluster against real redis-server
// processes on 127.0.10.0/24, and ProxyProcess (with a stand-in binary, and with slotproxy once
// it is built).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "tests/integration/fixture/local_cluster.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetFixture;
constexpr int kTimeoutMs = 30000;

// The owner (node id) of every slot per node i's CLUSTER SLOTS.
std::array<std::string, 16384> slotOwners(LocalCluster& cluster, int i) {
  std::array<std::string, 16384> owners;
  ContextPtr c(cluster.connectNode(i));
  ReplyPtr r = command(c.get(), {"CLUSTER", "SLOTS"});
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
    return owners;
  }
  for (size_t k = 0; k < r->elements; ++k) {
    const redisReply* e = r->element[k];
    const std::string id(e->element[2]->element[2]->str, e->element[2]->element[2]->len);
    for (long long s = e->element[0]->integer; s <= e->element[1]->integer; ++s) {
      owners[static_cast<size_t>(s)] = id;
    }
  }
  return owners;
}

std::string clusterNodes(LocalCluster& cluster, int i) {
  ContextPtr c(cluster.connectNode(i));
  ReplyPtr r = command(c.get(), {"CLUSTER", "NODES"});
  return r != nullptr && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
}

// The flags of node `id` in node i's CLUSTER NODES ("" if absent).
std::string flagsOf(LocalCluster& cluster, int i, const std::string& id) {
  std::istringstream in(clusterNodes(cluster, i));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string node_id, addr, flags;
    if (fields >> node_id >> addr >> flags && node_id == id) {
      return flags;
    }
  }
  return "";
}

// The tiny nodes.conf rewrite of REDIS-NOTES: the `myself` line's "ip:port@cport" gets new_ip.
bool rewriteMyselfIp(const std::string& path, const std::string& new_ip) {
  std::ifstream in(path);
  std::string line, out;
  bool done = false;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, addr, flags;
    if (!done && fields >> id >> addr >> flags && flags.find("myself") != std::string::npos) {
      const size_t colon = addr.rfind(':', addr.find('@'));
      const size_t addr_pos = line.find(addr);
      line.replace(addr_pos, addr.size(), new_ip + addr.substr(colon));
      done = true;
    }
    out += line + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << out;
  return done;
}

// Sets an environment variable for the scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
      had_ = true;
    }
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// ---------------------------------------------------------------------------------------------
// Runs first (suites run in definition order): it needs the net for itself.

TEST(LocalClusterStaleRunTest, StartKillsNodesLeftByACrashedRun) {
  const LocalCluster::Options small{.net = kNet, .masters = 3, .replicas_per_master = 0};
  // A child process starts a cluster and exits without cleaning up, like a crashed test.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    LocalCluster crashed(small);
    std::string error;
    const bool ok = crashed.start(&error);
    _exit(ok ? 0 : 1);  // no destructors: the nodes stay up
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describeStatus(status);

  std::vector<pid_t> stale;
  for (int i = 1; i <= 3; ++i) {
    std::ifstream pidfile(testTmpDir() + "/net-" + std::to_string(kNet) + "/node-" +
                          std::to_string(i) + "/redis.pid");
    long pid = 0;
    ASSERT_TRUE(pidfile >> pid);
    ASSERT_TRUE(processAlive(static_cast<pid_t>(pid)));
    stale.push_back(static_cast<pid_t>(pid));
  }

  LocalCluster fresh(small);
  std::string error;
  ASSERT_TRUE(fresh.start(&error)) << error;
  for (pid_t pid : stale) {
    EXPECT_FALSE(processAlive(pid)) << pid;
  }
  EXPECT_EQ(fresh.primaries(), (std::vector<int>{0, 1, 2}));
}

// ---------------------------------------------------------------------------------------------
// One 3+3 cluster shared by the tests below; each test leaves it healthy.

class LocalClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new LocalCluster({.net = kNet});
    if (!cluster_->start(&start_error_)) {
      start_error_ = "cluster start failed: " + start_error_;
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(start_error_.empty()) << start_error_; }
  void TearDown() override {
    std::string error;
    EXPECT_TRUE(cluster_->waitClusterOk(kTimeoutMs, &error)) << error;
    EXPECT_TRUE(cluster_->waitReplicasSynced(kTimeoutMs, &error)) << error;
  }

  // A replica of node 0's slots (the tests below move replicas around, never primaries).
  int someReplica() {
    const int r = cluster_->replicaOf(0);
    EXPECT_GE(r, 0);
    return r;
  }

  static LocalCluster* cluster_;
  static std::string start_error_;
};
LocalCluster* LocalClusterTest::cluster_ = nullptr;
std::string LocalClusterTest::start_error_;

TEST_F(LocalClusterTest, CoversAllSlotsWithThreePrimariesAndThreeReplicas) {
  LocalCluster& c = *cluster_;
  ASSERT_EQ(c.size(), 6);
  EXPECT_EQ(c.seeds(),
            (std::vector<std::string>{"127.0.10.1:6379", "127.0.10.2:6379", "127.0.10.3:6379",
                                      "127.0.10.4:6379", "127.0.10.5:6379", "127.0.10.6:6379"}));
  // Every node has the whole table, with 3 distinct primaries and no gap.
  for (int i = 0; i < c.size(); ++i) {
    const auto owners = slotOwners(c, i);
    std::set<std::string> primaries;
    for (const std::string& id : owners) {
      ASSERT_FALSE(id.empty()) << "a slot without owner per " << c.address(i);
      primaries.insert(id);
    }
    EXPECT_EQ(primaries.size(), 3u) << c.address(i);
  }
  EXPECT_EQ(c.primaries(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(c.replicas(), (std::vector<int>{3, 4, 5}));
  for (int m = 0; m < 3; ++m) {
    EXPECT_EQ(c.replicaOf(m), m + 3);
  }
  EXPECT_EQ(c.primaryOfSlot(0), 0);
  EXPECT_EQ(c.primaryOfSlot(5460), 0);
  EXPECT_EQ(c.primaryOfSlot(5461), 1);
  EXPECT_EQ(c.primaryOfSlot(10922), 1);
  EXPECT_EQ(c.primaryOfSlot(10923), 2);
  EXPECT_EQ(c.primaryOfSlot(16383), 2);

  // CLUSTER NODES shows each node at its own loopback address (bind-source-addr at work).
  const std::string nodes = clusterNodes(c, 0);
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_NE(nodes.find(c.nodeId(i) + " " + c.address(i) + "@16379"), std::string::npos) << nodes;
    EXPECT_EQ(c.indexOfNodeId(c.nodeId(i)), i);
    EXPECT_TRUE(std::filesystem::exists(c.nodesConfPath(i)));
  }
  // Replicas are synced, per INFO.
  for (int r : c.replicas()) {
    ContextPtr conn(c.connectNode(r));
    ReplyPtr info = command(conn.get(), {"INFO", "replication"});
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(infoField(std::string(info->str, info->len), "master_link_status"), "up");
  }
}

TEST_F(LocalClusterTest, GetDirectFollowsMovedToTheOwner) {
  LocalCluster& c = *cluster_;
  const std::string key = keyInSlot(16000);  // owned by node 2; getDirect asks node 0 first
  ASSERT_EQ(c.keySlot(key), 16000);
  ASSERT_TRUE(c.setDirect(key, "v1"));
  std::string value;
  bool exists = false;
  ASSERT_TRUE(c.getDirect(key, &value, &exists));
  EXPECT_TRUE(exists);
  EXPECT_EQ(value, "v1");
  ASSERT_TRUE(c.getDirect("no-such-key", &value, &exists));
  EXPECT_FALSE(exists);
}

TEST_F(LocalClusterTest, KilledReplicaRejoinsAfterRestart) {
  LocalCluster& c = *cluster_;
  const int r = someReplica();
  const pid_t old_pid = c.pid(r);
  c.kill(r);
  EXPECT_EQ(c.pid(r), -1);
  EXPECT_FALSE(c.running(r));
  EXPECT_FALSE(processAlive(old_pid));
  EXPECT_EQ(ContextPtr(c.connectNode(r)), nullptr);

  std::string error;
  ASSERT_TRUE(c.restart(r, &error)) << error;
  EXPECT_TRUE(c.running(r));
  ASSERT_TRUE(c.waitReplicasSynced(kTimeoutMs, &error)) << error;
  ASSERT_TRUE(c.waitClusterOk(kTimeoutMs, &error)) << error;
  EXPECT_EQ(c.replicaOf(0), r);
  EXPECT_TRUE(waitFor([&] { return flagsOf(c, 0, c.nodeId(r)).find("fail") == std::string::npos; },
                      kTimeoutMs));
}

TEST_F(LocalClusterTest, PausedReplicaIsFlaggedByPeersAndRecoversAfterResume) {
  LocalCluster& c = *cluster_;
  const int r = someReplica();
  c.pause(r);
  EXPECT_TRUE(c.paused(r));
  {
    // The kernel still accepts the connection, but nobody answers.
    ContextPtr conn = connectTo(c.address(r), 1000, 300);
    EXPECT_EQ(command(conn.get(), {"PING"}), nullptr);
  }
  // Past cluster-node-timeout the primaries flag it (fail? then fail).
  EXPECT_TRUE(waitFor([&] { return flagsOf(c, 0, c.nodeId(r)).find("fail") != std::string::npos; },
                      kTimeoutMs))
      << clusterNodes(c, 0);
  c.resume(r);
  EXPECT_TRUE(c.running(r));
  EXPECT_TRUE(waitFor([&] { return flagsOf(c, 0, c.nodeId(r)).find("fail") == std::string::npos; },
                      kTimeoutMs))
      << clusterNodes(c, 0);
  ContextPtr conn(c.connectNode(r));
  EXPECT_TRUE(replyIs(command(conn.get(), {"PING"}).get(), "PONG"));
}

TEST_F(LocalClusterTest, ReplicaRestartedAtANewIpIsLearnedByPeers) {
  LocalCluster& c = *cluster_;
  const int r = someReplica();
  const std::string new_ip = "127.0." + std::to_string(kNet) + "." + std::to_string(kMovedNodeHost);
  c.stop(r);
  EXPECT_FALSE(c.running(r));
  ASSERT_TRUE(rewriteMyselfIp(c.nodesConfPath(r), new_ip));

  std::string error;
  ASSERT_TRUE(c.restartAt(r, new_ip, &error)) << error;
  EXPECT_EQ(c.address(r), new_ip + ":6379");
  ASSERT_TRUE(c.waitPeersSeeAddress(r, kTimeoutMs, &error)) << error;
  ASSERT_TRUE(c.waitReplicasSynced(kTimeoutMs, &error)) << error;
  ASSERT_TRUE(c.waitClusterOk(kTimeoutMs, &error)) << error;
  EXPECT_EQ(c.replicaOf(0), r);
  EXPECT_NE(clusterNodes(c, 1).find(c.nodeId(r) + " " + new_ip + ":6379@16379"), std::string::npos);
}

TEST_F(LocalClusterTest, ReshardMovesTenSlotsWithTheirKeys) {
  LocalCluster& c = *cluster_;
  const int from = c.primaryOfSlot(0);
  const int to = c.primaryOfSlot(16383);
  ASSERT_GE(from, 0);
  ASSERT_GE(to, 0);
  ASSERT_NE(from, to);
  // A key in each of the first slots of `from` (redis-cli moves a source's lowest slots).
  std::vector<std::string> keys;
  for (int slot = 0; slot < 10; ++slot) {
    keys.push_back(keyInSlot(slot));
    ASSERT_TRUE(c.setDirect(keys.back(), "value-" + std::to_string(slot)));
  }
  const auto before = slotOwners(c, 0);

  std::string error;
  ASSERT_TRUE(c.reshard(from, to, 10, &error)) << error;

  const auto after = slotOwners(c, 0);
  int moved = 0;
  for (size_t s = 0; s < before.size(); ++s) {
    if (before[s] != after[s]) {
      ++moved;
      EXPECT_EQ(before[s], c.nodeId(from)) << "slot " << s;
      EXPECT_EQ(after[s], c.nodeId(to)) << "slot " << s;
    }
  }
  EXPECT_EQ(moved, 10);
  for (int slot = 0; slot < 10; ++slot) {
    EXPECT_EQ(c.primaryOfSlot(slot), to);
    std::string value;
    bool exists = false;
    ASSERT_TRUE(c.getDirect(keys[static_cast<size_t>(slot)], &value, &exists));
    EXPECT_TRUE(exists);
    EXPECT_EQ(value, "value-" + std::to_string(slot));
  }
}

// ---------------------------------------------------------------------------------------------
// ProxyProcess mechanics with stand-in binaries (always), then the real slotproxy (once built).

class ProxyProcessTest : public LocalClusterTest {
 protected:
  // A stand-in "proxy": a plain redis-server on the --listen address.
  static std::string writeStandIn() {
    const std::string path = testTmpDir() + "/standin-slotproxy.sh";
    std::ofstream(path, std::ios::trunc)
        << "#!/bin/sh\n"
        << "while [ $# -gt 0 ]; do case $1 in --listen) listen=$2; shift 2;; *) shift;; esac; "
           "done\n"
        << "exec redis-server --bind \"${listen%:*}\" --port \"${listen##*:}\" --save '' "
           "--appendonly no --dir /tmp\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }
  std::string proxyIp() const {
    return "127.0." + std::to_string(kNet) + "." + std::to_string(kProxyHost);
  }
};

TEST_F(ProxyProcessTest, StartPollsUntilPingAnswersAndStopReturnsTheExitCode) {
  ScopedEnv bin("SLOTPROXY_BIN", writeStandIn());
  ProxyProcess proxy(proxyIp(), 6379, {"--log-level", "info"});
  std::string error;
  ASSERT_TRUE(proxy.start(cluster_->seeds(), &error)) << error;
  EXPECT_TRUE(proxy.running());
  EXPECT_EQ(proxy.address(), proxyIp() + ":6379");
  EXPECT_EQ(proxy.adminAddress(), proxyIp() + ":9379");
  ContextPtr conn(proxy.connect());
  EXPECT_TRUE(replyIs(command(conn.get(), {"PING"}).get(), "PONG"));
  // The command line the fixture used is in the log header.
  std::ifstream log(proxy.log());
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("--seeds " + cluster_->seeds()[0] + ","), std::string::npos) << text;
  EXPECT_NE(text.find("--admin " + proxyIp() + ":9379 --log-level info"), std::string::npos);
  EXPECT_EQ(proxy.stopGracefully(), 0);  // redis-server exits 0 on SIGTERM
  EXPECT_FALSE(proxy.running());
}

TEST_F(ProxyProcessTest, StartReportsABinaryThatExits) {
  ScopedEnv bin("SLOTPROXY_BIN", "/bin/false");
  ProxyProcess proxy(proxyIp(), 6379, {});
  std::string error;
  EXPECT_FALSE(proxy.start(cluster_->seeds(), &error));
  EXPECT_NE(error.find("exited (exit 1)"), std::string::npos) << error;
  EXPECT_EQ(proxy.pid(), -1);
}

TEST_F(ProxyProcessTest, RealSlotproxyServesTheCluster) {
  if (!ProxyProcess::available()) {
    GTEST_SKIP() << "slotproxy is not built yet (no SLOTPROXY_BIN)";
  }
  // The fixture's own variables must not reach slotproxy (it rejects unknown SLOTPROXY_*).
  ScopedEnv bin("SLOTPROXY_BIN", ProxyProcess::binaryPath());
  ScopedEnv tmp("SLOTPROXY_TEST_TMPDIR", testTmpDir());
  ProxyProcess proxy(proxyIp(), 6379, {});
  std::string error;
  ASSERT_TRUE(proxy.start(cluster_->seeds(), &error)) << error;
  ContextPtr conn(proxy.connect());
  for (int slot : {0, 5461, 16383}) {
    const std::string key = keyInSlot(slot);
    ReplyPtr set = command(conn.get(), {"SET", key, "through-proxy"});
    ASSERT_TRUE(replyIs(set.get(), "OK")) << describe(set.get(), conn.get());
    std::string value;
    bool exists = false;
    ASSERT_TRUE(cluster_->getDirect(key, &value, &exists));
    EXPECT_TRUE(exists);
    EXPECT_EQ(value, "through-proxy");
  }
  EXPECT_EQ(proxy.stopGracefully(), 0) << tailFile(proxy.log());
}

}  // namespace
}  // namespace slotproxy::testing
