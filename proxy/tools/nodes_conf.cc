#include "proxy/tools/nodes_conf.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>

namespace slotproxy::tools {
namespace {

constexpr size_t kNodeIdLen = 40;          // CLUSTER_NAMELEN
constexpr uint32_t kClusterSlots = 16384;  // CLUSTER_SLOTS
constexpr size_t kMinNodeFields = 8;       // clusterLoadConfig: "at least eight fields"

// Keeps the error text and returns false, so parse steps read `return fail(...)`.
class Failer {
 public:
  Failer(std::string* error, size_t line_no) : error_(error), line_no_(line_no) {}
  bool operator()(const std::string& what) const {
    if (error_ != nullptr) *error_ = "line " + std::to_string(line_no_) + ": " + what;
    return false;
  }

 private:
  std::string* error_;
  size_t line_no_;
};

std::string inQuotes(std::string_view s) { return "'" + std::string(s) + "'"; }

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal without sign or leading zeros, as Redis prints it ("%d"); required for the fields we
// re-serialise from numbers so that parse + serialize stays byte-exact.
bool parseCanonicalUint(std::string_view s, uint64_t max, uint64_t* out) {
  if (!isDigits(s) || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

bool parsePort(std::string_view s, uint16_t* out) {
  uint64_t v = 0;
  if (!parseCanonicalUint(s, 65535, &v)) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

// Fields Redis writes with %llu / %lld; kept verbatim, so only their shape is checked.
bool isUint64(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return isDigits(s) && ec == std::errc() && ptr == s.data() + s.size();
}

// verifyClusterNodeId (Redis 7.0): exactly 40 chars of [a-z0-9].
bool isNodeId(std::string_view s) {
  return s.size() == kNodeIdLen && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

bool isSlot(std::string_view s, uint32_t* out) {
  uint64_t v = 0;
  if (!isDigits(s) || s.size() > 5) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v >= kClusterSlots) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool isHostnameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

std::string toLower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return r;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) { return toLower(a) == toLower(b); }

// Splits on single spaces; an empty token means a doubled, leading or trailing space.
std::vector<std::string_view> splitSpaces(std::string_view line) {
  std::vector<std::string_view> tokens;
  size_t start = 0;
  while (true) {
    size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) {
      tokens.push_back(line.substr(start));
      return tokens;
    }
    tokens.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
}

// ip:port[@cport][,hostname[,key=value]*]
bool parseAddress(std::string_view field, NodesConfLine* node, const Failer& fail) {
  std::string_view addr = field;
  size_t comma = field.find(',');
  if (comma != std::string_view::npos) {
    addr = field.substr(0, comma);
    node->has_hostname_field = true;
    std::string_view after = field.substr(comma + 1);
    size_t aux_start = after.find(',');
    std::string_view hostname = after.substr(0, aux_start);
    if (!std::all_of(hostname.begin(), hostname.end(), isHostnameChar)) {
      return fail("bad hostname " + inQuotes(hostname) + " in address " + inQuotes(field));
    }
    node->hostname = std::string(hostname);
    if (aux_start != std::string_view::npos) {
      std::string_view aux = after.substr(aux_start);
      node->aux = std::string(aux);
      // Redis 7.2 auxiliary fields: ",key=value" each.
      size_t pos = 0;
      while (pos < aux.size()) {
        size_t next = aux.find(',', pos + 1);
        std::string_view item = aux.substr(
            pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1);
        size_t eq = item.find('=');
        if (eq == 0 || eq == std::string_view::npos || item.find('=', eq + 1) != item.npos) {
          return fail("bad auxiliary field " + inQuotes(item) + " in address " + inQuotes(field));
        }
        if (next == std::string_view::npos) break;
        pos = next;
      }
    }
  }
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return fail("address " + inQuotes(field) + " has no ':port'");
  }
  std::string_view ip = addr.substr(0, colon);
  std::string_view ports = addr.substr(colon + 1);
  size_t at = ports.find('@');
  std::string_view port = ports.substr(0, at);
  if (!parsePort(port, &node->port)) {
    return fail("bad port " + inQuotes(port) + " in address " + inQuotes(field));
  }
  if (at == std::string_view::npos) {
    node->has_cport = false;
  } else {
    std::string_view cport = ports.substr(at + 1);
    if (!parsePort(cport, &node->cport)) {
      return fail("bad cluster bus port " + inQuotes(cport) + " in address " + inQuotes(field));
    }
  }
  if (!ip.empty() && !canonicalIp(ip)) {
    return fail("bad ip " + inQuotes(ip) + " in address " + inQuotes(field));
  }
  node->ip = std::string(ip);
  return true;
}

bool parseFlags(std::string_view flags, NodesConfLine* node, const Failer& fail) {
  static constexpr std::string_view kKnown[] = {
      "myself", "master", "slave", "fail?", "fail", "handshake", "noaddr", "nofailover", "noflags"};
  size_t start = 0;
  while (true) {
    size_t comma = flags.find(',', start);
    std::string_view flag = flags.substr(start, comma == flags.npos ? flags.npos : comma - start);
    bool known = std::any_of(std::begin(kKnown), std::end(kKnown),
                             [&](std::string_view k) { return equalsIgnoreCase(flag, k); });
    if (!known) return fail("unknown flag " + inQuotes(flag) + " in " + inQuotes(flags));
    if (equalsIgnoreCase(flag, "myself")) {
      if (node->myself) return fail("flag 'myself' given twice");
      node->myself = true;
    }
    if (comma == flags.npos) return true;
    start = comma + 1;
  }
}

// N, N-M, [N->-id] (migrating), [N-<-id] (importing).
bool parseSlotField(std::string_view s, const Failer& fail) {
  uint32_t a = 0, b = 0;
  if (!s.empty() && s.front() == '[') {
    size_t dash = s.find('-');
    if (s.back() != ']' || dash == s.npos || dash + 2 >= s.size() ||
        (s[dash + 1] != '>' && s[dash + 1] != '<') || s[dash + 2] != '-' ||
        !isSlot(s.substr(1, dash - 1), &a) ||
        !isNodeId(s.substr(dash + 3, s.size() - 1 - (dash + 3)))) {
      return fail("bad migrating/importing slot " + inQuotes(s));
    }
    return true;
  }
  size_t dash = s.find('-');
  if (dash == s.npos) {
    if (!isSlot(s, &a)) return fail("bad slot " + inQuotes(s));
    return true;
  }
  if (!isSlot(s.substr(0, dash), &a) || !isSlot(s.substr(dash + 1), &b) || a > b) {
    return fail("bad slot range " + inQuotes(s));
  }
  return true;
}

bool parseNodeLine(std::string_view line, const std::vector<std::string_view>& tok,
                   NodesConfLine* node, const Failer& fail) {
  if (tok.size() < kMinNodeFields) {
    return fail("expected at least " + std::to_string(kMinNodeFields) + " fields, found " +
                std::to_string(tok.size()) + " (truncated line?)");
  }
  if (!isNodeId(tok[0])) return fail("bad node id " + inQuotes(tok[0]));
  node->id = std::string(tok[0]);
  if (!parseAddress(tok[1], node, fail)) return false;
  if (!parseFlags(tok[2], node, fail)) return false;
  node->flags = std::string(tok[2]);
  if (tok[3] != "-" && !isNodeId(tok[3])) return fail("bad master id " + inQuotes(tok[3]));
  if (!isUint64(tok[4])) return fail("bad ping-sent " + inQuotes(tok[4]));
  if (!isUint64(tok[5])) return fail("bad pong-recv " + inQuotes(tok[5]));
  if (!isUint64(tok[6])) return fail("bad config-epoch " + inQuotes(tok[6]));
  if (tok[7] != "connected" && tok[7] != "disconnected") {
    return fail("bad link state " + inQuotes(tok[7]));
  }
  for (size_t i = kMinNodeFields; i < tok.size(); ++i) {
    if (!parseSlotField(tok[i], fail)) return false;
  }
  // Single-space separated, so the rest starts right after "<id> <addr> <flags> ".
  size_t rest_pos = tok[0].size() + tok[1].size() + tok[2].size() + 3;
  node->rest = std::string(line.substr(rest_pos));
  return true;
}

bool parseVarsLine(const std::vector<std::string_view>& tok, const Failer& fail) {
  if (tok.size() % 2 == 0) return fail("vars line has a key without a value");
  bool current = false, last_vote = false;
  for (size_t i = 1; i + 1 < tok.size(); i += 2) {
    bool is_current = equalsIgnoreCase(tok[i], "currentEpoch");
    bool is_last_vote = equalsIgnoreCase(tok[i], "lastVoteEpoch");
    if ((is_current || is_last_vote) && !isUint64(tok[i + 1])) {
      return fail("bad value " + inQuotes(tok[i + 1]) + " for " + std::string(tok[i]));
    }
    current = current || is_current;
    last_vote = last_vote || is_last_vote;
  }
  if (!current) return fail("vars line lacks currentEpoch");
  if (!last_vote) return fail("vars line lacks lastVoteEpoch");
  return true;
}

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == text.npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

bool sameIp(std::string_view a, std::string_view b) {
  if (a == b) return true;
  auto ca = canonicalIp(a), cb = canonicalIp(b);
  return ca && cb && *ca == *cb;
}

bool isIpv6(std::string_view ip) { return ip.find(':') != ip.npos; }

std::string errnoText(int e) { return std::strerror(e); }

std::string parentDir(const std::string& path) {
  std::filesystem::path p(path);
  std::filesystem::path parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool readAll(int fd, std::string* out) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

// Replaces `path` with `data` so that a crash leaves either the old or the new file: a temp file
// in the same directory, fsync, rename over `path`, fsync of the directory. The new file gets
// `like`'s mode and, when permitted (root), its owner.
bool writeFileAtomically(const std::string& path, std::string_view data, const struct stat& like,
                         std::string* error) {
  const std::string dir = parentDir(path);
  std::string tmpl =
      dir + "/." + std::filesystem::path(path).filename().string() + ".slotproxy-tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot create a temp file in " + dir + ": " + errnoText(errno);
    return false;
  }
  const std::string tmp(name.data());
  auto failWith = [&](const std::string& what) {
    *error = what + ": " + errnoText(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  if (!writeAll(fd, data)) return failWith("cannot write " + tmp);
  if (::fchmod(fd, static_cast<mode_t>(like.st_mode & 07777)) != 0) {
    return failWith("cannot chmod " + tmp);
  }
  if (::fchown(fd, like.st_uid, like.st_gid) != 0 && errno != EPERM) {
    return failWith("cannot chown " + tmp);
  }
  if (::fsync(fd) != 0) return failWith("cannot fsync " + tmp);
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return failWith("cannot close " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return failWith("cannot rename " + tmp + " to " + path);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    // The rename is done; a failed directory fsync only weakens durability, so it is not an error.
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

void printDiff(const std::string& path, std::string_view old_text, std::string_view new_text,
               std::ostream& out) {
  auto old_lines = splitLines(old_text);
  auto new_lines = splitLines(new_text);
  out << "--- " << path << "\n+++ " << path << " (rewritten)\n";
  // Only address fields change, so lines correspond one to one.
  size_t n = std::max(old_lines.size(), new_lines.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view o = i < old_lines.size() ? old_lines[i] : std::string_view();
    std::string_view w = i < new_lines.size() ? new_lines[i] : std::string_view();
    if (o == w) continue;
    out << "@@ -" << i + 1 << ",1 +" << i + 1 << ",1 @@\n-" << o << "\n+" << w << "\n";
  }
}

// Closes an fd at scope exit (holds the flock for the whole read-modify-write).
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

std::string NodesConfLine::address() const {
  std::string a = ip;
  a += ':';
  a += std::to_string(port);
  if (has_cport) {
    a += '@';
    a += std::to_string(cport);
  }
  if (has_hostname_field) {
    a += ',';
    a += hostname;
  }
  a += aux;
  return a;
}

std::string NodesConfLine::text() const { return id + " " + address() + " " + flags + " " + rest; }

const NodesConfLine* NodesConf::myself() const {
  for (const auto& n : nodes) {
    if (n.myself) return &n;
  }
  return nullptr;
}

NodesConfLine* NodesConf::myself() {
  return const_cast<NodesConfLine*>(static_cast<const NodesConf*>(this)->myself());
}

std::optional<std::string> canonicalIp(std::string_view ip) {
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(ip);
  char buf[INET6_ADDRSTRLEN];
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    if (::inet_ntop(AF_INET, &v4, buf, sizeof(buf)) == nullptr) return std::nullopt;
    return std::string(buf);
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    if (::inet_ntop(AF_INET6, &v6, buf, sizeof(buf)) == nullptr) return std::nullopt;
    return std::string(buf);
  }
  return std::nullopt;
}

bool parseNodesConf(std::string_view text, NodesConf* out, std::string* error) {
  NodesConf conf;
  if (text.empty()) {
    if (error != nullptr) *error = "empty file";
    return false;
  }
  const auto lines = splitLines(text);
  if (text.back() != '\n') {
    // Redis writes the whole file, '\n'-terminated, in one write(): a missing final newline is
    // how a truncated file looks, and its last line may be cut short yet still parse.
    return Failer(error, lines.size())("no newline at end of file (truncated?)");
  }
  std::set<std::string, std::less<>> ids;
  size_t blanks = 0;
  bool seen_vars = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t line_no = i + 1;
    const std::string_view line = lines[i];
    const Failer fail(error, line_no);
    if (line.empty()) {
      ++blanks;
      continue;
    }
    if (seen_vars) return fail("text after the vars line");
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f) {
        return fail(c == '\r' ? "carriage return (CRLF line endings)"
                              : "unexpected byte " + std::to_string(u));
      }
    }
    const auto tok = splitSpaces(line);
    if (std::any_of(tok.begin(), tok.end(), [](std::string_view t) { return t.empty(); })) {
      return fail("fields must be separated by exactly one space");
    }
    if (equalsIgnoreCase(tok[0], "vars")) {
      if (!parseVarsLine(tok, fail)) return false;
      conf.vars_line = std::string(line);
      conf.vars_line_no = line_no;
      conf.blank_lines_before_vars = blanks;
      blanks = 0;
      seen_vars = true;
      continue;
    }
    NodesConfLine node;
    node.line_no = line_no;
    node.blank_lines_before = blanks;
    if (!parseNodeLine(line, tok, &node, fail)) return false;
    if (!ids.insert(node.id).second) return fail("duplicate node id " + node.id);
    if (node.myself && conf.myself() != nullptr) {
      return fail("a second 'myself' node (first on line " +
                  std::to_string(conf.myself()->line_no) + ")");
    }
    blanks = 0;
    conf.nodes.push_back(std::move(node));
  }
  if (!seen_vars) {
    if (error != nullptr) *error = "missing 'vars currentEpoch N lastVoteEpoch M' line";
    return false;
  }
  if (conf.myself() == nullptr) {
    if (error != nullptr) *error = "no node has the 'myself' flag";
    return false;
  }
  conf.trailing_blank_lines = blanks;
  *out = std::move(conf);
  return true;
}

std::string serialize(const NodesConf& conf) {
  std::string s;
  for (const auto& n : conf.nodes) {
    s.append(n.blank_lines_before, '\n');
    s += n.text();
    s += '\n';
  }
  s.append(conf.blank_lines_before_vars, '\n');
  s += conf.vars_line;
  s += '\n';
  s.append(conf.trailing_blank_lines, '\n');
  return s;
}

bool HostsTable::parse(std::string_view text, std::string* error) {
  std::vector<std::pair<std::string, std::string>> entries;
  const auto lines = splitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    line = line.substr(0, line.find('#'));
    std::vector<std::string> words;
    std::istringstream in{std::string(line)};
    for (std::string w; in >> w;) words.push_back(w);
    if (words.empty()) continue;
    auto ip = canonicalIp(words[0]);
    if (!ip) return Failer(error, i + 1)("not an IP address: " + inQuotes(words[0]));
    if (words.size() < 2) return Failer(error, i + 1)("no name after " + words[0]);
    for (size_t w = 1; w < words.size(); ++w) entries.emplace_back(toLower(words[w]), *ip);
  }
  entries_ = std::move(entries);
  return true;
}

bool HostsTable::load(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": " + errnoText(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string line_error;
  if (!parse(ss.str(), &line_error)) {
    *error = path + ": " + line_error;
    return false;
  }
  return true;
}

std::vector<std::string> HostsTable::lookup(const std::string& name) const {
  std::vector<std::string> r;
  const std::string key = toLower(name);
  for (const auto& [n, ip] : entries_) {
    if (n == key && std::find(r.begin(), r.end(), ip) == r.end()) r.push_back(ip);
  }
  return r;
}

std::vector<std::string> resolveWithGetaddrinfo(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::vector<std::string> r;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) return r;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN];
    const void* addr = nullptr;
    if (ai->ai_family == AF_INET) {
      addr = &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
    } else if (ai->ai_family == AF_INET6) {
      addr = &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    if (::inet_ntop(ai->ai_family, addr, buf, sizeof(buf)) == nullptr) continue;
    std::string ip(buf);
    if (std::find(r.begin(), r.end(), ip) == r.end()) r.push_back(std::move(ip));
  }
  ::freeaddrinfo(res);
  return r;
}

std::vector<NodesConfChange> rewriteNodesConf(NodesConf* conf, const std::string& myself_ip,
                                              const ResolveFn* resolve,
                                              std::vector<std::string>* warnings) {
  std::vector<NodesConfChange> changes;
  const std::string my_ip = canonicalIp(myself_ip).value_or(myself_ip);
  for (size_t i = 0; i < conf->nodes.size(); ++i) {
    NodesConfLine& node = conf->nodes[i];
    if (node.myself) {
      if (!sameIp(node.ip, my_ip)) {
        changes.push_back({i, node.ip, my_ip});
        node.ip = my_ip;
      }
      continue;
    }
    if (resolve == nullptr || !*resolve || node.hostname.empty()) continue;
    std::vector<std::string> addrs = (*resolve)(node.hostname);
    std::vector<std::string> valid;
    for (const auto& a : addrs) {
      if (auto c = canonicalIp(a)) valid.push_back(*c);
    }
    if (valid.empty()) {
      if (warnings != nullptr) {
        warnings->push_back("node " + node.id + " (" + node.hostname +
                            ") does not resolve; left at " +
                            (node.ip.empty() ? std::string("<no address>") : node.ip));
      }
      continue;
    }
    if (std::any_of(valid.begin(), valid.end(),
                    [&](const std::string& a) { return sameIp(a, node.ip); })) {
      continue;
    }
    std::string chosen = valid.front();
    if (!node.ip.empty()) {
      auto same_family = std::find_if(valid.begin(), valid.end(), [&](const std::string& a) {
        return isIpv6(a) == isIpv6(node.ip);
      });
      if (same_family != valid.end()) chosen = *same_family;
    }
    changes.push_back({i, node.ip, chosen});
    node.ip = chosen;
  }
  return changes;
}

int runNodesConf(const NodesConfOptions& opts, std::ostream& out, std::ostream& err) {
  if (opts.resolve_peers && !opts.hosts_file.empty()) {
    HostsTable table;
    std::string error;
    if (!table.load(opts.hosts_file, &error)) {
      err << "nodes-conf: cannot use hosts file " << error << "\n";
      return 2;
    }
    ResolveFn fn = [table](const std::string& name) { return table.lookup(name); };
    return runNodesConf(opts, fn, out, err);
  }
  ResolveFn fn = resolveWithGetaddrinfo;
  return runNodesConf(opts, fn, out, err);
}

int runNodesConf(const NodesConfOptions& opts, const ResolveFn& resolve, std::ostream& out,
                 std::ostream& err) {
  if (opts.file.empty()) {
    err << "nodes-conf: --file is required\n";
    return 2;
  }
  if (opts.myself_ip.empty()) {
    err << "nodes-conf: --myself-ip is required\n";
    return 2;
  }
  const std::optional<std::string> my_ip = canonicalIp(opts.myself_ip);
  if (!my_ip) {
    err << "nodes-conf: --myself-ip " << inQuotes(opts.myself_ip)
        << " is not an IPv4 or IPv6 address\n";
    return 2;
  }
  if (!opts.hosts_file.empty() && !opts.resolve_peers) {
    err << "nodes-conf: --hosts is only used with --resolve-peers\n";
    return 2;
  }

  // Rewrite the file a symlink points at, not the link.
  std::string path = opts.file;
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec)) {
    auto target = std::filesystem::canonical(path, ec);
    if (!ec) path = target.string();
  }

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      out << "nodes.conf: " << path
          << " does not exist yet (first boot): nothing to do, Redis will create it\n";
      return 0;
    }
    err << "nodes-conf: cannot open " << path << ": " << errnoText(errno) << "\n";
    return 1;
  }
  FdCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err << "nodes-conf: cannot stat " << path << ": " << errnoText(errno) << "\n";
    return 1;
  }
  if (!S_ISREG(st.st_mode)) {
    err << "nodes-conf: " << path << " is not a regular file\n";
    return 1;
  }
  // Redis holds an exclusive flock on nodes.conf while it runs (clusterLockConfig) and rewrites
  // the file in place whenever its view changes: editing under it is lost or worse.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      err << "nodes-conf: cannot lock " << path << ": " << errnoText(errno) << "\n";
      return 1;
    }
    if (!opts.dry_run) {
      err << "nodes-conf: " << path
          << " is locked by a running Redis; stop it first. File left unchanged\n";
      return 1;
    }
    err << "nodes-conf: warning: " << path << " is locked by a running Redis\n";
  }
  std::string old_text;
  if (!readAll(fd, &old_text)) {
    err << "nodes-conf: cannot read " << path << ": " << errnoText(errno) << "\n";
    return 1;
  }
  if (old_text.empty()) {
    // Redis treats an empty nodes.conf as "no configuration" and writes a fresh one.
    out << "nodes.conf: " << path << " is empty (first boot): nothing to do\n";
    return 0;
  }

  NodesConf conf;
  std::string error;
  if (!parseNodesConf(old_text, &conf, &error)) {
    err << "nodes-conf: " << path << ": " << error << "; file left unchanged\n";
    return 1;
  }
  std::vector<std::string> warnings;
  const ResolveFn* resolver = opts.resolve_peers ? &resolve : nullptr;
  const auto changes = rewriteNodesConf(&conf, *my_ip, resolver, &warnings);
  for (const auto& w : warnings) err << "nodes-conf: warning: " << w << "\n";

  const std::string new_text = serialize(conf);
  if (new_text == old_text) {
    out << "nodes.conf: up to date\n";
    return 0;
  }
  printDiff(path, old_text, new_text, out);
  for (const auto& c : changes) {
    const auto& n = conf.nodes[c.node_index];
    out << "# " << (n.myself ? "myself " : "peer ") << n.id
        << (n.hostname.empty() ? "" : " (" + n.hostname + ")") << ": "
        << (c.old_ip.empty() ? "<no address>" : c.old_ip) << " -> " << c.new_ip << "\n";
  }
  if (opts.dry_run) {
    out << "nodes.conf: dry run, " << path << " not written\n";
    return 0;
  }
  const std::string backup = path + ".bak";
  if (!writeFileAtomically(backup, old_text, st, &error)) {
    err << "nodes-conf: cannot write backup " << backup << ": " << error
        << "; file left unchanged\n";
    return 1;
  }
  if (!writeFileAtomically(path, new_text, st, &error)) {
    err << "nodes-conf: " << error << "; file left unchanged\n";
    return 1;
  }
  out << "nodes.conf: " << path << " rewritten (" << changes.size()
      << " address(es) changed), previous contents in " << backup << "\n";
  return 0;
}

}  // namespace slotproxy::tools
