#include "metrics/stats_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/command/command_table.h"
#include "tests/unit/admin/test_maps.h"

namespace slotproxy::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

void setMap(server::Stats& stats, cluster::SlotMapPtr map) {
  std::lock_guard<std::mutex> lock(stats.mu);
  stats.map = std::move(map);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Sum of the sample values of every line starting with `prefix` (name + '{').
double sumOf(const std::string& text, std::string_view prefix) {
  double sum = 0;
  for (const std::string& line : lines(text)) {
    if (line.starts_with(prefix)) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

uint16_t idOf(std::string_view name) {
  const std::string_view args[] = {name};
  const command::CommandInfo* cmd = command::lookup(args);
  EXPECT_NE(cmd, nullptr) << name;
  return cmd == nullptr ? 0 : cmd->id;
}

TEST(CountSlotStates, NoMapIsAllUnassigned) {
  const SlotStateCounts c = countSlotStates(nullptr);
  EXPECT_EQ(c.unassigned, 16384u);
  EXPECT_EQ(c.ok, 0u);
  EXPECT_EQ(c.first_not_ok, 0u);
}

TEST(CountSlotStates, FailedOwnerIsNoPrimaryAndMissingOwnerIsUnassigned) {
  const auto map = admin::testing::threeShards(/*failed_b=*/true, /*unassigned_last=*/true);
  const SlotStateCounts c = countSlotStates(map.get());
  EXPECT_EQ(c.ok, 5461u + 5457u);
  EXPECT_EQ(c.no_primary, 5462u);
  EXPECT_EQ(c.unassigned, 4u);
  EXPECT_EQ(c.ok + c.no_primary + c.unassigned + c.migrating + c.importing, 16384u);
  EXPECT_EQ(c.first_not_ok, 5461u);
}

// A migration as the primaries report it: slot 1 migrating (its owner aaaa says so; cccc
// importing it does not change that), slot 2 importing only (redis-cli sets IMPORTING on the
// target first), and reports that do not fit the map (a non-owner "migrating", a failed owner,
// an unassigned slot) change nothing.
TEST(CountSlotStates, OpenSlotsCountByWhoReportsThem) {
  const auto map = admin::testing::threeShards(/*failed_b=*/true, /*unassigned_last=*/true);
  const std::vector<cluster::OpenSlot> open = {
      {.slot = 1, .migrating = false, .peer = "aaaa", .reporter = "cccc"},
      {.slot = 1, .migrating = true, .peer = "cccc", .reporter = "aaaa"},
      {.slot = 2, .migrating = false, .peer = "aaaa", .reporter = "cccc"},
      {.slot = 3, .migrating = true, .peer = "aaaa", .reporter = "cccc"},
      {.slot = 5461, .migrating = true, .peer = "aaaa", .reporter = "bbbb"},
      {.slot = 16383, .migrating = false, .peer = "aaaa", .reporter = "cccc"},
  };
  const SlotStateCounts c = countSlotStates(map.get(), open);
  EXPECT_EQ(c.migrating, 1u);
  EXPECT_EQ(c.importing, 1u);
  EXPECT_EQ(c.ok, 5461u + 5457u - 2u);
  EXPECT_EQ(c.no_primary, 5462u);
  EXPECT_EQ(c.unassigned, 4u);
  EXPECT_EQ(c.ok + c.no_primary + c.unassigned + c.migrating + c.importing, 16384u);
}

TEST(StatsCollector, OpenSlotsReportedByThePrimariesAreExported) {
  server::Stats stats;
  setMap(stats, admin::testing::threeShards());
  {
    std::lock_guard<std::mutex> lock(stats.mu);
    stats.open_slots = {{.slot = 7, .migrating = true, .peer = "bbbb", .reporter = "aaaa"}};
  }
  const std::vector<std::string> l = lines(renderText(stats));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"migrating\"} 1"));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"ok\"} 16383"));
}

TEST(StatsCollector, SlotsByStateSumTo16384) {
  server::Stats stats;
  setMap(stats, admin::testing::threeShards(/*failed_b=*/true, /*unassigned_last=*/true));
  const std::string text = renderText(stats);
  const std::vector<std::string> l = lines(text);
  EXPECT_THAT(l, ::testing::Contains("# TYPE slotproxy_slots gauge"));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"ok\"} 10918"));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"no_primary\"} 5462"));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"migrating\"} 0"));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"importing\"} 0"));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"unassigned\"} 4"));
  EXPECT_EQ(sumOf(text, "slotproxy_slots{"), 16384.0);
}

TEST(StatsCollector, NoTopologyYetHasAllSlotsUnassignedAndNoNodes) {
  server::Stats stats;
  const std::string text = renderText(stats);
  const std::vector<std::string> l = lines(text);
  EXPECT_THAT(l, ::testing::Contains("slotproxy_slots{state=\"unassigned\"} 16384"));
  EXPECT_THAT(l, ::testing::Contains("slotproxy_topology_version 0"));
  EXPECT_EQ(sumOf(text, "slotproxy_nodes{"), 0.0);
  EXPECT_THAT(text, Not(HasSubstr("slotproxy_node_up{")));
  // No command was called: the command families have no samples.
  EXPECT_THAT(text, Not(HasSubstr("slotproxy_commands_total{")));
  EXPECT_THAT(text, Not(HasSubstr("slotproxy_command_duration_seconds_bucket{")));
}

