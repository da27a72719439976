// nodes-conf against real Redis 7.0 nodes.conf files.
//
// Three `redis-server --cluster-enabled yes` nodes on 127.0.31.1..3:6379 (each bound to its own
// loopback address with bind-source-addr, so peers record 127.0.31.x as they would record pod
// IPs) form a cluster; they are stopped, runNodesConf moves them ("pods rescheduled with new
// IPs"), and they are restarted from the rewritten files at the new addresses. The test passes
// when every node's CLUSTER NODES shows all three connected at the new addresses.
//
// Only 127.0.0.0/8 is used. Everything waits by polling a condition with a deadline.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/tools/nodes_conf.h"

extern char** environ;

namespace slotproxy::tools {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kRedisServer = SLOTPROXY_REDIS_SERVER;
const fs::path kBaseDir = SLOTPROXY_REAL_TEST_DIR;
constexpr uint16_t kPort = 6379;
constexpr auto kDeadline = std::chrono::seconds(30);

std::string readFile(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Polls `cond` until it holds or `timeout` passes; the pause between attempts only paces the
// polling, it never stands in for a condition.
bool pollUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout = kDeadline) {
  const auto end = Clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// A minimal blocking RESP client: one command, one reply. Returns the reply's text (simple
// string, error with its '-', integer, or bulk string), or nullopt on connection failure.
std::optional<std::string> redisCommand(const std::string& ip,
                                        const std::vector<std::string>& args) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kPort);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string buf;
  std::optional<std::string> reply;
  while (!reply) {
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t eol = buf.find("\r\n");
    if (eol == std::string::npos) continue;
    if (buf[0] == '$') {
      long len = std::stol(buf.substr(1, eol - 1));
      if (len < 0) {
        reply = "";
      } else if (buf.size() >= eol + 2 + static_cast<size_t>(len) + 2) {
        reply = buf.substr(eol + 2, static_cast<size_t>(len));
      }
    } else if (buf[0] == '-') {
      reply = buf.substr(0, eol);
    } else {
      reply = buf.substr(1, eol - 1);
    }
  }
  ::close(fd);
  return reply;
}

// CLUSTER NODES output is nodes.conf without the vars line: parse it with the code under test.
std::optional<NodesConf> clusterNodes(const std::string& ip) {
  auto reply = redisCommand(ip, {"CLUSTER", "NODES"});
  if (!reply || reply->empty() || (*reply)[0] == '-') return std::nullopt;
  NodesConf conf;
  std::string error;
  if (!parseNodesConf(*reply + "vars currentEpoch 0 lastVoteEpoch 0\n", &conf, &error)) {
    ADD_FAILURE() << "CLUSTER NODES from " << ip << " did not parse: " << error << "\n" << *reply;
    return std::nullopt;
  }
  return conf;
}

bool isConnected(const NodesConfLine& n) {
  std::istringstream rest(n.rest);
  std::string master, ping, pong, epoch, link;
  rest >> master >> ping >> pong >> epoch >> link;
  return link == "connected" && n.flags.find("fail") == std::string::npos &&
         n.flags.find("handshake") == std::string::npos &&
         n.flags.find("noaddr") == std::string::npos;
}

bool processAlive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// Kills redis-servers left by a crashed earlier run, found through the pid files under kBaseDir.
// A pid is only killed while it is still a redis-server whose working directory (Redis chdirs to
// --dir) is under kBaseDir: pids are reused, and Redis rewrites its command line, so the
// arguments cannot tell.
void killStaleServers() {
  std::error_code ec;
  if (!fs::exists(kBaseDir, ec)) return;
  const std::string base = fs::weakly_canonical(kBaseDir, ec).string() + "/";
  for (const auto& e : fs::recursive_directory_iterator(kBaseDir, ec)) {
    if (e.path().extension() != ".pid") continue;
    pid_t pid = 0;
    std::ifstream(e.path()) >> pid;
    if (pid <= 1) continue;
    const std::string proc = "/proc/" + std::to_string(pid);
    std::string comm = readFile(proc + "/comm");
    std::error_code cwd_ec;
    std::string cwd = fs::read_symlink(proc + "/cwd", cwd_ec).string() + "/";
    if (comm != "redis-server\n" || cwd_ec || !cwd.starts_with(base)) continue;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, WNOHANG);
    EXPECT_TRUE(pollUntil([&] { return !processAlive(pid); })) << "stale pid " << pid;
  }
}

class RedisNode {
 public:
  RedisNode(fs::path dir, std::string hostname)
      : dir_(std::move(dir)), hostname_(std::move(hostname)) {}
  ~RedisNode() { kill(); }
  RedisNode(const RedisNode&) = delete;
  RedisNode& operator=(const RedisNode&) = delete;

  const std::string& ip() const { return ip_; }
  fs::path nodesConf() const { return dir_ / "nodes.conf"; }

