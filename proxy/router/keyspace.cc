#include "proxy/router/keyspace.h"

#include <array>
#include <utility>

#include "proxy/command/command_table.h"

namespace slotproxy::router {
namespace {

constexpr std::array<std::string_view, 2> kPrefixes = {"__keyspace@", "__keyevent@"};

// Reads a bulk string (empty for a RESP2 or RESP3 null) at the start of `rest`, and moves past it.
bool readBulk(std::string_view& rest, std::string_view* out) {
  for (const std::string_view null : {std::string_view("$-1\r\n"), std::string_view("_\r\n")}) {
    if (rest.starts_with(null)) {
      *out = {};
      rest.remove_prefix(null.size());
      return true;
    }
  }
  if (!rest.starts_with('$')) return false;
  size_t len = 0;
  size_t i = 1;
  while (i < rest.size() && i <= 10 && rest[i] >= '0' && rest[i] <= '9') {
    len = len * 10 + static_cast<size_t>(rest[i++] - '0');
  }
  if (i == 1 || !rest.substr(i).starts_with("\r\n")) return false;
  i += 2;
  if (rest.size() < i + len + 2 || rest.substr(i + len, 2) != "\r\n") return false;
  *out = rest.substr(i, len);
  rest.remove_prefix(i + len + 2);
  return true;
}

bool is(std::string_view a, std::string_view b) { return command::equalsIgnoreCase(a, b); }

}  // namespace

// By hand rather than with resp::parseValue, which allocates: it runs on every message a
// keyspace subscriber gets.
PubSubFrame parsePubSubFrame(std::string_view frame) {
  using Kind = PubSubFrame::Kind;
  PubSubFrame f;
  if (!(frame.starts_with('*') || frame.starts_with('>'))) return f;
  std::string_view rest = frame.substr(1);
  const bool four = rest.starts_with("4\r\n");
  if (!four && !rest.starts_with("3\r\n")) return f;
  rest.remove_prefix(3);
  std::string_view kind;
  std::string_view first;
  if (!readBulk(rest, &kind) || !readBulk(rest, &first)) return f;
  if (rest.starts_with(':')) {  // a subscription reply: its count follows the name
    if (four) return f;
    constexpr std::array<std::pair<std::string_view, Kind>, 4> kReplies = {{
        {"subscribe", Kind::kSubscribe},
        {"psubscribe", Kind::kPsubscribe},
        {"unsubscribe", Kind::kUnsubscribe},
        {"punsubscribe", Kind::kPunsubscribe},
    }};
    for (const auto& [word, k] : kReplies) {
      if (kind == word) f = {k, first, {}};
    }
    return f;
  }
  std::string_view second;
  if (!readBulk(rest, &second)) return f;
  if (four && kind == "pmessage") {
    std::string_view payload;
    if (readBulk(rest, &payload)) f = {Kind::kPmessage, first, second};
  } else if (!four && kind == "message") {
    f = {Kind::kMessage, {}, first};
  }
  return f;
}

bool isKeyspaceChannel(std::string_view channel) {
  return channel.starts_with(kPrefixes[0]) || channel.starts_with(kPrefixes[1]);
}

bool isKeyspaceMessage(std::string_view frame) {
  const PubSubFrame f = parsePubSubFrame(frame);
  return (f.kind == PubSubFrame::Kind::kMessage || f.kind == PubSubFrame::Kind::kPmessage) &&
         isKeyspaceChannel(f.channel);
}

bool mayMatchKeyspace(std::string_view pattern) {
  // A channel the pattern matches starts with the pattern's literal head (up to its first glob
  // character): that head and a keyspace prefix must agree as far as both go.
  const size_t glob = pattern.find_first_of("*?[\\");
  if (glob == std::string_view::npos) return isKeyspaceChannel(pattern);  // matches itself alone
  const std::string_view head = pattern.substr(0, glob);
  for (const std::string_view prefix : kPrefixes) {
    if (head.starts_with(prefix) || prefix.starts_with(head)) return true;
  }
  return false;
}

bool KeyspaceInterest::adds(std::span<const std::string_view> args) {
  const bool channels = is(args[0], "subscribe");
  if (!channels && !is(args[0], "psubscribe")) return false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (channels ? isKeyspaceChannel(args[i]) : mayMatchKeyspace(args[i])) return true;
  }
  return false;
}

