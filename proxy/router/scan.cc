#include "proxy/router/scan.h"

#include <charconv>

namespace slotproxy::router {

bool parseCursor(std::string_view text, uint64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

bool parseScanCursor(std::string_view text, ScanCursor* out) {
  uint64_t cursor = 0;
  if (!parseCursor(text, &cursor)) return false;
  out->shard = static_cast<size_t>(cursor & (kScanMaxShards - 1));
  out->node_cursor = cursor >> kScanShardBits;
  return true;
}

bool nextScanCursor(size_t shard, size_t shards, uint64_t node_next, uint64_t* out) {
  if (node_next == 0) {
    *out = shard + 1 < shards ? shard + 1 : 0;
    return true;
  }
  if (node_next > (UINT64_MAX >> kScanShardBits)) return false;
  *out = (node_next << kScanShardBits) | shard;
  return true;
}

}  // namespace slotproxy::router