  void start(const std::string& ip) {
    ip_ = ip;
    fs::create_directories(dir_);
    std::vector<std::string> args = {kRedisServer,
                                     "--port",
                                     std::to_string(kPort),
                                     "--bind",
                                     ip,
                                     "--bind-source-addr",
                                     ip,
                                     "--cluster-enabled",
                                     "yes",
                                     "--cluster-config-file",
                                     "nodes.conf",
                                     "--cluster-node-timeout",
                                     "3000",
                                     "--dir",
                                     dir_.string(),
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--daemonize",
                                     "no",
                                     "--pidfile",
                                     (dir_ / "redis.pid").string(),
                                     "--logfile",
                                     (dir_ / "redis.log").string()};
    if (!hostname_.empty()) {
      args.push_back("--cluster-announce-hostname");
      args.push_back(hostname_);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawn(&pid_, kRedisServer, nullptr, nullptr, argv.data(), environ), 0);
    std::ofstream(dir_ / "spawned.pid") << pid_ << "\n";
    ASSERT_TRUE(pollUntil([&] {
      auto pong = redisCommand(ip_, {"PING"});
      return (pong && *pong == "PONG") || !running();
    }));
    ASSERT_TRUE(running()) << "redis-server exited; see " << (dir_ / "redis.log") << ":\n"
                           << readFile(dir_ / "redis.log");
  }

  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      std::error_code ec;
      fs::remove(dir_ / "spawned.pid", ec);
      return false;
    }
    return true;
  }

  // SIGTERM and wait for the exit (Redis removes its pid file on the way out).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    EXPECT_TRUE(pollUntil([&] { return !running(); })) << "redis-server " << ip_ << " did not stop";
    kill();
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    std::error_code ec;
    fs::remove(dir_ / "spawned.pid", ec);
  }

 private:
  fs::path dir_;
  std::string hostname_;
  std::string ip_;
  pid_t pid_ = -1;
};

class NodesConfRealTest : public ::testing::Test {
 protected:
  static constexpr size_t kNodes = 3;

  void SetUp() override {
    if (!fs::exists(kRedisServer)) GTEST_SKIP() << "redis-server not found";
    killStaleServers();
  }

  // Creates nodes under kBaseDir/<variant>/node-i and forms a 3-master cluster at 127.0.31.i.
  void formCluster(const std::string& variant, bool hostnames) {
    const fs::path dir = kBaseDir / variant;
    fs::remove_all(dir);
    for (size_t i = 1; i <= kNodes; ++i) {
      nodes_.push_back(std::make_unique<RedisNode>(dir / ("node-" + std::to_string(i)),
                                                   hostnames ? "node-" + std::to_string(i) : ""));
      nodes_.back()->start(oldIp(i));
      ASSERT_FALSE(HasFatalFailure());
    }
    const std::array<std::pair<int, int>, kNodes> ranges = {
        {{0, 5460}, {5461, 10922}, {10923, 16383}}};
    for (size_t i = 0; i < kNodes; ++i) {
      auto r = redisCommand(nodes_[i]->ip(),
                            {"CLUSTER", "ADDSLOTSRANGE", std::to_string(ranges[i].first),
                             std::to_string(ranges[i].second)});
      ASSERT_EQ(r, "OK");
    }
    for (size_t i = 1; i < kNodes; ++i) {
      ASSERT_EQ(redisCommand(oldIp(1), {"CLUSTER", "MEET", oldIp(i + 1), std::to_string(kPort)}),
                "OK");
    }
    // Redis 7.0 saves nodes.conf on topology events but not when it merely learns a peer's
    // hostname from gossip, so ask for a save until every file holds the full picture.
    bool complete = pollUntil([&] {
      for (size_t i = 0; i < kNodes; ++i) {
        redisCommand(nodes_[i]->ip(), {"CLUSTER", "SAVECONFIG"});
        NodesConf conf;
        std::string error;
        if (!parseNodesConf(readFile(nodes_[i]->nodesConf()), &conf, &error)) return false;
        if (conf.nodes.size() != kNodes) return false;
        for (const auto& n : conf.nodes) {
          if (n.ip.empty() || !isConnected(n)) return false;
          if (hostnames && n.hostname.empty()) return false;
        }
      }
      return true;
    });
    ASSERT_TRUE(complete) << "nodes.conf files never listed all " << kNodes << " nodes:\n"
                          << dumpFiles();
    for (size_t i = 0; i < kNodes; ++i) {
      NodesConf conf;
      std::string error;
      ASSERT_TRUE(parseNodesConf(readFile(nodes_[i]->nodesConf()), &conf, &error));
      ids_.push_back(conf.myself()->id);
    }
  }

  void stopAll() {
    for (auto& n : nodes_) n->stop();
  }

