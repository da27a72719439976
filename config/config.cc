#include "config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#ifndef SLOTPROXY_VERSION
#define SLOTPROXY_VERSION "unknown"
#endif

namespace slotproxy::config {
namespace {

constexpr std::string_view kEnvPrefix = "SLOTPROXY_";
constexpr std::string_view kConfigEnv = "SLOTPROXY_CONFIG";
constexpr uint64_t kMaxBytes = 1ull << 40;  // 1 TiB: anything above is a typo, not a budget

std::string quote(std::string_view v) {
  std::string q = "\"";
  q.append(v);
  q += '"';
  return q;
}

char lowerChar(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), lowerChar);
  return r;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Unsigned decimal, digits only (no sign, no spaces).
bool parseUint(std::string_view s, uint64_t* out) {
  if (s.empty() || !isDigit(s.front())) return false;
  uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end) return false;
  *out = v;
  return true;
}

// Splits "123unit" into the number and the lower-cased unit.
bool splitNumberUnit(std::string_view s, uint64_t* n, std::string* unit) {
  size_t i = 0;
  while (i < s.size() && isDigit(s[i])) ++i;
  if (i == 0 || !parseUint(s.substr(0, i), n)) return false;
  *unit = lower(s.substr(i));
  return true;
}

bool isIPv4(std::string_view s) {
  std::string z(s);
  in_addr a{};
  return inet_pton(AF_INET, z.c_str(), &a) == 1;
}

bool isIPv6(std::string_view s) {
  std::string z(s);
  in6_addr a{};
  return inet_pton(AF_INET6, z.c_str(), &a) == 1;
}

