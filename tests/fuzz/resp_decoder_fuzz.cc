// libFuzzer target for the RESP codec (as hiredis's reply_reader_fuzzer.c: the first byte picks
// the chunk size). The rest of the input is fed to RequestDecoder and ReplyDecoder, whole and in
// chunks, and checked against invariants; any broken invariant aborts:
//  - decoding never depends on fragmentation (same commands / frames / errors);
//  - multibulk args lie inside the consumed bytes; appendCommand output decodes back to the args;
//  - every frame ReplyDecoder delimits is accepted by parseValue with the same type, and the tree's
//    raw views tile the frame; a whole input parseValue accepts is one frame for ReplyDecoder.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/resp/decoder.h"
#include "proxy/resp/encoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace slotproxy::resp {
namespace {

// Bytes below which the unconsumed input is copied to a fresh buffer before every call, so that
// a decoder keeping a stale pointer reads freed memory (ASan). Larger buffers still move when
// they grow.
constexpr size_t kAlwaysMoveBelow = 512;

using fuzz::check;

struct Command {
  std::vector<std::string> args;
  size_t consumed = 0;
  bool is_inline = false;
  bool operator==(const Command&) const = default;
};

struct Frame {
  size_t consumed = 0;
  Type type = Type::kNull;
  bool is_null = false;
  bool operator==(const Frame&) const = default;
};

template <typename Item>
struct Run {
  std::vector<Item> items;
  Status last = Status::kIncomplete;
  std::string error;
  bool operator==(const Run&) const = default;
};

// Feeds `input` in chunks of `chunk` bytes (0: all at once), decoding all it can after each one.
template <typename Item, typename Decoder, typename Record>
Run<Item> feed(Decoder& decoder, std::string_view input, size_t chunk, Record record) {
  Run<Item> run;
  std::string buf;
  size_t off = 0;
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t n = chunk == 0 ? input.size() - fed : std::min(chunk, input.size() - fed);
    buf.append(input.substr(fed, n));
    fed += n;
    for (;;) {
      if (buf.size() - off < kAlwaysMoveBelow) {
        std::string moved(buf, off);
        buf.swap(moved);
        off = 0;
      }
      const std::string_view view = std::string_view(buf).substr(off);
      size_t consumed = 1;
      const Status s = decoder.decode(view, &consumed);
      if (s == Status::kOk) {
        check(consumed > 0 && consumed <= view.size(), "kOk consumed within input");
        run.items.push_back(record(decoder, view.substr(0, consumed)));
        off += consumed;
        continue;
      }
      check(consumed == 0, "nothing consumed without kOk");
      if (s == Status::kError) {
        check(!decoder.error().empty(), "error message set");
        run.last = Status::kError;
        run.error = std::string(decoder.error());
        check(decoder.decode(view, &consumed) == Status::kError, "error is sticky");
        return run;
      }
      check(s == Status::kIncomplete, "status is one of the three");
      break;
    }
  }
  return run;
}

Run<Command> runRequests(std::string_view input, size_t chunk, const Limits& limits) {
  RequestDecoder decoder(limits);
  return feed<Command>(
      decoder, input, chunk, [&limits](const RequestDecoder& d, std::string_view frame) {
        Command c;
        c.consumed = frame.size();
        c.is_inline = d.isInline();
        for (const std::string_view a : d.args()) {
          if (!d.isInline()) {
            check(a.data() >= frame.data() && a.data() + a.size() <= frame.data() + frame.size(),
                  "multibulk args point into the command");
          }
          c.args.emplace_back(a);
        }
        // Round trip through the encoder when the limits allow it.
        bool encodable = c.args.size() <= limits.max_array_len;
        for (const auto& a : c.args) encodable = encodable && a.size() <= limits.max_bulk_len;
        if (encodable) {
          std::string wire;
          const std::vector<std::string_view> views(d.args().begin(), d.args().end());
          appendCommand(wire, views);
          RequestDecoder again(limits);
          size_t consumed = 0;
          check(again.decode(wire, &consumed) == Status::kOk, "encoded command decodes");
          check(consumed == wire.size(), "encoded command fully consumed");
          check(again.args().size() == c.args.size(), "round trip arg count");
          for (size_t i = 0; i < c.args.size(); ++i) {
            check(again.args()[i] == c.args[i], "round trip args");
          }
        }
        return c;
      });
}

// Checks that the raw views of a tree lie in order inside their parent's, the last element
// ending the parent.
void checkTree(const Value& v) {
  const auto end = [](std::string_view s) { return s.data() + s.size(); };
  const char* next = v.raw.data() + 1;
  const auto children = [&](const std::vector<Value>& list) {
    for (const Value& child : list) {
      check(child.raw.data() >= next && end(child.raw) <= end(v.raw), "children in order inside");
      next = end(child.raw);
      checkTree(child);
    }
  };
  children(v.attributes);
  children(v.elements);
  if (!v.elements.empty()) check(end(v.elements.back().raw) == end(v.raw), "last child ends");
}

Run<Frame> runReplies(std::string_view input, size_t chunk, const Limits& limits) {
  ReplyDecoder decoder(limits);
  return feed<Frame>(
      decoder, input, chunk, [&limits](const ReplyDecoder& d, std::string_view frame) {
        Value v;
        check(parseValue(frame, &v, limits), "parseValue accepts a delimited frame");
        check(v.raw == frame && v.raw.data() == frame.data(), "raw is the frame");
        check(v.type == d.type() && v.is_null == d.isNull(), "parseValue agrees on the type");
        checkTree(v);
        return Frame{frame.size(), d.type(), d.isNull()};
      });
}

}  // namespace
}  // namespace slotproxy::resp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slotproxy::resp;
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const size_t chunk = control & 0x3f;  // 0: everything at once
  Limits limits;
  if ((control & 0x40) != 0) {
    limits = Limits{.max_bulk_len = 64, .max_array_len = 8, .max_depth = 4, .max_inline_len = 64};
  }
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  const auto requests = runRequests(input, chunk, limits);
  check(requests == runRequests(input, 0, limits), "requests independent of fragmentation");

  const auto replies = runReplies(input, chunk, limits);
  check(replies == runReplies(input, 0, limits), "replies independent of fragmentation");

  Value whole;
  if (parseValue(input, &whole, limits)) {
    check(!replies.items.empty() && replies.items[0].consumed == input.size(),
          "a frame parseValue accepts is one ReplyDecoder frame");
  }
  return 0;
}
