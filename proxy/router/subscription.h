#pragma once

// The pub/sub state of a subscribed client, as its node connection will see it.
//
// A subscribed client's commands go to a node connection of its own, and every frame read there
// comes back: replies to its commands, and published messages. The proxy must know when the
// client has left subscribed mode (no channel, pattern or shard channel left, every reply in),
// to route its later commands normally again. Commands are applied here as they are sent, in
// order, as Redis will apply them: that gives the channels and patterns the node will hold and
// the number of reply frames still to come. Two exceptions come from the node: a command it
// refuses answers with one error whatever the names it gave (an (S|SUN)SUBSCRIBE refused with
// -MOVED when the slot has just moved changes nothing), and when a shard channel's slot leaves
// the node, the node unsubscribes its clients from that channel with a `sunsubscribe` frame no
// command asked for. Pure: no sockets.

#include <cstddef>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace slotproxy::router {

class Subscription {
 public:
  // A command sent to the node (args[0] in any case). Each one answers with one reply frame per
  // channel or pattern named ((P|S)UNSUBSCRIBE without names: one per name held, at least one),
  // any other command with one frame (a PONG, +RESET, an error).
  void sent(std::span<const std::string_view> args);
  // A frame read from the node (RESP2 or RESP3). False for a published message (message, pmessage,
  // smessage) and for a shard channel's unsubscription the node sent on its own; true for a reply
  // to a command.
  bool received(std::string_view frame);
  // What received() would answer for `frame`, without applying it.
  bool isReply(std::string_view frame) const;
  // Nothing subscribed once the commands sent are applied: the client is leaving subscribed
  // mode; it has left when done().
  bool leaving() const { return channels_.empty() && patterns_.empty() && shard_channels_.empty(); }
  bool done() const { return leaving() && sent_.empty(); }
  size_t repliesDue() const;
  // Shard channels held once the commands sent are applied.
  size_t shardCount() const { return shard_channels_.size(); }
  // Channels and patterns held once the commands sent are applied.
  const std::unordered_set<std::string>& channels() const { return channels_; }
  const std::unordered_set<std::string>& patterns() const { return patterns_; }
  const std::unordered_set<std::string>& shardChannels() const { return shard_channels_; }

 private:
  struct Sent {
    size_t frames;                           // reply frames still to come
    std::vector<std::string> shard_added;    // SSUBSCRIBE: shard channels it added
    std::vector<std::string> shard_removed;  // SUNSUBSCRIBE: shard channels it removed
  };

  // The held shard channel a `sunsubscribe` frame names that no command asked for (the node
  // dropped it: its slot moved away), or end().
  std::unordered_set<std::string>::const_iterator dropped(std::string_view frame) const;

  std::unordered_set<std::string> channels_;
  std::unordered_set<std::string> patterns_;
  std::unordered_set<std::string> shard_channels_;
  std::deque<Sent> sent_;  // commands not fully answered, in order
};

// A client whose shard channels live on several nodes holds one node connection per node, and
// each node counts only the shard channels it holds in its `ssubscribe`/`sunsubscribe` frames,
// where Redis counts all of the client's. If `frame` is such a frame (RESP2 or RESP3, the
// channel null or not), sets `out` to it with `add` added to its count and returns true.
bool addToShardCount(std::string_view frame, size_t add, std::string* out);

}  // namespace slotproxy::router
