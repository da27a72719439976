#include "proxy/command/command_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace slotproxy::command {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Redis 7.0.15: COMMAND COUNT is 240; its containers have 126 subcommands. slotproxy adds
// CLIENT SETINFO (Redis 7.2), which client libraries send on connect.
constexpr size_t kRedis70TopLevel = 240;
constexpr size_t kRedis70Subcommands = 126;
constexpr size_t kSupplemented = 1;

const CommandInfo* find(std::initializer_list<std::string_view> args) {
  return lookup(std::span<const std::string_view>(args.begin(), args.size()));
}

std::string_view nameOf(std::initializer_list<std::string_view> args) {
  const CommandInfo* c = find(args);
  return c == nullptr ? std::string_view("<null>") : c->name;
}

struct KeysResult {
  bool ok = false;
  std::vector<uint32_t> keys;
  std::string error;
};

KeysResult keysOf(std::initializer_list<std::string_view> args) {
  KeysResult r;
  const CommandInfo* c = find(args);
  if (c == nullptr) {
    r.error = "<unknown command>";
    return r;
  }
  std::string_view error;
  r.ok = getKeys(*c, std::span<const std::string_view>(args.begin(), args.size()), &r.keys, &error);
  r.error = std::string(error);
  return r;
}

std::vector<uint32_t> okKeys(std::initializer_list<std::string_view> args) {
  KeysResult r = keysOf(args);
  EXPECT_TRUE(r.ok) << r.error;
  return r.keys;
}

std::string keyError(std::initializer_list<std::string_view> args) {
  KeysResult r = keysOf(args);
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.keys, IsEmpty());
  return r.error;
}

// ---- The table covers Redis 7.0.

TEST(CommandTable, CountsMatchRedis70PlusSupplement) {
  EXPECT_EQ(topLevel().size(), kRedis70TopLevel);
  size_t subs = 0;
  for (const CommandInfo& c : topLevel()) subs += c.subcommands.size();
  EXPECT_EQ(subs, kRedis70Subcommands + kSupplemented);
  EXPECT_EQ(count(), kRedis70TopLevel + kRedis70Subcommands + kSupplemented);
}

TEST(CommandTable, IdsAreDenseAndByIdRoundTrips) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < count(); ++i) {
    const CommandInfo& c = byId(static_cast<uint16_t>(i));
    EXPECT_EQ(c.id, i);
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
  }
}

TEST(CommandTable, EveryEntryIsFoundByItsOwnNameInUpperCase) {
  for (size_t i = 0; i < count(); ++i) {
    const CommandInfo& c = byId(static_cast<uint16_t>(i));
    std::string upper(c.name);
    for (char& ch : upper) ch = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 32) : ch;
    std::vector<std::string_view> args;
    const size_t bar = upper.find('|');
    if (bar == std::string::npos) {
      args.push_back(upper);
    } else {
      args.push_back(std::string_view(upper).substr(0, bar));
      args.push_back(std::string_view(upper).substr(bar + 1));
    }
    EXPECT_EQ(lookup(args), &c) << c.name;
  }
}

