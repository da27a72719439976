#include "proxy/cluster/slot_map.h"

#include <charconv>

#include "proxy/resp/value.h"

namespace slotproxy::cluster {

using resp::Type;
using resp::Value;

std::string_view roleName(Role role) { return role == Role::kPrimary ? "primary" : "replica"; }

std::string_view healthName(Health health) {
  switch (health) {
    case Health::kOnline:
      return "online";
    case Health::kLoading:
      return "loading";
    case Health::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string NodeInfo::address() const {
  std::string out;
  const bool v6 = ip.find(':') != std::string::npos;
  out.reserve(ip.size() + 8);
  if (v6) out += '[';
  out += ip;
  if (v6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

bool splitHostPort(std::string_view address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) return false;
  std::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.find_first_of("[]") != std::string_view::npos) return false;  // unmatched bracket
  const std::string_view p = address.substr(colon + 1);
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || ptr != p.data() + p.size() || value == 0 || value > 65535) return false;
  host->assign(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

std::optional<uint16_t> SlotMap::findById(std::string_view id) const {
  if (id.empty()) return std::nullopt;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].id == id) return static_cast<uint16_t>(i);
  }
  return std::nullopt;
}

std::optional<uint16_t> SlotMap::findByAddress(std::string_view ip, uint16_t port) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].port == port && nodes_[i].ip == ip) return static_cast<uint16_t>(i);
  }
  return std::nullopt;
}

size_t SlotMap::servableSlots() const {
  size_t n = 0;
  for (const uint16_t owner : owner_) {
    if (owner != kNoNode && nodes_[owner].health != Health::kFailed) ++n;
  }
  return n;
}

std::vector<SlotRange> SlotMap::ranges() const {
  std::vector<SlotRange> out;
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    const uint16_t owner = owner_[slot];
    if (owner == kNoNode) continue;
    if (!out.empty() && out.back().owner == owner && out.back().last + 1u == slot) {
      out.back().last = static_cast<uint16_t>(slot);
    } else {
      out.push_back({static_cast<uint16_t>(slot), static_cast<uint16_t>(slot), owner});
    }
  }
  return out;
}

std::vector<uint32_t> SlotMap::slotCounts() const {
  std::vector<uint32_t> counts(nodes_.size(), 0);
  for (const uint16_t owner : owner_) {
    if (owner != kNoNode) ++counts[owner];
  }
  return counts;
}

std::shared_ptr<const SlotMap> SlotMap::withVersion(uint64_t version) const {
  auto next = std::make_shared<SlotMap>(*this);
  next->version_ = version;
  return next;
}

std::shared_ptr<const SlotMap> SlotMap::withSlotMoved(uint16_t slot, std::string_view ip,
                                                      uint16_t port, uint64_t version) const {
  auto next = std::make_shared<SlotMap>(*this);
  next->version_ = version;
  std::optional<uint16_t> target = findByAddress(ip, port);
  if (!target) {
    NodeInfo node;
    node.ip.assign(ip);
    node.port = port;
    next->nodes_.push_back(std::move(node));
    target = static_cast<uint16_t>(next->nodes_.size() - 1);
  }
  // A node that answers MOVED for a slot it was redirected to is its primary now.
  next->nodes_[*target].role = Role::kPrimary;
  if (next->owner_[slot] == kNoNode) ++next->covered_;
  next->owner_[slot] = *target;
  return next;
}

SlotMapBuilder::SlotMapBuilder() : map_(std::make_shared<SlotMap>()) {
  map_->owner_.fill(SlotMap::kNoNode);
}

uint16_t SlotMapBuilder::addNode(NodeInfo node) {
  auto& nodes = map_->nodes_;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const bool same = node.id.empty() ? (nodes[i].id.empty() && nodes[i].ip == node.ip &&
                                         nodes[i].port == node.port)
                                      : nodes[i].id == node.id;
    if (same) return static_cast<uint16_t>(i);
  }
  if (nodes.size() >= SlotMap::kNoNode - 1) {
    if (error_.empty()) error_ = "too many nodes";
    return 0;
  }
  nodes.push_back(std::move(node));
  return static_cast<uint16_t>(nodes.size() - 1);
}

