#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/command/command_table.h"

namespace slotproxy::router {

enum class RouteKind : uint8_t {
  kLocal,         // the proxy answers (PING, ECHO, SELECT 0, QUIT, HELLO, CLIENT SETNAME ...)
  kSlot,          // every key hashes to `slot`: send to that slot's primary
  kBlocking,      // like kSlot, but may block (BLPOP, XREAD BLOCK...): a connection of its own
  kAnyNode,       // keyless command that any node answers the same (COMMAND, TIME, EVAL 0 keys)
  kSplit,         // MGET/MSET/DEL/UNLINK/EXISTS/TOUCH over several slots: see SplitPlan
  kAllPrimaries,  // fan out to every primary, merged as cmd->merge says
  kError,         // answered with `error`
};

// Redis's error for keys in several slots (without the leading '-').
inline constexpr std::string_view kCrossSlot =
    "CROSSSLOT Keys in request don't hash to the same slot";

struct Route {
  RouteKind kind = RouteKind::kError;
  const command::CommandInfo* cmd = nullptr;  // null only for an unknown command
  uint16_t slot = 0;
  std::string error;  // kError: the RESP error text without '-' ("CROSSSLOT Keys in ...")
};

// Decides where a client command goes. Pure: no sockets, no slot map (slot -> node is the
// caller's lookup). `keys` is scratch space the caller reuses; on return it holds the indices
// into `args` of the command's keys. `args` must not be empty.
//
// Errors, with Redis's own texts where Redis has one:
//   unknown command       -> "ERR unknown command 'x', with args beginning with: ..."
//   wrong arity           -> "ERR wrong number of arguments for 'x' command"
//   unsupported command   -> "ERR 'x' is not supported by slotproxy: <reason>"
//   keys in several slots -> kCrossSlot
Route route(std::span<const std::string_view> args, std::vector<uint32_t>* keys);

// How a split command's sub-replies merge back into one reply, in the client's key order.
enum class SplitKind : uint8_t {
  kMget,        // array of values, one per key
  kMset,        // +OK when every part says OK, else the first error
  kSumIntegers  // DEL UNLINK EXISTS TOUCH: the sum of the parts' integers
};

struct SplitPart {
  uint16_t slot = 0;
  std::vector<uint32_t> keys;  // positions in the key list (0-based, in the client's order)
};

struct SplitPlan {
  SplitKind kind = SplitKind::kSumIntegers;
  size_t key_count = 0;
  std::vector<SplitPart> parts;  // one per slot, in order of first appearance
};

// Groups the keys of a kSplit command by slot. Returns false when the keys share one slot (then
// the command is routed whole, as kSlot).
bool planSplit(const command::CommandInfo& cmd, std::span<const std::string_view> args,
               std::span<const uint32_t> keys, SplitPlan* plan);

// Appends the RESP command of one part (same command name, that part's keys, and for MSET their
// values) to `out`.
void encodePart(std::span<const std::string_view> args, std::span<const uint32_t> keys,
                const SplitPlan& plan, const SplitPart& part, std::string* out);

// Merges the parts' reply frames (indexed like plan.parts) into the client's reply. An error
// reply in any part becomes the whole reply (the first one, in part order).
void mergeReplies(const SplitPlan& plan, std::span<const std::string> part_replies,
                  std::string* out);

}  // namespace slotproxy::router
