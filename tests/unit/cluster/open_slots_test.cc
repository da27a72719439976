// parseOpenSlots: the migrating/importing slots a node reports on its own CLUSTER NODES line.

#include "proxy/cluster/open_slots.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace slotproxy::cluster {
namespace {

const std::string kA(40, 'a');
const std::string kB(40, 'b');
const std::string kC(40, 'c');

std::string line(const std::string& id, const std::string& flags, const std::string& slots) {
  return id + " 127.0.0.1:6379@16379 " + flags + " - 0 1700000000000 1 connected" +
         (slots.empty() ? "" : " " + slots) + "\n";
}

TEST(OpenSlotsTest, MigratingAndImportingEntriesOfTheMyselfLine) {
  const std::string text =
      line(kB, "master", "5461-10922 [7->-" + kA + "]") +  // another node's view: ignored
      line(kA, "myself,master", "0-5460 [42->-" + kB + "] [6000-<-" + kC + "]") +
      line(kC, "slave", "");
  std::vector<OpenSlot> open;
  ASSERT_TRUE(parseOpenSlots(text, &open));
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].slot, 42);
  EXPECT_TRUE(open[0].migrating);
  EXPECT_EQ(open[0].peer, kB);
  EXPECT_EQ(open[0].reporter, kA);
  EXPECT_EQ(open[1].slot, 6000);
  EXPECT_FALSE(open[1].migrating);
  EXPECT_EQ(open[1].peer, kC);
}

TEST(OpenSlotsTest, NoOpenSlotsAndCrlfLines) {
  std::vector<OpenSlot> open;
  std::string text = line(kA, "master,myself", "0-16383");
  text.insert(text.size() - 1, "\r");
  EXPECT_TRUE(parseOpenSlots(text, &open));
  EXPECT_TRUE(open.empty());
  EXPECT_TRUE(parseOpenSlots(line(kA, "myself,slave", ""), &open));  // a replica: none
  EXPECT_TRUE(open.empty());
}

TEST(OpenSlotsTest, NoMyselfLineOrAMalformedEntryIsRefused) {
  std::vector<OpenSlot> open;
  EXPECT_FALSE(parseOpenSlots("", &open));
  EXPECT_FALSE(parseOpenSlots(line(kA, "master", "[1->-" + kB + "]"), &open));
  EXPECT_FALSE(parseOpenSlots(line(kA, "myself,master", "[16384->-" + kB + "]"), &open));
  EXPECT_FALSE(parseOpenSlots(line(kA, "myself,master", "[x->-" + kB + "]"), &open));
  EXPECT_FALSE(parseOpenSlots(line(kA, "myself,master", "[1->-]"), &open));
  EXPECT_FALSE(parseOpenSlots(line(kA, "myself,master", "[1=" + kB + "]"), &open));
  EXPECT_TRUE(open.empty());
}

}  // namespace
}  // namespace slotproxy::cluster
