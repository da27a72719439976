#include "proxy/server/check.h"

#include <uv.h>

#include <map>
#include <ostream>
#include <set>

#include "proxy/backend/backend_conn.h"
#include "proxy/backend/control_conn.h"
#include "proxy/cluster/open_slots.h"
#include "proxy/cluster/refresh_policy.h"
#include "proxy/cluster/slot_map.h"
#include "proxy/net/uv_util.h"
#include "proxy/resp/decoder.h"
#include "proxy/resp/value.h"
#include "proxy/tools/nodes_conf.h"

namespace slotproxy::server {
namespace {

constexpr std::string_view kCommands =
    "*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n"
    "*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n"
    "*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n";

struct View {
  std::string address;
  bool ok = false;
  std::string error;
  uint64_t epoch = 0;
  cluster::SlotMapPtr map;
  std::vector<std::string> open_slots;  // "slot 42 migrating to <id>" ...
};

// Asks every address at once and runs the loop until all answered.
std::vector<View> ask(const std::vector<std::pair<std::string, uint16_t>>& addresses,
                      std::string_view auth, uint32_t timeout_ms) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<View> views(addresses.size());
  for (size_t i = 0; i < addresses.size(); ++i) {
    const auto& [ip, port] = addresses[i];
    views[i].address = ip + ":" + std::to_string(port);
    backend::ControlConn::start(
        &loop, ip, port, auth, std::string(kCommands), 3, timeout_ms,
        [&views, i](bool ok, std::vector<std::string> frames, const std::string& error) {
          View& v = views[i];
          if (!ok) {
            v.error = error;
            return;
          }
          resp::Value info, shards, nodes;
          if (!resp::parseValue(frames[0], &info) || !resp::parseValue(frames[1], &shards) ||
              !resp::parseValue(frames[2], &nodes) || shards.type == resp::Type::kError) {
            v.error = "not a cluster node or bad reply";
            return;
          }
          v.epoch = cluster::parseCurrentEpoch(info.str);
          v.map = cluster::parseClusterShards(shards, 0, &v.error);
          v.ok = v.map != nullptr;
          std::vector<cluster::OpenSlot> open;
          cluster::parseOpenSlots(nodes.str, &open);
          for (const cluster::OpenSlot& o : open) {
            v.open_slots.push_back("slot " + std::to_string(o.slot) +
                                   (o.migrating ? " migrating to " : " importing from ") +
                                   o.peer.substr(0, 8));
          }
        });
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return views;
}

std::vector<std::pair<std::string, uint16_t>> resolveSeeds(const config::Config& config) {
  std::vector<std::pair<std::string, uint16_t>> out;
  tools::HostsTable hosts;
  std::string error;
  const bool have_hosts = !config.hosts_file.empty() && hosts.load(config.hosts_file, &error);
  for (const auto& seed : config.seeds) {
    std::vector<std::string> ips =
        have_hosts ? hosts.lookup(seed.host) : std::vector<std::string>{};
    if (ips.empty()) ips = tools::resolveWithGetaddrinfo(seed.host);
    for (const std::string& ip : ips) {
      if (std::find(out.begin(), out.end(), std::make_pair(ip, seed.port)) == out.end()) {
        out.emplace_back(ip, seed.port);
      }
    }
  }
  return out;
}

std::string owners(const cluster::SlotMap& map, uint16_t slot) {
  const uint16_t o = map.ownerOf(slot);
  return o == cluster::SlotMap::kNoNode ? "nobody" : map.node(o).id.substr(0, 8);
}

}  // namespace

int runCheck(const config::Config& config, std::ostream& out) {
  const uint32_t timeout = std::max<uint32_t>(config.connect_timeout_ms, 2000);
  const std::string auth = backend::authCommand(config.redis_username, config.redis_password);
  const auto seeds = resolveSeeds(config);
  if (seeds.empty()) {
    out << "FAIL no seed address resolved\n";
    return 1;
  }
  std::vector<View> seed_views = ask(seeds, auth, timeout);
  std::vector<cluster::TopologyAnswer> answers;
  for (const View& v : seed_views) {
    if (v.ok) answers.push_back({v.address, v.epoch, v.map});
  }
  const auto best = cluster::pickBest(answers);
  if (!best) {
    for (const View& v : seed_views) out << "FAIL " << v.address << ": " << v.error << "\n";
    out << "FAIL no seed answered with a cluster topology\n";
    return 1;
  }
  const cluster::SlotMap& map = *answers[*best].map;
  std::vector<std::pair<std::string, uint16_t>> all;
  for (const auto& n : map.nodes()) all.emplace_back(n.ip, n.port);
  const std::vector<View> views = ask(all, auth, timeout);

  int problems = 0;
  const auto fail = [&](const std::string& text) {
    ++problems;
    out << "FAIL " << text << "\n";
  };
  size_t primaries = 0;
  for (const auto& n : map.nodes()) primaries += n.role == cluster::Role::kPrimary ? 1 : 0;
  out << "cluster: " << map.nodes().size() << " nodes (" << primaries << " primaries), epoch "
      << answers[*best].current_epoch << ", view of " << answers[*best].source << "\n";

  const size_t servable = map.servableSlots();
  if (servable == cluster::kSlotCount) {
    out << "OK   all 16384 slots have a live primary\n";
  } else {
    fail(std::to_string(cluster::kSlotCount - servable) + " slots have no live primary");
  }
  for (size_t i = 0; i < map.nodes().size(); ++i) {
    const auto& n = map.node(static_cast<uint16_t>(i));
    if (n.role != cluster::Role::kPrimary) continue;
    size_t replicas = 0;
    for (const auto& r : map.nodes()) {
      // "loading" (CLUSTER SHARDS: a replica whose offset peers have not seen yet) still counts.
      if (r.role == cluster::Role::kReplica && r.primary_id == n.id &&
          r.health != cluster::Health::kFailed) {
        ++replicas;
      }
    }
    if (replicas == 0 && map.slotCounts()[i] > 0) {
      fail("primary " + n.id.substr(0, 8) + " (" + n.address() + ") has no live replica");
    }
  }
  for (const View& v : views) {
    if (!v.ok) {
      fail(v.address + " unreachable or not answering: " + v.error);
      continue;
    }
    for (const std::string& s : v.open_slots) fail(v.address + ": " + s);
    std::set<std::string> diffs;
    for (uint32_t s = 0; s < cluster::kSlotCount && diffs.size() < 3; ++s) {
      const auto slot = static_cast<uint16_t>(s);
      if (owners(map, slot) != owners(*v.map, slot)) {
        diffs.insert("slot " + std::to_string(s) + ": " + owners(*v.map, slot) + " instead of " +
                     owners(map, slot));
      }
    }
    for (const std::string& d : diffs) fail(v.address + " disagrees: " + d);
  }
  if (problems == 0) out << "OK   every node agrees on the slot map; no open slots\n";
  out << (problems == 0 ? "healthy\n" : std::to_string(problems) + " problem(s)\n");
  return problems == 0 ? 0 : 1;
}

}  // namespace slotproxy::server
