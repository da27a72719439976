#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "proxy/cluster/open_slots.h"
#include "proxy/cluster/slot_map.h"
#include "proxy/server/script_cache.h"

namespace slotproxy::server {

// Triggers of a topology refresh (metrics label values).
enum class Trigger : uint8_t { kStartup, kTimer, kMoved, kAsk, kConnError, kClusterDown, kManual };
inline constexpr std::array<std::string_view, 7> kTriggerNames = {
    "startup", "timer", "moved", "ask", "conn_error", "clusterdown", "manual"};

// Kinds of client-visible errors (metrics label `kind`).
enum class ErrorKind : uint8_t {
  kRedis,           // Redis answered with an error (WRONGTYPE, ...)
  kRouting,         // refused by the proxy: unknown, wrong arity, CROSSSLOT, unsupported
  kOutcomeUnknown,  // the connection died with the command in flight
  kHoldTimeout,     // no primary for the slot within failover-hold
  kRedirectLimit,   // too many MOVED/ASK
  kHoldFull,        // the hold queue was full
  kShutdown,
  kConnLimit,  // max-own-conns: no room for a client's own node connection
};
inline constexpr std::array<std::string_view, 8> kErrorKindNames = {
    "redis",          "routing",   "outcome_unknown", "hold_timeout",
    "redirect_limit", "hold_full", "shutdown",        "conn_limit"};

// Upper bounds (seconds) of the command latency histogram buckets; +Inf is implicit.
inline constexpr std::array<double, 15> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                           0.005,  0.01,    0.025,  0.05,  0.1,
                                                           0.25,   0.5,     1.0,    2.5,   10.0};

// Upper bounds (seconds) of the failover duration histogram.
inline constexpr std::array<double, 11> kFailoverBuckets = {0.5, 1,  2,  3,  5, 7.5,
                                                            10,  15, 20, 30, 60};

struct CommandStats {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> latency_sum_ns{0};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency{};  // last: +Inf
  std::array<std::atomic<uint64_t>, kErrorKindNames.size()> errors{};

  void record(uint64_t latency_ns) {
    calls.fetch_add(1, std::memory_order_relaxed);
    latency_sum_ns.fetch_add(latency_ns, std::memory_order_relaxed);
    size_t b = 0;
    const double secs = static_cast<double>(latency_ns) / 1e9;
    while (b < kLatencyBuckets.size() && secs > kLatencyBuckets[b]) ++b;
    latency[b].fetch_add(1, std::memory_order_relaxed);
  }
};

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
  std::atomic<uint64_t> unknown_commands{0};
  std::atomic<uint64_t> script_reloads{0};  // EVALSHAs run again after loading their script
  // Bumped by an admin action (POST /refresh): every worker refreshes its slot map once.
  mutable std::atomic<uint64_t> refresh_requests{0};
  // SIGTERM received: /readyz answers 503 so that no new traffic is sent here.
  std::atomic<bool> draining{false};
  // Failover timing: seconds from a primary lost (connection failure or marked failed) until its
  // slots were served by another primary.
  std::array<std::atomic<uint64_t>, kFailoverBuckets.size() + 1> failover_seconds{};  // last: +Inf
  std::atomic<uint64_t> failover_seconds_sum_ms{0};
  std::atomic<uint64_t> failover_seconds_count{0};

  // Per command, indexed by command::CommandInfo::id (command::count() entries).
  std::unique_ptr<CommandStats[]> commands;
  size_t command_count = 0;

  Stats();

  // The current map and how it was obtained, for /topology and /readyz; the last failovers for
  // the status page (newest last, at most kRecentFailovers).
  struct FailoverEvent {
    uint64_t unix_ms = 0;  // when the lost slots were served again
    std::string node;      // "id (address)" of the primary that was lost
    uint64_t duration_ms = 0;
  };
  static constexpr size_t kRecentFailovers = 10;
  mutable std::mutex mu;
  std::deque<FailoverEvent> recent_failovers;
  // Open connections to each node (key: node id, or the address of a node known only from a
  // redirect), summed over the workers; exported for the nodes of the current map only.
  std::unordered_map<std::string, int64_t> backend_connections;
  cluster::SlotMapPtr map;
  // Scripts loaded through the proxy (script_cache.h), shared by the workers: locks of its own.
  ScriptCache scripts;
  // Slots the primaries of the map report migrating or importing (Refresher::checkOpenSlots).
  std::vector<cluster::OpenSlot> open_slots;
  std::string last_trigger;
  uint64_t last_refresh_unix_ms = 0;
  std::string last_refresh_error;
};

}  // namespace slotproxy::server
