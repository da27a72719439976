#pragma once

// SCAN over a whole cluster with one cursor.
//
// Each primary has its own keyspace and its own SCAN cursor. The proxy walks the primaries one
// after the other, in the order of the first slot each one owns (the shard index), and packs
// the shard index into the low kScanShardBits bits of the cursor it gives the client, with the
// node's own cursor above them. When a node's scan ends (its cursor 0), the next call starts the
// next shard at 0; after the last shard the client gets 0, as from Redis.
//
// Redis's guarantee (every key present for the whole scan is returned) holds while the slot
// ranges stay put; a resharding or failover during a scan may skip or repeat keys of the moved
// slots, as a cluster client scanning node by node would. Pure: no sockets, no slot map.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace slotproxy::router {

inline constexpr int kScanShardBits = 10;  // up to 1024 primaries
inline constexpr uint64_t kScanMaxShards = uint64_t{1} << kScanShardBits;

struct ScanCursor {
  size_t shard = 0;          // index of the primary, in order of its first slot
  uint64_t node_cursor = 0;  // that primary's own SCAN cursor
};

// A cursor as Redis writes and takes it: a decimal unsigned 64-bit integer and nothing else.
bool parseCursor(std::string_view text, uint64_t* out);

// Parses the client's cursor (parseCursor). False on anything else: Redis answers
// "ERR invalid cursor".
bool parseScanCursor(std::string_view text, ScanCursor* out);

// The cursor for the client after shard `shard` of `shards` answered `node_next`: the same shard
// further on, the next shard from its start, or 0 when the last one is done. False if
// `node_next` is too large to pack (above 2^54: no Redis dict gets there).
bool nextScanCursor(size_t shard, size_t shards, uint64_t node_next, uint64_t* out);

}  // namespace slotproxy::router
