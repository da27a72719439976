#pragma once

#include <cstddef>
#include <memory>

namespace slotproxy::net {

// The loop thread's read buffer: every connection reads into it first, and only the tail of a
// message that is not complete yet is copied into the connection's own buffer (the way Redis 7
// reuses one query buffer), so idle connections hold no read buffer at all. Allocated on first
// use: a thread_local array would be zeroed, hence resident, in every thread at its start.
inline constexpr size_t kReadBufferSize = size_t{64} * 1024;

inline char* loopReadBuffer() {
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) buffer = std::make_unique_for_overwrite<char[]>(kReadBufferSize);
  return buffer.get();
}

}  // namespace slotproxy::net
