#pragma once

// Command line, environment and config file of slotproxy (DESIGN.md "Command line").
//
// Every option is one row of keys(): the row's name is the flag (--name VALUE or
// --name=VALUE), the config file key ("name value", redis.conf style) and, upper-cased with
// '_' for '-' and prefixed with SLOTPROXY_, the environment variable. Precedence:
// flag > environment > file > default. Pure C++: no libuv, no sockets, no DNS lookups.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace slotproxy::config {

struct HostPort {
  std::string host;  // IPv4 literal, IPv6 literal without brackets, or a DNS name
  uint16_t port = 0;
  // "host:port"; an IPv6 host is bracketed: "[::1]:6379".
  std::string str() const;
  bool operator==(const HostPort&) const = default;
};

struct Config {
  std::string command = "run";             // run | nodes-conf | check | version | help
  HostPort listen{"127.0.0.1", 6379};      // RESP listener; loopback: a sidecar serves its pod
  HostPort admin{"0.0.0.0", 9379};         // HTTP /metrics etc.; all interfaces for Prometheus
  std::vector<HostPort> seeds;             // IPs or DNS names; required for run/check
  int threads = 1;                         // worker threads (1..64)
  uint32_t sched_slice_ms = 10;            // worker threads' scheduler slice (0: kernel's)
  bool sched_batch = true;                 // worker threads run SCHED_BATCH (no wakeup preemption)
  uint32_t node_write_wait_us = 150;       // longest wait of node writes for more requests
  std::string log_level = "info";          // debug|info|warn|error
  int backend_connections = 1;             // pipelined connections per Redis node (1..16)
  uint32_t connect_timeout_ms = 500;       // short: a dead pod IP drops packets
  uint32_t request_timeout_ms = 3000;      // no reply from a node within this = node hung
  uint32_t refresh_interval_ms = 5000;     // timer refresh of the slot map
  uint32_t refresh_min_interval_ms = 100;  // debounce / rate limit of triggered refreshes
  uint32_t failover_hold_ms = 30000;       // requests wait this long for a slot's new primary
  uint32_t max_redirects = 5;              // MOVED/ASK followed per request
  // Credentials for the nodes (AUTH [username] password on every connection); no AUTH when the
  // password is empty. main() reads redis_password_file into redis_password.
  std::string redis_username, redis_password, redis_password_file;
  // Clients must AUTH with this password (user `default`) before other commands; "" = never.
  // main() reads client_password_file into client_password.
  std::string client_password, client_password_file;
  uint32_t reconnect_backoff_min_ms = 50, reconnect_backoff_max_ms = 2000;
  uint64_t hold_max_requests = 100000, hold_max_bytes = 256ull << 20;
  uint64_t proto_max_bulk_len = 512ull << 20;
  uint64_t max_multibulk_len = uint64_t{1024} * 1024;
  uint64_t client_query_buffer_limit = 1ull << 30;
  uint64_t client_output_high_watermark = 4ull << 20, client_output_low_watermark = 1ull << 20;
  uint32_t max_pipeline_depth = 16384;  // per client requests in flight before reading pauses
  uint32_t max_clients = 10000;
  // Per node and worker: connections held by one client each (blocking commands, WATCH, pub/sub).
  uint32_t max_own_conns = 1000;
  uint32_t drain_timeout_ms = 5000;  // SIGTERM: finish in-flight requests for at most this
  // nodes-conf subcommand (nodes_conf_file is the key "nodes-conf-file", flag alias --file).
  std::string nodes_conf_file, myself_ip, hosts_file;
  bool resolve_peers = false, dry_run = false;

  bool operator==(const Config&) const = default;
};

struct ParseResult {
  bool ok = true;
  int exit_code = 0;  // 2 on usage/config error
  // !ok: the error, naming the flag, variable or file:line and key. ok: usage() for help,
  // "slotproxy <version>" for version, empty otherwise.
  std::string message;
};

// argv as from main (argv[0] is the program). envp: the process environment as "KEY=VALUE"
// strings, nullptr-terminated (pass environ; nullptr means empty). Reads the config file named
// by --config (or SLOTPROXY_CONFIG). Precedence flag > environment > file > default.
// Success: *out holds the result (for --help/--version only out->command is meaningful).
// Failure: *out is untouched and exit_code is 2. Nothing is resolved: DNS names stay names.
//
// Environment: any SLOTPROXY_* variable that is not a key (nor SLOTPROXY_CONFIG) is an error,
// except the variables Kubernetes injects for a Service whose name starts with "slotproxy"
// (SLOTPROXY_SERVICE_HOST, SLOTPROXY_PORT=tcp://..., SLOTPROXY_X_PORT_6379_TCP_ADDR, ...):
// failing on those would crash every pod of a namespace that merely has such a Service.
ParseResult parse(int argc, const char* const* argv, const char* const* envp, Config* out);

std::string usage();  // the --help text, generated from keys()

// "512mb", "1gb", "64kb", "100" (bytes), "100b": redis.conf style, case-insensitive,
// k=1000 kb=1024, m=1000^2 mb=1024^2, g=1000^3 gb=1024^3. False on garbage or overflow.
bool parseSize(std::string_view s, uint64_t* out);
// "500" (ms), "500ms", "5s", "2m", "1h"; case-insensitive. False on garbage or > UINT32_MAX ms.
bool parseDurationMs(std::string_view s, uint32_t* out);
// HOST:PORT, [IPv6]:PORT, or (only if default_port != 0) HOST, [IPv6] or a bare IPv6 literal,
// which get default_port. HOST is an IPv4 literal or a DNS name (RFC 1123 labels, '_' allowed,
// last label not all digits). An explicit port may be 0..65535; callers reject what they must.
bool parseHostPort(std::string_view s, uint16_t default_port, HostPort* out);

// Inverse of parseSize/parseDurationMs, largest exact unit: 268435456 -> "256mb", 30000 -> "30s".
std::string formatSize(uint64_t bytes);
std::string formatDurationMs(uint32_t ms);

// One option. The single source of truth for flags, environment, file keys, usage() and the
// example file's test.
struct KeyDef {
  std::string_view section;     // usage() group heading
  std::string_view name;        // kebab-case: --name, file key "name"
  std::string env;              // SLOTPROXY_NAME
  std::string_view flag_alias;  // another accepted flag spelling ("--file"), or empty
  std::string_view value_hint;  // "N", "HOST:PORT", "DURATION", ...; empty for a boolean
  std::string_view help;        // one line for usage()
  std::string_view example;     // a valid value that differs from the default (tests)
  bool boolean = false;         // flag without value; "yes"/"no" in the file and environment
  // Parses `value` into its field. On failure returns false and sets *error to a message
  // without the key (the caller prefixes "--name: ", "SLOTPROXY_NAME: " or "file:line: name: ").
  std::function<bool(Config*, std::string_view value, std::string* error)> set;
  // The field's value in the syntax set() accepts ("" for an empty list or string).
  std::function<std::string(const Config&)> show;
};

// Every key, in usage() order. Config::command is not a key (it is the subcommand), nor is
// --config (it names the file).
const std::vector<KeyDef>& keys();

}  // namespace slotproxy::config