TEST(CommandTable, KnownCommandsExistWithRedisMetadata) {
  const CommandInfo* get = find({"get", "k"});
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->name, "get");
  EXPECT_EQ(get->arity, 2);
  EXPECT_TRUE(get->flags & kReadonly);
  EXPECT_TRUE(get->flags & kFast);
  EXPECT_FALSE(get->flags & kWrite);
  EXPECT_EQ(get->first_key, 1);
  EXPECT_EQ(get->last_key, 1);
  EXPECT_EQ(get->step, 1);
  EXPECT_TRUE(get->acl_categories & kAclString);
  ASSERT_EQ(get->key_specs.size(), 1u);
  EXPECT_EQ(get->key_specs[0].begin_search, BeginSearch::kIndex);
  EXPECT_EQ(get->key_specs[0].index, 1);
  EXPECT_EQ(get->key_specs[0].find_keys, FindKeys::kRange);
  EXPECT_TRUE(get->key_specs[0].flags & kKeyRO);

  const CommandInfo* enc = find({"object", "encoding", "k"});
  ASSERT_NE(enc, nullptr);
  EXPECT_EQ(enc->name, "object|encoding");
  EXPECT_EQ(enc->arity, 3);
  EXPECT_EQ(enc->first_key, 2);
  EXPECT_EQ(enc->tips, kTipNondeterministicOutput);

  EXPECT_EQ(nameOf({"xinfo", "stream", "s"}), "xinfo|stream");
  EXPECT_EQ(nameOf({"memory", "usage", "k"}), "memory|usage");
  EXPECT_EQ(nameOf({"xgroup", "createconsumer"}), "xgroup|createconsumer");
  EXPECT_EQ(nameOf({"cluster", "count-failure-reports"}), "cluster|count-failure-reports");
  EXPECT_EQ(nameOf({"restore-asking"}), "restore-asking");

  const CommandInfo* xread = find({"xread"});
  ASSERT_NE(xread, nullptr);
  EXPECT_TRUE(xread->flags & kBlocking);
  EXPECT_TRUE(xread->flags & kMovableKeys);
  ASSERT_EQ(xread->key_specs.size(), 1u);
  EXPECT_EQ(xread->key_specs[0].begin_search, BeginSearch::kKeyword);
  EXPECT_EQ(xread->key_specs[0].keyword, "STREAMS");
  EXPECT_EQ(xread->key_specs[0].limit, 2);

  const CommandInfo* eval = find({"eval"});
  ASSERT_NE(eval, nullptr);
  ASSERT_EQ(eval->key_specs.size(), 1u);
  EXPECT_EQ(eval->key_specs[0].find_keys, FindKeys::kKeynum);
  EXPECT_EQ(eval->key_specs[0].keynumidx, 0);
  EXPECT_EQ(eval->key_specs[0].firstkey, 1);
  EXPECT_TRUE(eval->flags & kNoMandatoryKeys);

  const CommandInfo* dbsize = find({"dbsize"});
  ASSERT_NE(dbsize, nullptr);
  EXPECT_EQ(dbsize->request_policy, RequestPolicy::kAllShards);
  EXPECT_EQ(dbsize->response_policy, ResponsePolicy::kAggSum);
}

TEST(CommandTable, ContainersListTheirSubcommands) {
  for (std::string_view name :
       {"acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module",
        "object", "pubsub", "script", "slowlog", "xgroup", "xinfo"}) {
    const CommandInfo* c = find({name});
    ASSERT_NE(c, nullptr) << name;
    EXPECT_TRUE(c->isContainer()) << name;
    for (const CommandInfo& sub : c->subcommands) {
      EXPECT_TRUE(sub.name.starts_with(std::string(name) + "|")) << sub.name;
      EXPECT_FALSE(sub.isContainer()) << sub.name;
    }
  }
  EXPECT_FALSE(find({"get"})->isContainer());
}

// ---- Lookup.

TEST(CommandLookup, IsCaseInsensitive) {
  EXPECT_EQ(nameOf({"GET", "k"}), "get");
  EXPECT_EQ(nameOf({"gEt", "k"}), "get");
  EXPECT_EQ(nameOf({"ZUNIONSTORE"}), "zunionstore");
  EXPECT_EQ(nameOf({"OBJECT", "ENCODING", "k"}), "object|encoding");
  EXPECT_EQ(nameOf({"object", "EnCoDiNg", "k"}), "object|encoding");
  EXPECT_EQ(nameOf({"Client", "SetName", "x"}), "client|setname");
  EXPECT_EQ(nameOf({"CLIENT", "SETINFO", "LIB-NAME", "x"}), "client|setinfo");
}

