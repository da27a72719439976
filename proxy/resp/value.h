#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace slotproxy::resp {

// Every RESP2 and RESP3 type. The comment gives the type byte.
enum class Type : uint8_t {
  kSimpleString,  // +
  kError,         // -
  kInteger,       // :
  kBulkString,    // $
  kArray,         // *
  kNull,          // _
  kDouble,        // ,
  kBoolean,       // #
  kBlobError,     // !
  kVerbatim,      // =
  kBigNumber,     // (
  kMap,           // %
  kSet,           // ~
  kAttribute,     // |
  kPush,          // >
};

// Name of a type for logs and error messages, e.g. "bulk string".
constexpr std::string_view typeName(Type t) {
  switch (t) {
    case Type::kSimpleString:
      return "simple string";
    case Type::kError:
      return "error";
    case Type::kInteger:
      return "integer";
    case Type::kBulkString:
      return "bulk string";
    case Type::kArray:
      return "array";
    case Type::kNull:
      return "null";
    case Type::kDouble:
      return "double";
    case Type::kBoolean:
      return "boolean";
    case Type::kBlobError:
      return "blob error";
    case Type::kVerbatim:
      return "verbatim string";
    case Type::kBigNumber:
      return "big number";
    case Type::kMap:
      return "map";
    case Type::kSet:
      return "set";
    case Type::kAttribute:
      return "attribute";
    case Type::kPush:
      return "push";
  }
  return "unknown";
}

// A parsed reply tree (cold paths: topology replies, merging split replies), built by parseValue().
// All views point into the frame that was parsed: the frame must outlive the Value.
//
// Nulls: RESP3 `_` gives type kNull; RESP2 `$-1` gives type kBulkString and `*-1` type kArray, both
// with is_null set (so the original encoding is known); is_null is true for all three.
struct Value {
  Type type = Type::kNull;
  bool is_null = false;           // RESP2 $-1 / *-1, RESP3 _
  std::string_view str;           // payload of strings/errors/verbatim/double/bignumber (verbatim:
                                  // the "txt:" prefix is NOT stripped; raw payload is kept); for
                                  // integers and booleans the text of the line ("-12", "t")
  int64_t integer = 0;            // kInteger, kBoolean (0/1)
  std::vector<Value> elements;    // aggregates; maps and attributes hold key,value,key,value...
  std::string_view raw;           // the exact bytes of this element in the frame (incl. type byte
                                  // and CRLFs, and the attribute prefix if there is one)
  std::vector<Value> attributes;  // RESP3 attribute(s) preceding this value: key,value,key,value...
};

}  // namespace slotproxy::resp
