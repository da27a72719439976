#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cluster/key_slot.h"

namespace slotproxy::resp {
struct Value;
}

namespace slotproxy::cluster {

enum class Role : uint8_t { kPrimary, kReplica };
enum class Health : uint8_t { kOnline, kLoading, kFailed };

std::string_view roleName(Role role);
std::string_view healthName(Health health);

// One Redis node as a topology reply describes it. Nodes are identified by `id`: the same id at a
// new address is the same node, moved (a pod rescheduled with a new IP). A node learnt only from a
// MOVED redirect has an empty id until the next full refresh names it.
struct NodeInfo {
  std::string id;
  std::string ip;
  uint16_t port = 0;
  std::string hostname;  // announced hostname (cluster-announce-hostname), may be empty
  Role role = Role::kPrimary;
  std::string primary_id;  // replicas: the id of their primary
  Health health = Health::kOnline;

  std::string address() const;  // "ip:port", "[v6]:port"
};

struct SlotRange {
  uint16_t first = 0;
  uint16_t last = 0;
  uint16_t owner = 0;  // index into SlotMap::nodes()
};

// An immutable snapshot of the cluster: which node is primary for each of the 16384 slots. Built
// aside by SlotMapBuilder, validated, then swapped in as a whole (std::shared_ptr<const SlotMap>);
// a reply that does not validate changes nothing.
class SlotMap {
 public:
  static constexpr uint16_t kNoNode = 0xFFFF;

  uint16_t ownerOf(uint16_t slot) const { return owner_[slot]; }
  const std::vector<NodeInfo>& nodes() const { return nodes_; }
  const NodeInfo& node(uint16_t index) const { return nodes_[index]; }
  std::optional<uint16_t> findById(std::string_view id) const;
  std::optional<uint16_t> findByAddress(std::string_view ip, uint16_t port) const;

  size_t coveredSlots() const { return covered_; }
  // Slots whose owner is known and not failed.
  size_t servableSlots() const;
  std::vector<SlotRange> ranges() const;
  uint64_t version() const { return version_; }
  // Number of slots each node owns, indexed like nodes().
  std::vector<uint32_t> slotCounts() const;

  // A copy of this map stamped with another version.
  std::shared_ptr<const SlotMap> withVersion(uint64_t version) const;
  // A copy of this map where `slot` belongs to the node at ip:port (a MOVED redirect). A node not
  // yet in the map is added with an empty id; the next full refresh names it.
  std::shared_ptr<const SlotMap> withSlotMoved(uint16_t slot, std::string_view ip, uint16_t port,
                                               uint64_t version) const;

 private:
  friend class SlotMapBuilder;
  std::vector<NodeInfo> nodes_;
  std::array<uint16_t, kSlotCount> owner_{};
  size_t covered_ = 0;
  uint64_t version_ = 0;
};

using SlotMapPtr = std::shared_ptr<const SlotMap>;

class SlotMapBuilder {
 public:
  SlotMapBuilder();
  // Adds a node or returns the index of the node with the same id (same ip:port when id is empty).
  uint16_t addNode(NodeInfo node);
  // Gives slots [first, last] to node `owner`. Fails (sticky, reported by build) on a bad range or
  // on a slot already given to another node.
  void assign(uint32_t first, uint32_t last, uint16_t owner);
  // Validates and freezes the map; nullptr with *error set if it is not a sane cluster view.
  SlotMapPtr build(uint64_t version, std::string* error);
  // Number of nodes added so far.
  size_t nodeCount() const { return map_->nodes_.size(); }

 private:
  std::shared_ptr<SlotMap> map_;
  std::string error_;
};

// Parsers for the two topology replies. Both return nullptr with *error set on anything malformed.
// CLUSTER SHARDS (Redis 7.0+): RESP2 arrays of alternating field/value or RESP3 maps.
SlotMapPtr parseClusterShards(const resp::Value& reply, uint64_t version, std::string* error);
// CLUSTER SLOTS (fallback for Redis < 7.0).
SlotMapPtr parseClusterSlots(const resp::Value& reply, uint64_t version, std::string* error);

// Splits "ip:port", "[v6]:port" or "v6:port" (port after the last colon).
bool splitHostPort(std::string_view address, std::string* host, uint16_t* port);

}  // namespace slotproxy::cluster
