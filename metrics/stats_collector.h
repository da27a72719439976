#pragma once

// Prometheus exposition of server::Stats (DESIGN.md "Metrics").
//
// The worker loops only bump relaxed atomics in server::Stats; every MetricFamily here is built
// at scrape time from a snapshot of those atomics and of the current SlotMap, so the hot path
// does no metrics work at all. Label cardinality is bounded: commands come from the command
// table (and only those called at least once), nodes from the current map.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cluster/open_slots.h"
#include "proxy/cluster/slot_map.h"
#include "proxy/server/stats.h"

namespace slotproxy::metrics {

// Content-Type of renderText()'s output (Prometheus text format 0.0.4).
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// The 16384 slots of a map by state (the `state` label of slotproxy_slots). Sums to 16384.
struct SlotStateCounts {
  static constexpr uint32_t kNoSlot = 0xFFFFFFFF;

  uint32_t ok = 0;          // owner known and not failed
  uint32_t no_primary = 0;  // owner known but marked failed
  uint32_t migrating = 0;   // its owner reports it migrating to another node
  uint32_t importing = 0;   // another node reports it importing, its owner not (yet) migrating
  uint32_t unassigned = 0;  // no owner
  uint32_t first_not_ok = kNoSlot;  // lowest slot that is not ok, kNoSlot if none
  uint32_t notOk() const { return no_primary + unassigned; }
};

// A null map (no topology yet) has every slot unassigned. `open`: the open slots the primaries
// reported (Stats::open_slots); a slot without a live owner counts as such, migrating or not.
SlotStateCounts countSlotStates(const cluster::SlotMap* map,
                                const std::vector<cluster::OpenSlot>& open = {});

// The slotproxy_* families of DESIGN.md "Metrics", built from `stats` at each Collect(). Safe to
// call from any thread: it reads atomics and takes stats.mu only to copy the map pointer.
// `stats` must outlive the collector.
class StatsCollector final : public prometheus::Collectable {
 public:
  explicit StatsCollector(const server::Stats& stats) : stats_(stats) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const server::Stats& stats_;
};

// StatsCollector's families serialized by prometheus::TextSerializer (format 0.0.4).
std::string renderText(const server::Stats& stats);

}  // namespace slotproxy::metrics
