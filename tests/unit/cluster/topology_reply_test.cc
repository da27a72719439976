// parseClusterShards / parseClusterSlots on replies captured from a real Redis 7.0.15 cluster
// (data/README.md) and on hand-built variants.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/cluster/slot_map.h"
#include "tests/unit/cluster/test_data.h"

namespace slotproxy::cluster {
namespace {

using testing::array;
using testing::bulk;
using testing::Frame;
using testing::integer;
using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::kN4;
using testing::kN5;
using testing::kN6;
using testing::kN7;
using testing::map;
using testing::readData;
using testing::simple;

void expectNode(const SlotMap& m, uint16_t index, std::string_view id, std::string_view ip,
                Role role, std::string_view primary_id, Health health, std::string_view hostname) {
  SCOPED_TRACE("node " + std::to_string(index));
  ASSERT_LT(index, m.nodes().size());
  const NodeInfo& n = m.node(index);
  EXPECT_EQ(n.id, id);
  EXPECT_EQ(n.ip, ip);
  EXPECT_EQ(n.port, 7000);
  EXPECT_EQ(n.role, role);
  EXPECT_EQ(n.primary_id, primary_id);
  EXPECT_EQ(n.health, health);
  EXPECT_EQ(n.hostname, hostname);
}

SlotMapPtr parseShardsFile(std::string_view name, uint64_t version) {
  Frame f(readData(name));
  EXPECT_TRUE(f.ok()) << name;
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), version, &error);
  EXPECT_NE(m, nullptr) << name << ": " << error;
  EXPECT_EQ(error, "") << name;
  return m;
}

SlotMapPtr parseSlotsFile(std::string_view name, uint64_t version) {
  Frame f(readData(name));
  EXPECT_TRUE(f.ok()) << name;
  std::string error;
  SlotMapPtr m = parseClusterSlots(f.value(), version, &error);
  EXPECT_NE(m, nullptr) << name << ": " << error;
  EXPECT_EQ(error, "") << name;
  return m;
}

// Parses a hand-built frame with `parse` and expects it to be rejected with `expected_error`.
template <typename Parse>
void expectRejected(Parse parse, const std::string& frame, std::string_view expected_error) {
  SCOPED_TRACE(frame);
  Frame f(frame);
  ASSERT_TRUE(f.ok());
  std::string error;
  EXPECT_EQ(parse(f.value(), 1, &error), nullptr);
  EXPECT_EQ(error, expected_error);
}

// ------------------------------------------------------------------------------------------------
// CLUSTER SHARDS, captured

class HealthyShards : public ::testing::TestWithParam<const char*> {};

TEST_P(HealthyShards, GivesEveryNodeAndSlotOwner) {
  SlotMapPtr m = parseShardsFile(GetParam(), 42);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->version(), 42u);
  ASSERT_EQ(m->nodes().size(), 6u);
  // In reply order: each shard's primary, then its replica.
  expectNode(*m, 0, kN1, "127.0.77.1", Role::kPrimary, "", Health::kOnline, "node-1.redis.test");
  expectNode(*m, 1, kN5, "127.0.77.5", Role::kReplica, kN1, Health::kOnline, "");
  expectNode(*m, 2, kN3, "127.0.77.3", Role::kPrimary, "", Health::kOnline, "node-3.redis.test");
  expectNode(*m, 3, kN4, "127.0.77.4", Role::kReplica, kN3, Health::kOnline, "");
  expectNode(*m, 4, kN2, "127.0.77.2", Role::kPrimary, "", Health::kOnline, "node-2.redis.test");
  expectNode(*m, 5, kN6, "127.0.77.6", Role::kReplica, kN2, Health::kOnline, "");

  EXPECT_EQ(m->coveredSlots(), 16384u);
  EXPECT_EQ(m->servableSlots(), 16384u);
  EXPECT_EQ(m->ownerOf(0), 0);
  EXPECT_EQ(m->ownerOf(5460), 0);
  EXPECT_EQ(m->ownerOf(5461), 4);
  EXPECT_EQ(m->ownerOf(10922), 4);
  EXPECT_EQ(m->ownerOf(10923), 2);
  EXPECT_EQ(m->ownerOf(16383), 2);
  EXPECT_EQ(m->slotCounts(), (std::vector<uint32_t>{5461, 0, 5461, 0, 5462, 0}));
  EXPECT_EQ(m->findById(kN6), std::optional<uint16_t>(5));
  EXPECT_EQ(m->findByAddress("127.0.77.2", 7000), std::optional<uint16_t>(4));
}