void SlotMapBuilder::assign(uint32_t first, uint32_t last, uint16_t owner) {
  if (!error_.empty()) return;
  if (first > last || last >= kSlotCount) {
    error_ = "bad slot range " + std::to_string(first) + "-" + std::to_string(last);
    return;
  }
  if (owner >= map_->nodes_.size()) {
    error_ = "slot range owned by an unknown node";
    return;
  }
  for (uint32_t slot = first; slot <= last; ++slot) {
    uint16_t& current = map_->owner_[slot];
    if (current != SlotMap::kNoNode && current != owner) {
      error_ = "slot " + std::to_string(slot) + " claimed by two nodes (" +
               map_->nodes_[current].address() + ", " + map_->nodes_[owner].address() + ")";
      return;
    }
    if (current == SlotMap::kNoNode) ++map_->covered_;
    current = owner;
  }
}

SlotMapPtr SlotMapBuilder::build(uint64_t version, std::string* error) {
  if (error_.empty() && map_->nodes_.empty()) error_ = "no nodes in topology reply";
  if (error_.empty()) {
    for (const NodeInfo& node : map_->nodes_) {
      if (node.ip.empty() || node.port == 0) {
        error_ = "node " + node.id + " has no address";
        break;
      }
    }
  }
  if (!error_.empty()) {
    *error = error_;
    return nullptr;
  }
  map_->version_ = version;
  SlotMapPtr out = std::move(map_);
  map_ = std::make_shared<SlotMap>();
  map_->owner_.fill(SlotMap::kNoNode);
  return out;
}

namespace {

bool isAggregate(const Value& v) {
  return !v.is_null && (v.type == Type::kArray || v.type == Type::kMap || v.type == Type::kSet);
}

bool isText(const Value& v) {
  return !v.is_null && (v.type == Type::kBulkString || v.type == Type::kSimpleString ||
                        v.type == Type::kVerbatim);
}

// Looks a field up in a RESP2 field/value array or a RESP3 map.
const Value* field(const Value& v, std::string_view name) {
  if (!isAggregate(v)) return nullptr;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    if (isText(v.elements[i]) && v.elements[i].str == name) return &v.elements[i + 1];
  }
  return nullptr;
}

bool toInt(const Value& v, int64_t* out) {
  if (v.type == Type::kInteger) {
    *out = v.integer;
    return true;
  }
  if (!isText(v)) return false;
  const auto [ptr, ec] = std::from_chars(v.str.data(), v.str.data() + v.str.size(), *out);
  return ec == std::errc() && ptr == v.str.data() + v.str.size();
}

std::string text(const Value* v) { return v != nullptr && isText(*v) ? std::string(v->str) : ""; }

// Address a client should use: "ip" (endpoint may be a hostname or "?" for unknown).
bool nodeFromShard(const Value& n, NodeInfo* node, std::string* error) {
  node->id = text(field(n, "id"));
  node->ip = text(field(n, "ip"));
  if (node->ip.empty()) node->ip = text(field(n, "endpoint"));
  node->hostname = text(field(n, "hostname"));
  int64_t port = 0;
  const Value* p = field(n, "port");
  if (p == nullptr) p = field(n, "tls-port");
  if (node->id.empty() || p == nullptr || !toInt(*p, &port) || port <= 0 || port > 65535) {
    *error = "CLUSTER SHARDS: node without id or port";
    return false;
  }
  node->port = static_cast<uint16_t>(port);
  const std::string role = text(field(n, "role"));
  node->role = role == "master" ? Role::kPrimary : Role::kReplica;
  const std::string health = text(field(n, "health"));
  node->health = health == "online"    ? Health::kOnline
                 : health == "loading" ? Health::kLoading
                                       : Health::kFailed;
  return true;
}

}  // namespace

