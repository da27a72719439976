// `slotproxy nodes-conf`: repair the addresses in a Redis Cluster nodes.conf before Redis starts.
//
// A Redis Cluster pod that is rescheduled gets a new IP, but its nodes.conf still records the old
// one on the `myself` line; when every pod restarts at once, every peer line is stale too and the
// cluster cannot re-form. This replaces the usual entrypoint `sed` with a strict parser:
//
//   - the `myself` line's ip becomes the pod's current IP;
//   - with resolve_peers, each peer whose announced hostname (Redis 7.0+ `,hostname`, e.g. a
//     StatefulSet DNS name) now resolves to a different address gets that address;
//   - everything else in the file is written back byte for byte.
//
// Grammar (Redis 5.0 to 7.2, clusterLoadConfig / clusterGenNodeDescription in cluster.c):
//
//   <id> <ip>:<port>[@<cport>][,<hostname>[,<key>=<value>]*] <flags> <master-id|->
//        <ping-sent> <pong-recv> <config-epoch> <connected|disconnected> [<slot>...]
//   vars currentEpoch <n> lastVoteEpoch <n>
//
// id is 40 chars [a-z0-9]; ip is empty (handshake / noaddr, written `:0@0`), IPv4, or IPv6
// without brackets (the port follows the LAST ':'); flags are a comma list of myself, master,
// slave, fail?, fail, handshake, noaddr, nofailover, noflags; a slot is `N`, `N-M`, `[N->-id]`
// (migrating) or `[N-<-id]` (importing) with 0 <= N <= M < 16384. Fields are separated by one
// space, as Redis writes them; lines end in '\n'; empty lines (left by an interrupted in-place
// save) are kept.
//
// The parser is deliberately stricter than Redis: anything it cannot fully account for (odd
// whitespace, unknown flag, bad port, no `myself`, no `vars` line, text after the `vars` line, a
// missing final newline, which is how a truncated file looks) is refused, and runNodesConf then
// leaves the file untouched. Rewriting a file we only half understood could lose a cluster.
//
// Pure C++ apart from getaddrinfo and POSIX file calls; no libuv.

#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slotproxy::tools {

// One node line. The address field is split into its parts (so it can be rewritten); every other
// field is kept verbatim, so serialize() reproduces the original line while the parts are
// unchanged.
struct NodesConfLine {
  std::string id;  // 40 chars [a-z0-9]
  std::string ip;  // "" for `:0@0` (handshake / noaddr); IPv6 without brackets
  uint16_t port = 0;
  uint16_t cport = 0;               // cluster bus port; meaningful only when has_cport
  bool has_cport = true;            // `@cport` present (absent only in pre-4.0 files)
  std::string hostname;             // announced hostname (Redis 7.0+), may be empty
  bool has_hostname_field = false;  // a ',' follows the address, even if hostname is empty
  std::string aux;                  // Redis 7.2 `,key=value` fields after the hostname, verbatim
                                    // including their leading commas ("" when none)
  std::string flags;                // verbatim, e.g. "myself,master"
  std::string rest;                 // verbatim: master-id ping-sent pong-recv epoch link [slots]
  bool myself = false;              // flags contain `myself`
  size_t line_no = 0;               // 1-based line in the parsed text (for messages)
  size_t blank_lines_before = 0;    // empty lines directly before this one, kept on serialize

  // The address field as Redis writes it: ip:port[@cport][,hostname][aux].
  std::string address() const;
  // The whole line, without its '\n'.
  std::string text() const;
};

struct NodesConf {
  std::vector<NodesConfLine> nodes;    // in file order; exactly one has myself set
  std::string vars_line;               // "vars currentEpoch N lastVoteEpoch M", verbatim, no '\n'
  size_t vars_line_no = 0;             // 1-based
  size_t blank_lines_before_vars = 0;  // empty lines between the last node and the vars line
  size_t trailing_blank_lines = 0;     // empty lines after the vars line

  const NodesConfLine* myself() const;  // nullptr only for a default-constructed NodesConf
  NodesConfLine* myself();
};

