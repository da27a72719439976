#include "tests/integration/failover/scenario.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace slotproxy::testing {
namespace {

constexpr int kToolTimeoutMs = 20000;
// After the cluster recovered: this many more acknowledged writes on the affected slots show the
// proxy serves them normally again.
constexpr uint64_t kAfterRecoverySuccesses = 300;
constexpr int kAfterRecoveryTimeoutMs = 15000;

}  // namespace

std::string proxyIp(int net) {
  return "127.0." + std::to_string(net) + "." + std::to_string(kProxyHost);
}

std::string movedIp(int net, int k) {
  return "127.0." + std::to_string(net) + "." + std::to_string(kMovedNodeHost + k);
}

std::vector<std::string> fastProxyFlags() {
  return {"--request-timeout", "1s",  "--connect-timeout",  "300ms",
          "--failover-hold",   "20s", "--refresh-interval", "1s"};
}

std::vector<std::string> withFlag(std::vector<std::string> flags, const std::string& name,
                                  const std::string& value) {
  const auto it = std::find(flags.begin(), flags.end(), name);
  if (it == flags.end() || it + 1 == flags.end()) {
    ADD_FAILURE() << name << " is not a flag here";
    return flags;
  }
  *(it + 1) = value;
  return flags;
}

namespace {

void startUnderLoadOrFail(LocalCluster& cluster, ProxyProcess& proxy, LedgerLoad& load,
                          Target* target) {
  std::string error;
  ASSERT_TRUE(cluster.start(&error)) << error;
  ASSERT_TRUE(proxy.start(cluster.seeds(), &error)) << error;
  target->primary = cluster.primaryOfSlot(0);
  ASSERT_GE(target->primary, 0);
  target->replica = cluster.replicaOf(target->primary);
  ASSERT_GE(target->replica, 0);
  target->affected = slotsOwnedBy(cluster, target->primary);
  load.setAffected(target->affected);
  load.start();
  ASSERT_TRUE(load.waitAffectedSuccesses(1000, 10000)) << "no load through the proxy";
}

}  // namespace

bool startUnderLoad(LocalCluster& cluster, ProxyProcess& proxy, LedgerLoad& load, Target* target) {
  startUnderLoadOrFail(cluster, proxy, load, target);
  return !::testing::Test::HasFatalFailure();
}

int runSlotproxy(const std::vector<std::string>& args, const std::string& log_path,
                 std::string* error) {
  const std::string bin = ProxyProcess::binaryPath();
  if (bin.empty()) {
    *error = "no slotproxy binary (SLOTPROXY_BIN)";
    return -1;
  }
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  {
    std::ofstream log(log_path, std::ios::app);
    log << "====";
    for (const std::string& a : argv) {
      log << " " << a;
    }
    log << "\n";
  }
  return runCommand(argv, log_path, kToolTimeoutMs, error);
}

bool rewriteNodesConf(LocalCluster& cluster, int i, const std::string& new_ip,
                      const std::vector<std::string>& extra, std::string* error) {
  const std::string log = cluster.nodesConfPath(i) + ".nodes-conf.log";
  std::vector<std::string> args = {"nodes-conf", "--file", cluster.nodesConfPath(i), "--myself-ip",
                                   new_ip};
  args.insert(args.end(), extra.begin(), extra.end());
  const int rc = runSlotproxy(args, log, error);
  if (rc != 0) {
    if (rc > 0) {
      *error = "slotproxy nodes-conf exited with " + std::to_string(rc);
    }
    *error += "; " + log + " ends with:\n" + tailFile(log, 20);
    return false;
  }
  return true;
}

std::function<bool(int)> slotsOwnedBy(LocalCluster& cluster, int node) {
  auto owned = std::make_shared<std::vector<bool>>(16384, false);
  const std::string id = cluster.nodeId(node);
  for (int i = 0; i < cluster.size(); ++i) {
    if (!cluster.running(i)) {
      continue;
    }
    ContextPtr c(cluster.connectNode(i));
    ReplyPtr r = command(c.get(), {"CLUSTER", "SLOTS"});
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
      continue;
    }
    for (size_t k = 0; k < r->elements; ++k) {
      const redisReply* e = r->element[k];
      if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[2]->elements < 3) {
        continue;
      }
      const redisReply* primary_id = e->element[2]->element[2];
      if (std::string(primary_id->str, primary_id->len) != id) {
        continue;
      }
      for (long long s = e->element[0]->integer; s <= e->element[1]->integer; ++s) {
        (*owned)[static_cast<size_t>(s)] = true;
      }
    }
    break;
  }
  return [owned](int slot) { return (*owned)[static_cast<size_t>(slot)]; };
}

std::function<bool(int)> slotRange(int first, int last) {
  return [first, last](int slot) { return slot >= first && slot <= last; };
}

std::optional<Clock::time_point> waitPrimary(LocalCluster& cluster, int slot, int node,
                                             int timeout_ms) {
  std::optional<Clock::time_point> at;
  waitFor(
      [&] {
        if (cluster.primaryOfSlot(slot) != node) {
          return false;
        }
        at = Clock::now();
        return true;
      },
      timeout_ms, 20);
  return at;
}

std::string fetchMetrics(const std::string& admin_address) {
  std::string host;
  int port = 0;
  if (!splitHostPort(admin_address, &host, &port)) {
    return "";
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return "";
  }
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string body;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1 &&
      ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: " + admin_address + "\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[16384];
      ssize_t n = 0;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        body.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  const size_t end_of_headers = body.find("\r\n\r\n");
  if (!body.starts_with("HTTP/1.1 200") || end_of_headers == std::string::npos) {
    return "";
  }
  return body.substr(end_of_headers + 4);
}

