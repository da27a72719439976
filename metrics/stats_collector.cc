#include "metrics/stats_collector.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "proxy/command/command_table.h"

namespace slotproxy::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr std::string_view kPrefix = "slotproxy_";

uint64_t load(const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); }
double loadD(const std::atomic<uint64_t>& v) { return static_cast<double>(load(v)); }

MetricFamily& family(std::vector<MetricFamily>& out, std::string_view name, std::string help,
                     MetricType type) {
  MetricFamily& f = out.emplace_back();
  f.name = std::string(kPrefix) + std::string(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void addValue(MetricFamily& f, double value, Labels labels = {}) {
  ClientMetric& m = f.metric.emplace_back();
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
}

// `per_bucket` holds one non-cumulative count per bound of `bounds`, then the +Inf count (the
// layout of server::Stats). The sample count is the bucket total, so _count always equals the
// +Inf bucket even while workers are writing.
void addHistogram(MetricFamily& f, std::span<const double> bounds,
                  std::span<const std::atomic<uint64_t>> per_bucket, double sum, Labels labels) {
  ClientMetric& m = f.metric.emplace_back();
  m.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < per_bucket.size(); ++i) {
    cumulative += load(per_bucket[i]);
    ClientMetric::Bucket& b = m.histogram.bucket.emplace_back();
    b.cumulative_count = cumulative;
    b.upper_bound = i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = sum;
}

void addTopology(std::vector<MetricFamily>& out, const server::Stats& stats) {
  cluster::SlotMapPtr map;
  std::vector<cluster::OpenSlot> open;
  uint64_t last_refresh_ms = 0;
  std::unordered_map<std::string, int64_t> connections;
  {
    std::lock_guard<std::mutex> lock(stats.mu);
    map = stats.map;
    open = stats.open_slots;
    last_refresh_ms = stats.last_refresh_unix_ms;
    connections = stats.backend_connections;
  }
  const SlotStateCounts slots = countSlotStates(map.get(), open);
  MetricFamily& s = family(out, "slots", "Hash slots by state in the current map (sums to 16384).",
                           MetricType::Gauge);
  const std::array<std::pair<std::string_view, uint32_t>, 5> states = {{
      {"ok", slots.ok},
      {"no_primary", slots.no_primary},
      {"migrating", slots.migrating},
      {"importing", slots.importing},
      {"unassigned", slots.unassigned},
  }};
  for (const auto& [state, n] : states) {
    addValue(s, static_cast<double>(n), {{"state", std::string(state)}});
  }

  // Every role x health pair, zeros included, so that a series does not vanish when it drops to 0.
  constexpr std::array<cluster::Role, 2> kRoles = {cluster::Role::kPrimary,
                                                   cluster::Role::kReplica};
  constexpr std::array<cluster::Health, 3> kHealths = {
      cluster::Health::kOnline, cluster::Health::kLoading, cluster::Health::kFailed};
  MetricFamily& nodes = family(out, "nodes", "Cluster nodes in the current map by role and health.",
                               MetricType::Gauge);
  for (const cluster::Role role : kRoles) {
    for (const cluster::Health health : kHealths) {
      size_t n = 0;
      if (map) {
        for (const cluster::NodeInfo& node : map->nodes()) {
          if (node.role == role && node.health == health) ++n;
        }
      }
      addValue(nodes, static_cast<double>(n),
               {{"role", std::string(cluster::roleName(role))},
                {"health", std::string(cluster::healthName(health))}});
    }
  }

  MetricFamily& up =
      family(out, "node_up", "1 if the node is not marked failed in the current map, else 0.",
             MetricType::Gauge);
  if (map) {
    for (const cluster::NodeInfo& node : map->nodes()) {
      addValue(up, node.health == cluster::Health::kFailed ? 0.0 : 1.0,
               {{"node_id", node.id},
                {"address", node.address()},
                {"role", std::string(cluster::roleName(node.role))}});
    }
  }

  // Nodes of the current map only: label values stay bounded by the topology.
  MetricFamily& conns =
      family(out, "backend_connections", "Open connections to each node of the current map.",
             MetricType::Gauge);
  if (map) {
    for (const cluster::NodeInfo& node : map->nodes()) {
      if (node.id.empty()) continue;
      const auto it = connections.find(node.id);
      addValue(conns, it == connections.end() ? 0.0 : static_cast<double>(it->second),
               {{"node_id", node.id}});
    }
  }

  addValue(family(out, "topology_version", "Version of the current slot map (0: none yet).",
                  MetricType::Gauge),
           map ? static_cast<double>(map->version()) : 0.0);
  addValue(family(out, "topology_last_refresh_timestamp_seconds",
                  "Unix time of the last topology refresh round (0: none yet).", MetricType::Gauge),
           static_cast<double>(last_refresh_ms) / 1e3);
}

void addCommands(std::vector<MetricFamily>& out, const server::Stats& stats) {
  MetricFamily& calls =
      family(out, "commands_total", "Commands received, by command.", MetricType::Counter);
  MetricFamily& duration =
      family(out, "command_duration_seconds",
             "Time from a command's arrival to its reply, by command.", MetricType::Histogram);
  MetricFamily& errors =
      family(out, "command_errors_total", "Error replies sent to clients, by command and kind.",
             MetricType::Counter);
  if (stats.commands == nullptr) return;
  const size_t n = std::min(stats.command_count, command::count());
  for (size_t id = 0; id < n; ++id) {
    const server::CommandStats& cs = stats.commands[id];
    const uint64_t c = load(cs.calls);
    if (c == 0) continue;
    const std::string name(command::byId(static_cast<uint16_t>(id)).name);
    addValue(calls, static_cast<double>(c), {{"command", name}});
    addHistogram(duration, server::kLatencyBuckets, cs.latency, loadD(cs.latency_sum_ns) / 1e9,
                 {{"command", name}});
    for (size_t k = 0; k < cs.errors.size(); ++k) {
      const uint64_t e = load(cs.errors[k]);
      if (e == 0) continue;
      addValue(errors, static_cast<double>(e),
               {{"command", name}, {"kind", std::string(server::kErrorKindNames[k])}});
    }
  }
}

}  // namespace

SlotStateCounts countSlotStates(const cluster::SlotMap* map,
                                const std::vector<cluster::OpenSlot>& open) {
  SlotStateCounts c;
  if (map == nullptr) {
    c.unassigned = cluster::kSlotCount;
    c.first_not_ok = 0;
    return c;
  }
  enum : uint8_t { kSettled, kMigrating, kImporting };
  std::vector<uint8_t> state(open.empty() ? 0 : cluster::kSlotCount, kSettled);
  for (const cluster::OpenSlot& o : open) {
    const uint16_t owner = map->ownerOf(o.slot);
    if (owner == cluster::SlotMap::kNoNode) continue;
    const bool by_owner = map->node(owner).id == o.reporter;
    if (o.migrating && by_owner) {
      state[o.slot] = kMigrating;
    } else if (!o.migrating && !by_owner && state[o.slot] == kSettled) {
      state[o.slot] = kImporting;
    }
  }
  for (uint32_t slot = 0; slot < cluster::kSlotCount; ++slot) {
    const uint16_t owner = map->ownerOf(static_cast<uint16_t>(slot));
    if (owner == cluster::SlotMap::kNoNode) {
      ++c.unassigned;
    } else if (map->node(owner).health == cluster::Health::kFailed) {
      ++c.no_primary;
    } else {
      const uint8_t s = state.empty() ? uint8_t{kSettled} : state[slot];
      ++(s == kMigrating ? c.migrating : s == kImporting ? c.importing : c.ok);
      continue;
    }
    if (c.first_not_ok == SlotStateCounts::kNoSlot) c.first_not_ok = slot;
  }
  return c;
}

std::vector<MetricFamily> StatsCollector::Collect() const {
  const server::Stats& s = stats_;
  std::vector<MetricFamily> out;
  out.reserve(32);
  addTopology(out, s);

  MetricFamily& refreshes =
      family(out, "topology_refreshes_total", "Topology refresh rounds, by what triggered them.",
             MetricType::Counter);
  for (size_t t = 0; t < server::kTriggerNames.size(); ++t) {
    addValue(refreshes, loadD(s.refreshes[t]),
             {{"trigger", std::string(server::kTriggerNames[t])}});
  }
  addValue(family(out, "topology_refresh_failures_total",
                  "Refresh rounds in which no seed or node returned a valid topology.",
                  MetricType::Counter),
           loadD(s.refresh_failures));

  addValue(family(out, "failovers_total", "Primaries replaced by another node for their slots.",
                  MetricType::Counter),
           loadD(s.failovers));
  addHistogram(family(out, "failover_seconds",
                      "Seconds from a primary lost until its slots were served again.",
                      MetricType::Histogram),
               server::kFailoverBuckets, s.failover_seconds, loadD(s.failover_seconds_sum_ms) / 1e3,
               {});

  MetricFamily& redirects =
      family(out, "redirects_total", "MOVED and ASK redirects followed by the proxy.",
             MetricType::Counter);
  addValue(redirects, loadD(s.redirects_moved), {{"kind", "moved"}});
  addValue(redirects, loadD(s.redirects_ask), {{"kind", "ask"}});

  addCommands(out, s);

  addValue(family(out, "requests_held", "Requests waiting for a slot's primary (failover hold).",
                  MetricType::Gauge),
           loadD(s.requests_held));
  addValue(family(out, "hold_timeouts_total",
                  "Held requests answered with an error after failover-hold.", MetricType::Counter),
           loadD(s.hold_timeouts));
  addValue(
      family(out, "read_retries_total",
             "Read-only requests resent after their node connection died.", MetricType::Counter),
      loadD(s.read_retries));
  addValue(family(out, "script_reloads_total",
                  "EVALSHAs answered NOSCRIPT by a node lacking a script loaded through the proxy, "
                  "run again after loading it there.",
                  MetricType::Counter),
           loadD(s.script_reloads));
  addValue(family(out, "scripts_cached", "Scripts loaded through the proxy that it keeps.",
                  MetricType::Gauge),
           static_cast<double>(s.scripts.size()));
  addValue(family(out, "outcome_unknown_total",
                  "Writes answered \"outcome unknown\": their node died with them in flight, or "
                  "acknowledged them after it stopped being a primary.",
                  MetricType::Counter),
           loadD(s.outcome_unknown));
  addValue(family(out, "unknown_commands_total", "Requests naming no known command.",
                  MetricType::Counter),
           loadD(s.unknown_commands));
  addValue(family(out, "client_connections", "Open client connections.", MetricType::Gauge),
           loadD(s.client_connections));
  addValue(
      family(out, "client_connections_total", "Client connections accepted.", MetricType::Counter),
      loadD(s.client_connections_total));
  addValue(family(out, "backend_connect_attempts_total", "Connection attempts to Redis nodes.",
                  MetricType::Counter),
           loadD(s.backend_connect_attempts));
  MetricFamily& bytes =
      family(out, "bytes_total", "Bytes read from and written to clients.", MetricType::Counter);
  addValue(bytes, loadD(s.bytes_in), {{"direction", "in"}});
  addValue(bytes, loadD(s.bytes_out), {{"direction", "out"}});
  return out;
}

std::string renderText(const server::Stats& stats) {
  return prometheus::TextSerializer().Serialize(StatsCollector(stats).Collect());
}

}  // namespace slotproxy::metrics
