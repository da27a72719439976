// TopologyHub: what worker 0 (the leader) and the other workers (followers) hand each other.
// The async handles are initialised on a loop that never runs: only the hub's bookkeeping is
// under test here (lifecycle_test runs real threads).

#include "proxy/server/topology_hub.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <string>

namespace slotproxy::server {
namespace {

cluster::SlotMapPtr mapWithOneNode(const std::string& id) {
  cluster::SlotMapBuilder b;
  cluster::NodeInfo n;
  n.id = id;
  n.ip = "10.0.0.1";
  n.port = 6379;
  b.assign(0, cluster::kSlotCount - 1, b.addNode(n));
  std::string error;
  cluster::SlotMapPtr map = b.build(1, &error);
  EXPECT_NE(map, nullptr) << error;
  return map;
}

class TopologyHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    for (uv_async_t* a : {&leader_, &f1_, &f2_}) uv_async_init(&loop_, a, nullptr);
  }
  void TearDown() override {
    for (uv_async_t* a : {&leader_, &f1_, &f2_}) {
      uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t loop_;
  uv_async_t leader_, f1_, f2_;
  TopologyHub hub_;
};

TEST_F(TopologyHubTest, FollowersGetTheNewestPublishedMapOnce) {
  hub_.setLeader(&leader_);
  hub_.addFollower(&f1_);
  hub_.addFollower(&f2_);
  EXPECT_FALSE(hub_.takeMap(&f1_).has_value());
  hub_.publish(mapWithOneNode("old"), "startup");
  hub_.publish(mapWithOneNode("new"), "moved");  // before f1 woke up: only the newest counts
  auto got = hub_.takeMap(&f1_);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->first->node(0).id, "new");
  EXPECT_EQ(got->second, "moved");
  EXPECT_FALSE(hub_.takeMap(&f1_).has_value());  // taken
  ASSERT_TRUE(hub_.takeMap(&f2_).has_value());   // each follower has its own
  EXPECT_FALSE(hub_.takeMap(&leader_).has_value());
}

TEST_F(TopologyHubTest, AsksReachTheLeaderInOrderAndNotAfterItLeft) {
  hub_.setLeader(&leader_);
  TopologyHub::Ask moved;
  moved.trigger = Trigger::kMoved;
  moved.ask_first = {{"10.0.0.2", 6379}};
  hub_.ask(moved);
  TopologyHub::Ask migration;
  migration.migration = true;
  hub_.ask(migration);
  const auto asks = hub_.takeAsks();
  ASSERT_EQ(asks.size(), 2u);
  EXPECT_EQ(asks[0].trigger, Trigger::kMoved);
  EXPECT_EQ(asks[0].ask_first.front().first, "10.0.0.2");
  EXPECT_FALSE(asks[1].trigger.has_value());
  EXPECT_TRUE(asks[1].migration);
  EXPECT_TRUE(hub_.takeAsks().empty());

  hub_.remove(&leader_);  // shutting down: asks are dropped, nothing is woken
  hub_.ask(moved);
  EXPECT_TRUE(hub_.takeAsks().empty());
}

TEST_F(TopologyHubTest, ARemovedFollowerIsNoLongerPublishedTo) {
  hub_.setLeader(&leader_);
  hub_.addFollower(&f1_);
  hub_.remove(&f1_);
  hub_.publish(mapWithOneNode("a"), "timer");
  EXPECT_FALSE(hub_.takeMap(&f1_).has_value());
}

}  // namespace
}  // namespace slotproxy::server
