#pragma once

// The Redis 7.0 command table as slotproxy sees it: every command and subcommand with its
// Redis metadata (generated from redis-server's COMMAND reply, see gen_command_table.py) and
// slotproxy's own decision of how to serve it (hand-written, see command_table.cc and
// POLICY.md). Pure C++: no I/O, no allocation except in getKeys' output vector.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace slotproxy::command {

// Redis command flags (COMMAND's third field).
enum Flag : uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kDenyOom = 1u << 2,
  kAdmin = 1u << 3,
  kPubsub = 1u << 4,
  kNoscript = 1u << 5,
  kBlocking = 1u << 6,
  kLoading = 1u << 7,
  kStale = 1u << 8,
  kFast = 1u << 9,
  kNoMulti = 1u << 10,
  kMovableKeys = 1u << 11,
  kMayReplicate = 1u << 12,
  kSkipMonitor = 1u << 13,
  kSkipSlowlog = 1u << 14,
  kAsking = 1u << 15,
  kNoAuth = 1u << 16,
  kNoMandatoryKeys = 1u << 17,
  kProtected = 1u << 18,
  kNoAsyncLoading = 1u << 19,
  kAllowBusy = 1u << 20,
  kModule = 1u << 21,
  kSentinel = 1u << 22,
  kOnlySentinel = 1u << 23,
};

// Redis ACL categories (COMMAND's seventh field), one bit each.
enum AclCategory : uint32_t {
  kAclKeyspace = 1u << 0,
  kAclRead = 1u << 1,
  kAclWrite = 1u << 2,
  kAclSet = 1u << 3,
  kAclSortedSet = 1u << 4,
  kAclList = 1u << 5,
  kAclHash = 1u << 6,
  kAclString = 1u << 7,
  kAclBitmap = 1u << 8,
  kAclHyperLogLog = 1u << 9,
  kAclGeo = 1u << 10,
  kAclStream = 1u << 11,
  kAclPubsub = 1u << 12,
  kAclAdmin = 1u << 13,
  kAclFast = 1u << 14,
  kAclSlow = 1u << 15,
  kAclBlocking = 1u << 16,
  kAclDangerous = 1u << 17,
  kAclConnection = 1u << 18,
  kAclTransaction = 1u << 19,
  kAclScripting = 1u << 20,
};

// Command tips without a value ("nondeterministic_output", "nondeterministic_output_order").
enum Tip : uint8_t {
  kTipNondeterministicOutput = 1u << 0,
  kTipNondeterministicOutputOrder = 1u << 1,
};

// Redis's own cluster-client hints ("request_policy:..." / "response_policy:..." tips).
// Informational: slotproxy's behaviour is Policy/Merge below.
enum class RequestPolicy : uint8_t { kDefault, kAllNodes, kAllShards, kMultiShard, kSpecial };
enum class ResponsePolicy : uint8_t {
  kDefault,
  kOneSucceeded,
  kAllSucceeded,
  kAggLogicalAnd,
  kAggLogicalOr,
  kAggMin,
  kAggMax,
  kAggSum,
  kSpecial,
};

// Key-spec flags (Redis's CMD_KEY_*).
enum KeySpecFlag : uint16_t {
  kKeyRO = 1u << 0,
  kKeyRW = 1u << 1,
  kKeyOW = 1u << 2,
  kKeyRM = 1u << 3,
  kKeyAccess = 1u << 4,
  kKeyUpdate = 1u << 5,
  kKeyInsert = 1u << 6,
  kKeyDelete = 1u << 7,
  kKeyNotKey = 1u << 8,  // a shard channel (SPUBLISH...): not a key, but it picks the slot
  kKeyIncomplete = 1u << 9,
  kKeyVariableFlags = 1u << 10,
};

enum class BeginSearch : uint8_t { kIndex, kKeyword, kUnknown };
enum class FindKeys : uint8_t { kRange, kKeynum, kUnknown };

// One Redis key spec: where the search for keys begins, then how keys are found from there.
struct KeySpec {
  BeginSearch begin_search;
  int32_t index;             // kIndex: argument index of the first key
  std::string_view keyword;  // kKeyword: the keyword (upper case) preceding the first key
  int32_t startfrom;         // kKeyword: search from here; negative = backwards from the end
  FindKeys find_keys;
  int32_t lastkey;    // kRange: last key relative to the first; -1 = last argument, ...
  int32_t keystep;    // kRange, kKeynum: distance between two keys
  int32_t limit;      // kRange with lastkey < 0: keys are the first 1/limit of the rest
  int32_t keynumidx;  // kKeynum: index of numkeys relative to the begin_search position
  int32_t firstkey;   // kKeynum: first key relative to the begin_search position
  uint16_t flags;     // KeySpecFlag bits
};

