#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "config/config.h"
#include "proxy/resp/limits.h"

namespace slotproxy::client {

class ClientConn;

// What a client connection needs from the loop that owns it (server::Worker implements it), so
// that this layer does not depend on the one above.
class ClientHandler {
 public:
  virtual ~ClientHandler() = default;
  virtual const config::Config& config() const = 0;
  virtual const resp::Limits& respLimits() const = 0;
  // One parsed command. `raw` is its RESP bytes (empty for inline commands, which are
  // re-encoded). The handler enqueues the request on `client` (or answers it at once).
  virtual void handleCommand(ClientConn& client, std::span<const std::string_view> args,
                             std::string_view raw) = 0;
  // `client` has output to write: call client->flush() before the loop blocks again.
  virtual void scheduleFlush(ClientConn* client) = 0;
  // `client` became busy (requests in flight, not blocked by a blocking command) or idle.
  virtual void onClientBusy(bool busy) = 0;
  // `client` is closing; it is freed by its close callback.
  virtual void onClientClosed(ClientConn* client) = 0;
  virtual void countBytesOut(size_t n) = 0;
};

}  // namespace slotproxy::client
