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

}  // namespace

void Subscription::sent(std::span<const std::string_view> args) {
  const std::string_view name = args[0];
  if (command::equalsIgnoreCase(name, "subscribe") && args.size() > 1) {
    replies_due_ += apply(channels_, true, args);
  } else if (command::equalsIgnoreCase(name, "psubscribe") && args.size() > 1) {
    replies_due_ += apply(patterns_, true, args);
  } else if (command::equalsIgnoreCase(name, "unsubscribe")) {
    replies_due_ += apply(channels_, false, args);
  } else if (command::equalsIgnoreCase(name, "punsubscribe")) {
    replies_due_ += apply(patterns_, false, args);
  } else {
    if (command::equalsIgnoreCase(name, "reset")) {  // leaves subscribed mode, one +RESET
      channels_.clear();
      patterns_.clear();
    }
    ++replies_due_;
  }
}

bool Subscription::received(std::string_view frame) {
  // RESP2 pushes: *3 $7 message <channel> <payload>, *4 $8 pmessage ..., *3 $8 smessage ...
  const bool message = frame.starts_with("*3\r\n$7\r\nmessage\r\n") ||
                       frame.starts_with("*4\r\n$8\r\npmessage\r\n") ||
                       frame.starts_with("*3\r\n$8\r\nsmessage\r\n");
  if (message) return false;
  if (replies_due_ > 0) --replies_due_;
  return true;
}

}  // namespace slotproxy::router
