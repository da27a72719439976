#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace slotproxy::router {

// A cluster redirection from an error reply: "MOVED 3999 127.0.0.1:6381" or
// "ASK 3999 [::1]:6381" (the error text without the leading '-').
struct Redirect {
  enum class Kind : uint8_t { kMoved, kAsk } kind = Kind::kMoved;
  uint16_t slot = 0;
  std::string host;
  uint16_t port = 0;
};

// True if `error` is a well-formed MOVED or ASK redirection.
bool parseRedirect(std::string_view error, Redirect* out);

}  // namespace slotproxy::router
