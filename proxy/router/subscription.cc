#include "proxy/router/subscription.h"

#include <algorithm>

namespace slotproxy::router {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

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
  if (iequals(name, "subscribe") && args.size() > 1) {
    replies_due_ += apply(channels_, true, args);
  } else if (iequals(name, "psubscribe") && args.size() > 1) {
    replies_due_ += apply(patterns_, true, args);
  } else if (iequals(name, "unsubscribe")) {
    replies_due_ += apply(channels_, false, args);
  } else if (iequals(name, "punsubscribe")) {
    replies_due_ += apply(patterns_, false, args);
  } else {
    if (iequals(name, "reset")) {  // leaves subscribed mode, one +RESET
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
