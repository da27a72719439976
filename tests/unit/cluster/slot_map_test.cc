#include "proxy/cluster/slot_map.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace slotproxy::cluster {
namespace {

NodeInfo node(std::string id, std::string ip, uint16_t port, Role role = Role::kPrimary,
              Health health = Health::kOnline) {
  NodeInfo n;
  n.id = std::move(id);
  n.ip = std::move(ip);
  n.port = port;
  n.role = role;
  n.health = health;
  return n;
}

// Three primaries splitting the slots as redis-cli --cluster create does, one replica each.
SlotMapPtr threePrimaries(uint64_t version, Health second_health = Health::kOnline) {
  SlotMapBuilder b;
  const uint16_t a = b.addNode(node("id-a", "10.0.0.1", 6379));
  const uint16_t c = b.addNode(node("id-b", "10.0.0.2", 6379, Role::kPrimary, second_health));
  const uint16_t d = b.addNode(node("id-c", "10.0.0.3", 6379));
  b.addNode(node("id-a2", "10.0.0.4", 6379, Role::kReplica));
  b.assign(0, 5460, a);
  b.assign(5461, 10922, c);
  b.assign(10923, 16383, d);
  std::string error;
  SlotMapPtr map = b.build(version, &error);
  EXPECT_NE(map, nullptr) << error;
  return map;
}

void expectRange(const SlotRange& r, uint16_t first, uint16_t last, uint16_t owner) {
  EXPECT_EQ(r.first, first);
  EXPECT_EQ(r.last, last);
  EXPECT_EQ(r.owner, owner);
}

TEST(SlotMapBuilder, CoveringMapGivesEachSlotItsPrimary) {
  SlotMapPtr map = threePrimaries(7);
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(map->version(), 7u);
  EXPECT_EQ(map->nodes().size(), 4u);
  EXPECT_EQ(map->coveredSlots(), 16384u);
  EXPECT_EQ(map->servableSlots(), 16384u);
  EXPECT_EQ(map->ownerOf(0), 0);
  EXPECT_EQ(map->ownerOf(5460), 0);
  EXPECT_EQ(map->ownerOf(5461), 1);
  EXPECT_EQ(map->ownerOf(10922), 1);
  EXPECT_EQ(map->ownerOf(10923), 2);
  EXPECT_EQ(map->ownerOf(16383), 2);
  EXPECT_EQ(map->slotCounts(), (std::vector<uint32_t>{5461, 5462, 5461, 0}));
  EXPECT_EQ(map->node(3).role, Role::kReplica);
}

TEST(SlotMapBuilder, PartialCoverageLeavesOtherSlotsWithoutOwner) {
  SlotMapBuilder b;
  b.assign(0, 0, 0);  // before any node: unknown owner
  std::string error;
  EXPECT_EQ(b.build(1, &error), nullptr);
  EXPECT_EQ(error, "slot range owned by an unknown node");

  SlotMapBuilder ok;
  ok.assign(100, 199, ok.addNode(node("a", "10.0.0.1", 6379)));
  SlotMapPtr map = ok.build(1, &error);
  ASSERT_NE(map, nullptr) << error;
  EXPECT_EQ(map->coveredSlots(), 100u);
  EXPECT_EQ(map->servableSlots(), 100u);
  EXPECT_EQ(map->ownerOf(99), SlotMap::kNoNode);
  EXPECT_EQ(map->ownerOf(100), 0);
  EXPECT_EQ(map->ownerOf(199), 0);
  EXPECT_EQ(map->ownerOf(200), SlotMap::kNoNode);
  ASSERT_EQ(map->ranges().size(), 1u);
  expectRange(map->ranges()[0], 100, 199, 0);
}

TEST(SlotMapBuilder, OverlappingClaimsByTwoNodesAreRejected) {
  SlotMapBuilder b;
  const uint16_t a = b.addNode(node("a", "10.0.0.1", 6379));
  const uint16_t c = b.addNode(node("b", "10.0.0.2", 6380));
  b.assign(0, 100, a);
  b.assign(100, 200, c);
  b.assign(300, 400, c);  // the first error sticks
  std::string error;
  EXPECT_EQ(b.build(1, &error), nullptr);
  EXPECT_EQ(error, "slot 100 claimed by two nodes (10.0.0.1:6379, 10.0.0.2:6380)");
}

TEST(SlotMapBuilder, OverlapWithinTheSameNodeIsAccepted) {
  SlotMapBuilder b;
  const uint16_t a = b.addNode(node("a", "10.0.0.1", 6379));
  b.assign(0, 10, a);
  b.assign(5, 20, a);
  std::string error;
  SlotMapPtr map = b.build(1, &error);
  ASSERT_NE(map, nullptr) << error;
  EXPECT_EQ(map->coveredSlots(), 21u);
  EXPECT_EQ(map->slotCounts(), std::vector<uint32_t>{21});
}

TEST(SlotMapBuilder, RangeOutOfBoundsIsRejected) {
  {
    SlotMapBuilder b;
    b.assign(16000, 16384, b.addNode(node("a", "10.0.0.1", 6379)));
    std::string error;
    EXPECT_EQ(b.build(1, &error), nullptr);
    EXPECT_EQ(error, "bad slot range 16000-16384");
  }
  {
    SlotMapBuilder b;
    b.assign(10, 5, b.addNode(node("a", "10.0.0.1", 6379)));
    std::string error;
    EXPECT_EQ(b.build(1, &error), nullptr);
    EXPECT_EQ(error, "bad slot range 10-5");
  }
  {
    SlotMapBuilder b;
    b.assign(16383, 16383, b.addNode(node("a", "10.0.0.1", 6379)));
    std::string error;
    SlotMapPtr map = b.build(1, &error);
    ASSERT_NE(map, nullptr) << error;
    EXPECT_EQ(map->ownerOf(16383), 0);
  }
}

TEST(SlotMapBuilder, NoNodesIsRejected) {
  SlotMapBuilder b;
  std::string error;
  EXPECT_EQ(b.build(1, &error), nullptr);
  EXPECT_EQ(error, "no nodes in topology reply");
}

TEST(SlotMapBuilder, NodeWithoutAddressIsRejected) {
  {
    SlotMapBuilder b;
    b.addNode(node("a", "10.0.0.1", 6379));
    b.addNode(node("noip", "", 6379));
    std::string error;
    EXPECT_EQ(b.build(1, &error), nullptr);
    EXPECT_EQ(error, "node noip has no address");
  }
  {
    SlotMapBuilder b;
    b.addNode(node("noport", "10.0.0.1", 0));
    std::string error;
    EXPECT_EQ(b.build(1, &error), nullptr);
    EXPECT_EQ(error, "node noport has no address");
  }
}

TEST(SlotMapBuilder, AddNodeDedupesById) {
  SlotMapBuilder b;
  EXPECT_EQ(b.addNode(node("a", "10.0.0.1", 6379)), 0);
  EXPECT_EQ(b.addNode(node("b", "10.0.0.2", 6379)), 1);
  // Same id, other address: the same node; the first description is kept.
  EXPECT_EQ(b.addNode(node("a", "10.0.0.9", 7000)), 0);
  // Other id, same address: another node.
  EXPECT_EQ(b.addNode(node("c", "10.0.0.1", 6379)), 2);
  EXPECT_EQ(b.nodeCount(), 3u);
  std::string error;
  SlotMapPtr map = b.build(1, &error);
  ASSERT_NE(map, nullptr) << error;
  EXPECT_EQ(map->node(0).ip, "10.0.0.1");
  EXPECT_EQ(map->node(0).port, 6379);
}

TEST(SlotMapBuilder, AddNodeDedupesIdlessNodesByAddress) {
  SlotMapBuilder b;
  EXPECT_EQ(b.addNode(node("", "10.0.0.1", 6379)), 0);
  EXPECT_EQ(b.addNode(node("", "10.0.0.1", 6379)), 0);
  EXPECT_EQ(b.addNode(node("", "10.0.0.1", 6380)), 1);
  EXPECT_EQ(b.addNode(node("", "10.0.0.2", 6379)), 2);
  EXPECT_EQ(b.nodeCount(), 3u);
}

TEST(SlotMapBuilder, BuildHandsOverTheMapAndStartsAfresh) {
  SlotMapBuilder b;
  b.assign(0, 16383, b.addNode(node("a", "10.0.0.1", 6379)));
  std::string error;
  SlotMapPtr first = b.build(1, &error);
  ASSERT_NE(first, nullptr) << error;
  EXPECT_EQ(b.nodeCount(), 0u);
  EXPECT_EQ(b.build(2, &error), nullptr);
  EXPECT_EQ(error, "no nodes in topology reply");
  EXPECT_EQ(first->coveredSlots(), 16384u);  // the built map is unaffected
}

TEST(SlotMap, RangesCompressRunsOfTheSameOwner) {
  SlotMapBuilder b;
  const uint16_t a = b.addNode(node("a", "10.0.0.1", 6379));
  const uint16_t c = b.addNode(node("b", "10.0.0.2", 6379));
  b.assign(0, 9, a);
  b.assign(10, 19, a);  // adjacent, same owner: merged
  b.assign(20, 20, c);
  b.assign(21, 21, a);
  b.assign(30, 39, a);  // gap before: a new range
  b.assign(16383, 16383, c);
  std::string error;
  SlotMapPtr map = b.build(1, &error);
  ASSERT_NE(map, nullptr) << error;
  const std::vector<SlotRange> ranges = map->ranges();
  ASSERT_EQ(ranges.size(), 5u);
  expectRange(ranges[0], 0, 19, a);
  expectRange(ranges[1], 20, 20, c);
  expectRange(ranges[2], 21, 21, a);
  expectRange(ranges[3], 30, 39, a);
  expectRange(ranges[4], 16383, 16383, c);
  EXPECT_EQ(map->slotCounts(), (std::vector<uint32_t>{31, 2}));
  EXPECT_EQ(map->coveredSlots(), 33u);
}

TEST(SlotMap, ServableSlotsExcludeAFailedPrimary) {
  SlotMapPtr map = threePrimaries(1, Health::kFailed);
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(map->coveredSlots(), 16384u);
  EXPECT_EQ(map->servableSlots(), 16384u - 5462u);
}

TEST(SlotMap, ServableSlotsIncludeALoadingPrimary) {
  SlotMapPtr map = threePrimaries(1, Health::kLoading);
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(map->servableSlots(), 16384u);
}

TEST(SlotMap, FindByIdAndByAddress) {
  SlotMapBuilder b;
  b.addNode(node("id-a", "10.0.0.1", 6379));
  b.addNode(node("id-b", "10.0.0.1", 6380));
  b.addNode(node("", "::1", 7000));
  std::string error;
  SlotMapPtr map = b.build(1, &error);
  ASSERT_NE(map, nullptr) << error;

  EXPECT_EQ(map->findById("id-a"), std::optional<uint16_t>(0));
  EXPECT_EQ(map->findById("id-b"), std::optional<uint16_t>(1));
  EXPECT_EQ(map->findById("id-c"), std::nullopt);
  EXPECT_EQ(map->findById("id"), std::nullopt);  // no prefix match
  EXPECT_EQ(map->findById(""), std::nullopt);    // never matches the id-less node

  EXPECT_EQ(map->findByAddress("10.0.0.1", 6379), std::optional<uint16_t>(0));
  EXPECT_EQ(map->findByAddress("10.0.0.1", 6380), std::optional<uint16_t>(1));
  EXPECT_EQ(map->findByAddress("10.0.0.1", 6381), std::nullopt);
  EXPECT_EQ(map->findByAddress("10.0.0.2", 6379), std::nullopt);
  EXPECT_EQ(map->findByAddress("::1", 7000), std::optional<uint16_t>(2));
}

TEST(NodeInfo, AddressBracketsIpv6) {
  EXPECT_EQ(node("a", "10.0.0.1", 6379).address(), "10.0.0.1:6379");
  EXPECT_EQ(node("a", "::1", 7000).address(), "[::1]:7000");
  EXPECT_EQ(node("a", "fe80::1:2", 65535).address(), "[fe80::1:2]:65535");
  EXPECT_EQ(node("a", "redis-0.redis", 6379).address(), "redis-0.redis:6379");
}

TEST(NodeInfo, RoleAndHealthNames) {
  EXPECT_EQ(roleName(Role::kPrimary), "primary");
  EXPECT_EQ(roleName(Role::kReplica), "replica");
  EXPECT_EQ(healthName(Health::kOnline), "online");
  EXPECT_EQ(healthName(Health::kLoading), "loading");
  EXPECT_EQ(healthName(Health::kFailed), "failed");
}

TEST(SlotMap, WithSlotMovedToAKnownNodeCopiesTheMap) {
  SlotMapPtr before = threePrimaries(1);
  ASSERT_NE(before, nullptr);
  SlotMapPtr after = before->withSlotMoved(100, "10.0.0.2", 6379, 2);
  ASSERT_NE(after, nullptr);
  EXPECT_NE(after.get(), before.get());

  EXPECT_EQ(after->version(), 2u);
  EXPECT_EQ(after->ownerOf(100), 1);
  EXPECT_EQ(after->ownerOf(99), 0);
  EXPECT_EQ(after->ownerOf(101), 0);
  EXPECT_EQ(after->nodes().size(), 4u);
  EXPECT_EQ(after->coveredSlots(), 16384u);
  EXPECT_EQ(after->slotCounts(), (std::vector<uint32_t>{5460, 5463, 5461, 0}));
  ASSERT_EQ(after->ranges().size(), 5u);
  expectRange(after->ranges()[0], 0, 99, 0);
  expectRange(after->ranges()[1], 100, 100, 1);
  expectRange(after->ranges()[2], 101, 5460, 0);

  // The old snapshot is immutable.
  EXPECT_EQ(before->version(), 1u);
  EXPECT_EQ(before->ownerOf(100), 0);
  EXPECT_EQ(before->slotCounts(), (std::vector<uint32_t>{5461, 5462, 5461, 0}));
}

TEST(SlotMap, WithSlotMovedToAnUnknownNodeAppendsItWithoutId) {
  SlotMapPtr before = threePrimaries(1);
  ASSERT_NE(before, nullptr);
  SlotMapPtr after = before->withSlotMoved(16383, "10.0.0.9", 7000, 5);
  ASSERT_NE(after, nullptr);

  ASSERT_EQ(after->nodes().size(), 5u);
  const NodeInfo& added = after->node(4);
  EXPECT_EQ(added.id, "");
  EXPECT_EQ(added.ip, "10.0.0.9");
  EXPECT_EQ(added.port, 7000);
  EXPECT_EQ(added.role, Role::kPrimary);
  EXPECT_EQ(added.health, Health::kOnline);
  EXPECT_EQ(after->ownerOf(16383), 4);
  EXPECT_EQ(after->ownerOf(16382), 2);
  EXPECT_EQ(after->findByAddress("10.0.0.9", 7000), std::optional<uint16_t>(4));
  EXPECT_EQ(after->version(), 5u);
  EXPECT_EQ(after->coveredSlots(), 16384u);

  EXPECT_EQ(before->nodes().size(), 4u);
  EXPECT_EQ(before->ownerOf(16383), 2);
  EXPECT_EQ(before->findByAddress("10.0.0.9", 7000), std::nullopt);
  EXPECT_EQ(before->version(), 1u);

  // A second MOVED to the same new address reuses the added node.
  SlotMapPtr again = after->withSlotMoved(16382, "10.0.0.9", 7000, 6);
  EXPECT_EQ(again->nodes().size(), 5u);
  EXPECT_EQ(again->ownerOf(16382), 4);
}

TEST(SlotMap, WithSlotMovedToAReplicaMakesItPrimaryInTheCopyOnly) {
  SlotMapPtr before = threePrimaries(1);
  ASSERT_NE(before, nullptr);
  SlotMapPtr after = before->withSlotMoved(0, "10.0.0.4", 6379, 2);
  EXPECT_EQ(after->ownerOf(0), 3);
  EXPECT_EQ(after->node(3).role, Role::kPrimary);
  EXPECT_EQ(before->node(3).role, Role::kReplica);
}

TEST(SlotMap, WithSlotMovedIntoAnUncoveredSlotCountsIt) {
  SlotMapBuilder b;
  b.assign(0, 9, b.addNode(node("a", "10.0.0.1", 6379)));
  std::string error;
  SlotMapPtr before = b.build(1, &error);
  ASSERT_NE(before, nullptr) << error;
  SlotMapPtr after = before->withSlotMoved(500, "10.0.0.1", 6379, 2);
  EXPECT_EQ(after->coveredSlots(), 11u);
  EXPECT_EQ(after->ownerOf(500), 0);
  EXPECT_EQ(before->coveredSlots(), 10u);
  EXPECT_EQ(before->ownerOf(500), SlotMap::kNoNode);
}

TEST(SlotMap, WithVersionCopiesEverythingButTheVersion) {
  SlotMapPtr before = threePrimaries(3);
  ASSERT_NE(before, nullptr);
  SlotMapPtr after = before->withVersion(9);
  ASSERT_NE(after, nullptr);
  EXPECT_NE(after.get(), before.get());
  EXPECT_EQ(after->version(), 9u);
  EXPECT_EQ(before->version(), 3u);
  EXPECT_EQ(after->nodes().size(), 4u);
  EXPECT_EQ(after->slotCounts(), before->slotCounts());
  EXPECT_EQ(after->coveredSlots(), 16384u);
  EXPECT_EQ(after->node(1).id, "id-b");
}

}  // namespace
}  // namespace slotproxy::cluster