// Parses a whole nodes.conf. On failure returns false, leaves *out in an unspecified state and
// sets *error to "line N: <problem>" (or a whole-file problem such as a missing vars line).
bool parseNodesConf(std::string_view text, NodesConf* out, std::string* error);

// The file text. For a NodesConf from parseNodesConf whose fields were not modified the result is
// byte-identical to the parsed text.
std::string serialize(const NodesConf& conf);

// "a.b.c.d" or an IPv6 address in the canonical text form inet_ntop gives (the form Redis
// records); nullopt when `ip` is not an IPv4/IPv6 literal (hostnames and zone ids are refused).
std::optional<std::string> canonicalIp(std::string_view ip);

// Name -> addresses (canonical text form). An empty result means "does not resolve".
using ResolveFn = std::function<std::vector<std::string>(const std::string& name)>;

// A hosts-file style table: `IP name [name...]` per line, `#` starts a comment, blank lines
// ignored. Names match case-insensitively; a name listed on several lines has every address, in
// file order.
class HostsTable {
 public:
  // Parses hosts text; on failure returns false with "line N: <problem>" in *error.
  bool parse(std::string_view text, std::string* error);
  // Reads and parses `path`; on failure returns false with the path and problem in *error.
  bool load(const std::string& path, std::string* error);
  std::vector<std::string> lookup(const std::string& name) const;

 private:
  std::vector<std::pair<std::string, std::string>> entries_;  // (lower-cased name, ip)
};

// getaddrinfo(AF_UNSPEC, SOCK_STREAM): IPv4 and IPv6 addresses, de-duplicated, in resolver order.
std::vector<std::string> resolveWithGetaddrinfo(const std::string& name);

// One address change made by rewriteNodesConf.
struct NodesConfChange {
  size_t node_index = 0;  // into NodesConf::nodes
  std::string old_ip, new_ip;
};

// Applies the rewrite to a parsed file, in memory:
//   - the myself line's ip becomes `myself_ip` (which must already be canonical, see canonicalIp);
//   - when `resolve` is set, each other node with a non-empty hostname whose addresses do not
//     include its recorded ip gets the first resolved address of the recorded ip's family (or the
//     first address when the recorded ip is empty). A name that does not resolve leaves its node
//     as it is and adds a warning.
// Ports, hostnames and every other field are untouched. Returns the changes, in file order.
std::vector<NodesConfChange> rewriteNodesConf(NodesConf* conf, const std::string& myself_ip,
                                              const ResolveFn* resolve,
                                              std::vector<std::string>* warnings);

struct NodesConfOptions {
  std::string file;        // path to nodes.conf
  std::string myself_ip;   // the pod's current IP (IPv4 or IPv6 literal)
  std::string hosts_file;  // with resolve_peers: resolve from this table instead of DNS
  bool resolve_peers = false;
  bool dry_run = false;  // print the diff, write nothing
};

// The `nodes-conf` subcommand. Returns the process exit code:
//   0  the file was rewritten, was already up to date, or does not exist / is empty yet (first
//      boot: Redis creates it) -- a message on `out` says which; also a dry run.
//   1  the file could not be read, parsed or written, or a running Redis holds its lock; the file
//      is left exactly as it was.
//   2  usage error: no file, a myself_ip that is not an IP literal, hosts_file without
//      resolve_peers, or a hosts file that cannot be read or parsed.
// When something changes, a unified-style diff of the changed lines (`-old` / `+new`) goes to
// `out`; then, unless dry_run, the previous contents are saved as `<file>.bak` and the new
// contents written atomically (temp file in the same directory, fsync, rename, fsync of the
// directory), keeping the file's mode and, when permitted, its owner. Warnings (peers that do
// not resolve) go to `err`. Run it while Redis is stopped: Redis holds an exclusive flock on
// nodes.conf while it runs, and that is treated as an error.
int runNodesConf(const NodesConfOptions& opts, std::ostream& out, std::ostream& err);

// As above with an injected resolver, used instead of hosts_file / getaddrinfo (tests).
int runNodesConf(const NodesConfOptions& opts, const ResolveFn& resolve, std::ostream& out,
                 std::ostream& err);

}  // namespace slotproxy::tools