std::vector<std::string> KeyspaceInterest::sent(std::span<const std::string_view> args) {
  const std::string_view command = args[0];
  std::vector<std::string> mirrored;
  if (is(command, "reset")) {
    channels_.clear();
    patterns_.clear();
    return mirrored;
  }
  const bool channels = is(command, "subscribe") || is(command, "unsubscribe");
  const bool patterns = is(command, "psubscribe") || is(command, "punsubscribe");
  if (!channels && !patterns) return mirrored;
  Names& names = channels ? channels_ : patterns_;
  auto mirror = [&](std::string_view name) {
    if (mirrored.empty()) mirrored.emplace_back(command);
    mirrored.emplace_back(name);
  };
  if (is(command, "subscribe") || is(command, "psubscribe")) {
    for (size_t i = 1; i < args.size(); ++i) {
      if (channels ? isKeyspaceChannel(args[i]) : mayMatchKeyspace(args[i])) {
        names.emplace(args[i]);
        mirror(args[i]);
      }
    }
    return mirrored;
  }
  if (names.empty()) return mirrored;
  if (args.size() == 1) {
    names.clear();
    mirrored.emplace_back(command);
  }
  for (size_t i = 1; i < args.size(); ++i) {
    if (const auto it = names.find(args[i]); it != names.end()) {
      names.erase(it);
      mirror(args[i]);
    }
  }
  if (empty()) mirrored.clear();  // the mirrors close instead
  return mirrored;
}

std::vector<std::vector<std::string>> KeyspaceInterest::subscribeAll() const {
  std::vector<std::vector<std::string>> commands;
  if (!channels_.empty()) {
    commands.push_back({"SUBSCRIBE"});
    commands.back().insert(commands.back().end(), channels_.begin(), channels_.end());
  }
  if (!patterns_.empty()) {
    commands.push_back({"PSUBSCRIBE"});
    commands.back().insert(commands.back().end(), patterns_.begin(), patterns_.end());
  }
  return commands;
}

void KeyspaceInterest::heard(std::string_view frame) {
  using Kind = PubSubFrame::Kind;
  if (frame == "+RESET\r\n") {
    heard_channels_.clear();
    heard_patterns_.clear();
    return;
  }
  const PubSubFrame f = parsePubSubFrame(frame);
  switch (f.kind) {
    case Kind::kSubscribe:
      if (isKeyspaceChannel(f.name)) heard_channels_.emplace(f.name);
      break;
    case Kind::kPsubscribe:
      if (mayMatchKeyspace(f.name)) heard_patterns_.emplace(f.name);
      break;
    case Kind::kUnsubscribe:
      if (const auto it = heard_channels_.find(f.name); it != heard_channels_.end()) {
        heard_channels_.erase(it);
      }
      break;
    case Kind::kPunsubscribe:
      if (const auto it = heard_patterns_.find(f.name); it != heard_patterns_.end()) {
        heard_patterns_.erase(it);
      }
      break;
    default:
      break;
  }
}

bool KeyspaceInterest::forward(std::string_view frame) const {
  const PubSubFrame f = parsePubSubFrame(frame);
  if (!isKeyspaceChannel(f.channel)) return false;
  if (f.kind == PubSubFrame::Kind::kMessage) return heard_channels_.contains(f.channel);
  if (f.kind == PubSubFrame::Kind::kPmessage) return heard_patterns_.contains(f.name);
  return false;
}

}  // namespace slotproxy::router