TEST(CommandLookup, UnknownCommandIsNull) {
  EXPECT_EQ(find({"nosuchcommand"}), nullptr);
  EXPECT_EQ(find({"ge"}), nullptr);
  EXPECT_EQ(find({"gett"}), nullptr);
  EXPECT_EQ(find({""}), nullptr);
  EXPECT_EQ(find({"get\xC3\xA9"}), nullptr);
  EXPECT_EQ(find({std::string_view("get\0", 4)}), nullptr);
  EXPECT_EQ(find({"object|encoding"}), nullptr);  // subcommands are not top-level names
  const std::string longName(1000, 'a');
  EXPECT_EQ(find({longName}), nullptr);
  EXPECT_EQ(lookup({}), nullptr);
}

TEST(CommandLookup, UnknownOrMissingSubcommandReturnsContainer) {
  EXPECT_EQ(nameOf({"object"}), "object");
  EXPECT_EQ(nameOf({"object", "nosuch", "k"}), "object");
  EXPECT_EQ(nameOf({"config", "get2"}), "config");
  EXPECT_EQ(nameOf({"client", "no-touch", "on"}), "client");  // Redis 7.2, not in the table
  EXPECT_EQ(nameOf({"command"}), "command");
  EXPECT_EQ(nameOf({"command", "count"}), "command|count");
  EXPECT_EQ(nameOf({"xinfo", "help"}), "xinfo|help");
  EXPECT_EQ(nameOf({"xinfo", "object"}), "xinfo");
  // A subcommand of another container does not match.
  EXPECT_EQ(nameOf({"object", "stream"}), "object");
  EXPECT_EQ(nameOf({"acl", "encoding"}), "acl");
  // Subcommands are only looked up for containers.
  EXPECT_EQ(nameOf({"get", "help"}), "get");
}

// ---- Arity.

TEST(CommandArity, FixedAndMinimum) {
  const CommandInfo& get = *find({"get"});
  EXPECT_FALSE(arityOk(get, 1));
  EXPECT_TRUE(arityOk(get, 2));
  EXPECT_FALSE(arityOk(get, 3));

  const CommandInfo& set = *find({"set"});  // -3
  EXPECT_FALSE(arityOk(set, 2));
  EXPECT_TRUE(arityOk(set, 3));
  EXPECT_TRUE(arityOk(set, 7));

  const CommandInfo& ping = *find({"ping"});  // -1
  EXPECT_TRUE(arityOk(ping, 1));
  EXPECT_TRUE(arityOk(ping, 2));

  const CommandInfo& enc = *find({"object", "encoding"});  // 3, subcommand name counted
  EXPECT_FALSE(arityOk(enc, 2));
  EXPECT_TRUE(arityOk(enc, 3));
  EXPECT_FALSE(arityOk(enc, 4));

  const CommandInfo& object = *find({"object"});  // -2
  EXPECT_FALSE(arityOk(object, 1));
  EXPECT_TRUE(arityOk(object, 2));

  const CommandInfo& xreadgroup = *find({"xreadgroup"});  // -7
  EXPECT_FALSE(arityOk(xreadgroup, 6));
  EXPECT_TRUE(arityOk(xreadgroup, 7));
}

// ---- Keys.

TEST(CommandKeys, SingleKey) {
  EXPECT_THAT(okKeys({"GET", "k"}), ElementsAre(1u));
  EXPECT_THAT(okKeys({"SET", "k", "v", "EX", "10", "GET"}), ElementsAre(1u));
  EXPECT_THAT(okKeys({"HSET", "h", "f", "v", "f2", "v2"}), ElementsAre(1u));
}