SlotMapPtr parseClusterShards(const Value& reply, uint64_t version, std::string* error) {
  if (!isAggregate(reply)) {
    *error = "CLUSTER SHARDS: reply is not an array";
    return nullptr;
  }
  SlotMapBuilder builder;
  for (const Value& shard : reply.elements) {
    const Value* slots = field(shard, "slots");
    const Value* nodes = field(shard, "nodes");
    if (slots == nullptr || nodes == nullptr || !isAggregate(*slots) || !isAggregate(*nodes) ||
        slots->elements.size() % 2 != 0) {
      *error = "CLUSTER SHARDS: shard without slots or nodes";
      return nullptr;
    }
    std::optional<uint16_t> primary;
    std::string primary_id;
    std::vector<NodeInfo> members;
    // Redis 7.2+ may list a failed old primary in its successor's shard: the live one owns.
    bool primary_failed = true;
    for (const Value& n : nodes->elements) {
      NodeInfo node;
      if (!nodeFromShard(n, &node, error)) return nullptr;
      const bool failed = node.health == Health::kFailed;
      if (node.role == Role::kPrimary && (primary_id.empty() || (primary_failed && !failed))) {
        primary_id = node.id;
        primary_failed = failed;
      }
      members.push_back(std::move(node));
    }
    for (NodeInfo& node : members) {
      const bool is_primary = node.id == primary_id;
      if (!is_primary) node.primary_id = primary_id;
      const uint16_t index = builder.addNode(std::move(node));
      if (is_primary) primary = index;
    }
    if (!slots->elements.empty() && !primary) {
      *error = "CLUSTER SHARDS: shard with slots but no primary";
      return nullptr;
    }
    for (size_t i = 0; i < slots->elements.size(); i += 2) {
      int64_t first = 0;
      int64_t last = 0;
      if (!toInt(slots->elements[i], &first) || !toInt(slots->elements[i + 1], &last) ||
          first < 0 || last < 0) {
        *error = "CLUSTER SHARDS: bad slot range";
        return nullptr;
      }
      if (first >= kSlotCount || last >= kSlotCount) {
        *error = "bad slot range " + std::to_string(first) + "-" + std::to_string(last);
        return nullptr;
      }
      builder.assign(static_cast<uint32_t>(first), static_cast<uint32_t>(last), *primary);
    }
  }
  return builder.build(version, error);
}

SlotMapPtr parseClusterSlots(const Value& reply, uint64_t version, std::string* error) {
  if (!isAggregate(reply)) {
    *error = "CLUSTER SLOTS: reply is not an array";
    return nullptr;
  }
  SlotMapBuilder builder;
  for (const Value& range : reply.elements) {
    int64_t first = 0;
    int64_t last = 0;
    if (!isAggregate(range) || range.elements.size() < 3 || !toInt(range.elements[0], &first) ||
        !toInt(range.elements[1], &last) || first < 0 || last < 0) {
      *error = "CLUSTER SLOTS: malformed slot range entry";
      return nullptr;
    }
    if (first >= kSlotCount || last >= kSlotCount) {
      *error = "bad slot range " + std::to_string(first) + "-" + std::to_string(last);
      return nullptr;
    }
    uint16_t primary = 0;
    std::string primary_id;
    for (size_t i = 2; i < range.elements.size(); ++i) {
      const Value& n = range.elements[i];
      int64_t port = 0;
      if (!isAggregate(n) || n.elements.size() < 2 || !isText(n.elements[0]) ||
          !toInt(n.elements[1], &port) || port <= 0 || port > 65535) {
        *error = "CLUSTER SLOTS: malformed node entry";
        return nullptr;
      }
      NodeInfo node;
      node.ip = std::string(n.elements[0].str);
      node.port = static_cast<uint16_t>(port);
      if (n.elements.size() >= 3 && isText(n.elements[2])) node.id = std::string(n.elements[2].str);
      if (n.elements.size() >= 4) node.hostname = text(field(n.elements[3], "hostname"));
      node.role = i == 2 ? Role::kPrimary : Role::kReplica;
      if (i == 2) {
        primary_id = node.id;
      } else {
        node.primary_id = primary_id;
      }
      const uint16_t index = builder.addNode(std::move(node));
      if (i == 2) primary = index;
    }
    builder.assign(static_cast<uint32_t>(first), static_cast<uint32_t>(last), primary);
  }
  return builder.build(version, error);
}

}  // namespace slotproxy::cluster
