#pragma once

// Slots in the middle of a migration, as a node reports its own: the "myself" line of CLUSTER
// NODES ends with "[N->-<id>]" for a slot it is migrating to node <id> and "[N-<-<id>]" for one
// it is importing from <id>. CLUSTER SHARDS and CLUSTER SLOTS do not say, and each node knows
// only its own, so a full view asks every primary. Pure: no sockets.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slotproxy::cluster {

struct OpenSlot {
  uint16_t slot = 0;
  bool migrating = false;  // true: migrating to `peer`; false: importing from `peer`
  std::string peer;        // node id
  std::string reporter;    // id of the node that reported it (its "myself")
};

// Appends the open slots of the node that answered `cluster_nodes` (CLUSTER NODES text). False,
// with nothing appended, when the text has no well-formed "myself" line.
bool parseOpenSlots(std::string_view cluster_nodes, std::vector<OpenSlot>* out);

}  // namespace slotproxy::cluster