INSTANTIATE_TEST_SUITE_P(Resp2AndResp3, HealthyShards,
                         ::testing::Values("healthy_shards_resp2.bin", "healthy_shards_resp3.bin"));

TEST(ClusterShards, AfterFailoverTheOldPrimaryIsAFailedShardWithoutSlots) {
  SlotMapPtr m = parseShardsFile("failover_shards_resp2.bin", 1);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->nodes().size(), 6u);
  expectNode(*m, 0, kN2, "127.0.77.2", Role::kPrimary, "", Health::kOnline, "node-2.redis.test");
  expectNode(*m, 1, kN6, "127.0.77.6", Role::kReplica, kN2, Health::kOnline, "");
  expectNode(*m, 2, kN5, "127.0.77.5", Role::kPrimary, "", Health::kOnline, "");
  expectNode(*m, 3, kN3, "127.0.77.3", Role::kPrimary, "", Health::kOnline, "node-3.redis.test");
  expectNode(*m, 4, kN4, "127.0.77.4", Role::kReplica, kN3, Health::kOnline, "");
  expectNode(*m, 5, kN1, "127.0.77.1", Role::kPrimary, "", Health::kFailed, "node-1.redis.test");
  EXPECT_EQ(m->ownerOf(0), 2);  // the promoted replica
  EXPECT_EQ(m->ownerOf(5461), 0);
  EXPECT_EQ(m->ownerOf(10923), 3);
  EXPECT_EQ(m->slotCounts(), (std::vector<uint32_t>{5462, 0, 5461, 5461, 0, 0}));
  EXPECT_EQ(m->servableSlots(), 16384u);
}

class DegradedShards : public ::testing::TestWithParam<const char*> {};

TEST_P(DegradedShards, ReportFailedPrimaryAndLoadingReplica) {
  SlotMapPtr m = parseShardsFile(GetParam(), 1);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->nodes().size(), 7u);
  expectNode(*m, 0, kN2, "127.0.77.2", Role::kPrimary, "", Health::kOnline, "node-2.redis.test");
  expectNode(*m, 1, kN6, "127.0.77.6", Role::kReplica, kN2, Health::kOnline, "");
  expectNode(*m, 2, kN5, "127.0.77.5", Role::kPrimary, "", Health::kOnline, "");
  expectNode(*m, 3, kN3, "127.0.77.3", Role::kPrimary, "", Health::kFailed, "node-3.redis.test");
  expectNode(*m, 4, kN4, "127.0.77.4", Role::kReplica, kN3, Health::kOnline, "");
  expectNode(*m, 5, kN7, "127.0.77.7", Role::kReplica, kN3, Health::kLoading, "");
  expectNode(*m, 6, kN1, "127.0.77.1", Role::kPrimary, "", Health::kFailed, "node-1.redis.test");
  // The dead primary still owns its slots; they are covered but not servable.
  EXPECT_EQ(m->ownerOf(10923), 3);
  EXPECT_EQ(m->ownerOf(16383), 3);
  EXPECT_EQ(m->coveredSlots(), 16384u);
  EXPECT_EQ(m->servableSlots(), 16384u - 5461u);
}

INSTANTIATE_TEST_SUITE_P(Resp2AndResp3, DegradedShards,
                         ::testing::Values("degraded_shards_resp2.bin",
                                           "degraded_shards_resp3.bin"));

// ------------------------------------------------------------------------------------------------
// CLUSTER SHARDS, hand-built

std::string shardNode(std::string_view id, std::string_view ip, int64_t port, std::string_view role,
                      std::string_view health) {
  return array({bulk("id"), bulk(id), bulk("port"), integer(port), bulk("ip"), bulk(ip),
                bulk("endpoint"), bulk(ip), bulk("role"), bulk(role), bulk("replication-offset"),
                integer(100), bulk("health"), bulk(health)});
}

std::string shard(const std::string& slots, const std::string& nodes) {
  return array({bulk("slots"), slots, bulk("nodes"), nodes});
}

const auto kParseShards = [](const resp::Value& v, uint64_t version, std::string* error) {
  return parseClusterShards(v, version, error);
};