TEST(CommandKeys, MultiKeyRanges) {
  EXPECT_THAT(okKeys({"MSET", "a", "1", "b", "2", "c", "3"}), ElementsAre(1u, 3u, 5u));
  EXPECT_THAT(okKeys({"MGET", "a", "b", "c"}), ElementsAre(1u, 2u, 3u));
  EXPECT_THAT(okKeys({"DEL", "a"}), ElementsAre(1u));
  EXPECT_THAT(okKeys({"DEL", "a", "b"}), ElementsAre(1u, 2u));
  EXPECT_THAT(okKeys({"BITOP", "AND", "dest", "a", "b"}), ElementsAre(2u, 3u, 4u));
  EXPECT_THAT(okKeys({"LCS", "a", "b", "LEN"}), ElementsAre(1u, 2u));
  EXPECT_THAT(okKeys({"RENAME", "a", "b"}), ElementsAre(1u, 2u));
  EXPECT_THAT(okKeys({"SMOVE", "a", "b", "m"}), ElementsAre(1u, 2u));
  EXPECT_THAT(okKeys({"LMOVE", "a", "b", "LEFT", "RIGHT"}), ElementsAre(1u, 2u));
  EXPECT_THAT(okKeys({"SUNIONSTORE", "d", "a", "b"}), ElementsAre(1u, 2u, 3u));
  EXPECT_THAT(okKeys({"BLPOP", "a", "b", "0"}), ElementsAre(1u, 2u));
}

TEST(CommandKeys, Subcommands) {
  EXPECT_THAT(okKeys({"OBJECT", "ENCODING", "k"}), ElementsAre(2u));
  EXPECT_THAT(okKeys({"MEMORY", "USAGE", "k"}), ElementsAre(2u));
  EXPECT_THAT(okKeys({"MEMORY", "USAGE", "k", "SAMPLES", "5"}), ElementsAre(2u));
  EXPECT_THAT(okKeys({"XINFO", "STREAM", "s", "FULL"}), ElementsAre(2u));
  EXPECT_THAT(okKeys({"XGROUP", "CREATE", "s", "g", "$"}), ElementsAre(2u));
  EXPECT_THAT(okKeys({"CONFIG", "GET", "maxmemory"}), IsEmpty());
}

TEST(CommandKeys, KeylessCommandsHaveNoKeys) {
  EXPECT_THAT(okKeys({"PING"}), IsEmpty());
  EXPECT_THAT(okKeys({"DBSIZE"}), IsEmpty());
  EXPECT_THAT(okKeys({"KEYS", "*"}), IsEmpty());
  EXPECT_THAT(okKeys({"OBJECT", "nosuch", "k"}), IsEmpty());
}