  // Polls until every node's CLUSTER NODES shows the three known ids, all connected, at `ips`,
  // and reports cluster_state:ok.
  bool waitConverged(const std::vector<std::string>& ips) {
    return pollUntil([&] {
      for (size_t i = 0; i < kNodes; ++i) {
        auto conf = clusterNodes(ips[i]);
        if (!conf || conf->nodes.size() != kNodes) return false;
        for (const auto& n : conf->nodes) {
          auto it = std::find(ids_.begin(), ids_.end(), n.id);
          if (it == ids_.end() || !isConnected(n) || n.port != kPort) return false;
          if (n.ip != ips[static_cast<size_t>(it - ids_.begin())]) return false;
        }
        auto info = redisCommand(ips[i], {"CLUSTER", "INFO"});
        if (!info || info->find("cluster_state:ok") == std::string::npos) return false;
      }
      return true;
    });
  }

  std::string dumpFiles() {
    std::string s;
    for (auto& n : nodes_) s += n->nodesConf().string() + ":\n" + readFile(n->nodesConf());
    return s;
  }

  std::string dumpClusterNodes(const std::vector<std::string>& ips) {
    std::string s;
    for (const auto& ip : ips) {
      s += ip + ":\n" + redisCommand(ip, {"CLUSTER", "NODES"}).value_or("<no answer>\n");
    }
    return s;
  }

  static std::string oldIp(size_t i) { return "127.0.31." + std::to_string(i); }
  static std::string newIp(size_t i) { return "127.0.31.1" + std::to_string(i); }

  std::vector<std::unique_ptr<RedisNode>> nodes_;
  std::vector<std::string> ids_;  // node id of nodes_[i]
};

// All pods rescheduled at once: every line of every file is stale. The myself rewrite alone
// cannot help (each node would dial its peers' old addresses); --resolve-peers repairs the peers
// from their announced hostnames.
TEST_F(NodesConfRealTest, AllNodesMoveAndRejoinThroughResolvedHostnames) {
  formCluster("hostnames", /*hostnames=*/true);
  ASSERT_FALSE(HasFatalFailure());
  stopAll();

  const fs::path hosts = kBaseDir / "hostnames" / "hosts";
  std::ofstream(hosts) << "# node-i moved from 127.0.31.i to 127.0.31.1i\n"
                       << newIp(1) << " node-1\n"
                       << newIp(2) << " node-2\n"
                       << newIp(3) << " node-3\n";
  for (size_t i = 0; i < kNodes; ++i) {
    const std::string before = readFile(nodes_[i]->nodesConf());
    std::ostringstream out, err;
    NodesConfOptions opts;
    opts.file = nodes_[i]->nodesConf().string();
    opts.myself_ip = newIp(i + 1);
    opts.hosts_file = hosts.string();
    opts.resolve_peers = true;
    ASSERT_EQ(runNodesConf(opts, out, err), 0) << out.str() << err.str();
    EXPECT_EQ(err.str(), "");
    EXPECT_EQ(readFile(nodes_[i]->nodesConf().string() + ".bak"), before);
    NodesConf conf;
    std::string error;
    ASSERT_TRUE(parseNodesConf(readFile(nodes_[i]->nodesConf()), &conf, &error)) << error;
    for (const auto& n : conf.nodes) {
      EXPECT_EQ(n.ip, "127.0.31.1" + n.hostname.substr(n.hostname.size() - 1)) << n.text();
    }
  }

  std::vector<std::string> ips;
  for (size_t i = 0; i < kNodes; ++i) {
    nodes_[i]->start(newIp(i + 1));
    ASSERT_FALSE(HasFatalFailure());
    ips.push_back(newIp(i + 1));
  }
  EXPECT_TRUE(waitConverged(ips)) << dumpClusterNodes(ips);
  stopAll();
}

// One pod rescheduled: only its myself line is stale; peers learn its new address by gossip.
TEST_F(NodesConfRealTest, OneNodeMovesWithMyselfRewrite) {
  formCluster("plain", /*hostnames=*/false);
  ASSERT_FALSE(HasFatalFailure());
  stopAll();

  std::vector<std::string> ips = {newIp(1), oldIp(2), oldIp(3)};
  for (size_t i = 0; i < kNodes; ++i) {
    std::ostringstream out, err;
    NodesConfOptions opts;
    opts.file = nodes_[i]->nodesConf().string();
    opts.myself_ip = ips[i];
    ASSERT_EQ(runNodesConf(opts, out, err), 0) << out.str() << err.str();
    if (i == 0) {
      EXPECT_NE(out.str().find("+" + ids_[0] + " " + newIp(1) + ":6379@16379 myself"),
                std::string::npos)
          << out.str();
    } else {
      EXPECT_EQ(out.str(), "nodes.conf: up to date\n");
    }
  }
  for (size_t i = 0; i < kNodes; ++i) {
    nodes_[i]->start(ips[i]);
    ASSERT_FALSE(HasFatalFailure());
  }
  EXPECT_TRUE(waitConverged(ips)) << dumpClusterNodes(ips);
  stopAll();
}

}  // namespace
}  // namespace slotproxy::tools
