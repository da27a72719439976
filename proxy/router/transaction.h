#pragma once

// MULTI ... EXEC over shared node connections.
//
// The proxy queues a transaction's commands itself, answering each +QUEUED as Redis does, and
// EXEC sends MULTI, the commands and EXEC to one primary in a single write on one connection:
// nothing from another client can come between them, so the shared connection is in MULTI state
// for exactly this block. Redis Cluster runs a transaction on one node and wants all its keys in
// one slot; the proxy checks that as each command is queued. A command refused while queueing
// makes EXEC answer EXECABORT, as in Redis. After WATCH the block goes on the client's WATCH
// connection instead, and its keys must be in the watched slot (pinSlot).
//
// Pure: no sockets, no slot map.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proxy/router/router.h"

namespace slotproxy::router {

class Transaction {
 public:
  struct Limits {
    size_t max_commands = 0;  // queued commands
    size_t max_bytes = 0;     // queued bytes
  };
  explicit Transaction(Limits limits) : limits_(limits) {}

  // Queues `args`, whose route() is `route`. `raw` is the command as the client sent it (empty
  // for an inline command: it is encoded from args). Returns the client's reply: "+QUEUED\r\n",
  // or an error frame, and then EXEC will abort.
  std::string queue(const Route& route, std::span<const std::string_view> args,
                    std::string_view raw);

  // The keys of the commands queued from now on must hash to `slot` (WATCH's).
  void pinSlot(uint16_t slot) { slot_ = slot; }

  // A command was answered with an error while queueing (unknown, wrong arity...): EXEC aborts.
  void abort() { aborted_ = true; }

  bool aborted() const { return aborted_; }
  size_t size() const { return count_; }
  // The slot of its keys; none for keyless commands only (any primary serves them).
  std::optional<uint16_t> slot() const { return slot_; }
  // Every queued command only reads: the block may be sent again if a connection dies.
  bool readonly() const { return readonly_; }
  // What EXEC sends: MULTI, the queued commands, EXEC. Replies: +OK, one +QUEUED per command,
  // then EXEC's.
  std::string takePayload();

 private:
  std::string error(std::string_view message);

  Limits limits_;
  std::string commands_;
  size_t count_ = 0;
  std::optional<uint16_t> slot_;
  bool readonly_ = true;
  bool aborted_ = false;
};

// EXEC's answer when a watched key changed (or, behind the proxy, the watch was lost): a null
// array, or RESP3's null.
constexpr std::string_view execNull(bool resp3) { return resp3 ? "_\r\n" : "*-1\r\n"; }

inline constexpr std::string_view kExecAbort =
    "-EXECABORT Transaction discarded because of previous errors.\r\n";

}  // namespace slotproxy::router
