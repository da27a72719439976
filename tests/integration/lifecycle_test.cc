// The slotproxy binary's life cycle against a real cluster on 127.0.17.0/24: `check` verdicts,
// SIGTERM draining in-flight requests (and subscribed clients), worker threads' scheduler slice and
// policy, exit codes of bad configurations.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "proxy/server/thread_sched.h"
#include "tests/integration/fixture/local_cluster.h"
#include "tests/integration/fixture/process.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetLifecycle;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One HTTP/1.0 exchange with the admin port; the whole answer (headers and body).
std::string http(const std::string& ip, int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

class LifecycleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new LocalCluster(LocalCluster::Options{.net = kNet});
    std::string error;
    ASSERT_TRUE(cluster_->start(&error)) << error;
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    if (!ProxyProcess::available()) GTEST_SKIP() << "slotproxy binary not built";
  }

  // Runs the binary with `args`; returns its exit code and puts its output in *out.
  int run(const std::vector<std::string>& args, std::string* out) {
    const std::string log = testTmpDir() + "/lifecycle-" + std::to_string(kNet) + ".out";
    std::remove(log.c_str());
    std::vector<std::string> argv = {ProxyProcess::binaryPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string error;
    const int rc = runCommand(argv, log, 30000, &error);
    *out = readFile(log) + error;
    return rc;
  }

  static LocalCluster* cluster_;
};

LocalCluster* LifecycleTest::cluster_ = nullptr;

TEST_F(LifecycleTest, CheckIsHealthyThenReportsAPrimaryWithoutReplica) {
  std::string out;
  ASSERT_EQ(run({"check", "--seeds", cluster_->address(0)}, &out), 0) << out;
  EXPECT_NE(out.find("healthy"), std::string::npos) << out;
  EXPECT_NE(out.find("all 16384 slots have a live primary"), std::string::npos) << out;

  const int replica = cluster_->replicas().at(0);
  cluster_->kill(replica);
  // The primary's replica is seen as failed after the node timeout: poll until check says so.
  int rc = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        rc = run({"check", "--seeds", cluster_->address(0)}, &out);
        return rc == 1 && out.find("has no live replica") != std::string::npos;
      },
      20000, 200))
      << "rc=" << rc << "\n"
      << out;
  std::string error;
  ASSERT_TRUE(cluster_->restart(replica, &error)) << error;
  ASSERT_TRUE(cluster_->waitReplicasSynced(30000, &error)) << error;
  ASSERT_TRUE(waitFor(
      [&] {
        return run({"check", "--seeds", cluster_->address(0)}, &out) == 0;
      },
      20000, 200))
      << out;
}

TEST_F(LifecycleTest, CheckFailsWhenNoSeedAnswers) {
  std::string out;
  EXPECT_EQ(run({"check", "--seeds", "127.0.17.200:6379", "--connect-timeout", "200ms"}, &out), 1)
      << out;
  EXPECT_NE(out.find("no seed answered"), std::string::npos) << out;
}

TEST_F(LifecycleTest, SigtermDrainsInFlightRequestsThenExitsZero) {
  ProxyProcess proxy("127.0.17.100", 6379, {"--request-timeout", "10s", "--drain-timeout", "10s"});
  std::string error;
  ASSERT_TRUE(proxy.start(cluster_->seeds(), &error)) << error;
  ContextPtr c(proxy.connect());
  ASSERT_TRUE(replyIs(command(c.get(), {"SET", "drain-key", "v1"}).get(), "OK"));

  // Freeze the key's primary so that the next GET stays in flight while SIGTERM arrives.
  const int primary = cluster_->primaryOfSlot(cluster_->keySlot("drain-key"));
  ASSERT_GE(primary, 0);
  cluster_->pause(primary);
  ASSERT_EQ(redisAppendCommand(c.get(), "GET drain-key"), REDIS_OK);
  int done = 0;
  ASSERT_EQ(redisBufferWrite(c.get(), &done), REDIS_OK);
  int exit_code = -2;
  // (`proxy` belongs to the stopper until it is joined: running() would reap the process under it.)
  const pid_t pid = proxy.pid();
  const std::string log = proxy.log();
  std::jthread stopper([&] { exit_code = proxy.stopGracefully(20000); });  // (joins on ASSERT)
  // The proxy has taken SIGTERM and keeps running while the request is in flight.
  ASSERT_TRUE(waitFor([&] { return readFile(log).find("draining") != std::string::npos; }, 10000));
  EXPECT_TRUE(processAlive(pid));
  cluster_->resume(primary);
  redisReply* reply = nullptr;
  ASSERT_EQ(redisGetReply(c.get(), reinterpret_cast<void**>(&reply)), REDIS_OK) << c->errstr;
  ReplyPtr owned(reply);
  EXPECT_TRUE(replyIs(reply, "v1")) << describe(reply, c.get());
  stopper.join();
  EXPECT_EQ(exit_code, 0) << tailFile(proxy.log(), 20);
}