TEST(StatsCollector, NodesByRoleAndHealthAndNodeUp) {
  server::Stats stats;
  setMap(stats, admin::testing::threeShards(/*failed_b=*/true));
  const std::vector<std::string> l = lines(renderText(stats));
  using ::testing::Contains;
  EXPECT_THAT(l, Contains("slotproxy_nodes{role=\"primary\",health=\"online\"} 2"));
  EXPECT_THAT(l, Contains("slotproxy_nodes{role=\"primary\",health=\"failed\"} 1"));
  EXPECT_THAT(l, Contains("slotproxy_nodes{role=\"primary\",health=\"loading\"} 0"));
  EXPECT_THAT(l, Contains("slotproxy_nodes{role=\"replica\",health=\"online\"} 2"));
  EXPECT_THAT(l, Contains("slotproxy_nodes{role=\"replica\",health=\"loading\"} 1"));
  EXPECT_THAT(l, Contains("slotproxy_nodes{role=\"replica\",health=\"failed\"} 0"));
  EXPECT_THAT(l, Contains("slotproxy_node_up{node_id=\"aaaa\",address=\"10.0.0.1:6379\","
                          "role=\"primary\"} 1"));
  EXPECT_THAT(l, Contains("slotproxy_node_up{node_id=\"bbbb\",address=\"10.0.0.2:6379\","
                          "role=\"primary\"} 0"));
  EXPECT_THAT(l, Contains("slotproxy_node_up{node_id=\"bbbb-r\",address=\"10.0.0.5:6379\","
                          "role=\"replica\"} 1"));
  EXPECT_THAT(l, Contains("slotproxy_topology_version 7"));
}

