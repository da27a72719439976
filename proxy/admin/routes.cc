#include "proxy/admin/routes.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <vector>

#include "metrics/stats_collector.h"

namespace slotproxy::admin {
namespace {

// What the pages show of Stats::mu's fields, copied under the lock.
struct Snapshot {
  cluster::SlotMapPtr map;
  std::vector<cluster::OpenSlot> open_slots;
  std::string last_trigger;
  uint64_t last_refresh_unix_ms = 0;
  std::string last_refresh_error;
};

Snapshot snapshot(const server::Stats& stats) {
  std::lock_guard<std::mutex> lock(stats.mu);
  return Snapshot{stats.map, stats.open_slots, stats.last_trigger, stats.last_refresh_unix_ms,
                  stats.last_refresh_error};
}

uint64_t load(const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); }

// A run of consecutive slots with the same owner (kNoNode included, unlike SlotMap::ranges()).
struct Segment {
  uint32_t first = 0, last = 0;
  uint16_t owner = cluster::SlotMap::kNoNode;
};

std::vector<Segment> segments(const cluster::SlotMap* map) {
  std::vector<Segment> out;
  if (map == nullptr) {
    out.push_back({0, cluster::kSlotCount - 1, cluster::SlotMap::kNoNode});
    return out;
  }
  for (uint32_t slot = 0; slot < cluster::kSlotCount; ++slot) {
    const uint16_t owner = map->ownerOf(static_cast<uint16_t>(slot));
    if (out.empty() || out.back().owner != owner) {
      out.push_back({slot, slot, owner});
    } else {
      out.back().last = slot;
    }
  }
  return out;
}

std::string isoTime(uint64_t unix_ms) {
  const auto secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned>(unix_ms % 1000));
  return buf;
}

uint64_t nowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string quoted(std::string_view s) { return "\"" + jsonEscape(s) + "\""; }

// Owner colours on the status page: hues spread by the golden angle, so neighbours differ.
std::string nodeColour(uint16_t index, const cluster::NodeInfo* node) {
  if (node == nullptr) return "#c8c8c8";
  if (node->health == cluster::Health::kFailed) {
    return "repeating-linear-gradient(45deg,#d32f2f 0 4px,#ffcdd2 4px 8px)";
  }
  const unsigned hue = (static_cast<unsigned>(index) * 137u + 200u) % 360u;
  const char* lightness = node->health == cluster::Health::kLoading ? "75%" : "48%";
  return "hsl(" + std::to_string(hue) + ",55%," + lightness + ")";
}

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Readiness checkReadiness(const cluster::SlotMap* map) {
  if (map == nullptr) return {false, "no topology yet"};
  const metrics::SlotStateCounts c = metrics::countSlotStates(map);
  if (c.notOk() == 0) return {true, "ready"};
  std::string reason = std::to_string(c.notOk()) +
                       (c.notOk() == 1 ? " slot without a live primary (first: "
                                       : " slots without a live primary (first: ") +
                       std::to_string(c.first_not_ok) + ")";
  if (c.unassigned > 0 && c.no_primary > 0) {
    reason += ": " + std::to_string(c.no_primary) + " on failed nodes, " +
              std::to_string(c.unassigned) + " unassigned";
  } else if (c.unassigned > 0) {
    reason += ": unassigned";
  } else {
    reason += ": owner marked failed";
  }
  return {false, reason};
}

