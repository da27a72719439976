#pragma once

// The pub/sub state of a subscribed client, as its node connection will see it.
//
// A subscribed client's commands go to a node connection of its own, and every frame read there
// comes back: replies to its commands, and published messages. The proxy must know when the
// client has left subscribed mode (no channel and no pattern left, every reply in), to route its
// later commands normally again. Commands are applied here as they are sent, in order, as Redis
// will apply them: that gives the channels and patterns the node will hold and the number of
// reply frames still to come. Pure: no sockets.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

namespace slotproxy::router {

class Subscription {
 public:
  // A command sent to the node (args[0] in any case). Each one answers with one reply frame per
  // channel or pattern named (UNSUBSCRIBE without names: one per channel held, at least one),
  // any other command with one frame (a PONG, +RESET, an error).
  void sent(std::span<const std::string_view> args);
  // A frame read from the node. False for a published message (message, pmessage, smessage);
  // true for a reply to a command.
  bool received(std::string_view frame);
  // No channel and no pattern once the commands sent are applied: the client is leaving
  // subscribed mode; it has left when done().
  bool leaving() const { return channels_.empty() && patterns_.empty(); }
  bool done() const { return leaving() && replies_due_ == 0; }
  size_t repliesDue() const { return replies_due_; }

 private:
  std::unordered_set<std::string> channels_;
  std::unordered_set<std::string> patterns_;
  size_t replies_due_ = 0;
};

}  // namespace slotproxy::router
