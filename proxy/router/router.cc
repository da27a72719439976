#include "proxy/router/router.h"

#include <algorithm>
#include <unordered_map>

#include "proxy/cluster/key_slot.h"
#include "proxy/resp/decoder.h"
#include "proxy/resp/encoder.h"
#include "proxy/resp/value.h"

namespace slotproxy::router {
namespace {

using command::CommandInfo;
using command::Policy;

Route error(std::string text, const CommandInfo* cmd = nullptr) {
  Route r;
  r.kind = RouteKind::kError;
  r.cmd = cmd;
  r.error = std::move(text);
  return r;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// At most `n` bytes of `s`, up to its first NUL: what Redis's printf("%.*s", n, s) shows.
std::string_view printfPrefix(std::string_view s, size_t n) {
  return s.substr(0, std::min(n, s.find('\0')));
}

std::string unknownCommand(std::span<const std::string_view> args) {
  // Redis: "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
  // as Redis's processCommand: the arguments quoted, 128 bytes of them in all.
  std::string quoted;
  for (size_t i = 1; i < args.size() && quoted.size() < 128; ++i) {
    const size_t room = 128 - quoted.size();
    quoted += '\'';
    quoted.append(printfPrefix(args[i], room));
    quoted += "' ";
  }
  std::string out = "ERR unknown command '";
  out.append(printfPrefix(args[0], 128));
  out += "', with args beginning with: ";
  out += quoted;
  return out;
}

std::string displayName(const CommandInfo& cmd) {
  // "object|encoding" -> "OBJECT ENCODING"
  std::string name = upper(cmd.name);
  std::replace(name.begin(), name.end(), '|', ' ');
  return name;
}

bool hasArg(std::span<const std::string_view> args, size_t from, std::string_view word) {
  for (size_t i = from; i < args.size(); ++i) {
    if (command::equalsIgnoreCase(args[i], "STREAMS"))
      return false;  // XREAD options end at STREAMS
    if (command::equalsIgnoreCase(args[i], word)) return true;
  }
  return false;
}

}  // namespace

Route route(std::span<const std::string_view> args, std::vector<uint32_t>* keys) {
  keys->clear();
  const CommandInfo* cmd = command::lookup(args);
  if (cmd == nullptr) return error(unknownCommand(args));
  if (!command::arityOk(*cmd, args.size())) {
    return error("ERR wrong number of arguments for '" + std::string(cmd->name) + "' command", cmd);
  }
  Route r;
  r.cmd = cmd;
  switch (cmd->policy) {
    case Policy::kLocal:
      r.kind = RouteKind::kLocal;
      return r;
    case Policy::kUnsupported:
      return error("ERR '" + displayName(*cmd) +
                       "' is not supported by slotproxy: " + std::string(cmd->unsupported_reason),
                   cmd);
    case Policy::kAnyNode:
      r.kind = RouteKind::kAnyNode;
      return r;
    case Policy::kAllPrimaries:
      r.kind = RouteKind::kAllPrimaries;
      return r;
    case Policy::kRoute:
    case Policy::kSplit:
      break;
  }
  if ((cmd->name == "mset" || cmd->name == "msetnx") && args.size() % 2 == 0) {
    // A key without its value: Redis checks this in the command itself, after arity.
    return error("ERR wrong number of arguments for '" + std::string(cmd->name) + "' command", cmd);
  }
  std::string_view key_error;
  if (!command::getKeys(*cmd, args, keys, &key_error)) {
    return error(key_error.empty() ? "ERR syntax error" : std::string(key_error), cmd);
  }
  if (keys->empty()) {
    r.kind = RouteKind::kAnyNode;
    return r;
  }
  const uint16_t slot = cluster::keySlot(args[(*keys)[0]]);
  for (size_t i = 1; i < keys->size(); ++i) {
    if (cluster::keySlot(args[(*keys)[i]]) != slot) {
      if (cmd->policy == Policy::kSplit) {
        r.kind = RouteKind::kSplit;
        return r;
      }
      return error(std::string(kCrossSlot), cmd);
    }
  }
  // Commands that can block (XREAD/XREADGROUP only with BLOCK) must not hold up a shared
  // backend connection.
  const bool blocking =
      (cmd->flags & command::kBlocking) != 0 &&
      ((cmd->name != "xread" && cmd->name != "xreadgroup") || hasArg(args, 1, "BLOCK"));
  r.kind = blocking ? RouteKind::kBlocking : RouteKind::kSlot;
  r.slot = slot;
  return r;
}

bool planSplit(const CommandInfo& cmd, std::span<const std::string_view> args,
               std::span<const uint32_t> keys, SplitPlan* plan) {
  plan->parts.clear();
  plan->key_count = keys.size();
  if (cmd.name == "mget") {
    plan->kind = SplitKind::kMget;
  } else if (cmd.name == "mset") {
    plan->kind = SplitKind::kMset;
  } else {
    plan->kind = SplitKind::kSumIntegers;
  }
  // slot -> index of its part: linear in the number of keys (a 20,000-key MGET once took
  // seconds of the event loop with a search of the parts per key).
  std::unordered_map<uint16_t, size_t> part_of;
  part_of.reserve(keys.size());
  for (uint32_t k = 0; k < keys.size(); ++k) {
    const uint16_t slot = cluster::keySlot(args[keys[k]]);
    const auto [it, added] = part_of.try_emplace(slot, plan->parts.size());
    if (added) plan->parts.push_back({slot, {}});
    plan->parts[it->second].keys.push_back(k);
  }
  return plan->parts.size() > 1;
}

void encodePart(std::span<const std::string_view> args, std::span<const uint32_t> keys,
                const SplitPlan& plan, const SplitPart& part, std::string* out) {
  const bool with_values = plan.kind == SplitKind::kMset;
  resp::appendArrayHeader(*out, 1 + part.keys.size() * (with_values ? 2 : 1));
  resp::appendBulk(*out, args[0]);
  for (const uint32_t k : part.keys) {
    const uint32_t arg = keys[k];
    resp::appendBulk(*out, args[arg]);
    if (with_values) resp::appendBulk(*out, args[arg + 1]);
  }
}

void mergeReplies(const SplitPlan& plan, std::span<const std::string> part_replies,
                  std::string* out) {
  for (const std::string& reply : part_replies) {
    if (resp::isErrorFrame(reply)) {
      out->append(reply);
      return;
    }
  }
  switch (plan.kind) {
    case SplitKind::kMset:
      for (const std::string& reply : part_replies) {
        if (reply != "+OK\r\n") {
          resp::appendError(*out, "ERR slotproxy: unexpected reply to a split MSET part");
          return;
        }
      }
      out->append("+OK\r\n");
      return;
    case SplitKind::kSumIntegers: {
      int64_t sum = 0;
      for (const std::string& reply : part_replies) {
        resp::Value v;
        if (!resp::parseValue(reply, &v) || v.type != resp::Type::kInteger ||
            __builtin_add_overflow(sum, v.integer, &sum)) {
          resp::appendError(*out, "ERR slotproxy: unexpected reply to a split command part");
          return;
        }
      }
      resp::appendInteger(*out, sum);
      return;
    }
    case SplitKind::kMget: {
      std::vector<std::string_view> values(plan.key_count);
      std::vector<resp::Value> parsed(plan.parts.size());
      for (size_t p = 0; p < plan.parts.size(); ++p) {
        resp::Value& v = parsed[p];
        if (!resp::parseValue(part_replies[p], &v) || v.type != resp::Type::kArray ||
            v.elements.size() != plan.parts[p].keys.size()) {
          resp::appendError(*out, "ERR slotproxy: unexpected reply to a split MGET part");
          return;
        }
        for (size_t i = 0; i < v.elements.size(); ++i) {
          values[plan.parts[p].keys[i]] = v.elements[i].raw;
        }
      }
      resp::appendArrayHeader(*out, plan.key_count);
      for (const std::string_view raw : values) out->append(raw);
      return;
    }
  }
}

}  // namespace slotproxy::router
