#include "proxy/router/redirect.h"

#include <charconv>

#include "proxy/cluster/key_slot.h"
#include "proxy/cluster/slot_map.h"

namespace slotproxy::router {

bool parseRedirect(std::string_view error, Redirect* out) {
  std::string_view rest;
  if (error.starts_with("MOVED ")) {
    out->kind = Redirect::Kind::kMoved;
    rest = error.substr(6);
  } else if (error.starts_with("ASK ")) {
    out->kind = Redirect::Kind::kAsk;
    rest = error.substr(4);
  } else {
    return false;
  }
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) return false;
  unsigned slot = 0;
  const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + space, slot);
  if (ec != std::errc() || ptr != rest.data() + space || slot >= cluster::kSlotCount) return false;
  out->slot = static_cast<uint16_t>(slot);
  std::string_view address = rest.substr(space + 1);
  while (!address.empty() &&
         (address.back() == '\r' || address.back() == '\n' || address.back() == ' ')) {
    address.remove_suffix(1);
  }
  if (address.starts_with(':')) {
    // "MOVED 3999 :6380": the node does not know its own IP; the caller uses the address it is
    // connected to.
    address.remove_prefix(1);
    unsigned port = 0;
    const auto [pend, perr] =
        std::from_chars(address.data(), address.data() + address.size(), port);
    if (perr != std::errc() || pend != address.data() + address.size() || port == 0 ||
        port > 65535) {
      return false;
    }
    out->host.clear();
    out->port = static_cast<uint16_t>(port);
    return true;
  }
  return cluster::splitHostPort(address, &out->host, &out->port);
}

}  // namespace slotproxy::router
