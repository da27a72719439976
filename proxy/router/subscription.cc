#include "proxy/router/subscription.h"

#include <algorithm>

#include "proxy/command/command_table.h"

namespace slotproxy::router {
namespace {

// SUBSCRIBE/PSUBSCRIBE (subscribe) or UNSUBSCRIBE/PUNSUBSCRIBE (!subscribe) on `names`.
size_t apply(std::unordered_set<std::string>& names, bool subscribe,
             std::span<const std::string_view> args) {
  if (subscribe) {
    for (size_t i = 1; i < args.size(); ++i) names.emplace(args[i]);
    return args.size() - 1;
  }
  if (args.size() == 1) {  // from everything: one reply per name held, at least one
    const size_t n = std::max<size_t>(names.size(), 1);
    names.clear();
    return n;
  }
  for (size_t i = 1; i < args.size(); ++i) names.erase(std::string(args[i]));
  return args.size() - 1;
}

// Pushes are arrays in RESP2 and push frames ('>') in RESP3: the type byte aside, the same.
std::string_view pushBody(std::string_view frame) {
  return frame.starts_with('*') || frame.starts_with('>') ? frame.substr(1) : std::string_view();
}

// A published message (message, pmessage, smessage), not a reply.
bool isMessage(std::string_view frame) {
  // 3 $7 message <channel> <payload>, 4 $8 pmessage ..., 3 $8 smessage ...
  const std::string_view body = pushBody(frame);
  return body.starts_with("3\r\n$7\r\nmessage\r\n") ||
         body.starts_with("4\r\n$8\r\npmessage\r\n") || body.starts_with("3\r\n$8\r\nsmessage\r\n");
}

}  // namespace

void Subscription::sent(std::span<const std::string_view> args) {
  const std::string_view name = args[0];
  Sent s{1, {}, {}};
  if (command::equalsIgnoreCase(name, "subscribe") && args.size() > 1) {
    s.frames = apply(channels_, true, args);
  } else if (command::equalsIgnoreCase(name, "psubscribe") && args.size() > 1) {
    s.frames = apply(patterns_, true, args);
  } else if (command::equalsIgnoreCase(name, "ssubscribe") && args.size() > 1) {
    for (size_t i = 1; i < args.size(); ++i) {
      if (!shard_channels_.contains(std::string(args[i]))) s.shard_added.emplace_back(args[i]);
    }
    s.frames = apply(shard_channels_, true, args);
  } else if (command::equalsIgnoreCase(name, "unsubscribe")) {
    s.frames = apply(channels_, false, args);
  } else if (command::equalsIgnoreCase(name, "punsubscribe")) {
    s.frames = apply(patterns_, false, args);
  } else if (command::equalsIgnoreCase(name, "sunsubscribe")) {
    if (args.size() == 1) {
      s.shard_removed.assign(shard_channels_.begin(), shard_channels_.end());
    } else {
      for (size_t i = 1; i < args.size(); ++i) {
        if (shard_channels_.contains(std::string(args[i]))) s.shard_removed.emplace_back(args[i]);
      }
    }
    s.frames = apply(shard_channels_, false, args);
  } else if (command::equalsIgnoreCase(name, "reset")) {  // leaves subscribed mode, one +RESET
    channels_.clear();
    patterns_.clear();
    shard_channels_.clear();
  }
  sent_.push_back(std::move(s));
}

size_t Subscription::repliesDue() const {
  size_t n = 0;
  for (const Sent& s : sent_) n += s.frames;
  return n;
}

std::unordered_set<std::string>::const_iterator Subscription::dropped(
    std::string_view frame) const {
  // 3 $12 sunsubscribe $<n> <channel> :<count>, for a channel still held.
  constexpr std::string_view kSunsubscribe = "3\r\n$12\r\nsunsubscribe\r\n$";
  const std::string_view body = pushBody(frame);
  if (!body.starts_with(kSunsubscribe)) return shard_channels_.end();
  const std::string_view rest = body.substr(kSunsubscribe.size());
  size_t len = 0;
  size_t i = 0;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && i < 10) {
    len = len * 10 + static_cast<size_t>(rest[i++] - '0');
  }
  if (!rest.substr(i).starts_with("\r\n") || rest.size() < i + 2 + len) {
    return shard_channels_.end();
  }
  return shard_channels_.find(std::string(rest.substr(i + 2, len)));
}

bool Subscription::isReply(std::string_view frame) const {
  return !isMessage(frame) && dropped(frame) == shard_channels_.end();
}

bool Subscription::received(std::string_view frame) {
  if (isMessage(frame)) return false;
  if (const auto held = dropped(frame); held != shard_channels_.end()) {
    shard_channels_.erase(held);  // the node dropped it: no command asked for this frame
    return false;
  }
  if (sent_.empty()) return true;  // nothing asked for it: nothing to count
  Sent& front = sent_.front();
  if (frame.starts_with("-")) {
    // An error answers a whole command, however many names it gave: an (S|SUN)SUBSCRIBE
    // refused (-MOVED on a stale map) changed nothing.
    for (const std::string& channel : front.shard_added) shard_channels_.erase(channel);
    for (std::string& channel : front.shard_removed) shard_channels_.insert(std::move(channel));
    sent_.pop_front();
    return true;
  }
  if (--front.frames == 0) sent_.pop_front();
  return true;
}

bool addToShardCount(std::string_view frame, size_t add, std::string* out) {
  // [*>]3 $10 ssubscribe | $12 sunsubscribe, the channel, :<count>
  if (!(frame.starts_with('*') || frame.starts_with('>'))) return false;
  const std::string_view body = frame.substr(1);
  if (!body.starts_with("3\r\n$10\r\nssubscribe\r\n") &&
      !body.starts_with("3\r\n$12\r\nsunsubscribe\r\n")) {
    return false;
  }
  if (!frame.ends_with("\r\n")) return false;
  // The count is the last line: the channel's bulk ends with the CRLF before it, and the count
  // holds no CRLF, whatever bytes the channel's name holds.
  const std::string_view head = frame.substr(0, frame.size() - 2);
  const size_t line = head.rfind("\r\n");
  if (line == std::string_view::npos || line + 3 > head.size() || head[line + 2] != ':') {
    return false;
  }
  const std::string_view digits = head.substr(line + 3);
  if (digits.empty() || digits.size() > 18) return false;
  size_t count = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    count = count * 10 + static_cast<size_t>(c - '0');
  }
  out->assign(frame.substr(0, line + 3));
  out->append(std::to_string(count + add));
  out->append("\r\n");
  return true;
}

}  // namespace slotproxy::router
