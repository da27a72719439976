#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proxy/cluster/slot_map.h"

namespace slotproxy::cluster {

// One node's view of the cluster, as a refresh collected it.
struct TopologyAnswer {
  std::string source;          // address asked
  uint64_t current_epoch = 0;  // cluster_current_epoch from CLUSTER INFO
  SlotMapPtr map;
};

// The view to trust among several answers: the highest current epoch (a node cut off on the
// wrong side of a partition has missed the failover elections and cannot flip the map back),
// then the most slots with a live primary, then the first asked. nullopt when `answers` is empty.
std::optional<size_t> pickBest(std::span<const TopologyAnswer> answers);

// cluster_current_epoch from a CLUSTER INFO text (0 when absent).
uint64_t parseCurrentEpoch(std::string_view cluster_info);

}  // namespace slotproxy::cluster
