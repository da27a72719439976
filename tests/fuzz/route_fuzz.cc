// libFuzzer target for the request path after the decoder: the input is decoded into commands
// (RESP or inline, as a client sends them) and every command goes through router::route, and a
// split command through planSplit, encodePart and mergeReplies. Any broken invariant aborts:
//  - keys are argument positions after the command name;
//  - kSlot/kBlocking: every key hashes to the route's slot;
//  - kError: the text is a one-line RESP error once encoded (a client's bytes echoed in an
//    "unknown command" error must not break the reply stream);
//  - kSplit: the parts cover each key exactly once, all keys of a part hash to its slot, each
//    part's command decodes back to the command name and that part's keys (and MSET values);
//  - mergeReplies gives exactly one RESP frame: the first error among the parts, the exact merge
//    for well-formed parts, and a slotproxy error (never a crash or overflow) for ill-formed ones;
//  - likewise mergeFanOut for a kAllPrimaries command over one to four primaries' replies (the
//    exact merge checked for the summing kinds).
//  - a subscriber's keyspace mirrors (router/keyspace.h) get only keyspace names the command
//    gave, under its own name, and a command that adds one leaves something to mirror; the
//    pub/sub frame parser's views lie inside the bytes it was given.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cluster/key_slot.h"
#include "proxy/resp/decoder.h"
#include "proxy/resp/encoder.h"
#include "proxy/router/fan_out.h"
#include "proxy/router/keyspace.h"
#include "proxy/router/router.h"
#include "proxy/router/subscription.h"
#include "tests/fuzz/fuzz_check.h"

