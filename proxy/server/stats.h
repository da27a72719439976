#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "proxy/cluster/slot_map.h"

namespace slotproxy::server {

// Triggers of a topology refresh (metrics label values).
enum class Trigger : uint8_t { kStartup, kTimer, kMoved, kAsk, kConnError, kClusterDown, kManual };
inline constexpr std::array<std::string_view, 7> kTriggerNames = {
    "startup", "timer", "moved", "ask", "conn_error", "clusterdown", "manual"};

// Process-wide counters, written by the worker loops with relaxed atomics and read by the admin
// server. Per-command families live in metrics/ (registered once, references kept).
struct Stats {
  std::atomic<uint64_t> client_connections{0};
  std::atomic<uint64_t> client_connections_total{0};
  std::atomic<uint64_t> requests_held{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> redirects_moved{0};
  std::atomic<uint64_t> redirects_ask{0};
  std::atomic<uint64_t> outcome_unknown{0};
  std::atomic<uint64_t> hold_timeouts{0};
  std::atomic<uint64_t> read_retries{0};
  std::atomic<uint64_t> backend_connect_attempts{0};
  std::atomic<uint64_t> failovers{0};
  std::array<std::atomic<uint64_t>, kTriggerNames.size()> refreshes{};
  std::atomic<uint64_t> refresh_failures{0};

  // The current map and how it was obtained, for /topology and /readyz.
  mutable std::mutex mu;
  cluster::SlotMapPtr map;
  std::string last_trigger;
  uint64_t last_refresh_unix_ms = 0;
  std::string last_refresh_error;
};

}  // namespace slotproxy::server