// Subscribed clients hold node connections of their own; a SIGTERM with one subscribed and one
// just out of subscribed mode (its connection not freed yet) still ends cleanly.
TEST_F(LifecycleTest, SigtermWithSubscribedClientsExitsZero) {
  ProxyProcess proxy("127.0.17.104", 6379);
  std::string error;
  ASSERT_TRUE(proxy.start(cluster_->seeds(), &error)) << error;
  ContextPtr subscribed(proxy.connect());
  ContextPtr reset(proxy.connect());
  ASSERT_NE(subscribed, nullptr);
  ASSERT_NE(reset, nullptr);
  EXPECT_EQ(describe(command(subscribed.get(), {"SUBSCRIBE", "ch"}).get()),
            "[subscribe, ch, (integer) 1]");
  EXPECT_EQ(describe(command(reset.get(), {"SUBSCRIBE", "ch"}).get()),
            "[subscribe, ch, (integer) 1]");
  EXPECT_EQ(describe(command(reset.get(), {"RESET"}).get()), "RESET");
  EXPECT_EQ(proxy.stopGracefully(), 0) << tailFile(proxy.log(), 20);
}

TEST_F(LifecycleTest, PostRefreshTriggersAManualRefresh) {
  ProxyProcess proxy("127.0.17.102", 6379, {"--refresh-interval", "1h"});
  std::string error;
  ASSERT_TRUE(proxy.start(cluster_->seeds(), &error)) << error;
  const std::string manual = "slotproxy_topology_refreshes_total{trigger=\"manual\"} ";
  const std::string before = http("127.0.17.102", 9379, "GET /metrics HTTP/1.0\r\n\r\n");
  ASSERT_NE(before.find(manual + "0"), std::string::npos) << before;
  const std::string answer = http("127.0.17.102", 9379, "POST /refresh HTTP/1.0\r\n\r\n");
  EXPECT_NE(answer.find("202"), std::string::npos) << answer;
  EXPECT_TRUE(waitFor(
      [&] {
        return http("127.0.17.102", 9379, "GET /metrics HTTP/1.0\r\n\r\n").find(manual + "1") !=
               std::string::npos;
      },
      5000));
  // One connection per node used (backend-connections 1): GET a key of every primary.
  ContextPtr c(proxy.connect());
  for (int slot : {0, 8000, 16000}) {
    ASSERT_NE(command(c.get(), {"GET", "k{" + keyInSlot(slot, "s") + "}"}), nullptr);
  }
  const std::string metrics = http("127.0.17.102", 9379, "GET /metrics HTTP/1.0\r\n\r\n");
  for (int primary : cluster_->primaries()) {
    EXPECT_NE(metrics.find("slotproxy_backend_connections{node_id=\"" + cluster_->nodeId(primary) +
                           "\"} 1"),
              std::string::npos)
        << metrics;
  }
  EXPECT_EQ(proxy.stopGracefully(), 0);
}