// What slotproxy does with a command. Every entry has one; POLICY.md lists every decision.
enum class Policy : uint8_t {
  kRoute,         // keyed command: all keys must hash to one slot; sent to that slot's primary
  kSplit,         // MGET MSET DEL UNLINK EXISTS TOUCH: split per slot, merged in key order
  kLocal,         // answered by the proxy itself (PING ECHO SELECT QUIT HELLO RESET, CLIENT
                  // SETNAME/GETNAME/ID/SETINFO, CLUSTER KEYSLOT)
  kAnyNode,       // keyless and the same on every node (COMMAND, TIME, PUBLISH, *|HELP...)
  kAllPrimaries,  // sent to every primary, replies merged as `merge` says
  kUnsupported,   // refused with -ERR and `unsupported_reason`
};

// How the replies of a kAllPrimaries command are merged. Any error reply wins.
enum class Merge : uint8_t {
  kNone,              // not kAllPrimaries
  kSumIntegers,       // DBSIZE, PUBSUB NUMPAT
  kConcatArrays,      // KEYS
  kUnionArrays,       // PUBSUB CHANNELS/SHARDCHANNELS: every element once, first seen first
  kSumPairs,          // PUBSUB NUMSUB/SHARDNUMSUB: [name, n, ...] with n summed per name
  kAllOk,             // FLUSHALL FLUSHDB SCRIPT FLUSH FUNCTION DELETE/FLUSH/RESTORE: +OK if all are
  kFirstReply,        // SCRIPT LOAD, FUNCTION LOAD: replies are identical, the first is returned
  kAndIntegerArrays,  // SCRIPT EXISTS: element-wise AND of 0/1 arrays
  kSameValues,        // CONFIG GET: [name, value, ...] (a map in RESP3), the same on every primary
  kScan,              // SCAN: one primary per call, in turn; the cursor says which (router/scan.h)
};

// How getKeys finds keys; internal to command_table.cc (set there by command name).
enum class KeysProc : uint8_t {
  kSpecs,    // key specs only
  kSort,     // SORT: key 1, plus the STORE destination found by walking the options
  kMigrate,  // MIGRATE: key 3, or the keys after KEYS when key 3 is ""
  kXread,    // XREAD / XREADGROUP: the first half of the arguments after STREAMS
};

struct CommandInfo {
  std::string_view name;  // lower case, "object|encoding" for subcommands
  int32_t arity;          // Redis arity (negative = at least -arity), subcommand name included
  uint32_t flags;         // Flag bits
  int32_t first_key, last_key, step;         // Redis's legacy key positions
  uint32_t acl_categories;                   // AclCategory bits
  RequestPolicy request_policy;              // Redis's hint, informational
  ResponsePolicy response_policy;            // Redis's hint, informational
  uint8_t tips;                              // Tip bits
  std::span<const KeySpec> key_specs;        // as Redis reports them
  std::span<const CommandInfo> subcommands;  // for container commands; sorted by name
  Policy policy;
  Merge merge;                          // kNone unless policy is kAllPrimaries
  std::string_view unsupported_reason;  // non-empty iff policy is kUnsupported
  KeysProc keys_proc;                   // internal: how getKeys finds the keys
  uint16_t id;  // dense index 0..count()-1, subcommands included, for per-command metrics

  bool isContainer() const { return !subcommands.empty(); }
};

// Case-insensitive lookup of args[0], and of args[1] when args[0] is a container command (an
// unknown or missing subcommand returns the container itself). nullptr if args is empty or
// args[0] is unknown. A hash probe and a compare; no allocation.
const CommandInfo* lookup(std::span<const std::string_view> args);

// ASCII case-insensitive equality, for command names and keywords (ASYNC, MATCH, SETNAME...).
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// Redis's arity rule; argc counts the command name (and the subcommand name).
bool arityOk(const CommandInfo& cmd, size_t argc);

// Clears *keys and appends the indices into args of cmd's keys (in key-spec order, which is
// argument order for every Redis 7.0 command), e.g. MSET a 1 b 2 -> {1, 3}. Shard channels of
// SPUBLISH/SSUBSCRIBE/SUNSUBSCRIBE count as keys since they pick the slot. EVAL/FCALL with
// numkeys 0 yield no keys and succeed. `args` is the whole command and should have passed
// arityOk. Returns false, with *error set to Redis's own message (static storage, "ERR ..."
// without the leading "-"), when the arguments do not allow finding the keys: numkeys not an
// integer, negative, zero where Redis requires a key, larger than the arguments; XREAD without a
// balanced STREAMS list; an option that lacks its key (SORT ... STORE, GEORADIUS ... STORE).
// Allocates nothing beyond *keys' growth.
bool getKeys(const CommandInfo& cmd, std::span<const std::string_view> args,
             std::vector<uint32_t>* keys, std::string_view* error);

// Number of CommandInfo entries, subcommands included.
size_t count();

// The entry with that id; id must be < count().
const CommandInfo& byId(uint16_t id);

// All top-level commands (containers included), sorted by name.
std::span<const CommandInfo> topLevel();

}  // namespace slotproxy::command
