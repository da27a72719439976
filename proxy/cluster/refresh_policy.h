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
  uint64_t my_epoch = 0;  // cluster_my_epoch: the config epoch of the node asked
};

// The view to trust among several answers: the highest current epoch (a node cut off on the
// wrong side of a partition has missed the failover elections and cannot flip the map back),
// then the most slots with a live primary, then the highest config epoch of the node asked,
// then the first asked. nullopt when `answers` is empty.
//
// The config epoch matters during a failover: the candidate's vote request raises every node's
// current epoch at once, but until the winner's announcement reaches them the other nodes still
// give the slots to the old primary. The winner (and its replicas) hold the new, highest config
// epoch, so their view, which has the new primary, is preferred to those stale ones.
std::optional<size_t> pickBest(std::span<const TopologyAnswer> answers);

// cluster_current_epoch from a CLUSTER INFO text (0 when absent).
uint64_t parseCurrentEpoch(std::string_view cluster_info);
// cluster_my_epoch from a CLUSTER INFO text (0 when absent).
uint64_t parseMyEpoch(std::string_view cluster_info);

}  // namespace slotproxy::cluster