// RFC 1123 host name; '_' is allowed (it appears in real DNS names, e.g. SRV-style labels).
// The last label may not be all digits, so "300.1.1.1" or "10.0.0" is not taken for a name.
bool isHostname(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  bool last_all_digits = false;
  while (true) {
    size_t dot = s.find('.');
    std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    last_all_digits = true;
    for (char c : label) {
      if (!isDigit(c)) last_all_digits = false;
      if (!isDigit(c) && !isAlpha(c) && c != '-' && c != '_') return false;
    }
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return !last_all_digits;
}

bool parseBool(std::string_view v, bool* out) {
  std::string l = lower(v);
  if (l == "yes" || l == "true" || l == "1") {
    *out = true;
    return true;
  }
  if (l == "no" || l == "false" || l == "0") {
    *out = false;
    return true;
  }
  return false;
}

std::string envName(std::string_view key) {
  std::string e(kEnvPrefix);
  for (char c : key) {
    e += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return e;
}

// ---- key builders: one per value type ----

struct Common {
  std::string_view section, name, help, example, flag_alias = {};
};

KeyDef base(const Common& c, std::string_view hint) {
  KeyDef k;
  k.section = c.section;
  k.name = c.name;
  k.env = envName(c.name);
  k.flag_alias = c.flag_alias;
  k.value_hint = hint;
  k.help = c.help;
  k.example = c.example;
  return k;
}

template <class T>
KeyDef integerKey(const Common& c, T Config::*field, uint64_t min, uint64_t max) {
  KeyDef k = base(c, "N");
  k.set = [field, min, max](Config* cfg, std::string_view v, std::string* err) {
    uint64_t n = 0;
    if (!parseUint(v, &n) || n < min || n > max) {
      *err = "expected an integer in " + std::to_string(min) + ".." + std::to_string(max) +
             ", got " + quote(v);
      return false;
    }
    cfg->*field = static_cast<T>(n);
    return true;
  };
  k.show = [field](const Config& cfg) { return std::to_string(cfg.*field); };
  return k;
}

KeyDef sizeKey(const Common& c, uint64_t Config::*field, uint64_t min, uint64_t max) {
  KeyDef k = base(c, "SIZE");
  k.set = [field, min, max](Config* cfg, std::string_view v, std::string* err) {
    uint64_t n = 0;
    if (!parseSize(v, &n) || n < min || n > max) {
      *err = "expected a size in " + formatSize(min) + ".." + formatSize(max) +
             " (e.g. 64kb, 512mb, 1gb), got " + quote(v);
      return false;
    }
    cfg->*field = n;
    return true;
  };
  k.show = [field](const Config& cfg) { return formatSize(cfg.*field); };
  return k;
}

KeyDef durationKey(const Common& c, uint32_t Config::*field, uint32_t min, uint32_t max) {
  KeyDef k = base(c, "DURATION");
  k.set = [field, min, max](Config* cfg, std::string_view v, std::string* err) {
    uint32_t n = 0;
    if (!parseDurationMs(v, &n) || n < min || n > max) {
      *err = "expected a duration in " + formatDurationMs(min) + ".." + formatDurationMs(max) +
             " (e.g. 500ms, 5s, 2m), got " + quote(v);
      return false;
    }
    cfg->*field = n;
    return true;
  };
  k.show = [field](const Config& cfg) { return formatDurationMs(cfg.*field); };
  return k;
}

KeyDef boolKey(const Common& c, bool Config::*field) {
  KeyDef k = base(c, "");
  k.boolean = true;
  k.set = [field](Config* cfg, std::string_view v, std::string* err) {
    if (!parseBool(v, &(cfg->*field))) {
      *err = "expected yes or no, got " + quote(v);
      return false;
    }
    return true;
  };
  k.show = [field](const Config& cfg) { return std::string(cfg.*field ? "yes" : "no"); };
  return k;
}

KeyDef stringKey(const Common& c, std::string Config::*field, std::string_view hint) {
  KeyDef k = base(c, hint);
  k.set = [field](Config* cfg, std::string_view v, std::string*) {
    cfg->*field = std::string(v);
    return true;
  };
  k.show = [field](const Config& cfg) { return cfg.*field; };
  return k;
}

KeyDef addressKey(const Common& c, HostPort Config::*field) {
  KeyDef k = base(c, "HOST:PORT");
  k.set = [field](Config* cfg, std::string_view v, std::string* err) {
    HostPort hp;
    if (!parseHostPort(v, 0, &hp)) {
      *err = "bad address " + quote(v) + " (expected HOST:PORT)";
      return false;
    }
    cfg->*field = std::move(hp);
    return true;
  };
  k.show = [field](const Config& cfg) { return (cfg.*field).str(); };
  return k;
}

KeyDef seedsKey(const Common& c) {
  KeyDef k = base(c, "HOST:PORT[,...]");
  k.set = [](Config* cfg, std::string_view v, std::string* err) {
    std::vector<HostPort> seeds;
    while (true) {
      size_t comma = v.find(',');
      std::string_view item = trim(v.substr(0, comma));
      HostPort hp;
      if (!parseHostPort(item, 6379, &hp)) {
        *err = "bad address " + quote(item) + " (expected HOST[:PORT], port 6379 if omitted)";
        return false;
      }
      if (hp.port == 0) {
        *err = "bad address " + quote(item) + " (port 0)";
        return false;
      }
      seeds.push_back(std::move(hp));
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
    cfg->seeds = std::move(seeds);
    return true;
  };
  k.show = [](const Config& cfg) {
    std::string s;
    for (const HostPort& hp : cfg.seeds) {
      if (!s.empty()) s += ',';
      s += hp.str();
    }
    return s;
  };
  return k;
}

KeyDef logLevelKey(const Common& c) {
  KeyDef k = base(c, "LEVEL");
  k.set = [](Config* cfg, std::string_view v, std::string* err) {
    std::string l = lower(v);
    if (l != "debug" && l != "info" && l != "warn" && l != "error") {
      *err = "expected one of debug, info, warn, error, got " + quote(v);
      return false;
    }
    cfg->log_level = std::move(l);
    return true;
  };
  k.show = [](const Config& cfg) { return cfg.log_level; };
  return k;
}

KeyDef ipKey(const Common& c, std::string Config::*field) {
  KeyDef k = base(c, "IP");
  k.set = [field](Config* cfg, std::string_view v, std::string* err) {
    std::string_view ip = v;
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    if (!isIPv4(ip) && !isIPv6(ip)) {
      *err = "bad IP address " + quote(v);
      return false;
    }
    cfg->*field = std::string(ip);
    return true;
  };
  k.show = [field](const Config& cfg) { return cfg.*field; };
  return k;
}

constexpr uint32_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute;

std::vector<KeyDef> buildKeys() {
  std::vector<KeyDef> k;
  constexpr std::string_view kServe = "Serving", kCluster = "Cluster",
                             kTimeouts = "Timeouts and retries", kLimits = "Limits",
                             kNodesConf = "nodes-conf";
  k.push_back(
      addressKey({kServe, "listen", "RESP listen address", "0.0.0.0:6380"}, &Config::listen));
  k.push_back(
      addressKey({kServe, "admin", "HTTP: /metrics /healthz /readyz /topology", "127.0.0.1:9380"},
                 &Config::admin));
  k.push_back(integerKey({kServe, "threads", "worker threads (event loops)", "4"}, &Config::threads,
                         1, 64));
  k.push_back(durationKey(
      {kServe, "sched-slice", "worker threads' scheduler slice (0: the kernel's)", "3ms"},
      &Config::sched_slice_ms, 0, 100));
  k.push_back(
      boolKey({kServe, "sched-batch", "workers never preempt on wakeup (SCHED_BATCH)", "no"},
              &Config::sched_batch));
  k.push_back(integerKey(
      {kServe, "node-write-wait-us", "longest wait of node writes for more requests", "0"},
      &Config::node_write_wait_us, 0, 1000));
  k.push_back(stringKey({kServe, "client-password",
                         "clients must AUTH with it first (empty: they need not)", "app-s3cret"},
                        &Config::client_password, "PASSWORD"));
  k.push_back(
      stringKey({kServe, "client-password-file", "file holding client-password (a mounted Secret)",
                 "/run/secrets/slotproxy-password"},
                &Config::client_password_file, "PATH"));
  k.push_back(logLevelKey({kServe, "log-level", "debug, info, warn or error", "debug"}));
  k.push_back(
      durationKey({kServe, "drain-timeout", "on SIGTERM, time to finish in-flight requests", "10s"},
                  &Config::drain_timeout_ms, 0, kHour));

  k.push_back(seedsKey({kCluster, "seeds", "nodes to discover the cluster from (IPs or DNS names)",
                        "redis-0.redis:6379,[::1]:7000"}));
  k.push_back(
      integerKey({kCluster, "backend-connections", "pipelined connections per Redis node", "2"},
                 &Config::backend_connections, 1, 16));
  k.push_back(durationKey({kCluster, "refresh-interval", "periodic refresh of the slot map", "10s"},
                          &Config::refresh_interval_ms, 10, kHour));
  k.push_back(durationKey(
      {kCluster, "refresh-min-interval", "least time between triggered refreshes", "250ms"},
      &Config::refresh_min_interval_ms, 0, kHour));
  k.push_back(
      durationKey({kCluster, "failover-hold", "wait this long for a slot's new primary", "45s"},
                  &Config::failover_hold_ms, 0, kHour));
  k.push_back(
      integerKey({kCluster, "max-redirects", "MOVED/ASK redirects followed per request", "8"},
                 &Config::max_redirects, 1, 64));

  k.push_back(stringKey(
      {kCluster, "redis-username", "ACL user for the nodes (empty: the default user)", "slotproxy"},
      &Config::redis_username, "NAME"));
  k.push_back(stringKey(
      {kCluster, "redis-password", "password for the nodes (AUTH on every connection)", "s3cret"},
      &Config::redis_password, "PASSWORD"));
  k.push_back(stringKey(
      {kCluster, "redis-password-file",
       "file holding the password for the nodes (a mounted Secret)", "/run/secrets/redis-password"},
      &Config::redis_password_file, "PATH"));

  k.push_back(durationKey({kTimeouts, "connect-timeout", "TCP connect to a Redis node", "1s"},
                          &Config::connect_timeout_ms, 1, 10 * kMinute));
  k.push_back(
      durationKey({kTimeouts, "request-timeout", "no reply for this long = node hung", "5s"},
                  &Config::request_timeout_ms, 1, kHour));
  k.push_back(durationKey(
      {kTimeouts, "reconnect-backoff-min", "first delay before reconnecting to a node", "100ms"},
      &Config::reconnect_backoff_min_ms, 1, kMinute));
  k.push_back(
      durationKey({kTimeouts, "reconnect-backoff-max", "reconnect delay doubles up to this", "5s"},
                  &Config::reconnect_backoff_max_ms, 1, 10 * kMinute));

  k.push_back(integerKey({kLimits, "max-clients", "most client connections at once", "20000"},
                         &Config::max_clients, 1, 1000000));
  k.push_back(integerKey(
      {kLimits, "max-own-conns", "node connections held by one client each (BLPOP...)", "200"},
      &Config::max_own_conns, 1, 1000000));
  k.push_back(integerKey({kLimits, "max-pipeline-depth",
                          "requests in flight per client before reading pauses", "1024"},
                         &Config::max_pipeline_depth, 1, 1u << 20));
  k.push_back(integerKey({kLimits, "hold-max-requests", "most requests held for a primary", "1000"},
                         &Config::hold_max_requests, 1, 100000000));
  k.push_back(sizeKey({kLimits, "hold-max-bytes", "most bytes held for a primary", "64mb"},
                      &Config::hold_max_bytes, 1, kMaxBytes));
  k.push_back(
      sizeKey({kLimits, "proto-max-bulk-len", "largest bulk string a client may send", "128mb"},
              &Config::proto_max_bulk_len, 1, kMaxBytes));
  k.push_back(
      integerKey({kLimits, "max-multibulk-len", "most elements in one request array", "65536"},
                 &Config::max_multibulk_len, 1, std::numeric_limits<int32_t>::max()));
  k.push_back(sizeKey(
      {kLimits, "client-query-buffer-limit", "most unparsed input buffered per client", "2gb"},
      &Config::client_query_buffer_limit, 1, kMaxBytes));
  k.push_back(sizeKey({kLimits, "client-output-high-watermark",
                       "pending reply bytes above which reading a client stops", "8mb"},
                      &Config::client_output_high_watermark, 1, kMaxBytes));
  k.push_back(sizeKey({kLimits, "client-output-low-watermark",
                       "pending reply bytes below which reading resumes", "512kb"},
                      &Config::client_output_low_watermark, 0, kMaxBytes));

  k.push_back(stringKey({kNodesConf, "nodes-conf-file", "the Redis nodes.conf to rewrite",
                         "/data/nodes.conf", "--file"},
                        &Config::nodes_conf_file, "PATH"));
  k.push_back(
      ipKey({kNodesConf, "myself-ip", "this pod's current IP", "10.1.2.3"}, &Config::myself_ip));
  k.push_back(boolKey(
      {kNodesConf, "resolve-peers", "also rewrite peers whose hostname got a new IP", "yes"},
      &Config::resolve_peers));
  k.push_back(
      stringKey({kNodesConf, "hosts-file",
                 "hosts(5) file read before DNS: seed names, --resolve-peers", "/etc/hosts"},
                &Config::hosts_file, "PATH"));
  k.push_back(
      boolKey({kNodesConf, "dry-run", "print the diff, change nothing", "yes"}, &Config::dry_run));
  return k;
}

const KeyDef* findKey(std::string_view name) {
  for (const KeyDef& k : keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const KeyDef* findFlag(std::string_view flag) {
  for (const KeyDef& k : keys()) {
    if (!k.flag_alias.empty() && k.flag_alias == flag) return &k;
    if (flag.size() == k.name.size() + 2 && flag.substr(2) == k.name) return &k;
  }
  return nullptr;
}

const KeyDef* findEnv(std::string_view name) {
  for (const KeyDef& k : keys()) {
    if (k.env == name) return &k;
  }
  return nullptr;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isDigit);
}

// The Docker-links-style variables Kubernetes sets for every Service in the namespace
// (enableServiceLinks): for a Service "slotproxy[-x]" they begin with SLOTPROXY_.
bool isKubernetesServiceLink(std::string_view name, std::string_view value) {
  auto ends = [&](std::string_view s) { return name.ends_with(s); };
  if (ends("_SERVICE_HOST") || ends("_SERVICE_PORT")) return true;
  if (name.find("_SERVICE_PORT_") != std::string_view::npos) return true;
  if (ends("_PORT") && (value.starts_with("tcp://") || value.starts_with("udp://") ||
                        value.starts_with("sctp://"))) {
    return true;
  }
  // X_PORT_6379_TCP, X_PORT_6379_TCP_PROTO, _PORT, _ADDR
  size_t p = name.rfind("_PORT_");
  while (p != std::string_view::npos) {
    std::string_view rest = name.substr(p + 6);  // "6379_TCP[_ADDR]"
    size_t us = rest.find('_');
    if (us != std::string_view::npos && allDigits(rest.substr(0, us))) {
      std::string_view tail = rest.substr(us + 1);
      for (std::string_view proto : {"TCP", "UDP", "SCTP"}) {
        if (tail == proto) return true;
        if (tail.starts_with(proto) && tail.size() > proto.size() && tail[proto.size()] == '_') {
          std::string_view field = tail.substr(proto.size() + 1);
          if (field == "PROTO" || field == "PORT" || field == "ADDR") return true;
        }
      }
    }
    if (p == 0) break;
    p = name.rfind("_PORT_", p - 1);
  }
  return false;
}

ParseResult fail(std::string message) { return ParseResult{false, 2, std::move(message)}; }

// --help and --version win over everything else on the command line, even a bad option
// (the positional forms `help` and `version` only as the subcommand).
ParseResult helpOrVersion(std::string_view command, Config* out);

bool readFile(const std::string& path, std::string* content, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = std::strerror(errno);
    return false;
  }
  char buf[8192];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) content->append(buf, n);
  bool bad = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (bad) {
    *error = std::strerror(err);
    return false;
  }
  return true;
}

// A value in double quotes: "\"" and "\\" are escapes; nothing but blanks may follow.
bool unquote(std::string_view v, std::string* out, std::string* error) {
  out->clear();
  for (size_t i = 1; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size() && (v[i + 1] == '"' || v[i + 1] == '\\')) {
      *out += v[++i];
    } else if (c == '"') {
      if (!trim(v.substr(i + 1)).empty()) {
        *error = "unexpected text after closing quote";
        return false;
      }
      return true;
    } else {
      *out += c;
    }
  }
  *error = "unterminated quoted value";
  return false;
}

std::optional<ParseResult> applyFile(const std::string& path, std::string_view source,
                                     Config* cfg) {
  std::string content, error;
  if (!readFile(path, &content, &error)) {
    return fail(std::string(source) + ": cannot read config file " + quote(path) + ": " + error);
  }
  std::string_view rest = content;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // UTF-8 BOM from some editors
  size_t line_no = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    std::string where = path + ":" + std::to_string(line_no) + ": ";
    size_t sp = 0;
    while (sp < line.size() && !isSpace(line[sp])) ++sp;
    std::string name = lower(line.substr(0, sp));
    std::string_view raw = trim(line.substr(sp));
    const KeyDef* key = findKey(name);
    if (key == nullptr) return fail(where + "unknown key " + quote(name));
    if (raw.empty()) return fail(where + name + ": missing value");
    std::string value(raw);
    if (raw.front() == '"' && !unquote(raw, &value, &error)) {
      return fail(where + name + ": " + error);
    }
    if (!key->set(cfg, value, &error)) return fail(where + name + ": " + error);
  }
  return std::nullopt;
}