TEST(CommandKeys, EvalNumkeys) {
  EXPECT_THAT(okKeys({"EVAL", "return 1", "0"}), IsEmpty());
  EXPECT_THAT(okKeys({"EVAL", "return 1", "0", "arg"}), IsEmpty());
  EXPECT_THAT(okKeys({"EVAL", "s", "2", "a", "b", "arg"}), ElementsAre(3u, 4u));
  EXPECT_THAT(okKeys({"EVALSHA", "sha", "1", "a"}), ElementsAre(3u));
  EXPECT_THAT(okKeys({"EVAL_RO", "s", "1", "a"}), ElementsAre(3u));
  EXPECT_THAT(okKeys({"FCALL", "f", "2", "a", "b"}), ElementsAre(3u, 4u));
  EXPECT_THAT(okKeys({"FCALL_RO", "f", "0"}), IsEmpty());
  EXPECT_EQ(keyError({"EVAL", "s", "3", "a", "b"}),
            "ERR Number of keys can't be greater than number of args");
  EXPECT_EQ(keyError({"EVAL", "s", "-1"}), "ERR Number of keys can't be negative");
  EXPECT_EQ(keyError({"EVAL", "s", "abc"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(keyError({"EVAL", "s", "+1", "a"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(keyError({"EVAL", "s", "01", "a"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(keyError({"EVAL", "s", "99999999999999999999"}),
            "ERR value is not an integer or out of range");
  EXPECT_EQ(keyError({"FCALL", "f", "9223372036854775807", "a"}),
            "ERR Number of keys can't be greater than number of args");
}

TEST(CommandKeys, SortedSetNumkeys) {
  EXPECT_THAT(okKeys({"ZUNIONSTORE", "dest", "2", "a", "b", "WEIGHTS", "1", "2"}),
              ElementsAre(1u, 3u, 4u));
  EXPECT_THAT(okKeys({"ZINTERSTORE", "dest", "1", "a"}), ElementsAre(1u, 3u));
  EXPECT_THAT(okKeys({"ZDIFFSTORE", "dest", "2", "a", "b"}), ElementsAre(1u, 3u, 4u));
  EXPECT_THAT(okKeys({"ZUNION", "2", "a", "b", "WITHSCORES"}), ElementsAre(2u, 3u));
  EXPECT_THAT(okKeys({"ZINTERCARD", "2", "a", "b", "LIMIT", "10"}), ElementsAre(2u, 3u));
  EXPECT_EQ(keyError({"ZUNIONSTORE", "dest", "0", "a"}),
            "ERR at least 1 input key is needed for 'zunionstore' command");
  EXPECT_EQ(keyError({"ZUNIONSTORE", "dest", "3", "a"}), "ERR syntax error");
  EXPECT_EQ(keyError({"ZUNIONSTORE", "dest", "x", "a"}),
            "ERR value is not an integer or out of range");
  EXPECT_EQ(keyError({"ZUNIONSTORE", "dest", "9223372036854775807", "a"}), "ERR syntax error");
  EXPECT_EQ(keyError({"ZINTERCARD", "0", "a"}),
            "ERR at least 1 input key is needed for 'zintercard' command");
  EXPECT_EQ(keyError({"ZINTERCARD", "3", "a"}), "ERR syntax error");
}

TEST(CommandKeys, SinterCardAndMpop) {
  EXPECT_THAT(okKeys({"SINTERCARD", "2", "a", "b", "LIMIT", "5"}), ElementsAre(2u, 3u));
  EXPECT_EQ(keyError({"SINTERCARD", "0", "a"}), "ERR numkeys should be greater than 0");
  EXPECT_EQ(keyError({"SINTERCARD", "x", "a"}), "ERR numkeys should be greater than 0");
  EXPECT_EQ(keyError({"SINTERCARD", "3", "a"}),
            "ERR Number of keys can't be greater than number of args");

  EXPECT_THAT(okKeys({"LMPOP", "2", "a", "b", "LEFT"}), ElementsAre(2u, 3u));
  EXPECT_THAT(okKeys({"LMPOP", "1", "a", "RIGHT", "COUNT", "2"}), ElementsAre(2u));
  EXPECT_THAT(okKeys({"ZMPOP", "2", "a", "b", "MIN"}), ElementsAre(2u, 3u));
  EXPECT_THAT(okKeys({"BLMPOP", "0", "2", "a", "b", "LEFT"}), ElementsAre(3u, 4u));
  EXPECT_THAT(okKeys({"BZMPOP", "1.5", "1", "a", "MAX"}), ElementsAre(3u));
  EXPECT_EQ(keyError({"LMPOP", "0", "a", "LEFT"}), "ERR numkeys should be greater than 0");
  EXPECT_EQ(keyError({"LMPOP", "3", "a", "LEFT"}), "ERR syntax error");
}

TEST(CommandKeys, XreadStreams) {
  EXPECT_THAT(okKeys({"XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"}), ElementsAre(4u, 5u));
  EXPECT_THAT(okKeys({"XREAD", "STREAMS", "a", "$"}), ElementsAre(2u));
  EXPECT_THAT(okKeys({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "0"}), ElementsAre(5u));
  // A group or consumer named "streams" is not the STREAMS keyword.
  EXPECT_THAT(okKeys({"XREADGROUP", "GROUP", "streams", "streams", "COUNT", "1", "NOACK", "STREAMS",
                      "a", "b", ">", ">"}),
              ElementsAre(8u, 9u));
  EXPECT_EQ(keyError({"XREAD", "STREAMS", "a", "b", "0"}),
            "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
            "specified.");
  EXPECT_EQ(keyError({"XREAD", "COUNT", "1", "STREAMS"}), "ERR syntax error");
  EXPECT_EQ(keyError({"XREAD", "COUNT", "1", "a", "0"}), "ERR syntax error");
}

TEST(CommandKeys, SortStore) {
  EXPECT_THAT(okKeys({"SORT", "k"}), ElementsAre(1u));
  EXPECT_THAT(okKeys({"SORT", "k", "LIMIT", "0", "10", "ALPHA", "STORE", "dst"}),
              ElementsAre(1u, 7u));
  // BY/GET patterns are not keys; a pattern spelled "store" is not the STORE option.
  EXPECT_THAT(okKeys({"SORT", "k", "BY", "w_*", "GET", "store", "DESC"}), ElementsAre(1u));
  EXPECT_THAT(okKeys({"SORT", "k", "STORE", "d1", "STORE", "d2"}), ElementsAre(1u, 5u));
  EXPECT_EQ(keyError({"SORT", "k", "STORE"}), "ERR syntax error");
  EXPECT_THAT(okKeys({"SORT_RO", "k", "BY", "x", "GET", "#"}), ElementsAre(1u));
}

TEST(CommandKeys, GeoradiusStore) {
  EXPECT_THAT(okKeys({"GEORADIUS", "k", "1", "2", "3", "km"}), ElementsAre(1u));
  EXPECT_THAT(okKeys({"GEORADIUS", "k", "1", "2", "3", "km", "COUNT", "5", "STORE", "d"}),
              ElementsAre(1u, 9u));
  EXPECT_THAT(okKeys({"GEORADIUS", "k", "1", "2", "3", "km", "STOREDIST", "d"}),
              ElementsAre(1u, 7u));
  EXPECT_THAT(okKeys({"GEORADIUSBYMEMBER", "k", "m", "3", "km", "STORE", "d"}),
              ElementsAre(1u, 6u));
  EXPECT_EQ(keyError({"GEORADIUS", "k", "1", "2", "3", "km", "STORE"}), "ERR syntax error");
  EXPECT_THAT(okKeys({"GEOSEARCHSTORE", "d", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"}),
              ElementsAre(1u, 2u));
}

TEST(CommandKeys, Migrate) {
  EXPECT_THAT(okKeys({"MIGRATE", "h", "6379", "k", "0", "5000"}), ElementsAre(3u));
  EXPECT_THAT(okKeys({"MIGRATE", "h", "6379", "", "0", "5000", "COPY", "KEYS", "a", "b"}),
              ElementsAre(8u, 9u));
  // A password spelled "keys" is skipped with AUTH.
  EXPECT_THAT(okKeys({"MIGRATE", "h", "6379", "", "0", "5000", "AUTH", "keys", "KEYS", "a", "b"}),
              ElementsAre(9u, 10u));
  EXPECT_THAT(okKeys({"MIGRATE", "h", "6379", "", "0", "5000", "AUTH2", "u", "p", "KEYS", "a"}),
              ElementsAre(10u));
  EXPECT_EQ(keyError({"MIGRATE", "h", "6379", "k", "0", "5000", "KEYS", "a"}),
            "ERR When using MIGRATE KEYS option, the key argument must be set to the empty "
            "string");
}

TEST(CommandKeys, ShardChannelPicksTheSlot) {
  EXPECT_THAT(okKeys({"SPUBLISH", "ch", "msg"}), ElementsAre(1u));
  EXPECT_THAT(okKeys({"SSUBSCRIBE", "a", "b"}), ElementsAre(1u, 2u));
  EXPECT_THAT(okKeys({"SUNSUBSCRIBE"}), IsEmpty());
}

TEST(CommandKeys, OutputVectorIsReusedAndCleared) {
  std::vector<uint32_t> keys = {7, 8, 9};
  std::string_view error;
  const std::string_view args[] = {"GET", "k"};
  ASSERT_TRUE(getKeys(*lookup(args), args, &keys, &error));
  EXPECT_THAT(keys, ElementsAre(1u));
  const std::string_view bad[] = {"EVAL", "s", "5", "a"};
  EXPECT_FALSE(getKeys(*lookup(bad), bad, &keys, &error));
  EXPECT_THAT(keys, IsEmpty());
}

// Every command with arguments at its keys' positions: key specs agree with Redis's legacy
// first/last/step where both describe fixed positions.
TEST(CommandKeys, SpecsAgreeWithLegacyPositionsForSimpleCommands) {
  for (size_t i = 0; i < count(); ++i) {
    const CommandInfo& c = byId(static_cast<uint16_t>(i));
    if (c.first_key <= 0 || c.last_key < 0 || (c.flags & kMovableKeys) != 0) continue;
    // Build an invocation with exactly |arity| arguments (at least last_key + 1).
    size_t argc = static_cast<size_t>(c.arity < 0 ? -c.arity : c.arity);
    if (argc < static_cast<size_t>(c.last_key) + 1) argc = static_cast<size_t>(c.last_key) + 1;
    std::vector<std::string> storage;
    for (std::string_view part :
         {c.name.substr(0, c.name.find('|')), c.name.find('|') == std::string_view::npos
                                                  ? std::string_view()
                                                  : c.name.substr(c.name.find('|') + 1)}) {
      if (!part.empty()) storage.emplace_back(part);
    }
    while (storage.size() < argc) storage.push_back("x" + std::to_string(storage.size()));
    std::vector<std::string_view> args(storage.begin(), storage.end());
    std::vector<uint32_t> keys;
    std::string_view error;
    ASSERT_TRUE(getKeys(c, args, &keys, &error)) << c.name << ": " << error;
    std::vector<uint32_t> expected;
    for (int32_t k = c.first_key; k <= c.last_key; k += c.step) {
      expected.push_back(static_cast<uint32_t>(k));
    }
    EXPECT_EQ(keys, expected) << c.name;
  }
}

// ---- Policies.

Policy policyOf(std::initializer_list<std::string_view> args) {
  const CommandInfo* c = find(args);
  EXPECT_NE(c, nullptr);
  return c == nullptr ? Policy::kUnsupported : c->policy;
}

TEST(CommandPolicy, EveryPolicyIsUsed) {
  std::set<Policy> seen;
  for (size_t i = 0; i < count(); ++i) seen.insert(byId(static_cast<uint16_t>(i)).policy);
  EXPECT_EQ(seen,
            (std::set<Policy>{Policy::kRoute, Policy::kSplit, Policy::kLocal, Policy::kAnyNode,
                              Policy::kAllPrimaries, Policy::kUnsupported}));
}

TEST(CommandPolicy, ReasonsAndMergesAreConsistent) {
  for (size_t i = 0; i < count(); ++i) {
    const CommandInfo& c = byId(static_cast<uint16_t>(i));
    EXPECT_EQ(c.policy == Policy::kUnsupported, !c.unsupported_reason.empty()) << c.name;
    EXPECT_EQ(c.policy == Policy::kAllPrimaries, c.merge != Merge::kNone) << c.name;
    if (c.policy == Policy::kRoute || c.policy == Policy::kSplit) {
      EXPECT_FALSE(c.key_specs.empty()) << c.name;
    }
    // Blocking commands are routed (over a connection of their own), except WAIT.
    if ((c.flags & kBlocking) != 0) {
      EXPECT_EQ(c.policy, c.name == "wait" ? Policy::kUnsupported : Policy::kRoute) << c.name;
    }
  }
}

TEST(CommandPolicy, Route) {
  for (auto args : {std::initializer_list<std::string_view>{"get"},
                    {"set"},
                    {"hset"},
                    {"msetnx"},
                    {"rename"},
                    {"smove"},
                    {"lmove"},
                    {"sunionstore"},
                    {"eval"},
                    {"evalsha"},
                    {"fcall"},
                    {"xread"},
                    {"xreadgroup"},
                    {"spublish"},
                    {"object", "encoding"},
                    {"object", "freq"},
                    {"xinfo", "stream"},
                    {"xgroup", "create"},
                    {"memory", "usage"},
                    {"sort"},
                    {"georadius"}}) {
    EXPECT_EQ(policyOf(args), Policy::kRoute) << *args.begin();
  }
}

TEST(CommandPolicy, Split) {
  for (std::string_view name : {"mget", "mset", "del", "unlink", "exists", "touch"}) {
    EXPECT_EQ(policyOf({name}), Policy::kSplit) << name;
  }
}

TEST(CommandPolicy, Local) {
  for (auto args : {std::initializer_list<std::string_view>{"ping"},
                    {"echo"},
                    {"select"},
                    {"quit"},
                    {"hello"},
                    {"auth"},
                    {"reset"},
                    {"client", "setname"},
                    {"client", "getname"},
                    {"client", "id"},
                    {"client", "setinfo"},
                    {"cluster", "keyslot"},
                    {"multi"},
                    {"exec"},
                    {"discard"},
                    {"watch"},
                    {"unwatch"},
                    {"subscribe"},
                    {"psubscribe"},
                    {"unsubscribe"},
                    {"punsubscribe"},
                    {"ssubscribe"},
                    {"sunsubscribe"}}) {
    EXPECT_EQ(policyOf(args), Policy::kLocal) << *args.begin();
  }
}

TEST(CommandPolicy, AnyNode) {
  for (auto args : {std::initializer_list<std::string_view>{"command"},
                    {"command", "info"},
                    {"command", "docs"},
                    {"time"},
                    {"lolwut"},
                    {"publish"},
                    {"info"},
                    {"randomkey"},
                    {"object", "help"},
                    {"function", "list"}}) {
    EXPECT_EQ(policyOf(args), Policy::kAnyNode) << *args.begin();
  }
}

TEST(CommandPolicy, AllPrimariesWithMerge) {
  struct Case {
    std::initializer_list<std::string_view> args;
    Merge merge;
  };
  for (const Case& c :
       {Case{{"dbsize"}, Merge::kSumIntegers}, Case{{"keys"}, Merge::kConcatArrays},
        Case{{"flushall"}, Merge::kAllOk}, Case{{"flushdb"}, Merge::kAllOk},
        Case{{"script", "load"}, Merge::kFirstReply}, Case{{"script", "flush"}, Merge::kAllOk},
        Case{{"script", "exists"}, Merge::kAndIntegerArrays},
        Case{{"function", "load"}, Merge::kFirstReply}, Case{{"function", "flush"}, Merge::kAllOk},
        Case{{"config", "get"}, Merge::kSameValues}, Case{{"scan"}, Merge::kScan}}) {
    const CommandInfo* info = find(c.args);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->policy, Policy::kAllPrimaries) << info->name;
    EXPECT_EQ(info->merge, c.merge) << info->name;
  }
}

TEST(CommandPolicy, Unsupported) {
  for (auto args : {std::initializer_list<std::string_view>{"monitor"},
                    {"sync"},
                    {"psync"},
                    {"replconf"},
                    {"wait"},
                    {"config", "set"},
                    {"cluster", "nodes"},
                    {"debug"},
                    {"shutdown"},
                    {"replicaof"},
                    {"slaveof"},
                    {"failover"},
                    {"acl", "setuser"},
                    {"bgsave"},
                    {"save"},
                    {"bgrewriteaof"},
                    {"module", "load"},
                    {"swapdb"},
                    {"move"},
                    {"readonly"},
                    {"readwrite"},
                    {"asking"},
                    {"client", "kill"},
                    {"client", "list"},
                    {"client", "tracking"},
                    {"migrate"},
                    {"object", "nosuch"},
                    {"client"}}) {
    const CommandInfo* c = find(args);
    ASSERT_NE(c, nullptr) << *args.begin();
    EXPECT_EQ(c->policy, Policy::kUnsupported) << c->name;
    EXPECT_FALSE(c->unsupported_reason.empty()) << c->name;
  }
}

}  // namespace
}  // namespace slotproxy::command
