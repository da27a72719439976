#include "proxy/router/transaction.h"

#include <algorithm>

#include "proxy/resp/encoder.h"

namespace slotproxy::router {

std::string Transaction::error(std::string_view message) {
  aborted_ = true;
  std::string out = "-";
  out.append(message);
  out.append("\r\n");
  return out;
}

std::string Transaction::queue(const Route& route, std::span<const std::string_view> args,
                               std::string_view raw) {
  if (route.kind == RouteKind::kError) return error(route.error);
  const command::CommandInfo& cmd = *route.cmd;
  std::optional<uint16_t> slot;
  switch (route.kind) {
    case RouteKind::kSlot:
    case RouteKind::kBlocking:  // does not block inside MULTI
      slot = route.slot;
      break;
    case RouteKind::kAnyNode:
      break;
    case RouteKind::kLocal:
      // Any node answers them in EXEC (UNWATCH there changes nothing: EXEC unwatches anyway).
      if (cmd.name == "ping" || cmd.name == "echo" || cmd.name == "unwatch") break;
      [[fallthrough]];
    case RouteKind::kAllPrimaries:
    case RouteKind::kError: {      // (handled above)
      std::string name(cmd.name);  // "client|setname" -> "client setname"
      std::replace(name.begin(), name.end(), '|', ' ');
      return error("ERR '" + name +
                   "' inside MULTI is not supported by slotproxy: a transaction runs on one node");
    }
    case RouteKind::kSplit:  // keys over several slots
      return error(kCrossSlot);
  }
  if (slot.has_value() && slot_.has_value() && *slot != *slot_) {
    return error(kCrossSlot);
  }
  std::string encoded;  // an inline command, in RESP
  raw = resp::commandBytes(args, raw, &encoded);
  if (count_ + 1 > limits_.max_commands || commands_.size() + raw.size() > limits_.max_bytes) {
    return error("ERR slotproxy: transaction too large (at most " +
                 std::to_string(limits_.max_commands) + " commands and " +
                 std::to_string(limits_.max_bytes) + " bytes)");
  }
  commands_.append(raw);
  ++count_;
  if (slot.has_value()) slot_ = slot;
  if ((cmd.flags & command::kReadonly) == 0 || (cmd.flags & command::kWrite) != 0) {
    readonly_ = false;
  }
  return "+QUEUED\r\n";
}

std::string Transaction::takePayload() {
  std::string out = "*1\r\n$5\r\nMULTI\r\n";
  out.append(commands_);
  out.append("*1\r\n$4\r\nEXEC\r\n");
  commands_.clear();
  count_ = 0;
  return out;
}

}  // namespace slotproxy::router
