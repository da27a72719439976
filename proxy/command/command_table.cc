#include "proxy/command/command_table.h"

#include <array>
#include <cstdint>
#include <limits>

namespace slotproxy::command {
namespace {

// ---------------------------------------------------------------------------------------------
// Policy decisions. Every keyless command must appear here (a missing one fails compilation, see
// decide()); a keyed command not listed here is kRoute. POLICY.md explains the groups. Reasons
// complete the router's "ERR '<command>' is not supported by slotproxy: <reason>".

struct Decision {
  std::string_view name;
  Policy policy;
  Merge merge;
  std::string_view reason;
};

constexpr std::string_view kWhyReplication =
    "replication protocol commands are for Redis nodes talking to each other";
constexpr std::string_view kWhyAdmin =
    "node administration must be done on each Redis node directly, not through slotproxy";
constexpr std::string_view kWhyPerNode =
    "it reports on a single Redis node; run it on the nodes directly";
constexpr std::string_view kWhyCluster =
    "slotproxy presents the cluster as one server and does not expose cluster management or "
    "topology; run CLUSTER commands on the nodes directly";
constexpr std::string_view kWhyClientAdmin =
    "it would act on or describe slotproxy's own backend connections, not the client's";
constexpr std::string_view kWhyTracking =
    "client-side caching (tracking) needs a dedicated backend connection per client";
constexpr std::string_view kWhyContainer =
    "unknown or missing subcommand (slotproxy knows the subcommands of Redis 7.0)";
constexpr std::string_view kWhyDb = "Redis Cluster has only database 0";
constexpr std::string_view kWhyAcl =
    "ACL users and permissions are configured on each Redis node directly";

constexpr Decision kDecisions[] = {
    // ---- kLocal: answered by slotproxy, no backend round trip.
    {"ping", Policy::kLocal, Merge::kNone, {}},    // liveness of the proxy itself
    {"echo", Policy::kLocal, Merge::kNone, {}},    // pure function of its argument
    {"select", Policy::kLocal, Merge::kNone, {}},  // OK for 0, error otherwise (cluster: db 0)
    {"quit", Policy::kLocal, Merge::kNone, {}},    // closes the client connection after +OK
    {"hello", Policy::kLocal, Merge::kNone, {}},   // protocol negotiation is per client conn
    {"reset", Policy::kLocal, Merge::kNone, {}},   // resets the client's state in the proxy
    {"client|setname", Policy::kLocal, Merge::kNone, {}},   // stored on the client connection
    {"client|getname", Policy::kLocal, Merge::kNone, {}},   // stored on the client connection
    {"client|id", Policy::kLocal, Merge::kNone, {}},        // the proxy's client id
    {"client|setinfo", Policy::kLocal, Merge::kNone, {}},   // libraries send it on connect
    {"cluster|keyslot", Policy::kLocal, Merge::kNone, {}},  // pure function (CRC16 of the key)
    // The credentials slotproxy uses for the nodes (redis-password) are accepted, so that an app
    // configured with the cluster's password keeps working; the proxy authenticates upstream.
    {"auth", Policy::kLocal, Merge::kNone, {}},
    // Transactions: queued by the proxy, sent as one block by EXEC (router/transaction.h).
    {"multi", Policy::kLocal, Merge::kNone, {}},
    {"exec", Policy::kLocal, Merge::kNone, {}},
    {"discard", Policy::kLocal, Merge::kNone, {}},
    // WATCH gives the client a node connection of its own until EXEC (Worker::watchCommand).
    {"watch", Policy::kLocal, Merge::kNone, {}},
    {"unwatch", Policy::kLocal, Merge::kNone, {}},
    // Pub/sub: a subscribed client gets a node connection of its own (Worker::subscribe).
    {"subscribe", Policy::kLocal, Merge::kNone, {}},
    {"psubscribe", Policy::kLocal, Merge::kNone, {}},
    {"unsubscribe", Policy::kLocal, Merge::kNone, {}},  // not subscribed: answered here
    {"punsubscribe", Policy::kLocal, Merge::kNone, {}},
    {"ssubscribe", Policy::kLocal, Merge::kNone, {}},  // to the primary of the channel's slot
    {"sunsubscribe", Policy::kLocal, Merge::kNone, {}},

    // ---- kAnyNode: keyless, and every node answers the same.
    {"command", Policy::kAnyNode, Merge::kNone, {}},  // same command table on every node
    {"command|count", Policy::kAnyNode, Merge::kNone, {}},
    {"command|docs", Policy::kAnyNode, Merge::kNone, {}},
    {"command|getkeys", Policy::kAnyNode, Merge::kNone, {}},
    {"command|getkeysandflags", Policy::kAnyNode, Merge::kNone, {}},
    {"command|info", Policy::kAnyNode, Merge::kNone, {}},
    {"command|list", Policy::kAnyNode, Merge::kNone, {}},
    {"time", Policy::kAnyNode, Merge::kNone, {}},     // clocks of cluster nodes are in sync
    {"lolwut", Policy::kAnyNode, Merge::kNone, {}},   // version art, same everywhere
    {"publish", Policy::kAnyNode, Merge::kNone, {}},  // the cluster bus broadcasts it anyway
    // INFO: libraries and tools call it for redis_version/health; the reply is one node's view.
    {"info", Policy::kAnyNode, Merge::kNone, {}},
    // RANDOMKEY: a random key of one primary; may return nil when that primary holds no keys.
    {"randomkey", Policy::kAnyNode, Merge::kNone, {}},
    // FUNCTION DUMP/LIST: libraries are loaded on every primary (FUNCTION LOAD fans out).
    {"function|dump", Policy::kAnyNode, Merge::kNone, {}},
    {"function|list", Policy::kAnyNode, Merge::kNone, {}},
    // *|HELP: static text.
    {"acl|help", Policy::kAnyNode, Merge::kNone, {}},
    {"client|help", Policy::kAnyNode, Merge::kNone, {}},
    {"cluster|help", Policy::kAnyNode, Merge::kNone, {}},
    {"command|help", Policy::kAnyNode, Merge::kNone, {}},
    {"config|help", Policy::kAnyNode, Merge::kNone, {}},
    {"function|help", Policy::kAnyNode, Merge::kNone, {}},
    {"latency|help", Policy::kAnyNode, Merge::kNone, {}},
    {"memory|help", Policy::kAnyNode, Merge::kNone, {}},
    {"module|help", Policy::kAnyNode, Merge::kNone, {}},
    {"object|help", Policy::kAnyNode, Merge::kNone, {}},
    {"pubsub|help", Policy::kAnyNode, Merge::kNone, {}},
    {"script|help", Policy::kAnyNode, Merge::kNone, {}},
    {"slowlog|help", Policy::kAnyNode, Merge::kNone, {}},
    {"xgroup|help", Policy::kAnyNode, Merge::kNone, {}},
    {"xinfo|help", Policy::kAnyNode, Merge::kNone, {}},

    // ---- kAllPrimaries: the keyspace or script cache of every primary.
    {"dbsize", Policy::kAllPrimaries, Merge::kSumIntegers, {}},  // keys are spread over primaries
    {"keys", Policy::kAllPrimaries, Merge::kConcatArrays, {}},   // each primary has its share
    {"flushall", Policy::kAllPrimaries, Merge::kAllOk, {}},      // empty every primary
    {"flushdb", Policy::kAllPrimaries, Merge::kAllOk, {}},       // db 0 is all there is
    {"script|load", Policy::kAllPrimaries, Merge::kFirstReply, {}},  // EVALSHA may hit any node
    {"script|flush", Policy::kAllPrimaries, Merge::kAllOk, {}},
    {"script|exists", Policy::kAllPrimaries, Merge::kAndIntegerArrays, {}},  // loaded everywhere?
    {"scan", Policy::kAllPrimaries, Merge::kScan, {}},  // every primary's keys, one after another
    {"function|load", Policy::kAllPrimaries, Merge::kFirstReply, {}},  // FCALL may hit any node
    {"function|delete", Policy::kAllPrimaries, Merge::kAllOk, {}},
    {"function|flush", Policy::kAllPrimaries, Merge::kAllOk, {}},
    {"function|restore", Policy::kAllPrimaries, Merge::kAllOk, {}},
    // Pub/sub introspection: slotproxy's subscribers are spread over the primaries (SUBSCRIBE
    // goes to any of them, SSUBSCRIBE to the shard channel's), so every primary is asked.
    {"pubsub|channels", Policy::kAllPrimaries, Merge::kUnionArrays, {}},
    {"pubsub|numpat", Policy::kAllPrimaries, Merge::kSumIntegers, {}},
    {"pubsub|numsub", Policy::kAllPrimaries, Merge::kSumPairs, {}},
    {"pubsub|shardchannels", Policy::kAllPrimaries, Merge::kUnionArrays, {}},
    {"pubsub|shardnumsub", Policy::kAllPrimaries, Merge::kSumPairs, {}},

    // ---- kRoute, blocking: the router sends them (and XREAD/XREADGROUP with BLOCK) over a
    // connection of their own, so that they stall nobody else.
    {"blpop", Policy::kRoute, Merge::kNone, {}},
    {"brpop", Policy::kRoute, Merge::kNone, {}},
    {"brpoplpush", Policy::kRoute, Merge::kNone, {}},
    {"blmove", Policy::kRoute, Merge::kNone, {}},
    {"blmpop", Policy::kRoute, Merge::kNone, {}},
    {"bzpopmin", Policy::kRoute, Merge::kNone, {}},
    {"bzpopmax", Policy::kRoute, Merge::kNone, {}},
    {"bzmpop", Policy::kRoute, Merge::kNone, {}},
    {"wait", Policy::kUnsupported, Merge::kNone,
     "WAIT counts replica acknowledgements of the writes made on its own connection, and "
     "slotproxy's backend connections are shared"},

    // ---- kUnsupported: replication and monitoring streams.
    {"sync", Policy::kUnsupported, Merge::kNone, kWhyReplication},
    {"psync", Policy::kUnsupported, Merge::kNone, kWhyReplication},
    {"replconf", Policy::kUnsupported, Merge::kNone, kWhyReplication},
    {"monitor", Policy::kUnsupported, Merge::kNone,
     "MONITOR streams one node's traffic on a dedicated connection; run it on the nodes directly"},

    // ---- kUnsupported: cluster-client protocol that slotproxy speaks itself.
    {"asking", Policy::kUnsupported, Merge::kNone,
     "slotproxy follows ASK redirections itself; clients never see them"},
    {"readonly", Policy::kUnsupported, Merge::kNone,
     "slotproxy sends every command to the slot's primary; replica reads are not supported"},
    {"readwrite", Policy::kUnsupported, Merge::kNone,
     "slotproxy sends every command to the slot's primary; replica reads are not supported"},
    {"restore-asking", Policy::kUnsupported, Merge::kNone,
     "it is internal to slot migration between cluster nodes"},
    {"migrate", Policy::kUnsupported, Merge::kNone,
     "moving keys between Redis servers is node administration; run it on the nodes directly"},

    // ---- kUnsupported: databases other than 0.
    {"swapdb", Policy::kUnsupported, Merge::kNone, kWhyDb},
    {"move", Policy::kUnsupported, Merge::kNone, kWhyDb},  // keyed, but targets another db

    // ---- kUnsupported: node administration and per-node reports.
    {"bgrewriteaof", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"bgsave", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"save", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"lastsave", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"debug", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"shutdown", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"failover", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"replicaof", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"slaveof", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"role", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"pfselftest", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"pfdebug", Policy::kUnsupported, Merge::kNone, kWhyAdmin},  // keyed, but a debug command

    // Read-only: apps read a setting before relying on it (Spring Session reads
    // notify-keyspace-events), and the nodes of a cluster are configured alike.
    {"config|get", Policy::kAllPrimaries, Merge::kSameValues, {}},
    {"config|set", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"config|resetstat", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"config|rewrite", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"module|list", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"module|load", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"module|loadex", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"module|unload", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"latency|doctor", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"latency|graph", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"latency|histogram", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"latency|history", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"latency|latest", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"latency|reset", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"slowlog|get", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"slowlog|len", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"slowlog|reset", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"memory|doctor", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"memory|malloc-stats", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"memory|stats", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"memory|purge", Policy::kUnsupported, Merge::kNone, kWhyAdmin},
    {"function|stats", Policy::kUnsupported, Merge::kNone, kWhyPerNode},
    {"function|kill", Policy::kUnsupported, Merge::kNone,
     "it must reach the node running the function; send it to that node directly"},
    {"script|kill", Policy::kUnsupported, Merge::kNone,
     "it must reach the node running the script; send it to that node directly"},
    {"script|debug", Policy::kUnsupported, Merge::kNone,
     "the Lua debugger needs a dedicated backend connection"},
    {"acl|cat", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|deluser", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|dryrun", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|genpass", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|getuser", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|list", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|load", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|log", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|save", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|setuser", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|users", Policy::kUnsupported, Merge::kNone, kWhyAcl},
    {"acl|whoami", Policy::kUnsupported, Merge::kNone, kWhyAcl},

    // ---- kUnsupported: CLIENT subcommands other than the local ones.
    {"client|info", Policy::kUnsupported, Merge::kNone, kWhyClientAdmin},
    {"client|list", Policy::kUnsupported, Merge::kNone, kWhyClientAdmin},
    {"client|kill", Policy::kUnsupported, Merge::kNone, kWhyClientAdmin},
    {"client|pause", Policy::kUnsupported, Merge::kNone, kWhyClientAdmin},
    {"client|unpause", Policy::kUnsupported, Merge::kNone, kWhyClientAdmin},
    {"client|unblock", Policy::kUnsupported, Merge::kNone, kWhyClientAdmin},
    {"client|no-evict", Policy::kUnsupported, Merge::kNone, kWhyClientAdmin},
    {"client|reply", Policy::kUnsupported, Merge::kNone,
     "CLIENT REPLY OFF/SKIP would desynchronize replies on the shared backend connection"},
    {"client|caching", Policy::kUnsupported, Merge::kNone, kWhyTracking},
    {"client|tracking", Policy::kUnsupported, Merge::kNone, kWhyTracking},
    {"client|trackinginfo", Policy::kUnsupported, Merge::kNone, kWhyTracking},
    {"client|getredir", Policy::kUnsupported, Merge::kNone, kWhyTracking},

    // ---- kUnsupported: CLUSTER subcommands other than KEYSLOT.
    {"cluster|addslots", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|addslotsrange", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|bumpepoch", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|count-failure-reports", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|countkeysinslot", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|delslots", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|delslotsrange", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|failover", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|flushslots", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|forget", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|getkeysinslot", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|info", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|links", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|meet", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|myid", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|nodes", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|replicas", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|replicate", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|reset", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|saveconfig", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|set-config-epoch", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|setslot", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|shards", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|slaves", Policy::kUnsupported, Merge::kNone, kWhyCluster},
    {"cluster|slots", Policy::kUnsupported, Merge::kNone, kWhyCluster},

    // ---- Containers: reached only with an unknown or missing subcommand. Refused rather than
    // forwarded, so that a subcommand newer than 7.0 cannot act on a shared backend connection.
    {"acl", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"client", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"cluster", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"config", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"function", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"latency", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"memory", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"module", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"object", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"pubsub", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"script", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"slowlog", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"xgroup", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    {"xinfo", Policy::kUnsupported, Merge::kNone, kWhyContainer},
    // (COMMAND alone is a valid command and is kAnyNode above.)

    // ---- kSplit: multi-key commands whose per-key results can be merged in key order.
    {"mget", Policy::kSplit, Merge::kNone, {}},
    {"mset", Policy::kSplit, Merge::kNone, {}},
    {"del", Policy::kSplit, Merge::kNone, {}},
    {"unlink", Policy::kSplit, Merge::kNone, {}},
    {"exists", Policy::kSplit, Merge::kNone, {}},
    {"touch", Policy::kSplit, Merge::kNone, {}},
    // MSETNX is atomic over all its keys: kRoute (CROSSSLOT when the slots differ).
};

// Every other command has keys and is kRoute: single-key commands, multi-key commands whose
// keys must share a slot (RENAME, SMOVE, LMOVE, SUNIONSTORE, BITOP, ...), scripts (EVAL*, FCALL*;
// the router picks any node when numkeys is 0), XREAD/XREADGROUP, SPUBLISH (the shard channel
// picks the slot), OBJECT/XINFO/XGROUP/MEMORY USAGE subcommands.
constexpr Decision decide(std::string_view name, bool has_keys) {
  for (const Decision& d : kDecisions) {
    if (d.name == name) return d;
  }
  if (!has_keys) {
    // Not a constant expression: a keyless command without a decision fails compilation.
    throw "keyless command without an entry in kDecisions";
  }
  return Decision{name, Policy::kRoute, Merge::kNone, {}};
}

constexpr KeysProc keysProcFor(std::string_view name) {
  if (name == "sort") return KeysProc::kSort;
  if (name == "migrate") return KeysProc::kMigrate;
  if (name == "xread" || name == "xreadgroup") return KeysProc::kXread;
  return KeysProc::kSpecs;
}

// Builds one entry; called by the generated table.
constexpr CommandInfo row(std::string_view name, int32_t arity, uint32_t flags, int32_t first_key,
                          int32_t last_key, int32_t step, uint32_t acl_categories,
                          RequestPolicy request_policy, ResponsePolicy response_policy,
                          uint8_t tips, std::span<const KeySpec> key_specs,
                          std::span<const CommandInfo> subcommands, uint16_t id) {
  const Decision d = decide(name, !key_specs.empty());
  return CommandInfo{name,
                     arity,
                     flags,
                     first_key,
                     last_key,
                     step,
                     acl_categories,
                     request_policy,
                     response_policy,
                     tips,
                     key_specs,
                     subcommands,
                     d.policy,
                     d.merge,
                     d.reason,
                     keysProcFor(name),
                     id};
}

#include "proxy/command/command_table_gen.inc"

static_assert(std::size(kById) == kGeneratedCount);
static_assert(std::size(kCommands) == kGeneratedTopLevelCount);
static_assert(kGeneratedCount <= std::numeric_limits<uint16_t>::max());

constexpr bool idsDense() {
  for (size_t i = 0; i < std::size(kById); ++i) {
    if (kById[i]->id != i) return false;
  }
  for (size_t i = 0; i < std::size(kCommands); ++i) {
    if (kCommands[i].id != i) return false;  // findTop relies on top-level ids coming first
  }
  return true;
}
static_assert(idsDense());

// Each decision names an existing command, once.
constexpr bool decisionsValid() {
  for (size_t i = 0; i < std::size(kDecisions); ++i) {
    bool found = false;
    for (const CommandInfo* c : kById) found = found || c->name == kDecisions[i].name;
    if (!found) return false;
    for (size_t j = i + 1; j < std::size(kDecisions); ++j) {
      if (kDecisions[i].name == kDecisions[j].name) return false;
    }
  }
  return true;
}
static_assert(decisionsValid(), "kDecisions names an unknown command or repeats one");

constexpr bool policiesConsistent() {
  for (const CommandInfo* c : kById) {
    if ((c->policy == Policy::kUnsupported) == c->unsupported_reason.empty()) return false;
    if ((c->policy == Policy::kAllPrimaries) == (c->merge == Merge::kNone)) return false;
    if ((c->policy == Policy::kRoute || c->policy == Policy::kSplit) && c->key_specs.empty()) {
      return false;
    }
  }
  return true;
}
static_assert(policiesConsistent());

// ---------------------------------------------------------------------------------------------
// Lookup: open-addressing hash table over lower-case names, built at compile time. A subcommand
// is stored under "container|sub"; FNV-1a lets the lookup continue the container's hash with
// '|' and the subcommand without building the string.

constexpr uint32_t kFnvBasis = 2166136261u;
constexpr uint32_t kFnvPrime = 16777619u;
constexpr size_t kHashSize = 1024;  // power of two, under 40% full
static_assert(kHashSize >= 2 * kGeneratedCount);

constexpr uint32_t fnvStep(uint32_t h, char c) {
  return (h ^ static_cast<unsigned char>(c)) * kFnvPrime;
}

constexpr char toLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr uint32_t hashLower(uint32_t h, std::string_view s) {
  for (char c : s) h = fnvStep(h, toLower(c));
  return h;
}

// Slots hold id + 1; 0 is empty.
constexpr std::array<uint16_t, kHashSize> buildHash() {
  std::array<uint16_t, kHashSize> slots{};
  for (const CommandInfo* c : kById) {
    size_t i = hashLower(kFnvBasis, c->name) & (kHashSize - 1);
    while (slots[i] != 0) i = (i + 1) & (kHashSize - 1);
    slots[i] = static_cast<uint16_t>(c->id + 1);
  }
  return slots;
}
constexpr std::array<uint16_t, kHashSize> kHash = buildHash();

constexpr size_t maxNameLength() {
  size_t n = 0;
  for (const CommandInfo* c : kById) n = c->name.size() > n ? c->name.size() : n;
  return n;
}
constexpr size_t kMaxNameLength = maxNameLength();

// `lower` is already lower case; `s` may be any case.
bool equalsLower(std::string_view lower, std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (toLower(s[i]) != lower[i]) return false;
  }
  return true;
}

// Top-level commands have the ids below kGeneratedTopLevelCount.
const CommandInfo* findTop(std::string_view arg, uint32_t h) {
  for (size_t i = h & (kHashSize - 1); kHash[i] != 0; i = (i + 1) & (kHashSize - 1)) {
    const size_t id = kHash[i] - 1u;
    const CommandInfo* c = kById[id];
    if (id < kGeneratedTopLevelCount && c->name.size() == arg.size() && equalsLower(c->name, arg)) {
      return c;
    }
  }
  return nullptr;
}

const CommandInfo* findSub(const CommandInfo& top, std::string_view sub, uint32_t h) {
  const size_t prefix = top.name.size() + 1;
  for (size_t i = h & (kHashSize - 1); kHash[i] != 0; i = (i + 1) & (kHashSize - 1)) {
    const CommandInfo* c = kById[kHash[i] - 1];
    if (c->name.size() == prefix + sub.size() && c->name.starts_with(top.name) &&
        c->name[top.name.size()] == '|' && equalsLower(c->name.substr(prefix), sub)) {
      return c;
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Key extraction.

constexpr std::string_view kErrSyntax = "ERR syntax error";
constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";

// Redis's strict integer syntax (string2ll): optional '-', no '+', no leading zeros, no spaces.
bool parseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const bool negative = s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 19) return false;
  if (s[0] == '0') {
    if (s.size() != 1 || negative) return false;
    *out = 0;
    return true;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');  // 19 digits cannot overflow uint64_t
  }
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (v > max + 1) return false;
    *out = v == max + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  } else {
    if (v > max) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// Redis's replies for a bad numkeys, which differ between command families.
struct NumkeysErrors {
  std::string_view name;
  std::string_view not_integer;
  std::string_view too_small;  // numkeys < 1 (< 0 for EVAL/FCALL, which accept 0)
  std::string_view too_many;
};

constexpr std::string_view kErrScriptNegative = "ERR Number of keys can't be negative";
constexpr std::string_view kErrTooManyKeys =
    "ERR Number of keys can't be greater than number of args";
constexpr std::string_view kErrNumkeysPositive = "ERR numkeys should be greater than 0";

constexpr NumkeysErrors kNumkeysErrors[] = {
    {"eval", kErrNotInteger, kErrScriptNegative, kErrTooManyKeys},
    {"evalsha", kErrNotInteger, kErrScriptNegative, kErrTooManyKeys},
    {"eval_ro", kErrNotInteger, kErrScriptNegative, kErrTooManyKeys},
    {"evalsha_ro", kErrNotInteger, kErrScriptNegative, kErrTooManyKeys},
    {"fcall", kErrNotInteger, kErrScriptNegative, kErrTooManyKeys},
    {"fcall_ro", kErrNotInteger, kErrScriptNegative, kErrTooManyKeys},
    {"zunionstore", kErrNotInteger, "ERR at least 1 input key is needed for 'zunionstore' command",
     kErrSyntax},
    {"zinterstore", kErrNotInteger, "ERR at least 1 input key is needed for 'zinterstore' command",
     kErrSyntax},
    {"zdiffstore", kErrNotInteger, "ERR at least 1 input key is needed for 'zdiffstore' command",
     kErrSyntax},
    {"zunion", kErrNotInteger, "ERR at least 1 input key is needed for 'zunion' command",
     kErrSyntax},
    {"zinter", kErrNotInteger, "ERR at least 1 input key is needed for 'zinter' command",
     kErrSyntax},
    {"zdiff", kErrNotInteger, "ERR at least 1 input key is needed for 'zdiff' command", kErrSyntax},
    {"zintercard", kErrNotInteger, "ERR at least 1 input key is needed for 'zintercard' command",
     kErrSyntax},
    {"sintercard", kErrNumkeysPositive, kErrNumkeysPositive, kErrTooManyKeys},
    {"lmpop", kErrNumkeysPositive, kErrNumkeysPositive, kErrSyntax},
    {"blmpop", kErrNumkeysPositive, kErrNumkeysPositive, kErrSyntax},
    {"zmpop", kErrNumkeysPositive, kErrNumkeysPositive, kErrSyntax},
    {"bzmpop", kErrNumkeysPositive, kErrNumkeysPositive, kErrSyntax},
};
constexpr NumkeysErrors kDefaultNumkeysErrors = {
    {}, kErrNotInteger, kErrNumkeysPositive, kErrSyntax};

constexpr bool numkeysErrorsCoverKeynumCommands() {
  for (const CommandInfo* c : kById) {
    for (const KeySpec& s : c->key_specs) {
      if (s.find_keys != FindKeys::kKeynum) continue;
      bool found = false;
      for (const NumkeysErrors& e : kNumkeysErrors) found = found || e.name == c->name;
      if (!found) return false;
    }
  }
  return true;
}
static_assert(numkeysErrorsCoverKeynumCommands(), "a keynum command lacks its error messages");

const NumkeysErrors& numkeysErrors(std::string_view name) {
  for (const NumkeysErrors& e : kNumkeysErrors) {
    if (e.name == name) return e;
  }
  return kDefaultNumkeysErrors;
}

bool fail(std::string_view message, std::vector<uint32_t>* keys, std::string_view* error) {
  keys->clear();
  *error = message;
  return false;
}

void push(std::vector<uint32_t>* keys, size_t index) {
  keys->push_back(static_cast<uint32_t>(index));
}

// Appends the keys that one spec finds. Specs of unknown shape (SORT's BY/GET patterns) find
// nothing: their keys derive from data, not from the arguments.
bool applySpec(const CommandInfo& cmd, const KeySpec& spec, std::span<const std::string_view> args,
               std::vector<uint32_t>* keys, std::string_view* error) {
  const int64_t argc = static_cast<int64_t>(args.size());
  int64_t first = 0;
  switch (spec.begin_search) {
    case BeginSearch::kIndex:
      first = spec.index;
      if (first >= argc) return true;  // optional trailing key absent (arity is checked apart)
      break;
    case BeginSearch::kKeyword: {
      // Search forwards from startfrom, or backwards from argc + startfrom when negative.
      int64_t found = 0;
      if (spec.startfrom >= 0) {
        for (int64_t i = spec.startfrom; i < argc; ++i) {
          if (equalsIgnoreCase(args[static_cast<size_t>(i)], spec.keyword)) {
            found = i;
            break;
          }
        }
      } else {
        for (int64_t i = argc + spec.startfrom; i >= 1; --i) {
          if (i < argc && equalsIgnoreCase(args[static_cast<size_t>(i)], spec.keyword)) {
            found = i;
            break;
          }
        }
      }
      if (found == 0) return true;  // optional keyword absent
      first = found + 1;
      if (first >= argc) return fail(kErrSyntax, keys, error);  // keyword without its key
      break;
    }
    case BeginSearch::kUnknown:
      return true;
  }

  switch (spec.find_keys) {
    case FindKeys::kRange: {
      int64_t last = 0;
      if (spec.lastkey >= 0) {
        last = first + spec.lastkey;
      } else if (spec.limit == 0) {
        last = argc + spec.lastkey;
      } else {
        last = first + (argc - first) / spec.limit + spec.lastkey;
      }
      if (last >= argc || last < first) return fail(kErrSyntax, keys, error);
      const int64_t step = spec.keystep > 0 ? spec.keystep : 1;
      for (int64_t i = first; i <= last; i += step) push(keys, static_cast<size_t>(i));
      return true;
    }
    case FindKeys::kKeynum: {
      const int64_t numkeys_at = first + spec.keynumidx;
      if (numkeys_at >= argc) return fail(kErrSyntax, keys, error);
      int64_t numkeys = 0;
      if (!parseInt64(args[static_cast<size_t>(numkeys_at)], &numkeys)) {
        return fail(numkeysErrors(cmd.name).not_integer, keys, error);
      }
      const int64_t min = (cmd.flags & kNoMandatoryKeys) != 0 ? 0 : 1;
      if (numkeys < min) return fail(numkeysErrors(cmd.name).too_small, keys, error);
      const int64_t step = spec.keystep > 0 ? spec.keystep : 1;
      const int64_t begin = first + spec.firstkey;
      const int64_t available = begin < argc ? (argc - begin - 1) / step + 1 : 0;
      if (numkeys > available) return fail(numkeysErrors(cmd.name).too_many, keys, error);
      for (int64_t k = 0; k < numkeys; ++k) push(keys, static_cast<size_t>(begin + k * step));
      return true;
    }
    case FindKeys::kUnknown:
      return true;
  }
  return true;
}

// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest]:
// walks the options so that a BY/GET pattern spelled "store" is not taken for STORE. The last
// STORE wins, as in Redis.
bool sortKeys(std::span<const std::string_view> args, std::vector<uint32_t>* keys,
              std::string_view* error) {
  push(keys, 1);
  size_t store = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "limit")) {
      i += 2;
    } else if (equalsIgnoreCase(args[i], "by") || equalsIgnoreCase(args[i], "get")) {
      i += 1;
    } else if (equalsIgnoreCase(args[i], "store")) {
      if (i + 1 >= args.size()) return fail(kErrSyntax, keys, error);
      store = i + 1;
      i += 1;
    }
  }
  if (store != 0) push(keys, store);
  return true;
}

// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS key...]
bool migrateKeys(std::span<const std::string_view> args, std::vector<uint32_t>* keys,
                 std::string_view* error) {
  size_t keys_at = 0;
  for (size_t i = 6; i < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "auth")) {
      i += 1;
    } else if (equalsIgnoreCase(args[i], "auth2")) {
      i += 2;
    } else if (equalsIgnoreCase(args[i], "keys")) {
      keys_at = i;
      break;
    }
  }
  if (keys_at == 0) {
    push(keys, 3);
    return true;
  }
  if (!args[3].empty()) {
    return fail(
        "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
        keys, error);
  }
  if (keys_at + 1 >= args.size()) return fail(kErrSyntax, keys, error);
  for (size_t i = keys_at + 1; i < args.size(); ++i) push(keys, i);
  return true;
}

