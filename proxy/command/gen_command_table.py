#!/usr/bin/env python3
"""Generate proxy/command/command_table_gen.inc from a live redis-server's COMMAND reply.

Starts a throwaway redis-server on a unix socket in a temporary directory (no persistence),
speaks RESP2 over the socket itself, runs COMMAND, and writes a C++ include file with every
command and subcommand: name, arity, flags, ACL categories, legacy first/last/step, key specs
and command tips. Standard library only.

Usage: gen_command_table.py [--redis-server PATH] [--output FILE] [--expect-version 7.0.]
The output is meant to be committed; rerun it when the supported Redis version changes.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# Command flags, in the order of the bits of slotproxy::command::Flag. Unknown flags abort
# generation so that a new Redis version cannot silently lose information.
COMMAND_FLAGS = [
    ("write", "kWrite"),
    ("readonly", "kReadonly"),
    ("denyoom", "kDenyOom"),
    ("admin", "kAdmin"),
    ("pubsub", "kPubsub"),
    ("noscript", "kNoscript"),
    ("blocking", "kBlocking"),
    ("loading", "kLoading"),
    ("stale", "kStale"),
    ("fast", "kFast"),
    ("no_multi", "kNoMulti"),
    ("movablekeys", "kMovableKeys"),
    ("may_replicate", "kMayReplicate"),
    ("skip_monitor", "kSkipMonitor"),
    ("skip_slowlog", "kSkipSlowlog"),
    ("asking", "kAsking"),
    ("no_auth", "kNoAuth"),
    ("no_mandatory_keys", "kNoMandatoryKeys"),
    ("protected", "kProtected"),
    ("no_async_loading", "kNoAsyncLoading"),
    ("allow_busy", "kAllowBusy"),
    ("module", "kModule"),
    ("sentinel", "kSentinel"),
    ("only_sentinel", "kOnlySentinel"),
]

ACL_CATEGORIES = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
]

KEY_SPEC_FLAGS = [
    ("RO", "kKeyRO"),
    ("RW", "kKeyRW"),
    ("OW", "kKeyOW"),
    ("RM", "kKeyRM"),
    ("access", "kKeyAccess"),
    ("update", "kKeyUpdate"),
    ("insert", "kKeyInsert"),
    ("delete", "kKeyDelete"),
    ("not_key", "kKeyNotKey"),
    ("incomplete", "kKeyIncomplete"),
    ("variable_flags", "kKeyVariableFlags"),
]

REQUEST_POLICIES = {
    None: "RequestPolicy::kDefault",
    "all_nodes": "RequestPolicy::kAllNodes",
    "all_shards": "RequestPolicy::kAllShards",
    "multi_shard": "RequestPolicy::kMultiShard",
    "special": "RequestPolicy::kSpecial",
}
RESPONSE_POLICIES = {
    None: "ResponsePolicy::kDefault",
    "one_succeeded": "ResponsePolicy::kOneSucceeded",
    "all_succeeded": "ResponsePolicy::kAllSucceeded",
    "agg_logical_and": "ResponsePolicy::kAggLogicalAnd",
    "agg_logical_or": "ResponsePolicy::kAggLogicalOr",
    "agg_min": "ResponsePolicy::kAggMin",
    "agg_max": "ResponsePolicy::kAggMax",
    "agg_sum": "ResponsePolicy::kAggSum",
    "special": "ResponsePolicy::kSpecial",
}
TIP_FLAGS = {
    "nondeterministic_output": "kTipNondeterministicOutput",
    "nondeterministic_output_order": "kTipNondeterministicOutputOrder",
}


# Subcommands that Redis 7.0 lacks but that client libraries send on every connect (redis-py 5,
# go-redis 9, Lettuce 6.3 and node-redis send CLIENT SETINFO since Redis 7.2). Metadata as in
# Redis 7.2's COMMAND reply; added only when the server does not report them itself.
SUPPLEMENT = {
    "client": [{
        "name": "client|setinfo", "arity": -4, "flags": ["noscript", "loading", "stale"],
        "first": 0, "last": 0, "step": 0, "acl": ["slow", "connection"],
        "request_policy": None, "response_policy": None, "tips": [], "key_specs": [],
        "subcommands": [], "supplement": "not in Redis 7.0; from Redis 7.2",
    }],
}


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Minimal RESP2 client.


class RespError(Exception):
    pass


class Resp:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise GenError("redis-server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise GenError("unexpected RESP type byte %r" % kind)

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        reply = self.read()
        if isinstance(reply, RespError):
            raise GenError("%s: %s" % (" ".join(map(str, args)), reply))
        return reply


# ---------------------------------------------------------------------------------------------
# Fetching.


def fetch_commands(server_bin):
    tmp = tempfile.mkdtemp(prefix="slotproxy-gen-")
    sock_path = os.path.join(tmp, "redis.sock")
    proc = subprocess.Popen(
        [server_bin, "--port", "0", "--unixsocket", sock_path, "--save", "",
         "--appendonly", "no", "--dir", tmp, "--daemonize", "no", "--logfile", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise GenError("redis-server exited with status %d" % proc.returncode)
            if os.path.exists(sock_path):
                try:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.connect(sock_path)
                    break
                except OSError:
                    sock.close()
            if time.monotonic() > deadline:
                raise GenError("redis-server did not open %s in time" % sock_path)
            time.sleep(0.05)
        with sock:
            conn = Resp(sock)
            info = conn.call("INFO", "server")
            version = ""
            for line in info.splitlines():
                if line.startswith("redis_version:"):
                    version = line.split(":", 1)[1].strip()
            commands = conn.call("COMMAND")
            count = conn.call("COMMAND", "COUNT")
        if len(commands) != count:
            raise GenError("COMMAND returned %d entries, COMMAND COUNT says %d" %
                           (len(commands), count))
        return version, commands
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Parsing the COMMAND reply (RESP2: maps arrive as flat key/value arrays).


def pairs(flat):
    if flat is None:
        return {}
    if len(flat) % 2:
        raise GenError("odd map length: %r" % (flat,))
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def parse_key_spec(raw):
    m = pairs(raw)
    spec = {"notes": m.get("notes", "")}
    flags = []
    known = {name for name, _ in KEY_SPEC_FLAGS}
    for f in m.get("flags", []):
        if f not in known:
            raise GenError("unknown key spec flag %r" % f)
        flags.append(f)
    spec["flags"] = flags
    bs = pairs(m["begin_search"])
    bs_spec = pairs(bs.get("spec"))
    if bs["type"] == "index":
        spec["bs"] = ("index", int(bs_spec["index"]))
    elif bs["type"] == "keyword":
        spec["bs"] = ("keyword", bs_spec["keyword"], int(bs_spec["startfrom"]))
    elif bs["type"] == "unknown":
        spec["bs"] = ("unknown",)
    else:
        raise GenError("unknown begin_search type %r" % bs["type"])
    fk = pairs(m["find_keys"])
    fk_spec = pairs(fk.get("spec"))
    if fk["type"] == "range":
        spec["fk"] = ("range", int(fk_spec["lastkey"]), int(fk_spec["keystep"]),
                      int(fk_spec["limit"]))
    elif fk["type"] == "keynum":
        spec["fk"] = ("keynum", int(fk_spec["keynumidx"]), int(fk_spec["firstkey"]),
                      int(fk_spec["keystep"]))
    elif fk["type"] == "unknown":
        spec["fk"] = ("unknown",)
    else:
        raise GenError("unknown find_keys type %r" % fk["type"])
    return spec


def parse_command(raw):
    # [name, arity, flags, first, last, step, acl categories, tips, key specs, subcommands]
    if len(raw) < 10:
        raise GenError("short COMMAND entry: %r" % (raw,))
    name, arity, flags, first, last, step, acl, tips, specs, subs = raw[:10]
    known = {f for f, _ in COMMAND_FLAGS}
    for f in flags:
        if f not in known:
            raise GenError("%s: unknown command flag %r" % (name, f))
    for c in acl:
        if c.lstrip("@") not in ACL_CATEGORIES:
            raise GenError("%s: unknown ACL category %r" % (name, c))
    request_policy = None
    response_policy = None
    tip_flags = []
    for tip in tips:
        if tip.startswith("request_policy:"):
            request_policy = tip.split(":", 1)[1]
            if request_policy not in REQUEST_POLICIES:
                raise GenError("%s: unknown request policy %r" % (name, tip))
        elif tip.startswith("response_policy:"):
            response_policy = tip.split(":", 1)[1]
            if response_policy not in RESPONSE_POLICIES:
                raise GenError("%s: unknown response policy %r" % (name, tip))
        elif tip in TIP_FLAGS:
            tip_flags.append(tip)
        else:
            raise GenError("%s: unknown tip %r" % (name, tip))
    return {
        "name": name.lower(),
        "arity": int(arity),
        "flags": list(flags),
        "first": int(first),
        "last": int(last),
        "step": int(step),
        "acl": [c.lstrip("@") for c in acl],
        "request_policy": request_policy,
        "response_policy": response_policy,
        "tips": tip_flags,
        "key_specs": [parse_key_spec(s) for s in specs],
        "subcommands": sorted((parse_command(s) for s in subs), key=lambda c: c["name"]),
    }


# ---------------------------------------------------------------------------------------------
# Emitting C++.


def ident(name):
    return name.replace("|", "_").replace("-", "_")


def cxx_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bits(values, table, zero="0"):
    names = [table[v] for v in values]
    return " | ".join(names) if names else zero


def emit_key_spec(spec):
    bs = spec["bs"]
    if bs[0] == "index":
        bs_txt = "BeginSearch::kIndex, %d, {}, 0" % bs[1]
    elif bs[0] == "keyword":
        bs_txt = "BeginSearch::kKeyword, 0, %s, %d" % (cxx_str(bs[1]), bs[2])
    else:
        bs_txt = "BeginSearch::kUnknown, 0, {}, 0"
    fk = spec["fk"]
    if fk[0] == "range":
        fk_txt = "FindKeys::kRange, %d, %d, %d, 0, 0" % (fk[1], fk[2], fk[3])
    elif fk[0] == "keynum":
        fk_txt = "FindKeys::kKeynum, 0, %d, 0, %d, %d" % (fk[3], fk[1], fk[2])
    else:
        fk_txt = "FindKeys::kUnknown, 0, 0, 0, 0, 0"
    flags = bits(spec["flags"], dict(KEY_SPEC_FLAGS))
    return "{%s, %s, %s}" % (bs_txt, fk_txt, flags)


def add_supplement(commands):
    """Adds SUPPLEMENT entries the server lacks; returns their names."""
    by_name = {c["name"]: c for c in commands}
    added = []
    for container, subs in SUPPLEMENT.items():
        parent = by_name.get(container)
        if parent is None:
            raise GenError("supplement for unknown container %r" % container)
        have = {s["name"] for s in parent["subcommands"]}
        for sub in subs:
            if sub["name"] not in have:
                parent["subcommands"].append(dict(sub))
                added.append(sub["name"])
        parent["subcommands"].sort(key=lambda c: c["name"])
    return added


def emit(version, commands, supplemented, out):
    flag_names = dict(COMMAND_FLAGS)
    acl_names = {c: "kAcl" + "".join(p.capitalize() for p in c.split("_")) for c in ACL_CATEGORIES}
    acl_names["sortedset"] = "kAclSortedSet"
    acl_names["hyperloglog"] = "kAclHyperLogLog"
    tip_names = TIP_FLAGS

    # Ids: top-level commands in name order, then every container's subcommands.
    ordered = list(commands)
    for c in commands:
        ordered.extend(c["subcommands"])
    ids = {c["name"]: i for i, c in enumerate(ordered)}

    w = out.write
    w("// GENERATED FILE, DO NOT EDIT.\n")
    w("// Generated from Redis %s's COMMAND output by proxy/command/gen_command_table.py.\n" %
      version)
    w("// %d top-level commands, %d subcommands, %d entries in all.\n" %
      (len(commands), len(ordered) - len(commands), len(ordered)))
    if supplemented:
        w("// Not reported by that server, added from SUPPLEMENT in the script: %s.\n" %
          ", ".join(supplemented))
    w("// Included by command_table.cc, which defines KeySpec, CommandInfo and row().\n")
    w("// row(name, arity, flags, first_key, last_key, step, acl_categories, request_policy,\n")
    w("//     response_policy, tips, key_specs, subcommands, id)\n")
    w("// KeySpec{begin_search, index, keyword, startfrom,\n")
    w("//         find_keys, lastkey, keystep, limit, keynumidx, firstkey, flags}\n\n")
    w("// clang-format off\n")
    w("inline constexpr size_t kGeneratedTopLevelCount = %d;\n" % len(commands))
    w("inline constexpr size_t kGeneratedCount = %d;\n\n" % len(ordered))

    def emit_specs(c):
        if not c["key_specs"]:
            return
        w("inline constexpr KeySpec kSpecs_%s[] = {\n" % ident(c["name"]))
        for s in c["key_specs"]:
            note = ("  // " + s["notes"]) if s["notes"] else ""
            w("    %s,%s\n" % (emit_key_spec(s), note))
        w("};\n")

    def emit_row(c, indent):
        specs = ("kSpecs_%s" % ident(c["name"])) if c["key_specs"] else "{}"
        subs = ("kSub_%s" % ident(c["name"])) if c["subcommands"] else "{}"
        if c.get("supplement"):
            w("%s// %s\n" % (indent, c["supplement"]))
        w("%srow(%s, %d, %s, %d, %d, %d,\n" % (indent, cxx_str(c["name"]), c["arity"],
                                               bits(c["flags"], flag_names), c["first"],
                                               c["last"], c["step"]))
        w("%s    %s,\n" % (indent, bits(c["acl"], acl_names)))
        w("%s    %s, %s, %s,\n" % (indent, REQUEST_POLICIES[c["request_policy"]],
                                  RESPONSE_POLICIES[c["response_policy"]],
                                  bits(c["tips"], tip_names)))
        w("%s    %s, %s, %d),\n" % (indent, specs, subs, ids[c["name"]]))

    for c in commands:
        emit_specs(c)
        for s in c["subcommands"]:
            emit_specs(s)
        if c["subcommands"]:
            w("inline constexpr CommandInfo kSub_%s[] = {\n" % ident(c["name"]))
            for s in c["subcommands"]:
                emit_row(s, "    ")
            w("};\n")
    w("\ninline constexpr CommandInfo kCommands[] = {\n")
    for c in commands:
        emit_row(c, "    ")
    w("};\n\n")
    w("// Every entry by id (top-level commands first, then subcommands container by container).\n")
    w("inline constexpr const CommandInfo* kById[] = {\n")
    for i, c in enumerate(commands):
        w("    &kCommands[%d],\n" % i)
    for c in commands:
        for j, _ in enumerate(c["subcommands"]):
            w("    &kSub_%s[%d],\n" % (ident(c["name"]), j))
    w("};\n")
    w("// clang-format on\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--output", default=os.path.join(here, "command_table_gen.inc"))
    ap.add_argument("--expect-version", default="7.0.",
                    help="abort unless redis_version starts with this (empty: accept any)")
    args = ap.parse_args()
    try:
        version, raw = fetch_commands(args.redis_server)
        if not version.startswith(args.expect_version):
            raise GenError("redis-server is %s, expected %s*" % (version, args.expect_version))
        commands = sorted((parse_command(c) for c in raw), key=lambda c: c["name"])
        supplemented = add_supplement(commands)
        tmp = args.output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            emit(version, commands, supplemented, f)
        os.replace(tmp, args.output)
    except GenError as e:
        print("gen_command_table.py: %s" % e, file=sys.stderr)
        return 1
    nsub = sum(len(c["subcommands"]) for c in commands)
    print("wrote %s: %d commands, %d subcommands (supplement: %s)" %
          (args.output, len(commands), nsub, ", ".join(supplemented) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
