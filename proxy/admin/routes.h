#pragma once

// What the admin server answers (DESIGN.md "Admin HTTP"), as pure functions of a request and
// server::Stats: no sockets, unit-tested directly.
//
//   GET /metrics   Prometheus text format 0.0.4 (metrics::StatsCollector)
//   GET /healthz   200 "ok"
//   GET /readyz    200 "ready" when every slot has an owner not marked failed, else 503 + reason
//   GET /topology  JSON: map version, last refresh, nodes, slot ranges
//   GET /          HTML status page (slot strip, node table, counters), refreshes every 2 s
// Any other path is 404; any other method 405 (with Allow: GET).

#include <string>
#include <string_view>

#include "proxy/admin/http_parser.h"
#include "proxy/cluster/slot_map.h"
#include "proxy/server/stats.h"

namespace slotproxy::admin {

struct Readiness {
  bool ready = false;
  std::string reason;  // one line: "ready", "no topology yet", "2 slots without a live ..."
};

// Ready iff `map` exists and every slot has an owner that is not marked failed.
Readiness checkReadiness(const cluster::SlotMap* map);

HttpResponse route(const HttpRequest& request, const server::Stats& stats);

// The bodies of /topology and / (exposed for tests).
std::string topologyJson(const server::Stats& stats);
std::string statusPage(const server::Stats& stats);

// `s` as the inside of a JSON string literal (RFC 8259): ", \ and control characters escaped;
// other bytes, UTF-8 included, pass through.
std::string jsonEscape(std::string_view s);
// `s` safe inside HTML text and double-quoted attributes (& < > " ').
std::string htmlEscape(std::string_view s);

}  // namespace slotproxy::admin
