#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace slotproxy::net {

// Closes a heap-allocated handle and frees it in the close callback (libuv: memory of a handle
// may be released only in or after its close callback). The owner must have cleared or no longer
// care about handle->data.
template <typename T>
void closeAndDelete(T* handle) {
  auto* h = reinterpret_cast<uv_handle_t*>(handle);
  if (uv_is_closing(h) != 0) return;
  uv_close(h, [](uv_handle_t* closed) { delete reinterpret_cast<T*>(closed); });
}

// Parses an IPv4 or IPv6 literal and a port into a sockaddr_storage.
bool makeSockaddr(std::string_view ip, uint16_t port, sockaddr_storage* out);

// The textual IP of a sockaddr ("" if not AF_INET/AF_INET6).
std::string ipString(const sockaddr* addr);

std::string uvError(int status);

// A TCP listener socket bound with SO_REUSEADDR (+ SO_REUSEPORT when `reuse_port`, so several
// worker loops can each accept on the same address), opened into `tcp`. Returns a libuv status.
int bindListener(uv_tcp_t* tcp, std::string_view ip, uint16_t port, bool reuse_port);

}  // namespace slotproxy::net