std::string topologyJson(const server::Stats& stats) {
  const Snapshot snap = snapshot(stats);
  const cluster::SlotMap* map = snap.map.get();
  const Readiness ready = checkReadiness(map);
  const metrics::SlotStateCounts counts = metrics::countSlotStates(map, snap.open_slots);
  std::string j = "{\n";
  j += "  \"version\": " + (map ? std::to_string(map->version()) : std::string("null")) + ",\n";
  j += "  \"ready\": " + std::string(ready.ready ? "true" : "false") + ",\n";
  j += "  \"readiness\": " + quoted(ready.reason) + ",\n";
  j += "  \"last_refresh\": {\"unix_ms\": " + std::to_string(snap.last_refresh_unix_ms) +
       ", \"time\": " +
       (snap.last_refresh_unix_ms ? quoted(isoTime(snap.last_refresh_unix_ms)) : "null") +
       ", \"trigger\": " + quoted(snap.last_trigger) +
       ", \"error\": " + quoted(snap.last_refresh_error) + "},\n";
  j += "  \"slots\": {\"ok\": " + std::to_string(counts.ok) +
       ", \"no_primary\": " + std::to_string(counts.no_primary) +
       ", \"migrating\": " + std::to_string(counts.migrating) +
       ", \"importing\": " + std::to_string(counts.importing) +
       ", \"unassigned\": " + std::to_string(counts.unassigned) + "},\n";
  // As each primary reported them: a migration shows on both sides ("slotproxy check" too).
  j += "  \"open_slots\": [";
  for (size_t i = 0; i < snap.open_slots.size(); ++i) {
    const cluster::OpenSlot& o = snap.open_slots[i];
    j += std::string(i == 0 ? "" : ", ") + "{\"slot\": " + std::to_string(o.slot) +
         ", \"state\": " + (o.migrating ? "\"migrating\"" : "\"importing\"") +
         ", \"node\": " + quoted(o.reporter) + ", \"peer\": " + quoted(o.peer) + "}";
  }
  j += "],\n";

  const std::vector<cluster::SlotRange> ranges =
      map ? map->ranges() : std::vector<cluster::SlotRange>{};
  j += "  \"nodes\": [";
  if (map) {
    const std::vector<uint32_t> slot_counts = map->slotCounts();
    for (size_t i = 0; i < map->nodes().size(); ++i) {
      const cluster::NodeInfo& n = map->nodes()[i];
      j += i == 0 ? "\n" : ",\n";
      j += "    {\"id\": " + quoted(n.id) + ", \"address\": " + quoted(n.address()) +
           ", \"hostname\": " + quoted(n.hostname) +
           ", \"role\": " + quoted(cluster::roleName(n.role)) +
           ", \"primary\": " + quoted(n.primary_id) +
           ", \"health\": " + quoted(cluster::healthName(n.health)) +
           ", \"slot_count\": " + std::to_string(i < slot_counts.size() ? slot_counts[i] : 0) +
           ", \"slots\": [";
      bool first = true;
      for (const cluster::SlotRange& r : ranges) {
        if (r.owner != i) continue;
        j += first ? "" : ", ";
        j += "[" + std::to_string(r.first) + ", " + std::to_string(r.last) + "]";
        first = false;
      }
      j += "]}";
    }
    if (!map->nodes().empty()) j += "\n  ";
  }
  j += "],\n";

  j += "  \"slot_ranges\": [";
  for (size_t i = 0; i < ranges.size(); ++i) {
    const cluster::SlotRange& r = ranges[i];
    const cluster::NodeInfo& n = map->node(r.owner);
    j += i == 0 ? "\n" : ",\n";
    j += "    {\"first\": " + std::to_string(r.first) + ", \"last\": " + std::to_string(r.last) +
         ", \"node\": " + quoted(n.id) + ", \"address\": " + quoted(n.address()) +
         ", \"health\": " + quoted(cluster::healthName(n.health)) + "}";
  }
  if (!ranges.empty()) j += "\n  ";
  j += "]\n}\n";
  return j;
}

std::string statusPage(const server::Stats& stats) {
  const Snapshot snap = snapshot(stats);
  const cluster::SlotMap* map = snap.map.get();
  const Readiness ready = checkReadiness(map);
  const metrics::SlotStateCounts counts = metrics::countSlotStates(map, snap.open_slots);

  std::string h;
  h.reserve(size_t{32} * 1024);
  h += R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>slotproxy</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em}h2{font-size:1.05em;margin:1.4em 0 .4em}
