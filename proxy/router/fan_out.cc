#include "proxy/router/fan_out.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "proxy/resp/decoder.h"
#include "proxy/resp/encoder.h"
#include "proxy/resp/value.h"

namespace slotproxy::router {
namespace {

bool allOfType(const std::vector<resp::Value>& values, resp::Type type) {
  for (const resp::Value& v : values) {
    if (v.type != type) return false;
  }
  return true;
}

}  // namespace

void mergeFanOut(command::Merge kind, std::span<const std::string> replies, std::string* out) {
  for (const std::string& reply : replies) {
    if (resp::isErrorFrame(reply)) {
      out->append(reply);
      return;
    }
  }
  std::vector<resp::Value> values(replies.size());
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!resp::parseValue(replies[i], &values[i])) {
      resp::appendError(*out, "ERR slotproxy: malformed reply while merging");
      return;
    }
  }
  const auto unexpected = [out] {
    resp::appendError(*out, "ERR slotproxy: unexpected reply from a primary while merging");
  };
  switch (kind) {
    case command::Merge::kSumIntegers: {  // DBSIZE, PUBSUB NUMPAT
      int64_t sum = 0;
      for (const resp::Value& v : values) {
        if (v.type != resp::Type::kInteger || __builtin_add_overflow(sum, v.integer, &sum)) {
          return unexpected();
        }
      }
      resp::appendInteger(*out, sum);
      return;
    }
    case command::Merge::kConcatArrays: {  // KEYS: each key lives on one primary
      if (!allOfType(values, resp::Type::kArray)) return unexpected();
      size_t n = 0;
      for (const resp::Value& v : values) n += v.elements.size();
      resp::appendArrayHeader(*out, n);
      for (const resp::Value& v : values) {
        for (const resp::Value& e : v.elements) out->append(e.raw);
      }
      return;
    }
    case command::Merge::kUnionArrays: {  // PUBSUB CHANNELS: a channel may be on several nodes
      if (!allOfType(values, resp::Type::kArray)) return unexpected();
      std::unordered_set<std::string_view> seen;
      std::vector<std::string_view> elements;
      for (const resp::Value& v : values) {
        for (const resp::Value& e : v.elements) {
          if (seen.insert(e.raw).second) elements.push_back(e.raw);
        }
      }
      resp::appendArrayHeader(*out, elements.size());
      for (std::string_view e : elements) out->append(e);
      return;
    }
    case command::Merge::kSumPairs: {  // PUBSUB NUMSUB: [name, count, ...], the same names
      if (values.empty() || !allOfType(values, resp::Type::kArray)) return unexpected();
      const std::vector<resp::Value>& first = values[0].elements;
      if (first.size() % 2 != 0) return unexpected();
      std::vector<int64_t> counts(first.size() / 2, 0);
      for (const resp::Value& v : values) {
        if (v.elements.size() != first.size()) return unexpected();
        for (size_t i = 0; i < counts.size(); ++i) {
          const resp::Value& name = v.elements[2 * i];
          const resp::Value& count = v.elements[2 * i + 1];
          if (name.raw != first[2 * i].raw || count.type != resp::Type::kInteger ||
              __builtin_add_overflow(counts[i], count.integer, &counts[i])) {
            return unexpected();
          }
        }
      }
      resp::appendArrayHeader(*out, first.size());
      for (size_t i = 0; i < counts.size(); ++i) {
        out->append(first[2 * i].raw);
        resp::appendInteger(*out, counts[i]);
      }
      return;
    }
    case command::Merge::kAndIntegerArrays: {  // SCRIPT EXISTS: loaded on every primary?
      if (!allOfType(values, resp::Type::kArray)) return unexpected();
      const size_t n = values.empty() ? 0 : values[0].elements.size();
      for (const resp::Value& v : values) {
        if (v.elements.size() != n || !allOfType(v.elements, resp::Type::kInteger)) {
          return unexpected();
        }
      }
      resp::appendArrayHeader(*out, n);
      for (size_t i = 0; i < n; ++i) {
        int64_t all = 1;
        for (const resp::Value& v : values) {
          if (v.elements[i].integer == 0) all = 0;
        }
        resp::appendInteger(*out, all);
      }
      return;
    }
    case command::Merge::kSameValues: {  // CONFIG GET: one node's reply if all say the same
      using Pairs = std::vector<std::pair<std::string_view, std::string_view>>;
      // By name: the order of the pairs is each node's own (a hash table's).
      const auto pairs = [](const resp::Value& v, Pairs* by_name) {
        if ((v.type != resp::Type::kArray && v.type != resp::Type::kMap) ||
            v.elements.size() % 2 != 0) {
          return false;
        }
        for (size_t i = 0; i < v.elements.size(); i += 2) {
          if (v.elements[i].type != resp::Type::kBulkString) return false;
          by_name->emplace_back(v.elements[i].str, v.elements[i + 1].raw);
        }
        std::sort(by_name->begin(), by_name->end());
        return true;
      };
      Pairs first;
      if (values.empty() || !pairs(values[0], &first)) return unexpected();
      for (size_t n = 1; n < values.size(); ++n) {
        Pairs other;
        if (!pairs(values[n], &other)) return unexpected();
        if (other == first) continue;
        std::string_view name;  // the first parameter (by name) that differs
        for (size_t i = 0; i < std::min(first.size(), other.size()) && name.empty(); ++i) {
          if (first[i] != other[i]) name = std::min(first[i].first, other[i].first);
        }
        if (name.empty()) {
          name =
              first.size() > other.size() ? first[other.size()].first : other[first.size()].first;
        }
        resp::appendError(*out, "ERR slotproxy: CONFIG GET: '" + std::string(name) +
                                    "' is not the same on every primary; ask the nodes directly");
        return;
      }
      out->append(replies[0]);
      return;
    }
    case command::Merge::kAllOk:
    case command::Merge::kFirstReply:
    case command::Merge::kScan:  // (one part: see Worker::scanCommand)
    case command::Merge::kNone:
      out->append(replies.empty() ? std::string_view("+OK\r\n") : std::string_view(replies[0]));
      return;
  }
}

}  // namespace slotproxy::router
