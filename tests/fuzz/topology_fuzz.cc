// libFuzzer target for the topology parsers: the input is one reply frame, as a node would send
// for CLUSTER SHARDS or CLUSTER SLOTS, given to both parseClusterShards and parseClusterSlots.
// A reply either fails with an error text or gives a map that holds together; anything else
// aborts:
//  - every owned slot's owner is a node of the map, and coveredSlots() counts the owned slots;
//  - ranges() tile exactly the owned slots, in order, and slotCounts() agrees;
//  - every node can be found by its id (when it has one) and by its address;
//  - withSlotMoved() hands one slot to the named address and leaves every other slot alone.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/cluster/slot_map.h"
#include "proxy/resp/decoder.h"
#include "proxy/resp/value.h"
#include "tests/fuzz/fuzz_check.h"

namespace slotproxy::cluster {
namespace {

using fuzz::check;

void checkMap(const SlotMap& map, uint64_t version, uint16_t probe_slot) {
  check(map.version() == version, "version kept");
  const auto& nodes = map.nodes();
  check(!nodes.empty(), "a map has nodes");
  size_t owned = 0;
  for (uint32_t s = 0; s < kSlotCount; ++s) {
    const uint16_t owner = map.ownerOf(static_cast<uint16_t>(s));
    if (owner == SlotMap::kNoNode) continue;
    check(owner < nodes.size(), "owner is a node of the map");
    ++owned;
  }
  check(map.coveredSlots() == owned, "coveredSlots counts the owned slots");
  check(map.servableSlots() <= owned, "servable slots are owned");

  size_t in_ranges = 0;
  int64_t previous_last = -1;
  for (const SlotRange& r : map.ranges()) {
    check(r.first <= r.last && r.last < kSlotCount, "range bounds");
    check(static_cast<int64_t>(r.first) > previous_last, "ranges in order, disjoint");
    for (uint32_t s = r.first; s <= r.last; ++s) {
      check(map.ownerOf(static_cast<uint16_t>(s)) == r.owner, "range slots have its owner");
    }
    in_ranges += r.last - r.first + 1u;
    previous_last = r.last;
  }
  check(in_ranges == owned, "ranges cover the owned slots");
  size_t counted = 0;
  for (const uint32_t n : map.slotCounts()) counted += n;
  check(counted == owned, "slotCounts sums to the owned slots");

  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeInfo& node = nodes[i];
    check(!node.ip.empty(), "a node has an address");
    if (!node.id.empty()) check(map.findById(node.id) == i, "node found by id");
    const auto by_address = map.findByAddress(node.ip, node.port);
    check(by_address.has_value() && map.node(*by_address).ip == node.ip &&
              map.node(*by_address).port == node.port,
          "node found by address");
  }

  // A MOVED to the first node's address, and one to an address the map does not know.
  const NodeInfo& first = nodes.front();
  for (const auto& [ip, port] : {std::pair<std::string, uint16_t>{first.ip, first.port},
                                 std::pair<std::string, uint16_t>{"10.255.255.254", 1}}) {
    const SlotMapPtr moved = map.withSlotMoved(probe_slot, ip, port, version + 1);
    check(moved != nullptr && moved->version() == version + 1, "moved map versioned");
    const NodeInfo& owner = moved->node(moved->ownerOf(probe_slot));
    check(owner.ip == ip && owner.port == port, "moved slot goes to the redirect's address");
    for (uint32_t s = 0; s < kSlotCount; ++s) {
      if (s == probe_slot) continue;
      const uint16_t before = map.ownerOf(static_cast<uint16_t>(s));
      const uint16_t after = moved->ownerOf(static_cast<uint16_t>(s));
      check(before == SlotMap::kNoNode
                ? after == SlotMap::kNoNode
                : after != SlotMap::kNoNode && moved->node(after).ip == map.node(before).ip &&
                      moved->node(after).port == map.node(before).port,
            "other slots keep their owner");
    }
  }
}

}  // namespace
}  // namespace slotproxy::cluster

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slotproxy;
  if (size < 2) return 0;
  // The first two bytes pick the slot a MOVED is replayed for; the rest is the reply.
  const auto probe_slot = static_cast<uint16_t>((data[0] | (data[1] << 8)) % cluster::kSlotCount);
  const std::string_view frame(reinterpret_cast<const char*>(data) + 2, size - 2);
  resp::Limits limits;
  limits.max_array_len = 1 << 16;
  resp::Value reply;
  if (!resp::parseValue(frame, &reply, limits)) return 0;
  constexpr uint64_t kVersion = 7;
  for (const auto parse : {&cluster::parseClusterShards, &cluster::parseClusterSlots}) {
    std::string error;
    const cluster::SlotMapPtr map = parse(reply, kVersion, &error);
    if (map == nullptr) {
      fuzz::check(!error.empty(), "a refused reply says why");
      continue;
    }
    cluster::checkMap(*map, kVersion, probe_slot);
  }
  return 0;
}
