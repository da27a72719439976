#pragma once

#include <cstddef>
#include <cstdint>

namespace slotproxy::resp {

// Caps applied by the decoders and parseValue(), passed to their constructors (like Redis's caps in
// processMultibulkBuffer). Exceeding one is a protocol error whose message names the limit.
struct Limits {
  size_t max_bulk_len = 512ull * 1024 * 1024;  // as Redis proto-max-bulk-len; also caps +/- lines
  size_t max_array_len = 1024ull * 1024;  // elements in one multibulk / aggregate (a map entry: 2)
  size_t max_depth = 32;                  // nesting of aggregates in replies (attributes count)
  size_t max_inline_len = 64ull * 1024;   // inline command line (Redis PROTO_INLINE_MAX_SIZE);
                                          // also caps double and big number lines in replies
};

// Result of one decode() call.
enum class Status : uint8_t {
  kOk,          // one complete command / reply; *consumed tells its length
  kIncomplete,  // need more bytes; call again with the same bytes at the start plus more
  kError,       // protocol error; error() tells why; sticky until reset()
};

}  // namespace slotproxy::resp
