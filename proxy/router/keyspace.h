#pragma once

// Keyspace notifications for a subscriber of the whole cluster.
//
// A node publishes keyspace notifications (`__keyspace@<db>__:<key>`, `__keyevent@<db>__:<event>`)
// for its own keys only, where a PUBLISH reaches every node of the cluster. A client that
// subscribes to them through the proxy must hear every primary, so its keyspace channels and
// patterns (those that can match a keyspace channel: `*`, `__key*`, ...) are also held on a
// connection to each other primary, a mirror. The mirrors' replies are the proxy's own; their
// messages reach the client only for keyspace channels (a pattern like `*` matches what is
// PUBLISHed too, which the client hears once, from its home node), and only between the
// client's own subscription reply and its unsubscription reply, as Redis orders them. Pure: no
// sockets.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace slotproxy::router {

// A pub/sub frame read from a node (RESP2 array or RESP3 push), as far as the proxy looks.
struct PubSubFrame {
  enum class Kind {
    kOther,
    kSubscribe,
    kPsubscribe,
    kUnsubscribe,
    kPunsubscribe,
    kMessage,
    kPmessage
  };
  Kind kind = Kind::kOther;
  std::string_view name;     // the channel or pattern of a (un)subscription reply (empty if
                             // null), or the pattern of a pmessage
  std::string_view channel;  // the channel of a message or pmessage
};
PubSubFrame parsePubSubFrame(std::string_view frame);

bool isKeyspaceChannel(std::string_view channel);
// A message or pmessage on a keyspace channel.
bool isKeyspaceMessage(std::string_view frame);
// Whether some keyspace channel matches the glob `pattern` (true when unsure).
bool mayMatchKeyspace(std::string_view pattern);

class KeyspaceInterest {
 public:
  // A command sent to the client's home node. Returns the command each mirror gets (empty for
  // none); RESET, and unsubscribing from the last keyspace name, leave nothing to mirror
  // (empty()): the mirrors close instead.
  std::vector<std::string> sent(std::span<const std::string_view> args);
  // Whether `args` subscribes to a keyspace channel or pattern (mirrors are needed).
  static bool adds(std::span<const std::string_view> args);
  // The commands that subscribe a new mirror to everything asked for.
  std::vector<std::vector<std::string>> subscribeAll() const;
  // Nothing to mirror once the commands sent apply.
  bool empty() const { return channels_.empty() && patterns_.empty(); }
  // Nothing to mirror, nothing being heard: frames need no look.
  bool idle() const { return empty() && heard_channels_.empty() && heard_patterns_.empty(); }
  // A frame the client got from its home node: its subscription replies open and close what
  // the mirrors may pass on.
  void heard(std::string_view frame);
  // Whether a frame read on a mirror reaches the client.
  bool forward(std::string_view frame) const;

 private:
  struct Hash {  // looks names up by string_view
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Names = std::unordered_set<std::string, Hash, std::equal_to<>>;
  Names channels_;  // keyspace channels and patterns asked for
  Names patterns_;
  Names heard_channels_;  // ... and answered to the client
  Names heard_patterns_;
};

}  // namespace slotproxy::router