TEST(StatsCollector, CommandsOnlyThoseCalledWithHistogramAndErrors) {
  server::Stats stats;
  const uint16_t get = idOf("get");
  const uint16_t set = idOf("set");
  stats.commands[get].record(50'000);          // 50 us: first bucket (0.0001)
  stats.commands[get].record(2'000'000);       // 2 ms: bucket 0.0025
  stats.commands[get].record(20'000'000'000);  // 20 s: +Inf only
  stats.commands[set].record(300'000);         // 300 us: bucket 0.0005
  stats.commands[set].errors[static_cast<size_t>(server::ErrorKind::kOutcomeUnknown)] = 2;
  stats.commands[set].errors[static_cast<size_t>(server::ErrorKind::kRedis)] = 1;
  const std::string text = renderText(stats);
  const std::vector<std::string> l = lines(text);
  using ::testing::Contains;
  EXPECT_THAT(l, Contains("# TYPE slotproxy_commands_total counter"));
  EXPECT_THAT(l, Contains("slotproxy_commands_total{command=\"get\"} 3"));
  EXPECT_THAT(l, Contains("slotproxy_commands_total{command=\"set\"} 1"));
  EXPECT_EQ(sumOf(text, "slotproxy_commands_total{"), 4.0);  // nothing else was called

  EXPECT_THAT(l, Contains("# TYPE slotproxy_command_duration_seconds histogram"));
  EXPECT_THAT(l, Contains("slotproxy_command_duration_seconds_bucket{command=\"get\",le=\"0.0001\"}"
                          " 1"));
  EXPECT_THAT(l, Contains("slotproxy_command_duration_seconds_bucket{command=\"get\",le=\"0.001\"}"
                          " 1"));
  EXPECT_THAT(l, Contains("slotproxy_command_duration_seconds_bucket{command=\"get\",le=\"0.0025\"}"
                          " 2"));
  EXPECT_THAT(l,
              Contains("slotproxy_command_duration_seconds_bucket{command=\"get\",le=\"10\"} 2"));
  EXPECT_THAT(l,
              Contains("slotproxy_command_duration_seconds_bucket{command=\"get\",le=\"+Inf\"} 3"));
  EXPECT_THAT(l, Contains("slotproxy_command_duration_seconds_count{command=\"get\"} 3"));
  EXPECT_THAT(l, Contains("slotproxy_command_duration_seconds_sum{command=\"get\"} 20.00205"));
  EXPECT_THAT(l, Contains("slotproxy_command_duration_seconds_bucket{command=\"set\",le=\"0.0005\"}"
                          " 1"));

  EXPECT_THAT(l, Contains("slotproxy_command_errors_total{command=\"set\",kind=\"outcome_unknown\"}"
                          " 2"));
  EXPECT_THAT(l, Contains("slotproxy_command_errors_total{command=\"set\",kind=\"redis\"} 1"));
  EXPECT_EQ(sumOf(text, "slotproxy_command_errors_total{"), 3.0);  // zeros are left out
}

TEST(StatsCollector, SubcommandsAreLabelledWithTheirTableName) {
  server::Stats stats;
  const std::string_view args[] = {"object", "encoding"};
  const command::CommandInfo* cmd = command::lookup(args);
  ASSERT_NE(cmd, nullptr);
  stats.commands[cmd->id].record(1000);
  EXPECT_THAT(renderText(stats),
              HasSubstr("slotproxy_commands_total{command=\"object|encoding\"} 1"));
}

TEST(StatsCollector, CountersGaugesAndFailoverHistogram) {
  server::Stats stats;
  stats.requests_held = 5;
  stats.client_connections = 3;
  stats.client_connections_total = 40;
  stats.backend_connect_attempts = 9;
  stats.outcome_unknown = 2;
  stats.bytes_in = 1000;
  stats.bytes_out = 2500;
  stats.redirects_moved = 11;
  stats.redirects_ask = 4;
  stats.failovers = 2;
  stats.failover_seconds[4] = 1;  // <= 5 s
  stats.failover_seconds[7] = 1;  // <= 15 s
  stats.failover_seconds_sum_ms = 16500;
  stats.failover_seconds_count = 2;
  stats.refreshes[static_cast<size_t>(server::Trigger::kTimer)] = 12;
  stats.refreshes[static_cast<size_t>(server::Trigger::kMoved)] = 3;
  stats.refresh_failures = 1;
  const std::vector<std::string> l = lines(renderText(stats));
  using ::testing::Contains;
  EXPECT_THAT(l, Contains("# TYPE slotproxy_requests_held gauge"));
  EXPECT_THAT(l, Contains("slotproxy_requests_held 5"));
  EXPECT_THAT(l, Contains("slotproxy_client_connections 3"));
  EXPECT_THAT(l, Contains("# TYPE slotproxy_client_connections_total counter"));
  EXPECT_THAT(l, Contains("slotproxy_client_connections_total 40"));
  EXPECT_THAT(l, Contains("slotproxy_backend_connect_attempts_total 9"));
  EXPECT_THAT(l, Contains("slotproxy_outcome_unknown_total 2"));
  EXPECT_THAT(l, Contains("slotproxy_bytes_total{direction=\"in\"} 1000"));
  EXPECT_THAT(l, Contains("slotproxy_bytes_total{direction=\"out\"} 2500"));
  EXPECT_THAT(l, Contains("slotproxy_redirects_total{kind=\"moved\"} 11"));
  EXPECT_THAT(l, Contains("slotproxy_redirects_total{kind=\"ask\"} 4"));
  EXPECT_THAT(l, Contains("slotproxy_failovers_total 2"));
  EXPECT_THAT(l, Contains("slotproxy_failover_seconds_bucket{le=\"3\"} 0"));
  EXPECT_THAT(l, Contains("slotproxy_failover_seconds_bucket{le=\"5\"} 1"));
  EXPECT_THAT(l, Contains("slotproxy_failover_seconds_bucket{le=\"15\"} 2"));
  EXPECT_THAT(l, Contains("slotproxy_failover_seconds_bucket{le=\"+Inf\"} 2"));
  EXPECT_THAT(l, Contains("slotproxy_failover_seconds_sum 16.5"));
  EXPECT_THAT(l, Contains("slotproxy_failover_seconds_count 2"));
  EXPECT_THAT(l, Contains("slotproxy_topology_refreshes_total{trigger=\"timer\"} 12"));
  EXPECT_THAT(l, Contains("slotproxy_topology_refreshes_total{trigger=\"moved\"} 3"));
  EXPECT_THAT(l, Contains("slotproxy_topology_refreshes_total{trigger=\"clusterdown\"} 0"));
  EXPECT_THAT(l, Contains("slotproxy_topology_refresh_failures_total 1"));
}

TEST(StatsCollector, BackendConnectionsForNodesOfTheMapOnly) {
  server::Stats stats;
  setMap(stats, admin::testing::threeShards());
  stats.backend_connections["aaaa"] = 2;
  stats.backend_connections["10.9.9.9:6379"] = 1;  // known only from a redirect: not exported
  const std::vector<std::string> l = lines(renderText(stats));
  using ::testing::Contains;
  EXPECT_THAT(l, Contains("slotproxy_backend_connections{node_id=\"aaaa\"} 2"));
  EXPECT_THAT(l, Contains("slotproxy_backend_connections{node_id=\"bbbb\"} 0"));
  for (const std::string& line : l) EXPECT_THAT(line, Not(HasSubstr("10.9.9.9")));
}

TEST(StatsCollector, EveryFamilyHasTheDesignName) {
  server::Stats stats;
  setMap(stats, admin::testing::threeShards());
  const std::string text = renderText(stats);
  for (const char* name :
       {"slots", "nodes", "node_up", "topology_version", "topology_refreshes_total",
        "topology_refresh_failures_total", "failovers_total", "failover_seconds", "redirects_total",
        "commands_total", "command_duration_seconds", "command_errors_total", "requests_held",
        "client_connections", "client_connections_total", "backend_connections",
        "backend_connect_attempts_total", "outcome_unknown_total", "bytes_total"}) {
    EXPECT_THAT(text, HasSubstr("# TYPE slotproxy_" + std::string(name) + " ")) << name;
  }
}

}  // namespace
}  // namespace slotproxy::metrics