struct FlagValue {
  const KeyDef* key;
  std::string spelling;  // as typed, for the error message
  std::string value;
};

std::optional<ParseResult> validate(const Config& c) {
  if ((c.command == "run" || c.command == "check") && c.seeds.empty()) {
    return fail("no seeds: give --seeds HOST:PORT[,...]");
  }
  if (c.command == "nodes-conf") {
    if (c.nodes_conf_file.empty()) return fail("nodes-conf: give --file PATH (the nodes.conf)");
    if (c.myself_ip.empty()) return fail("nodes-conf: give --myself-ip IP (this pod's IP)");
  }
  if (c.client_output_low_watermark >= c.client_output_high_watermark) {
    return fail("client-output-low-watermark (" + formatSize(c.client_output_low_watermark) +
                ") must be below client-output-high-watermark (" +
                formatSize(c.client_output_high_watermark) + ")");
  }
  if (c.reconnect_backoff_min_ms > c.reconnect_backoff_max_ms) {
    return fail("reconnect-backoff-min (" + formatDurationMs(c.reconnect_backoff_min_ms) +
                ") must not exceed reconnect-backoff-max (" +
                formatDurationMs(c.reconnect_backoff_max_ms) + ")");
  }
  if (c.refresh_min_interval_ms > c.refresh_interval_ms) {
    return fail("refresh-min-interval (" + formatDurationMs(c.refresh_min_interval_ms) +
                ") must not exceed refresh-interval (" + formatDurationMs(c.refresh_interval_ms) +
                ")");
  }
  if (c.proto_max_bulk_len > c.client_query_buffer_limit) {
    return fail("proto-max-bulk-len (" + formatSize(c.proto_max_bulk_len) +
                ") must not exceed client-query-buffer-limit (" +
                formatSize(c.client_query_buffer_limit) + ")");
  }
  if (c.command == "run" && c.listen.port != 0 && c.listen.port == c.admin.port) {
    auto wildcard = [](const std::string& h) { return h == "0.0.0.0" || h == "::"; };
    if (c.listen.host == c.admin.host || wildcard(c.listen.host) || wildcard(c.admin.host)) {
      return fail("listen (" + c.listen.str() + ") and admin (" + c.admin.str() +
                  ") use the same port");
    }
  }
  return std::nullopt;
}

}  // namespace