// XREAD [COUNT n] [BLOCK ms] STREAMS key... id...
// XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...
// Walks the options so that a group or consumer named "streams" is not taken for STREAMS.
bool xreadKeys(std::span<const std::string_view> args, std::vector<uint32_t>* keys,
               std::string_view* error) {
  size_t streams = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "count") || equalsIgnoreCase(args[i], "block")) {
      i += 1;
    } else if (equalsIgnoreCase(args[i], "group")) {
      i += 2;
    } else if (equalsIgnoreCase(args[i], "noack")) {
      // no argument
    } else if (equalsIgnoreCase(args[i], "streams")) {
      streams = i;
      break;
    } else {
      break;
    }
  }
  if (streams == 0) return fail(kErrSyntax, keys, error);
  const size_t rest = args.size() - streams - 1;
  if (rest == 0) return fail(kErrSyntax, keys, error);
  if (rest % 2 != 0) {
    return fail(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
        "specified.",
        keys, error);
  }
  for (size_t i = 0; i < rest / 2; ++i) push(keys, streams + 1 + i);
  return true;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLower(a[i]) != toLower(b[i])) return false;
  }
  return true;
}

const CommandInfo* lookup(std::span<const std::string_view> args) {
  if (args.empty() || args[0].size() > kMaxNameLength) return nullptr;
  const uint32_t h = hashLower(kFnvBasis, args[0]);
  const CommandInfo* top = findTop(args[0], h);
  if (top == nullptr || !top->isContainer() || args.size() < 2 || args[1].size() > kMaxNameLength) {
    return top;
  }
  const CommandInfo* sub = findSub(*top, args[1], hashLower(fnvStep(h, '|'), args[1]));
  return sub != nullptr ? sub : top;
}

bool arityOk(const CommandInfo& cmd, size_t argc) {
  if (cmd.arity >= 0) return argc == static_cast<size_t>(cmd.arity);
  return argc >= static_cast<size_t>(-static_cast<int64_t>(cmd.arity));
}

bool getKeys(const CommandInfo& cmd, std::span<const std::string_view> args,
             std::vector<uint32_t>* keys, std::string_view* error) {
  keys->clear();
  switch (cmd.keys_proc) {
    case KeysProc::kSort:
      if (args.size() < 2) return fail(kErrSyntax, keys, error);
      return sortKeys(args, keys, error);
    case KeysProc::kMigrate:
      if (args.size() < 6) return fail(kErrSyntax, keys, error);
      return migrateKeys(args, keys, error);
    case KeysProc::kXread:
      return xreadKeys(args, keys, error);
    case KeysProc::kSpecs:
      break;
  }
  for (const KeySpec& spec : cmd.key_specs) {
    if (!applySpec(cmd, spec, args, keys, error)) return false;
  }
  return true;
}

size_t count() { return kGeneratedCount; }

const CommandInfo& byId(uint16_t id) { return *kById[id]; }

std::span<const CommandInfo> topLevel() { return kCommands; }

}  // namespace slotproxy::command