.badge{display:inline-block;padding:.15em .6em;border-radius:.8em;color:#fff;font-weight:600}
.ok{background:#2e7d32}.bad{background:#c62828}
.strip{display:flex;height:36px;border:1px solid #888;margin:.3em 0}
.seg{flex-shrink:0;flex-basis:0;min-width:1px}
.axis{display:flex;justify-content:space-between;font-size:11px;color:#666}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.sw{display:inline-block;width:1em;height:1em;vertical-align:middle}
code{font-size:12px}.num{text-align:right}
</style></head><body>
)";
  h += "<h1>slotproxy</h1>\n<p><span class=\"badge ";
  h += ready.ready ? "ok\">ready" : "bad\">not ready";
  h += "</span> " + htmlEscape(ready.reason) + "</p>\n";

  h += "<h2>Slots</h2>\n<p>" + std::to_string(counts.ok) + " ok, " +
       std::to_string(counts.no_primary) + " without a live primary, " +
       std::to_string(counts.unassigned) + " unassigned &middot; map version " +
       (map ? std::to_string(map->version()) : std::string("none")) + "</p>\n";
  h += "<div class=\"strip\">";
  for (const Segment& s : segments(map)) {
    const cluster::NodeInfo* node =
        s.owner == cluster::SlotMap::kNoNode ? nullptr : &map->node(s.owner);
    const std::string who =
        node ? node->address() + " " + std::string(cluster::healthName(node->health))
             : std::string("unassigned");
    h += "<div class=\"seg\" style=\"flex-grow:" + std::to_string(s.last - s.first + 1) +
         ";background:" + nodeColour(s.owner, node) + "\" title=\"slots " +
         std::to_string(s.first) + "-" + std::to_string(s.last) + ": " + htmlEscape(who) +
         "\"></div>";
  }
  h += "</div>\n<div class=\"axis\"><span>0</span><span>4096</span><span>8192</span>"
       "<span>12288</span><span>16383</span></div>\n";

  h += "<h2>Nodes</h2>\n<table><tr><th></th><th>id</th><th>address</th><th>hostname</th>"
       "<th>role</th><th>primary</th><th>health</th><th>slots</th></tr>\n";
  if (map) {
    const std::vector<uint32_t> slot_counts = map->slotCounts();
    for (size_t i = 0; i < map->nodes().size(); ++i) {
      const cluster::NodeInfo& n = map->nodes()[i];
      h += "<tr><td><span class=\"sw\" style=\"background:" +
           nodeColour(static_cast<uint16_t>(i), &n) + "\"></span></td><td><code>" +
           htmlEscape(n.id.empty() ? "(unnamed)" : n.id) + "</code></td><td>" +
           htmlEscape(n.address()) + "</td><td>" + htmlEscape(n.hostname) + "</td><td>" +
           std::string(cluster::roleName(n.role)) + "</td><td><code>" + htmlEscape(n.primary_id) +
           "</code></td><td>" + std::string(cluster::healthName(n.health)) +
           "</td><td class=\"num\">" + std::to_string(i < slot_counts.size() ? slot_counts[i] : 0) +
           "</td></tr>\n";
    }
  }
  h += "</table>\n";

  const uint64_t fo_count = load(stats.failover_seconds_count);
  const uint64_t fo_sum_ms = load(stats.failover_seconds_sum_ms);
  const auto row = [&h](std::string_view name, const std::string& value) {
    h += "<tr><th>" + std::string(name) + "</th><td class=\"num\">" + value + "</td></tr>\n";
  };
  h += "<h2>Counters</h2>\n<table>\n";
  row("failovers", std::to_string(load(stats.failovers)));
  row("failover time, mean",
      fo_count ? std::to_string(fo_sum_ms / fo_count) + " ms" : std::string("-"));
  row("requests held (waiting for a primary)", std::to_string(load(stats.requests_held)));
  row("hold timeouts", std::to_string(load(stats.hold_timeouts)));
  row("writes with unknown outcome", std::to_string(load(stats.outcome_unknown)));
  row("reads retried", std::to_string(load(stats.read_retries)));
  row("redirects MOVED / ASK", std::to_string(load(stats.redirects_moved)) + " / " +
                                   std::to_string(load(stats.redirects_ask)));
  row("client connections (open / total)",
      std::to_string(load(stats.client_connections)) + " / " +
          std::to_string(load(stats.client_connections_total)));
  row("topology refresh failures", std::to_string(load(stats.refresh_failures)));
  std::string last = "-";
  if (snap.last_refresh_unix_ms != 0) {
    const uint64_t now = nowUnixMs();
    last = isoTime(snap.last_refresh_unix_ms) + " (" +
           std::to_string(now > snap.last_refresh_unix_ms ? (now - snap.last_refresh_unix_ms) / 1000
                                                          : 0) +
           " s ago, " + htmlEscape(snap.last_trigger) + ")";
    if (!snap.last_refresh_error.empty()) last += ": " + htmlEscape(snap.last_refresh_error);
  }
  row("last topology refresh", last);
  h += "</table>\n<h2>Recent failovers</h2>\n";
  std::deque<server::Stats::FailoverEvent> failovers;
  {
    std::lock_guard<std::mutex> lock(stats.mu);
    failovers = stats.recent_failovers;
  }
  if (failovers.empty()) {
    h += "<p>none since start</p>\n";
  } else {
    h += "<table><tr><th>served again at</th><th>primary lost</th><th>took</th></tr>\n";
    for (auto it = failovers.rbegin(); it != failovers.rend(); ++it) {
      h += "<tr><td>" + isoTime(it->unix_ms) + "</td><td><code>" + htmlEscape(it->node) +
           "</code></td><td class=\"num\">" + std::to_string(it->duration_ms) + " ms</td></tr>\n";
    }
    h += "</table>\n";
  }
  h += "<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/topology\">/topology"
       "</a> &middot; <a href=\"/readyz\">/readyz</a></p>\n</body></html>\n";
  return h;
}

HttpResponse route(const HttpRequest& request, const server::Stats& stats) {
  const std::string_view path = request.path;
  if (request.method == "POST" && path == "/refresh") {
    // An admin action: every worker refreshes its slot map now (the trigger "manual").
    stats.refresh_requests.fetch_add(1, std::memory_order_relaxed);
    return text(202, "refresh requested\n");
  }
  if (request.method != "GET" || path == "/refresh") {
    HttpResponse r = text(405, "method not allowed: GET, or POST /refresh\n");
    r.headers.emplace_back("Allow", path == "/refresh" ? "POST" : "GET");
    return r;
  }
  if (path == "/metrics") {
    HttpResponse r = text(200, metrics::renderText(stats));
    r.content_type = metrics::kTextContentType;
    return r;
  }
  if (path == "/healthz") return text(200, "ok\n");
  if (path == "/readyz") {
    cluster::SlotMapPtr map;
    {
      std::lock_guard<std::mutex> lock(stats.mu);
      map = stats.map;
    }
    if (stats.draining.load(std::memory_order_relaxed)) {
      return text(503, "draining: SIGTERM received\n");
    }
    const Readiness ready = checkReadiness(map.get());
    return text(ready.ready ? 200 : 503, ready.reason + "\n");
  }
  if (path == "/topology") {
    HttpResponse r = text(200, topologyJson(stats));
    r.content_type = "application/json";
    return r;
  }
  if (path == "/") {
    HttpResponse r = text(200, statusPage(stats));
    r.content_type = "text/html; charset=utf-8";
    return r;
  }
  return text(404,
              "not found: " + std::string(path) + " (try /metrics /healthz /readyz /topology /)\n");
}

}  // namespace slotproxy::admin