std::optional<double> metricSum(const std::string& metrics_text, const std::string& name) {
  std::istringstream in(metrics_text);
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (!line.starts_with(name)) {
      continue;
    }
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') {
      continue;  // another metric with this prefix
    }
    const size_t space = line.rfind(' ');
    try {
      sum = sum.value_or(0) + std::stod(line.substr(space + 1));
    } catch (...) {
    }
  }
  return sum;
}

void expectFailoverCounted(ProxyProcess& proxy, int at_least) {
  double last = -1;
  const bool counted = waitFor(
      [&] {
        last =
            metricSum(fetchMetrics(proxy.adminAddress()), "slotproxy_failovers_total").value_or(-1);
        return last >= at_least;
      },
      3000, 100);
  EXPECT_TRUE(counted) << "slotproxy_failovers_total is " << last
                       << " although the proxy already serves the promoted replica's slots";
}

void logEvent(const std::string& what) {
  std::cout << "EVENT " << utcStamp(std::chrono::system_clock::now()) << " " << what << std::endl;
}

std::string grepLog(const std::string& path, const std::vector<std::string>& needles, size_t max) {
  std::ifstream in(path);
  std::deque<std::string> hits;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("==== ")) {  // ProxyProcess::start's header: a new run begins
      hits.clear();
      continue;
    }
    for (const std::string& n : needles) {
      if (line.find(n) != std::string::npos) {
        hits.push_back(line);
        if (hits.size() > max) {
          hits.pop_front();
        }
        break;
      }
    }
  }
  std::string out;
  for (const std::string& h : hits) {
    out += "    " + h + "\n";
  }
  return out;
}

void finishScenario(const ScenarioEnd& end, LocalCluster& cluster, ProxyProcess& proxy,
                    LedgerLoad& load) {
  logEvent(end.name + ": waiting for more writes to the affected slots");
  const bool served_after =
      load.waitAffectedSuccesses(kAfterRecoverySuccesses, kAfterRecoveryTimeoutMs);
  load.stop();
  std::string error;
  const bool settled = cluster.waitClusterOk(kClusterTimeoutMs, &error) &&
                       cluster.waitReplicasSynced(kClusterTimeoutMs, &error);

  const int unknown = load.outcomeUnknownErrors();
  const int other = load.otherErrors();
  const std::optional<Clock::time_point> first =
      load.firstSuccessAfter(end.cluster_ok_at, end.affected);
  const int64_t recover_ms = first ? msBetween(end.cluster_ok_at, *first) : -1;
  const int64_t stall_ms = load.longestStallMs();
  std::ostringstream summary;
  summary << "SCENARIO " << end.name << ": errors=" << unknown + other
          << " (outcome_unknown=" << unknown << ", other=" << other
          << ") longest_stall_ms=" << stall_ms << " recover_after_cluster_ok_ms=" << recover_ms;
  std::cout << summary.str() << std::endl;
  ::testing::Test::RecordProperty("summary", summary.str());

  const std::string proxy_log_hint =
      "\nproxy log " + proxy.log() + " (warnings and errors, last lines):\n" +
      grepLog(proxy.log(), {"Z warn ", "Z error ", "topology v", " up again"});

  EXPECT_TRUE(served_after) << "the proxy did not serve " << kAfterRecoverySuccesses
                            << " more writes to the affected slots within "
                            << kAfterRecoveryTimeoutMs << " ms after the cluster recovered"
                            << proxy_log_hint;
  ASSERT_TRUE(settled) << error;

  const LedgerLoad::Verdict verdict = load.verify(cluster);
  std::cout << "SCENARIO " << end.name << " " << verdict.report;
  EXPECT_TRUE(verdict.ok) << verdict.report << "errors seen by clients:\n"
                          << load.describeErrors() << proxy_log_hint;
  EXPECT_GT(verdict.acked_total, 0);

  EXPECT_EQ(other, 0) << "client errors other than \"outcome unknown\":\n"
                      << load.describeErrors() << proxy_log_hint;
  EXPECT_LE(unknown, end.max_outcome_unknown) << load.describeErrors() << proxy_log_hint;
  if (unknown + other > 0) {
    std::cout << "SCENARIO " << end.name << " client errors:\n" << load.describeErrors();
  }

  EXPECT_TRUE(first.has_value()) << "no successful write to an affected slot after the cluster "
                                    "recovered"
                                 << proxy_log_hint;
  EXPECT_LE(recover_ms, kRecoverBoundMs)
      << "the proxy served the affected slots " << recover_ms
      << " ms after the cluster itself was ok again" << proxy_log_hint;

  const std::string metrics = fetchMetrics(proxy.adminAddress());
  EXPECT_FALSE(metrics.empty()) << "no /metrics from " << proxy.adminAddress();
  if (!metrics.empty()) {
    EXPECT_EQ(metricSum(metrics, "slotproxy_outcome_unknown_total").value_or(-1),
              static_cast<double>(unknown))
        << "slotproxy_outcome_unknown_total differs from the \"outcome unknown\" errors clients "
           "saw";
    EXPECT_GE(metricSum(metrics, "slotproxy_failovers_total").value_or(-1), end.min_failovers);
  }

  EXPECT_TRUE(proxy.running()) << "slotproxy exited; its log ends with:\n"
                               << tailFile(proxy.log(), 30);
  EXPECT_EQ(proxy.stopGracefully(), 0) << tailFile(proxy.log(), 30);
  const std::string sanitizer =
      grepLog(proxy.log(), {"AddressSanitizer", "LeakSanitizer", "runtime error:"}, 10);
  EXPECT_TRUE(sanitizer.empty()) << "sanitizer report in " << proxy.log() << ":\n" << sanitizer;
}

}  // namespace slotproxy::testing