// Worker threads share worker 0's topology refreshes: three threads refresh once at startup,
// and every thread serves with the map it published.
TEST_F(LifecycleTest, WorkerThreadsShareOneTopologyRefresher) {
  ProxyProcess proxy("127.0.17.104", 6379, {"--threads", "3", "--refresh-interval", "1h"});
  std::string error;
  ASSERT_TRUE(proxy.start(cluster_->seeds(), &error)) << error;
  std::vector<ContextPtr> clients;  // spread over the threads by the kernel (SO_REUSEPORT)
  for (int i = 0; i < 30; ++i) {
    clients.emplace_back(proxy.connect());
    ASSERT_NE(clients.back(), nullptr);
  }
  for (ContextPtr& c : clients) {
    for (int slot : {0, 8000, 16000}) {
      const std::string key = "k{" + keyInSlot(slot, "t") + "}";
      EXPECT_TRUE(replyIs(command(c.get(), {"SET", key, "v"}).get(), "OK"));
    }
  }
  const std::string metrics = http("127.0.17.104", 9379, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_NE(metrics.find("slotproxy_topology_refreshes_total{trigger=\"startup\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(proxy.stopGracefully(), 0) << tailFile(proxy.log(), 20);
}

// Every worker thread asks the scheduler for --sched-slice and SCHED_BATCH (the default); the
// main (admin) thread keeps the kernel's defaults. Kernels before Linux 6.12 report no slice:
// there only the policy is checked.
TEST_F(LifecycleTest, WorkerThreadsAskTheSchedulerForTheConfiguredSliceAndPolicy) {
  const bool slices = server::threadSliceNs(0) > 0;
  for (const bool batch : {true, false}) {
    SCOPED_TRACE(batch ? "default (sched-batch yes)" : "--sched-batch=no");
    std::vector<std::string> args{"--threads", "2", "--sched-slice", "7ms"};
    if (!batch) args.push_back("--sched-batch=no");
    ProxyProcess proxy("127.0.17.103", 6379, args);
    std::string error;
    ASSERT_TRUE(proxy.start(cluster_->seeds(), &error)) << error;
    const std::string tasks = "/proc/" + std::to_string(proxy.pid()) + "/task";
    const auto tid = [](const std::filesystem::directory_entry& task) {
      return std::stoi(task.path().filename().string());
    };
    const auto is_worker = [&](int id) {
      return slices ? server::threadSliceNs(id) == 7'000'000
                    : server::threadPolicy(id) == SCHED_BATCH;
    };
    const int expected = slices || batch ? 2 : 0;
    int workers = 0, others = 0;
    // A worker sets its scheduling as its thread starts, which may be after another one answered
    // the start's PING: wait for both.
    waitFor(
        [&] {
          workers = others = 0;
          for (const auto& task : std::filesystem::directory_iterator(tasks)) {
            ++(is_worker(tid(task)) ? workers : others);
          }
          return workers == expected;
        },
        5000);
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      const bool is_batch = server::threadPolicy(tid(task)) == SCHED_BATCH;
      if (is_worker(tid(task))) {
        EXPECT_NE(tid(task), proxy.pid()) << "the main thread got the workers' scheduling";
        EXPECT_EQ(is_batch, batch) << "thread " << tid(task);
      } else {
        EXPECT_FALSE(is_batch) << "thread " << tid(task);
      }
    }
    EXPECT_EQ(workers, expected);
    EXPECT_GE(others, 1);  // the main thread
    EXPECT_EQ(proxy.stopGracefully(), 0);
  }
}

TEST_F(LifecycleTest, ExitCodes) {
  std::string out;
  EXPECT_EQ(run({"--bogus-flag"}, &out), 2) << out;
  EXPECT_EQ(run({"--listen", "127.0.17.100:6390"}, &out), 2) << out;  // no seeds
  EXPECT_NE(out.find("no seeds"), std::string::npos) << out;
  // 192.0.2.1 (TEST-NET-1) is not a local address: binding fails at start.
  EXPECT_EQ(run({"--listen", "192.0.2.1:6379", "--seeds", cluster_->address(0), "--admin",
                 "127.0.17.101:9379"},
                &out),
            1)
      << out;
  EXPECT_NE(out.find("cannot listen on 192.0.2.1:6379"), std::string::npos) << out;
  EXPECT_EQ(run({"--version"}, &out), 0);
  EXPECT_NE(out.find("slotproxy "), std::string::npos);
}

}  // namespace
}  // namespace slotproxy::testing