std::string HostPort::str() const {
  std::string s;
  if (host.find(':') != std::string::npos) {
    s = "[" + host + "]";
  } else {
    s = host;
  }
  return s + ":" + std::to_string(port);
}

bool parseSize(std::string_view s, uint64_t* out) {
  uint64_t n = 0;
  std::string unit;
  if (!splitNumberUnit(s, &n, &unit)) return false;
  uint64_t mul = 0;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k") {
    mul = 1000;
  } else if (unit == "kb") {
    mul = 1024;
  } else if (unit == "m") {
    mul = 1'000'000;
  } else if (unit == "mb") {
    mul = uint64_t{1} << 20;
  } else if (unit == "g") {
    mul = 1'000'000'000;
  } else if (unit == "gb") {
    mul = uint64_t{1} << 30;
  } else {
    return false;
  }
  if (n > std::numeric_limits<uint64_t>::max() / mul) return false;
  *out = n * mul;
  return true;
}

bool parseDurationMs(std::string_view s, uint32_t* out) {
  uint64_t n = 0;
  std::string unit;
  if (!splitNumberUnit(s, &n, &unit)) return false;
  uint64_t mul = 0;
  if (unit.empty() || unit == "ms") {
    mul = 1;
  } else if (unit == "s") {
    mul = kSecond;
  } else if (unit == "m") {
    mul = kMinute;
  } else if (unit == "h") {
    mul = kHour;
  } else {
    return false;
  }
  if (n > std::numeric_limits<uint32_t>::max() / mul) return false;
  *out = static_cast<uint32_t>(n * mul);
  return true;
}