namespace slotproxy::router {
namespace {

constexpr size_t kMaxCommands = 64;

using fuzz::check;

resp::Limits fuzzLimits() {
  resp::Limits limits;
  limits.max_bulk_len = 1 << 16;
  limits.max_array_len = 4096;
  limits.max_inline_len = 4096;
  return limits;
}

// The one frame `bytes` must be; returns its type.
resp::Type oneFrame(std::string_view bytes, const char* what) {
  resp::ReplyDecoder decoder(fuzzLimits());
  size_t consumed = 0;
  check(decoder.decode(bytes, &consumed) == resp::Status::kOk && consumed == bytes.size(), what);
  return decoder.type();
}

// What a node might answer to one part; `pick` (a byte of the input) chooses.
enum class PartReply { kGood, kError, kWrongType, kHugeInteger };

std::string partReply(const SplitPlan& plan, const SplitPart& part, size_t index, PartReply kind) {
  std::string out;
  switch (kind) {
    case PartReply::kGood:
      if (plan.kind == SplitKind::kMset) {
        out = "+OK\r\n";
      } else if (plan.kind == SplitKind::kSumIntegers) {
        resp::appendInteger(out, static_cast<int64_t>(part.keys.size()));
      } else {
        resp::appendArrayHeader(out, part.keys.size());
        for (const uint32_t k : part.keys) resp::appendBulk(out, "v" + std::to_string(k));
      }
      break;
    case PartReply::kError:
      resp::appendError(out, "ERR part " + std::to_string(index));
      break;
    case PartReply::kWrongType:
      out = "$3\r\nabc\r\n";
      break;
    case PartReply::kHugeInteger:
      resp::appendInteger(out, std::numeric_limits<int64_t>::max());
      break;
  }
  return out;
}

void checkMerge(const SplitPlan& plan, std::string_view picks) {
  std::vector<std::string> replies;
  std::vector<PartReply> kinds;
  for (size_t p = 0; p < plan.parts.size(); ++p) {
    const uint8_t b = picks.empty() ? 0 : static_cast<uint8_t>(picks[p % picks.size()]);
    // Mostly good parts, so that the exact merge is checked often.
    const auto kind = static_cast<PartReply>(b < 160 ? 0 : (b - 160) % 4);
    kinds.push_back(kind);
    replies.push_back(partReply(plan, plan.parts[p], p, kind));
  }
  std::string merged;
  mergeReplies(plan, replies, &merged);
  const resp::Type type = oneFrame(merged, "merged reply is one frame");
  for (size_t p = 0; p < kinds.size(); ++p) {
    if (kinds[p] == PartReply::kError) {
      check(merged == replies[p], "the first error part is the reply");
      return;
    }
  }
  bool all_good = true;
  for (const PartReply k : kinds) all_good = all_good && k == PartReply::kGood;
  if (!all_good) {
    check(type == resp::Type::kError, "ill-formed parts give an error");
    return;
  }
  std::string want;
  if (plan.kind == SplitKind::kMset) {
    want = "+OK\r\n";
  } else if (plan.kind == SplitKind::kSumIntegers) {
    resp::appendInteger(want, static_cast<int64_t>(plan.key_count));
  } else {
    resp::appendArrayHeader(want, plan.key_count);
    for (size_t k = 0; k < plan.key_count; ++k) resp::appendBulk(want, "v" + std::to_string(k));
  }
  check(merged == want, "well-formed parts merge exactly, in the client's key order");
}

void checkSplit(const Route& r, const std::vector<std::string_view>& args,
                const std::vector<uint32_t>& keys, std::string_view picks) {
  SplitPlan plan;
  check(planSplit(*r.cmd, args, keys, &plan), "kSplit keys span several slots");
  check(plan.key_count == keys.size() && plan.parts.size() > 1, "plan covers the keys");
  std::vector<int> seen(keys.size(), 0);
  std::set<uint16_t> slots;
  for (const SplitPart& part : plan.parts) {
    check(slots.insert(part.slot).second, "one part per slot");
    check(!part.keys.empty(), "no empty part");
    for (const uint32_t k : part.keys) {
      check(k < keys.size(), "part key position in range");
      ++seen[k];
      check(cluster::keySlot(args[keys[k]]) == part.slot, "part keys hash to its slot");
    }
    std::string bytes;
    encodePart(args, keys, plan, part, &bytes);
    resp::RequestDecoder decoder;  // default limits: a part is never larger than its command
    size_t consumed = 0;
    check(decoder.decode(bytes, &consumed) == resp::Status::kOk && consumed == bytes.size(),
          "part command decodes");
    std::vector<std::string_view> want{args[0]};
    for (const uint32_t k : part.keys) {
      want.push_back(args[keys[k]]);
      if (plan.kind == SplitKind::kMset) want.push_back(args[keys[k] + 1]);
    }
    check(decoder.args() == want, "part command is the name and the part's keys (and values)");
  }
  for (const int n : seen) check(n == 1, "every key in exactly one part");
  checkMerge(plan, picks);
}

// What a primary might answer to a fan-out command, chosen by `b`: mostly a reply of the shape
// its merge expects (built from the command's arguments after the subcommand), else an error,
// a bulk string, or the largest integer.
std::string primaryReply(command::Merge merge, const std::vector<std::string_view>& args, uint8_t b,
                         int64_t* count) {
  std::string out;
  *count = b % 7;
  const size_t first = args.size() > 1 ? 2 : 1;  // after "PUBSUB NUMSUB", "SCRIPT EXISTS"
  switch (b % 6) {
    case 0:
    case 1:
    case 2:
      switch (merge) {
        case command::Merge::kSumIntegers:
          resp::appendInteger(out, *count);
          break;
        case command::Merge::kConcatArrays:
        case command::Merge::kUnionArrays:
          resp::appendArrayHeader(out, 2);
          resp::appendBulk(out, "c" + std::to_string(b % 3));
          resp::appendBulk(out, "c" + std::to_string(b % 5));
          break;
        case command::Merge::kSumPairs:
          resp::appendArrayHeader(out, 2 * (args.size() - first));
          for (size_t i = first; i < args.size(); ++i) {
            resp::appendBulk(out, args[i]);
            resp::appendInteger(out, *count);
          }
          break;
        case command::Merge::kAndIntegerArrays:
          resp::appendArrayHeader(out, args.size() - first);
          for (size_t i = first; i < args.size(); ++i) resp::appendInteger(out, b & 1);
          break;
        default:
          out = "+OK\r\n";
          break;
      }
      break;
    case 3:
      resp::appendError(out, "ERR primary " + std::to_string(b));
      break;
    case 4:
      out = "$3\r\nabc\r\n";
      break;
    default:
      resp::appendInteger(out, std::numeric_limits<int64_t>::max());
      break;
  }
  return out;
}

void checkFanOut(const Route& r, const std::vector<std::string_view>& args,
                 std::string_view picks) {
  const command::Merge merge = r.cmd->merge;
  if (merge == command::Merge::kScan) return;  // one primary per call: Worker::scanCommand
  const size_t primaries =
      picks.empty() ? 1 : 1 + static_cast<size_t>(static_cast<uint8_t>(picks[0]) % 4);
  std::vector<std::string> replies;
  bool well_formed = true;
  int64_t sum = 0;
  for (size_t p = 0; p < primaries; ++p) {
    const uint8_t b = picks.size() > p + 1 ? static_cast<uint8_t>(picks[p + 1]) : 0;
    int64_t count = 0;
    replies.push_back(primaryReply(merge, args, b, &count));
    well_formed = well_formed && b % 6 < 3;
    sum += count;
  }
  std::string merged;
  mergeFanOut(merge, replies, &merged);
  oneFrame(merged, "fan-out reply is one frame");
  for (const std::string& reply : replies) {
    if (reply[0] == '-') {
      check(merged == reply, "the first error from a primary is the reply");
      return;
    }
  }
  if (!well_formed) return;
  std::string want;
  if (merge == command::Merge::kSumIntegers) {
    resp::appendInteger(want, sum);
  } else if (merge == command::Merge::kSumPairs) {
    const size_t first = args.size() > 1 ? 2 : 1;
    resp::appendArrayHeader(want, 2 * (args.size() - first));
    for (size_t i = first; i < args.size(); ++i) {
      resp::appendBulk(want, args[i]);
      resp::appendInteger(want, sum);
    }
  } else {
    return;
  }
  check(merged == want, "well-formed replies of every primary add up exactly");
}

void checkCommand(const std::vector<std::string_view>& args, std::vector<uint32_t>* keys,
                  std::string_view picks) {
  const Route r = route(args, keys);
  for (const uint32_t k : *keys) check(k >= 1 && k < args.size(), "keys are argument positions");
  switch (r.kind) {
    case RouteKind::kError: {
      check(!r.error.empty(), "an error has a text");
      std::string frame;
      resp::appendError(frame, r.error);
      check(oneFrame(frame, "error is one frame") == resp::Type::kError, "error frame type");
      break;
    }
    case RouteKind::kSlot:
    case RouteKind::kBlocking:
      check(r.cmd != nullptr && !keys->empty(), "slot route has a command and keys");
      for (const uint32_t k : *keys) {
        check(cluster::keySlot(args[k]) == r.slot, "every key hashes to the route's slot");
      }
      break;
    case RouteKind::kSplit:
      check(r.cmd != nullptr, "split has a command");
      checkSplit(r, args, *keys, picks);
      break;
    case RouteKind::kAllPrimaries:
      check(r.cmd != nullptr, "route has a command");
      checkFanOut(r, args, picks);
      break;
    case RouteKind::kLocal:
    case RouteKind::kAnyNode:
      check(r.cmd != nullptr, "route has a command");
      break;
  }
}

}  // namespace
}  // namespace slotproxy::router

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slotproxy;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  resp::RequestDecoder decoder(router::fuzzLimits());
  std::vector<uint32_t> keys;
  std::vector<std::string_view> args;
  router::KeyspaceInterest keyspace;
  router::Subscription subscription;
  size_t off = 0;
  for (size_t n = 0; n < router::kMaxCommands && off < input.size(); ++n) {
    const std::string_view rest = input.substr(off);
    const router::PubSubFrame frame = router::parsePubSubFrame(rest);
    for (const std::string_view view : {frame.name, frame.channel}) {
      fuzz::check(view.empty() || (view.data() >= rest.data() &&
                                   view.data() + view.size() <= rest.data() + rest.size()),
                  "pub/sub frame views inside the frame");
    }
    // The rest read as a node's frame: isReply() answers as received() will (the proxy swallows
    // its own resubscriptions' replies by it), and no frame adds replies due.
    router::Subscription applied = subscription;
    fuzz::check(subscription.isReply(rest) == applied.received(rest),
                "isReply is received's answer");
    fuzz::check(applied.repliesDue() <= subscription.repliesDue(), "a frame adds no reply due");
    subscription = std::move(applied);
    size_t consumed = 0;
    if (decoder.decode(input.substr(off), &consumed) != resp::Status::kOk) break;
    args.assign(decoder.args().begin(), decoder.args().end());
    off += consumed;
    // The bytes after this command choose the parts' replies (the command's own bytes would tie
    // the replies to the keys).
    if (!args.empty()) router::checkCommand(args, &keys, input.substr(off));
    if (!args.empty()) {
      subscription.sent(args);
      const bool adds = router::KeyspaceInterest::adds(args);
      const std::vector<std::string> mirrored = keyspace.sent(args);
      fuzz::check(!adds || !keyspace.empty(), "a keyspace subscription leaves something mirrored");
      fuzz::check(mirrored.empty() || mirrored[0] == args[0], "mirrored under the command's name");
      for (size_t i = 1; i < mirrored.size(); ++i) {
        fuzz::check(std::find(args.begin() + 1, args.end(), mirrored[i]) != args.end(),
                    "mirrored names come from the command");
        fuzz::check(router::mayMatchKeyspace(mirrored[i]), "mirrored names are keyspace names");
      }
    }
  }
  return 0;
}
