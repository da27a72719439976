#pragma once

// Hand-built slot maps for the admin and metrics tests.

#include <gtest/gtest.h>

#include <string>

#include "proxy/cluster/slot_map.h"

namespace slotproxy::admin::testing {

inline cluster::NodeInfo node(std::string id, std::string ip, uint16_t port,
                              cluster::Role role = cluster::Role::kPrimary,
                              std::string primary_id = "",
                              cluster::Health health = cluster::Health::kOnline) {
  cluster::NodeInfo n;
  n.id = std::move(id);
  n.ip = std::move(ip);
  n.port = port;
  n.role = role;
  n.primary_id = std::move(primary_id);
  n.health = health;
  return n;
}

// Three primaries (0-5460, 5461-10922, 10923-16383), each with one replica. `failed_b` marks the
// second primary failed; `unassigned_last` leaves slots 16380-16383 without an owner.
inline cluster::SlotMapPtr threeShards(bool failed_b = false, bool unassigned_last = false,
                                       uint64_t version = 7) {
  cluster::SlotMapBuilder b;
  const uint16_t a = b.addNode(node("aaaa", "10.0.0.1", 6379));
  const uint16_t bb =
      b.addNode(node("bbbb", "10.0.0.2", 6379, cluster::Role::kPrimary, "",
                     failed_b ? cluster::Health::kFailed : cluster::Health::kOnline));
  const uint16_t c = b.addNode(node("cccc", "10.0.0.3", 6379));
  cluster::NodeInfo ra = node("aaaa-r", "10.0.0.4", 6379, cluster::Role::kReplica, "aaaa");
  ra.hostname = "redis-3.redis.svc";
  b.addNode(ra);
  b.addNode(
      node("bbbb-r", "10.0.0.5", 6379, cluster::Role::kReplica, "bbbb", cluster::Health::kLoading));
  b.addNode(node("cccc-r", "10.0.0.6", 6379, cluster::Role::kReplica, "cccc"));
  b.assign(0, 5460, a);
  b.assign(5461, 10922, bb);
  b.assign(10923, unassigned_last ? 16379 : 16383, c);
  std::string error;
  cluster::SlotMapPtr map = b.build(version, &error);
  EXPECT_NE(map, nullptr) << error;
  return map;
}

}  // namespace slotproxy::admin::testing