bool parseHostPort(std::string_view s, uint16_t default_port, HostPort* out) {
  std::string_view host, port;
  bool has_port = false;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!isIPv6(host)) return false;
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = s.find(':');
    if (colon == std::string_view::npos) {
      host = s;
    } else if (s.find(':', colon + 1) != std::string_view::npos) {
      host = s;  // more than one ':' and no brackets: only a bare IPv6 literal, no port
      if (!isIPv6(host)) return false;
    } else {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
      has_port = true;
    }
    if (host.find(':') == std::string_view::npos && !isIPv4(host) && !isHostname(host)) {
      return false;
    }
  }
  uint64_t p = default_port;
  if (has_port) {
    if (port.size() > 5 || !parseUint(port, &p) || p > 65535) return false;
  } else if (default_port == 0) {
    return false;
  }
  out->host = std::string(host);
  out->port = static_cast<uint16_t>(p);
  return true;
}

std::string formatSize(uint64_t bytes) {
  if (bytes == 0) return "0";
  if (bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "gb";
  if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "mb";
  if (bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "kb";
  return std::to_string(bytes);
}

std::string formatDurationMs(uint32_t ms) {
  if (ms == 0) return "0ms";
  if (ms % kHour == 0) return std::to_string(ms / kHour) + "h";
  if (ms % kMinute == 0) return std::to_string(ms / kMinute) + "m";
  if (ms % kSecond == 0) return std::to_string(ms / kSecond) + "s";
  return std::to_string(ms) + "ms";
}

const std::vector<KeyDef>& keys() {
  static const std::vector<KeyDef> table = buildKeys();
  return table;
}

std::string usage() {
  const Config defaults;
  std::string u =
      "slotproxy " SLOTPROXY_VERSION
      ": cluster-aware Redis sidecar proxy\n"
      "\n"
      "Usage:\n"
      "  slotproxy [run] [OPTIONS]           serve RESP on --listen, routed by hash slot\n"
      "  slotproxy check --seeds HOST:PORT[,...]\n"
      "                                      diagnose a cluster once; exit 0 if healthy\n"
      "  slotproxy nodes-conf --file PATH --myself-ip IP [--resolve-peers] [--dry-run]\n"
      "                                      rewrite a Redis nodes.conf for a new pod IP\n"
      "  slotproxy --version | --help\n"
      "\n"
      "Each option --name is also the environment variable SLOTPROXY_NAME (upper case, '_'\n"
      "for '-') and the config file line \"name value\".\n"
      "Precedence: flag > environment > file > default.\n"
      "Durations: 500 (ms), 500ms, 5s, 2m, 1h. Sizes: 100, 64kb, 512mb, 1gb (k=1000, kb=1024).\n"
      "Booleans: a bare flag, or yes/no in the file and environment.\n"
      "\n"
      "  --config FILE                       config file, redis.conf style (or SLOTPROXY_CONFIG)\n";
  std::string_view section;
  for (const KeyDef& k : keys()) {
    if (k.section != section) {
      section = k.section;
      u += "\n";
      u += section;
      u += ":\n";
    }
    std::string flag = "  --" + std::string(k.name);
    if (!k.value_hint.empty()) flag += " " + std::string(k.value_hint);
    if (!k.flag_alias.empty()) flag += " (" + std::string(k.flag_alias) + ")";
    constexpr size_t kColumn = 38;
    flag.append(flag.size() < kColumn ? kColumn - flag.size() : 1, ' ');
    u += flag;
    u += k.help;
    std::string def = k.show(defaults);
    if (!def.empty()) u += " [" + def + "]";
    u += "\n";
  }
  u += "\nExit codes: 0 clean exit, 1 runtime failure, 2 usage or config error.\n";
  return u;
}

namespace {
ParseResult helpOrVersion(std::string_view command, Config* out) {
  Config c;
  c.command = std::string(command);
  *out = std::move(c);
  return ParseResult{true, 0,
                     command == "version" ? std::string("slotproxy " SLOTPROXY_VERSION) : usage()};
}
}  // namespace

ParseResult parse(int argc, const char* const* argv, const char* const* envp, Config* out) {
  Config cfg;
  std::vector<FlagValue> flags;
  std::optional<std::string> config_path;
  bool have_command = false;

  // A value never starts with "--" (see below), so these are always flags.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return helpOrVersion("help", out);
    if (arg == "--version") return helpOrVersion("version", out);
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--") && arg.size() > 2) {
      size_t eq = arg.find('=');
      std::string_view name = arg.substr(0, eq);
      std::optional<std::string> inline_value;
      if (eq != std::string_view::npos) inline_value = std::string(arg.substr(eq + 1));
      const KeyDef* key = name == "--config" ? nullptr : findFlag(name);
      if (name != "--config" && key == nullptr) return fail("unknown flag " + quote(name));
      std::string value;
      if (inline_value) {
        value = *inline_value;
      } else if (key != nullptr && key->boolean) {
        value = "yes";
      } else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
        value = argv[++i];
      } else {
        return fail(std::string(name) + ": missing value");
      }
      if (key == nullptr) {
        config_path = value;
      } else {
        flags.push_back(FlagValue{key, std::string(name), std::move(value)});
      }
      continue;
    }
    if (arg.starts_with("-")) return fail("unknown flag " + quote(arg));
    if (have_command) return fail("unexpected argument " + quote(arg));
    if (arg == "help" || arg == "version") return helpOrVersion(arg, out);
    if (arg != "run" && arg != "nodes-conf" && arg != "check") {
      return fail("unknown command " + quote(arg) + " (expected run, check or nodes-conf)");
    }
    cfg.command = std::string(arg);
    have_command = true;
  }

  // The environment: validate names first, pick up SLOTPROXY_CONFIG.
  std::vector<std::pair<const KeyDef*, std::string>> env_values;
  std::string config_source = "--config";
  for (const char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv = *e;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (!name.starts_with(kEnvPrefix)) continue;
    if (name == kConfigEnv) {
      if (!config_path && !value.empty()) {
        config_path = std::string(value);
        config_source = kConfigEnv;
      }
      continue;
    }
    const KeyDef* key = findEnv(name);
    if (key == nullptr) {
      if (isKubernetesServiceLink(name, value)) continue;
      return fail("unknown environment variable " + quote(name));
    }
    env_values.emplace_back(key, std::string(value));
  }

  // Lowest precedence first: file, environment, flags.
  if (config_path) {
    if (auto r = applyFile(*config_path, config_source, &cfg)) return *r;
  }
  std::string error;
  for (const auto& [key, value] : env_values) {
    if (!key->set(&cfg, value, &error)) return fail(key->env + ": " + error);
  }
  for (const FlagValue& f : flags) {
    if (!f.key->set(&cfg, f.value, &error)) return fail(f.spelling + ": " + error);
  }
  if (auto r = validate(cfg)) return *r;
  *out = std::move(cfg);
  return ParseResult{};
}

}  // namespace slotproxy::config
