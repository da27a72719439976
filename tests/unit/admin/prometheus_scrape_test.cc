// A real Prometheus server (Debian's `prometheus`) scrapes an AdminServer on 127.0.40.1 every
// second; the test reads the series back through Prometheus's HTTP API on 127.0.40.2:9090. It
// also loads metrics/alerts.yml, so the rules are checked by the real rule engine. Skipped when
// `prometheus` is not on PATH.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/admin/http_client.h"
#include "tests/unit/admin/test_maps.h"

namespace slotproxy::admin {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kAdminHost = "127.0.40.1";
constexpr const char* kPromHost = "127.0.40.2";
constexpr uint16_t kPromPort = 9090;

std::string findOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A prometheus process in its own directory; SIGTERM and reaped on destruction.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& binary, const fs::path& dir, uint16_t target_port)
      : dir_(dir) {
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "prometheus.yml")
        << "global:\n"
        << "  scrape_interval: 1s\n"
        << "  evaluation_interval: 1s\n"
        << "rule_files:\n"
        << "  - " << SLOTPROXY_ALERTS_YML << "\n"
        << "scrape_configs:\n"
        << "  - job_name: slotproxy\n"
        << "    scrape_interval: 1s\n"
        << "    static_configs:\n"
        << "      - targets: ['" << kAdminHost << ":" << target_port << "']\n";
    const std::string config = "--config.file=" + (dir_ / "prometheus.yml").string();
    const std::string storage = "--storage.tsdb.path=" + (dir_ / "data").string();
    const std::string listen =
        "--web.listen-address=" + std::string(kPromHost) + ":" + std::to_string(kPromPort);
    const std::string log = (dir_ / "prometheus.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // no stray Prometheus if the test dies
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execl(binary.c_str(), binary.c_str(), config.c_str(), storage.c_str(), listen.c_str(),
              "--log.level=warn", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }

  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  }

  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::string log() const { return readFile(dir_ / "prometheus.log"); }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
};

std::string query(const std::string& promql_encoded) {
  return testing::httpGet10(kPromHost, kPromPort, "/api/v1/query?query=" + promql_encoded);
}

// The value of the series of a vector result whose last label is `label` (labels come sorted in
// Prometheus's JSON, `state` last for slotproxy_slots), or "" if absent.
std::string valueOf(const std::string& json, const std::string& label) {
  const std::regex re(std::regex_replace(label, std::regex(R"([\[\]{}()|.*+?^$\\])"), R"(\$&)") +
                      R"re(\},"value":\[[0-9.e+]+,"([^"]*)"\])re");
  std::smatch m;
  return std::regex_search(json, m, re) ? m[1].str() : "";
}

std::string urlEncode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    }
  }
  return out;
}

// The PromQL of every panel of the Grafana dashboard, with its variables substituted.
std::vector<std::string> dashboardQueries() {
  const std::string json = readFile(SLOTPROXY_DASHBOARD_JSON);
  std::vector<std::string> out;
  const std::regex expr_re(R"re("expr": "((?:[^"\\]|\\.)*)")re");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), expr_re);
       it != std::sregex_iterator(); ++it) {
    std::string e = std::regex_replace((*it)[1].str(), std::regex(R"re(\\(.))re"), "$1");
    e = std::regex_replace(e, std::regex(R"re(\$instance)re"), ".*");
    e = std::regex_replace(e, std::regex(R"re(\$__rate_interval)re"), "1m");
    out.push_back(e);
  }
  return out;
}

TEST(PrometheusScrape, RealPrometheusScrapesSlotsAndLoadsTheAlertRules) {
  const std::string binary = findOnPath("prometheus");
  if (binary.empty()) GTEST_SKIP() << "prometheus not on PATH (Debian package `prometheus`)";

  server::Stats stats;
  {
    std::lock_guard<std::mutex> lock(stats.mu);
    stats.map = testing::threeShards(/*failed_b=*/true, /*unassigned_last=*/true);
  }
  stats.requests_held = 3;
  testing::ServerThread admin(stats, kAdminHost);
  ASSERT_NE(admin.port(), 0) << admin.error();

  const fs::path dir =
      fs::path(SLOTPROXY_TEST_TMPDIR) / ("prometheus." + std::to_string(::getpid()));
  fs::remove_all(dir);
  PrometheusProcess prom(binary, dir, admin.port());

  // Poll until the first scrape has landed (Prometheus starts, then scrapes every second).
  std::string json;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(prom.running()) << "prometheus exited:\n" << prom.log();
    json = query("slotproxy_slots");
    if (!valueOf(json, "\"state\":\"unassigned\"").empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_THAT(json, HasSubstr("\"status\":\"success\"")) << json << "\n" << prom.log();
  EXPECT_EQ(valueOf(json, "\"state\":\"ok\""), "10918") << json;
  EXPECT_EQ(valueOf(json, "\"state\":\"no_primary\""), "5462") << json;
  EXPECT_EQ(valueOf(json, "\"state\":\"unassigned\""), "4") << json;
  EXPECT_EQ(valueOf(json, "\"state\":\"migrating\""), "0") << json;
  EXPECT_EQ(valueOf(json, "\"state\":\"importing\""), "0") << json;
  EXPECT_THAT(json, HasSubstr("\"job\":\"slotproxy\"")) << json;

  EXPECT_THAT(query("sum%28slotproxy_slots%29"), HasSubstr(",\"16384\"]"));
  EXPECT_THAT(query("slotproxy_requests_held"), HasSubstr(",\"3\"]"));
  // The scrape itself was healthy (every line parsed by Prometheus's own text parser).
  const std::string up = query("up%7Bjob%3D%22slotproxy%22%7D");
  EXPECT_THAT(up, HasSubstr(",\"1\"]")) << up;

  // The alert rules loaded, and the slots alert is pending (its `for:` keeps it from firing).
  const std::string rules = testing::httpGet10(kPromHost, kPromPort, "/api/v1/rules");
  EXPECT_THAT(rules, HasSubstr("\"name\":\"SlotproxySlotsNotOk\"")) << rules;
  std::string alerts;
  const auto alert_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < alert_deadline) {
    alerts = testing::httpGet10(kPromHost, kPromPort, "/api/v1/alerts");
    if (alerts.find("SlotproxySlotsNotOk") != std::string::npos &&
        alerts.find("SlotproxyRequestsHeld") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_THAT(alerts, HasSubstr("\"alertname\":\"SlotproxySlotsNotOk\"")) << alerts;
  EXPECT_THAT(alerts, HasSubstr("\"alertname\":\"SlotproxyRequestsHeld\"")) << alerts;
  EXPECT_THAT(alerts, HasSubstr("\"state\":\"pending\"")) << alerts;

  // Every query of the Grafana dashboard is valid PromQL for this Prometheus.
  const std::vector<std::string> queries = dashboardQueries();
  EXPECT_GE(queries.size(), 20u);
  for (const std::string& q : queries) {
    EXPECT_THAT(query(urlEncode(q)), HasSubstr("\"status\":\"success\"")) << q;
  }
}

}  // namespace
}  // namespace slotproxy::admin