TEST(ClusterShards, ReplicaListedBeforeItsPrimaryGetsThePrimaryId) {
  Frame f(array({shard(array({integer(0), integer(99), integer(200), integer(16383)}),
                       array({shardNode("r", "10.0.0.2", 6379, "replica", "online"),
                              shardNode("p", "10.0.0.1", 6379, "master", "online")}))}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  ASSERT_EQ(m->nodes().size(), 2u);
  EXPECT_EQ(m->node(0).role, Role::kReplica);
  EXPECT_EQ(m->node(0).primary_id, "p");
  EXPECT_EQ(m->node(1).role, Role::kPrimary);
  // Two ranges in one shard.
  EXPECT_EQ(m->ownerOf(0), 1);
  EXPECT_EQ(m->ownerOf(99), 1);
  EXPECT_EQ(m->ownerOf(100), SlotMap::kNoNode);
  EXPECT_EQ(m->ownerOf(200), 1);
  EXPECT_EQ(m->coveredSlots(), 100u + 16184u);
}

TEST(ClusterShards, UsesEndpointWithoutIpAndTlsPortWithoutPort) {
  Frame f(array({shard(array({integer(0), integer(16383)}),
                       array({array({bulk("id"), bulk("p"), bulk("tls-port"), integer(6380),
                                     bulk("endpoint"), bulk("redis-0.svc"), bulk("role"),
                                     bulk("master"), bulk("health"), bulk("online")})}))}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  EXPECT_EQ(m->node(0).ip, "redis-0.svc");
  EXPECT_EQ(m->node(0).port, 6380);
  EXPECT_EQ(m->node(0).hostname, "");
}

TEST(ClusterShards, FailedOldPrimaryListedFirstInItsShardDoesNotGetTheSlots) {
  // Redis 7.2+ groups nodes by shard id, so after a failover the dead old primary (still flagged
  // master) is listed first in the shard of the promoted replica (redis/redis#13422).
  Frame f(array({shard(array({integer(0), integer(16383)}),
                       array({shardNode("old", "10.0.0.1", 6379, "master", "fail"),
                              shardNode("new", "10.0.0.2", 6379, "master", "online"),
                              shardNode("r", "10.0.0.3", 6379, "replica", "online")}))}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  EXPECT_EQ(m->ownerOf(0), 1);
  EXPECT_EQ(m->node(2).primary_id, "new");
  EXPECT_EQ(m->servableSlots(), 16384u);
}

TEST(ClusterShards, FailedOldPrimaryListedSecondInItsShardDoesNotGetTheSlots) {
  Frame f(array({shard(array({integer(0), integer(16383)}),
                       array({shardNode("new", "10.0.0.2", 6379, "master", "online"),
                              shardNode("old", "10.0.0.1", 6379, "master", "fail"),
                              shardNode("r", "10.0.0.3", 6379, "replica", "online")}))}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  EXPECT_EQ(m->node(m->ownerOf(0)).id, "new");
  EXPECT_EQ(m->servableSlots(), 16384u);
}

TEST(ClusterShards, NodeInTwoShardsIsOneNode) {
  // A node cannot be in two shards in Redis, but a reply naming it twice must not duplicate it.
  Frame f(array({shard(array({integer(0), integer(10)}),
                       array({shardNode("p", "10.0.0.1", 6379, "master", "online")})),
                 shard(array({integer(11), integer(20)}),
                       array({shardNode("p", "10.0.0.1", 6379, "master", "online")}))}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  EXPECT_EQ(m->nodes().size(), 1u);
  EXPECT_EQ(m->coveredSlots(), 21u);
}

TEST(ClusterShards, RejectsWhatIsNotAnArray) {
  expectRejected(kParseShards, simple("OK"), "CLUSTER SHARDS: reply is not an array");
  expectRejected(kParseShards, integer(3), "CLUSTER SHARDS: reply is not an array");
  expectRejected(kParseShards, "*-1\r\n", "CLUSTER SHARDS: reply is not an array");
  expectRejected(kParseShards, "-ERR unknown subcommand 'shards'\r\n",
                 "CLUSTER SHARDS: reply is not an array");
}

TEST(ClusterShards, RejectsEmptyReply) {
  expectRejected(kParseShards, "*0\r\n", "no nodes in topology reply");
}

TEST(ClusterShards, RejectsShardWithoutSlotsOrNodes) {
  const std::string kError = "CLUSTER SHARDS: shard without slots or nodes";
  const std::string nodes = array({shardNode("p", "10.0.0.1", 6379, "master", "online")});
  expectRejected(kParseShards, array({array({bulk("slots"), array({integer(0), integer(1)})})}),
                 kError);
  expectRejected(kParseShards, array({array({bulk("nodes"), nodes})}), kError);
  expectRejected(kParseShards, array({shard(array({integer(0), integer(1)}), bulk("nodes"))}),
                 kError);
  expectRejected(kParseShards, array({shard(integer(0), nodes)}), kError);
  expectRejected(kParseShards, array({shard(array({integer(0)}), nodes)}), kError);  // odd
  expectRejected(kParseShards, array({bulk("slots")}), kError);  // shard not an aggregate
}

TEST(ClusterShards, RejectsBadRanges) {
  const std::string nodes = array({shardNode("p", "10.0.0.1", 6379, "master", "online")});
  expectRejected(kParseShards, array({shard(array({integer(-1), integer(5)}), nodes)}),
                 "CLUSTER SHARDS: bad slot range");
  expectRejected(kParseShards, array({shard(array({bulk("zero"), integer(5)}), nodes)}),
                 "CLUSTER SHARDS: bad slot range");
  expectRejected(kParseShards, array({shard(array({integer(0), "$-1\r\n"}), nodes)}),
                 "CLUSTER SHARDS: bad slot range");
  expectRejected(kParseShards, array({shard(array({integer(0), integer(16384)}), nodes)}),
                 "bad slot range 0-16384");
  expectRejected(kParseShards, array({shard(array({integer(9), integer(8)}), nodes)}),
                 "bad slot range 9-8");
}

// Slot numbers are parsed as int64: values past 32 bits must be rejected, not narrowed (they were
// once taken as 0..4).
TEST(ClusterShards, RejectsSlotNumbersBeyond32Bits) {
  const std::string nodes = array({shardNode("p", "10.0.0.1", 6379, "master", "online")});
  Frame f(array({shard(array({integer(4294967296), integer(4294967300)}), nodes)}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  EXPECT_TRUE(m == nullptr) << "accepted, slot 0 owner: " << (m ? m->ownerOf(0) : 0);
  EXPECT_NE(error, "");
}

TEST(ClusterShards, RejectsShardWithSlotsButNoPrimary) {
  expectRejected(kParseShards,
                 array({shard(array({integer(0), integer(16383)}),
                              array({shardNode("r", "10.0.0.2", 6379, "replica", "online")}))}),
                 "CLUSTER SHARDS: shard with slots but no primary");
  expectRejected(kParseShards, array({shard(array({integer(0), integer(16383)}), array({}))}),
                 "CLUSTER SHARDS: shard with slots but no primary");
}

TEST(ClusterShards, AcceptsShardWithoutSlotsAndWithoutPrimary) {
  Frame f(array({shard(array({integer(0), integer(16383)}),
                       array({shardNode("p", "10.0.0.1", 6379, "master", "online")})),
                 shard(array({}), array({shardNode("r", "10.0.0.2", 6379, "replica", "fail")}))}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  ASSERT_EQ(m->nodes().size(), 2u);
  EXPECT_EQ(m->node(1).primary_id, "");
  EXPECT_EQ(m->node(1).health, Health::kFailed);
}

TEST(ClusterShards, RejectsNodeWithoutIdOrPort) {
  const std::string kError = "CLUSTER SHARDS: node without id or port";
  const std::string slots = array({integer(0), integer(16383)});
  expectRejected(
      kParseShards,
      array({shard(slots, array({shardNode("", "10.0.0.1", 6379, "master", "online")}))}), kError);
  expectRejected(kParseShards,
                 array({shard(slots, array({shardNode("p", "10.0.0.1", 0, "master", "online")}))}),
                 kError);
  expectRejected(
      kParseShards,
      array({shard(slots, array({shardNode("p", "10.0.0.1", 65536, "master", "online")}))}),
      kError);
  expectRejected(
      kParseShards,
      array({shard(slots, array({array({bulk("id"), bulk("p"), bulk("ip"), bulk("10.0.0.1"),
                                        bulk("role"), bulk("master")})}))}),
      kError);
  expectRejected(kParseShards, array({shard(slots, array({integer(1)}))}), kError);
}

TEST(ClusterShards, RejectsSlotClaimedByTwoShards) {
  expectRejected(kParseShards,
                 array({shard(array({integer(0), integer(100)}),
                              array({shardNode("a", "10.0.0.1", 6379, "master", "online")})),
                        shard(array({integer(100), integer(200)}),
                              array({shardNode("b", "10.0.0.2", 6379, "master", "online")}))}),
                 "slot 100 claimed by two nodes (10.0.0.1:6379, 10.0.0.2:6379)");
}

TEST(ClusterShards, RejectsNodeWithoutAddress) {
  expectRejected(kParseShards,
                 array({shard(array({integer(0), integer(16383)}),
                              array({shardNode("p", "", 6379, "master", "online")}))}),
                 "node p has no address");
}

TEST(ClusterShards, Resp3MapHandBuilt) {
  Frame f(array({map({bulk("slots"), array({integer(0), integer(16383)}), bulk("nodes"),
                      array({map({bulk("id"), bulk("p"), bulk("port"), integer(6379), bulk("ip"),
                                  bulk("::1"), bulk("hostname"), bulk("h"), bulk("role"),
                                  bulk("master"), bulk("health"), bulk("loading")})})})}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  EXPECT_EQ(m->node(0).ip, "::1");
  EXPECT_EQ(m->node(0).address(), "[::1]:6379");
  EXPECT_EQ(m->node(0).hostname, "h");
  EXPECT_EQ(m->node(0).health, Health::kLoading);
  EXPECT_EQ(m->servableSlots(), 16384u);
}

// ------------------------------------------------------------------------------------------------
// CLUSTER SLOTS, captured

class HealthySlots : public ::testing::TestWithParam<const char*> {};

TEST_P(HealthySlots, GivesEveryNodeAndSlotOwner) {
  SlotMapPtr m = parseSlotsFile(GetParam(), 3);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->version(), 3u);
  ASSERT_EQ(m->nodes().size(), 6u);
  // 7.0 node entries: ip, port, id, {hostname: ...} (an empty map/array without hostname).
  expectNode(*m, 0, kN1, "127.0.77.1", Role::kPrimary, "", Health::kOnline, "node-1.redis.test");
  expectNode(*m, 1, kN5, "127.0.77.5", Role::kReplica, kN1, Health::kOnline, "");
  expectNode(*m, 2, kN2, "127.0.77.2", Role::kPrimary, "", Health::kOnline, "node-2.redis.test");
  expectNode(*m, 3, kN6, "127.0.77.6", Role::kReplica, kN2, Health::kOnline, "");
  expectNode(*m, 4, kN3, "127.0.77.3", Role::kPrimary, "", Health::kOnline, "node-3.redis.test");
  expectNode(*m, 5, kN4, "127.0.77.4", Role::kReplica, kN3, Health::kOnline, "");
  EXPECT_EQ(m->ownerOf(0), 0);
  EXPECT_EQ(m->ownerOf(5460), 0);
  EXPECT_EQ(m->ownerOf(5461), 2);
  EXPECT_EQ(m->ownerOf(10923), 4);
  EXPECT_EQ(m->ownerOf(16383), 4);
  EXPECT_EQ(m->coveredSlots(), 16384u);
  EXPECT_EQ(m->slotCounts(), (std::vector<uint32_t>{5461, 0, 5462, 0, 5461, 0}));
}

INSTANTIATE_TEST_SUITE_P(Resp2AndResp3, HealthySlots,
                         ::testing::Values("healthy_slots_resp2.bin", "healthy_slots_resp3.bin"));

TEST(ClusterSlots, AfterFailoverThePromotedReplicaOwnsTheSlots) {
  SlotMapPtr m = parseSlotsFile("failover_slots_resp2.bin", 1);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->nodes().size(), 5u);
  expectNode(*m, 0, kN5, "127.0.77.5", Role::kPrimary, "", Health::kOnline, "");
  expectNode(*m, 1, kN2, "127.0.77.2", Role::kPrimary, "", Health::kOnline, "node-2.redis.test");
  expectNode(*m, 2, kN6, "127.0.77.6", Role::kReplica, kN2, Health::kOnline, "");
  expectNode(*m, 3, kN3, "127.0.77.3", Role::kPrimary, "", Health::kOnline, "node-3.redis.test");
  expectNode(*m, 4, kN4, "127.0.77.4", Role::kReplica, kN3, Health::kOnline, "");
  EXPECT_EQ(m->ownerOf(0), 0);
  EXPECT_EQ(m->ownerOf(5461), 1);
  EXPECT_EQ(m->ownerOf(16383), 3);
  EXPECT_EQ(m->findById(kN1), std::nullopt);
}

// ------------------------------------------------------------------------------------------------
// CLUSTER SLOTS, hand-built

const auto kParseSlots = [](const resp::Value& v, uint64_t version, std::string* error) {
  return parseClusterSlots(v, version, error);
};

TEST(ClusterSlots, OlderTwoElementNodeEntriesAreKeyedByAddress) {
  // Redis 3.0: [ip, port] without id. The same address in two ranges is one node.
  Frame f(array({array({integer(0), integer(8191), array({bulk("10.0.0.1"), integer(6379)}),
                        array({bulk("10.0.0.2"), integer(6379)})}),
                 array({integer(8192), integer(16383), array({bulk("10.0.0.3"), integer(6379)})}),
                 array({integer(100), integer(100), array({bulk("10.0.0.1"), integer(6379)})})}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterSlots(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  ASSERT_EQ(m->nodes().size(), 3u);
  EXPECT_EQ(m->node(0).id, "");
  EXPECT_EQ(m->node(0).ip, "10.0.0.1");
  EXPECT_EQ(m->node(0).port, 6379);
  EXPECT_EQ(m->node(1).ip, "10.0.0.2");
  EXPECT_EQ(m->node(1).role, Role::kReplica);
  EXPECT_EQ(m->node(1).primary_id, "");
  EXPECT_EQ(m->node(2).ip, "10.0.0.3");
  EXPECT_EQ(m->node(2).role, Role::kPrimary);
  EXPECT_EQ(m->ownerOf(100), 0);
  EXPECT_EQ(m->ownerOf(8192), 2);
  EXPECT_EQ(m->coveredSlots(), 16384u);
}

TEST(ClusterSlots, ThreeElementEntriesAndHostnameMetadataInResp2AndResp3) {
  Frame f(array({array({integer(0), integer(16383),
                        array({bulk("10.0.0.1"), integer(6379), bulk("p"),
                               array({bulk("hostname"), bulk("redis-0.svc")})}),
                        array({bulk("10.0.0.2"), integer(6379), bulk("r1"),
                               map({bulk("hostname"), bulk("redis-1.svc")})}),
                        array({bulk("10.0.0.3"), integer(6379), bulk("r2")})})}));
  ASSERT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterSlots(f.value(), 1, &error);
  ASSERT_NE(m, nullptr) << error;
  ASSERT_EQ(m->nodes().size(), 3u);
  EXPECT_EQ(m->node(0).id, "p");
  EXPECT_EQ(m->node(0).hostname, "redis-0.svc");
  EXPECT_EQ(m->node(1).id, "r1");
  EXPECT_EQ(m->node(1).hostname, "redis-1.svc");
  EXPECT_EQ(m->node(1).primary_id, "p");
  EXPECT_EQ(m->node(2).id, "r2");
  EXPECT_EQ(m->node(2).hostname, "");
  EXPECT_EQ(m->node(2).primary_id, "p");
}

TEST(ClusterSlots, RejectsWhatIsNotAnArray) {
  expectRejected(kParseSlots, simple("OK"), "CLUSTER SLOTS: reply is not an array");
  expectRejected(kParseSlots, "*-1\r\n", "CLUSTER SLOTS: reply is not an array");
  expectRejected(kParseSlots, bulk("x"), "CLUSTER SLOTS: reply is not an array");
}

TEST(ClusterSlots, RejectsEmptyReply) {
  expectRejected(kParseSlots, "*0\r\n", "no nodes in topology reply");
}

TEST(ClusterSlots, RejectsMalformedRangeEntries) {
  const std::string kError = "CLUSTER SLOTS: malformed slot range entry";
  const std::string n = array({bulk("10.0.0.1"), integer(6379), bulk("p")});
  expectRejected(kParseSlots, array({array({integer(0), integer(16383)})}), kError);  // no node
  expectRejected(kParseSlots, array({array({integer(-1), integer(16383), n})}), kError);
  expectRejected(kParseSlots, array({array({bulk("a"), integer(16383), n})}), kError);
  expectRejected(kParseSlots, array({array({integer(0), bulk("16383x"), n})}), kError);
  expectRejected(kParseSlots, array({integer(0)}), kError);
}

TEST(ClusterSlots, RejectsMalformedNodeEntries) {
  const std::string kError = "CLUSTER SLOTS: malformed node entry";
  expectRejected(kParseSlots, array({array({integer(0), integer(1), array({bulk("10.0.0.1")})})}),
                 kError);
  expectRejected(kParseSlots,
                 array({array({integer(0), integer(1), array({bulk("10.0.0.1"), integer(0)})})}),
                 kError);
  expectRejected(
      kParseSlots,
      array({array({integer(0), integer(1), array({bulk("10.0.0.1"), integer(65536)})})}), kError);
  expectRejected(kParseSlots,
                 array({array({integer(0), integer(1), array({integer(1), integer(6379)})})}),
                 kError);
  expectRejected(kParseSlots, array({array({integer(0), integer(1), bulk("10.0.0.1:6379")})}),
                 kError);
}

TEST(ClusterSlots, RejectsOutOfBoundsAndOverlappingRanges) {
  const std::string a = array({bulk("10.0.0.1"), integer(6379), bulk("a")});
  const std::string b = array({bulk("10.0.0.2"), integer(6379), bulk("b")});
  expectRejected(kParseSlots, array({array({integer(0), integer(16384), a})}),
                 "bad slot range 0-16384");
  expectRejected(kParseSlots,
                 array({array({integer(0), integer(10), a}), array({integer(5), integer(20), b})}),
                 "slot 5 claimed by two nodes (10.0.0.1:6379, 10.0.0.2:6379)");
}

TEST(ClusterSlots, RejectsNodeWithEmptyIp) {
  expectRejected(
      kParseSlots,
      array({array({integer(0), integer(16383), array({bulk(""), integer(6379), bulk("p")})})}),
      "node p has no address");
}

// See ClusterShards.RejectsSlotNumbersBeyond32Bits.
TEST(ClusterSlots, RejectsSlotNumbersBeyond32Bits) {
  Frame f(array({array({integer(4294967296), integer(4294967300),
                        array({bulk("10.0.0.1"), integer(6379), bulk("p")})})}));
  ASSERT_TRUE(f.ok());
  std::string error;
  EXPECT_TRUE(parseClusterSlots(f.value(), 1, &error) == nullptr);
  EXPECT_NE(error, "");
}

// ------------------------------------------------------------------------------------------------
// splitHostPort

struct HostPort {
  bool ok;
  std::string host;
  uint16_t port;
};

HostPort split(std::string_view address) {
  HostPort out{false, "untouched", 1};
  out.ok = splitHostPort(address, &out.host, &out.port);
  return out;
}

TEST(SplitHostPort, Ipv4) {
  const HostPort r = split("127.0.0.1:6379");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.host, "127.0.0.1");
  EXPECT_EQ(r.port, 6379);
}

TEST(SplitHostPort, BracketedIpv6) {
  const HostPort r = split("[::1]:6380");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.host, "::1");
  EXPECT_EQ(r.port, 6380);
  const HostPort full = split("[2001:db8::a:b]:65535");
  EXPECT_TRUE(full.ok);
  EXPECT_EQ(full.host, "2001:db8::a:b");
  EXPECT_EQ(full.port, 65535);
}

TEST(SplitHostPort, UnmatchedBracketIsRejected) {
  EXPECT_FALSE(split("[::1:6379").ok);
  EXPECT_FALSE(split("::1]:6379").ok);
}

TEST(SplitHostPort, BareIpv6PortIsAfterTheLastColon) {
  const HostPort r = split("fe80::1:7000");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.host, "fe80::1");
  EXPECT_EQ(r.port, 7000);
}

TEST(SplitHostPort, Hostname) {
  const HostPort r = split("redis-0.redis.default.svc:1");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.host, "redis-0.redis.default.svc");
  EXPECT_EQ(r.port, 1);
}

TEST(SplitHostPort, RejectsBadPortsAndMissingParts) {
  for (const std::string_view bad :
       {"", "127.0.0.1", "127.0.0.1:", ":6379", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:99999999999", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x",
        "127.0.0.1:6379 ", "127.0.0.1: 6379", "127.0.0.1:0x50", "[::1]"}) {
    const HostPort r = split(bad);
    EXPECT_FALSE(r.ok) << "'" << bad << "' gave " << r.host << " " << r.port;
  }
}

}  // namespace
}  // namespace slotproxy::cluster
