#include "proxy/cluster/refresh_policy.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "proxy/resp/value.h"
#include "tests/unit/cluster/test_data.h"

namespace slotproxy::cluster {
namespace {

using testing::Frame;
using testing::readData;

SlotMapPtr shardsMap(std::string_view name) {
  Frame f(readData(name));
  EXPECT_TRUE(f.ok());
  std::string error;
  SlotMapPtr m = parseClusterShards(f.value(), 1, &error);
  EXPECT_NE(m, nullptr) << error;
  return m;
}

uint64_t epochOf(std::string_view info_file) {
  Frame f(readData(info_file));
  EXPECT_TRUE(f.ok());
  return parseCurrentEpoch(f.value().str);
}

TEST(ParseCurrentEpoch, ReadsARealClusterInfo) {
  EXPECT_EQ(epochOf("healthy_info_resp2.bin"), 6u);
  EXPECT_EQ(epochOf("failover_info_resp2.bin"), 7u);
  EXPECT_EQ(epochOf("degraded_info_resp2.bin"), 7u);
}

TEST(ParseCurrentEpoch, ReadsAResp3VerbatimClusterInfo) {
  Frame f(readData("healthy_info_resp3.bin"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value().type, resp::Type::kVerbatim);
  EXPECT_EQ(parseCurrentEpoch(f.value().str), 6u);  // the "txt:" prefix is still there
}

TEST(ParseCurrentEpoch, HandBuiltTexts) {
  EXPECT_EQ(parseCurrentEpoch("cluster_my_epoch:3\r\ncluster_current_epoch:12\r\n"), 12u);
  EXPECT_EQ(parseCurrentEpoch("cluster_current_epoch:18446744073709551615"), 18446744073709551615u);
  EXPECT_EQ(parseCurrentEpoch("cluster_state:ok\r\ncluster_my_epoch:3\r\n"), 0u);
  EXPECT_EQ(parseCurrentEpoch(""), 0u);
}

TEST(ParseMyEpoch, ReadsTheConfigEpochOfTheNodeAsked) {
  Frame f(readData("healthy_info_resp2.bin"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(parseMyEpoch(f.value().str), 1u);  // recorded on the first primary
  EXPECT_EQ(parseMyEpoch("cluster_current_epoch:12\r\ncluster_my_epoch:3\r\n"), 3u);
  EXPECT_EQ(parseMyEpoch("cluster_current_epoch:12\r\n"), 0u);
  EXPECT_EQ(parseMyEpoch(""), 0u);
}

TopologyAnswer answer(std::string source, uint64_t epoch, SlotMapPtr map, uint64_t my_epoch = 0) {
  return TopologyAnswer{std::move(source), epoch, std::move(map), my_epoch};
}

TEST(PickBest, EmptyGivesNothing) {
  EXPECT_EQ(pickBest({}), std::nullopt);
  const std::vector<TopologyAnswer> none = {answer("a", 5, nullptr), answer("b", 9, nullptr)};
  EXPECT_EQ(pickBest(none), std::nullopt);
}

TEST(PickBest, HighestEpochWinsEvenWithFewerServableSlots) {
  // A node cut off before the failover (epoch 6) still sees every slot served; the others
  // (epoch 7) know the primary of 10923-16383 is dead.
  SlotMapPtr stale = shardsMap("healthy_shards_resp2.bin");
  SlotMapPtr degraded = shardsMap("degraded_shards_resp2.bin");
  ASSERT_NE(stale, nullptr);
  ASSERT_NE(degraded, nullptr);
  ASSERT_GT(stale->servableSlots(), degraded->servableSlots());
  const std::vector<TopologyAnswer> answers = {
      answer("127.0.77.1:7000", epochOf("healthy_info_resp2.bin"), stale),
      answer("127.0.77.2:7000", epochOf("degraded_info_resp2.bin"), degraded),
  };
  EXPECT_EQ(pickBest(answers), std::optional<size_t>(1));
  const std::vector<TopologyAnswer> reversed = {answers[1], answers[0]};
  EXPECT_EQ(pickBest(reversed), std::optional<size_t>(0));
}

TEST(PickBest, SameEpochPrefersMoreServableSlots) {
  SlotMapPtr degraded = shardsMap("degraded_shards_resp2.bin");
  SlotMapPtr failover = shardsMap("failover_shards_resp2.bin");
  const std::vector<TopologyAnswer> answers = {answer("a", 7, degraded), answer("b", 7, failover)};
  EXPECT_EQ(pickBest(answers), std::optional<size_t>(1));
  const std::vector<TopologyAnswer> reversed = {answer("b", 7, failover), answer("a", 7, degraded)};
  EXPECT_EQ(pickBest(reversed), std::optional<size_t>(0));
}

TEST(PickBest, SameEpochAndSlotsPrefersTheHigherConfigEpoch) {
  // A failover in progress: the winner's vote request raised every current epoch to 7, but a
  // node that has not heard the winner's announcement still gives the slots to the old primary.
  SlotMapPtr stale = shardsMap("healthy_shards_resp2.bin");
  SlotMapPtr fresh = shardsMap("failover_shards_resp2.bin");
  ASSERT_EQ(stale->servableSlots(), fresh->servableSlots());
  const std::vector<TopologyAnswer> answers = {answer("lagging", 7, stale, 2),
                                               answer("winner", 7, fresh, 7)};
  EXPECT_EQ(pickBest(answers), std::optional<size_t>(1));
  const std::vector<TopologyAnswer> reversed = {answers[1], answers[0]};
  EXPECT_EQ(pickBest(reversed), std::optional<size_t>(0));
}

TEST(PickBest, FullTieKeepsTheFirstAsked) {
  SlotMapPtr m = shardsMap("failover_shards_resp2.bin");
  const std::vector<TopologyAnswer> answers = {answer("a", 7, m), answer("b", 7, m),
                                               answer("c", 7, m)};
  EXPECT_EQ(pickBest(answers), std::optional<size_t>(0));
}

TEST(PickBest, AnswersWithoutAMapAreIgnored) {
  SlotMapPtr m = shardsMap("healthy_shards_resp2.bin");
  const std::vector<TopologyAnswer> answers = {answer("dead", 0, nullptr), answer("a", 3, m),
                                               answer("garbled", 99, nullptr)};
  EXPECT_EQ(pickBest(answers), std::optional<size_t>(1));
}

}  // namespace
}  // namespace slotproxy::cluster
