#include "tests/integration/fake_upstream/fake_redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "tests/integration/fixture/helpers.h"

namespace slotproxy::testing {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string integer(long long n) { return ":" + std::to_string(n) + "\r\n"; }

std::string upper(std::string s) {
  for (char& ch : s) {
    if (ch >= 'a' && ch <= 'z') {
      ch = static_cast<char>(ch - 'a' + 'A');
    }
  }
  return s;
}

bool isTopologyQuery(const std::vector<std::string>& args) {
  if (args.size() != 2 || upper(args[0]) != "CLUSTER") {
    return false;
  }
  const std::string sub = upper(args[1]);
  return sub == "INFO" || sub == "SHARDS" || sub == "SLOTS" || sub == "NODES";
}

}  // namespace

// ---- FakeTopology ---------------------------------------------------------------------------

int FakeTopology::addNode(const std::string& id, const std::string& ip, int port) {
  std::lock_guard<std::mutex> lock(mu_);
  nodes_.push_back({id, ip, port});
  return static_cast<int>(nodes_.size()) - 1;
}

void FakeTopology::assign(int first, int last, int index) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int s = first; s <= last; ++s) {
    owner_[static_cast<size_t>(s)] = index;
  }
}

int FakeTopology::ownerOf(int slot) const {
  std::lock_guard<std::mutex> lock(mu_);
  return owner_[static_cast<size_t>(slot)];
}

std::vector<std::pair<int, int>> FakeTopology::rangesOf(int index) const {
  std::vector<std::pair<int, int>> out;
  for (int s = 0; s < 16384; ++s) {
    if (owner_[static_cast<size_t>(s)] != index) {
      continue;
    }
    if (!out.empty() && out.back().second == s - 1) {
      out.back().second = s;
    } else {
      out.emplace_back(s, s);
    }
  }
  return out;
}

void FakeTopology::setShardsSupported(bool supported) {
  std::lock_guard<std::mutex> lock(mu_);
  shards_supported_ = supported;
}

std::string FakeTopology::clusterShards() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!shards_supported_) {
    return "-ERR Unknown subcommand or wrong number of arguments for 'SHARDS'. Try CLUSTER "
           "HELP.\r\n";
  }
  std::string out = "*" + std::to_string(nodes_.size()) + "\r\n";
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    const auto ranges = rangesOf(static_cast<int>(i));
    out += "*4\r\n" + bulk("slots") + "*" + std::to_string(ranges.size() * 2) + "\r\n";
    for (const auto& [first, last] : ranges) {
      out += integer(first) + integer(last);
    }
    out += bulk("nodes") + "*1\r\n*14\r\n";
    out += bulk("id") + bulk(n.id) + bulk("port") + integer(n.port) + bulk("ip") + bulk(n.ip) +
           bulk("endpoint") + bulk(n.ip) + bulk("role") + bulk("master") +
           bulk("replication-offset") + integer(0) + bulk("health") + bulk("online");
  }
  return out;
}

std::string FakeTopology::clusterSlots() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string body;
  size_t count = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    for (const auto& [first, last] : rangesOf(static_cast<int>(i))) {
      body += "*3\r\n" + integer(first) + integer(last) + "*4\r\n" + bulk(n.ip) + integer(n.port) +
              bulk(n.id) + "*0\r\n";
      ++count;
    }
  }
  return "*" + std::to_string(count) + "\r\n" + body;
}

std::string FakeTopology::clusterNodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string text;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    text += n.id + " " + n.ip + ":" + std::to_string(n.port) + "@" +
            std::to_string(n.port + 10000) + " master - 0 0 " + std::to_string(i + 1) +
            " connected";
    for (const auto& [first, last] : rangesOf(static_cast<int>(i))) {
      text += " " + std::to_string(first);
      if (last != first) {
        text += "-" + std::to_string(last);
      }
    }
    text += "\n";
  }
  return bulk(text);
}

std::string FakeTopology::clusterInfo() const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto assigned = std::count_if(owner_.begin(), owner_.end(), [](int o) { return o >= 0; });
  const std::string text = std::string("cluster_state:") + (assigned == 16384 ? "ok" : "fail") +
                           "\r\ncluster_slots_assigned:" + std::to_string(assigned) +
                           "\r\ncluster_slots_ok:" + std::to_string(assigned) +
                           "\r\ncluster_known_nodes:" + std::to_string(nodes_.size()) +
                           "\r\ncluster_size:" + std::to_string(nodes_.size()) +
                           "\r\ncluster_current_epoch:" + std::to_string(nodes_.size()) +
                           "\r\ncluster_my_epoch:1\r\n";
  return bulk(text);
}

// ---- FakeRedis ------------------------------------------------------------------------------

FakeRedis::FakeRedis(std::string name, std::string ip, int port,
                     std::shared_ptr<FakeTopology> topology)
    : name_(std::move(name)), ip_(std::move(ip)), port_(port), topology_(std::move(topology)) {}

FakeRedis::~FakeRedis() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) {
    thread_.join();
  }
  for (auto& [fd, c] : conns_) {
    ::close(fd);
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
  }
}

bool FakeRedis::start(std::string* error) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (inet_pton(AF_INET, ip_.c_str(), &addr.sin_addr) != 1 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    *error = "fake node " + name_ + ": cannot listen on " + address() + ": " + std::strerror(errno);
    return false;
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
  return true;
}

void FakeRedis::wake() {
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
}

void FakeRedis::setHandler(Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(handler);
}

FakeReply FakeRedis::defaultReply(const Command& c) const {
  const std::string cmd = upper(c.args.empty() ? "" : c.args[0]);
  if (cmd == "PING") {  // (as outside subscribed mode)
    return FakeReply::of(c.args.size() == 2 ? bulk(c.args[1]) : "+PONG\r\n");
  }
  if (cmd == "ASKING" || cmd == "SET") {
    return FakeReply::of("+OK\r\n");
  }
  if (cmd == "GET" && c.args.size() == 2) {
    return FakeReply::of(bulk(name_ + ":" + c.args[1]));
  }
  if (cmd == "MGET") {
    std::string out = "*" + std::to_string(c.args.size() - 1) + "\r\n";
    for (size_t i = 1; i < c.args.size(); ++i) {
      out += bulk(name_ + ":" + c.args[i]);
    }
    return FakeReply::of(out);
  }
  return FakeReply::of("-ERR fake node " + name_ + ": no script for '" + cmd + "'\r\n");
}

std::vector<FakeRedis::Command> FakeRedis::commands() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recorded_;
}

std::string FakeRedis::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const Command& c : recorded_) {
    out += c.raw;
  }
  return out;
}

size_t FakeRedis::commandCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recorded_.size();
}

bool FakeRedis::waitForCommands(size_t n, int timeout_ms) const {
  return waitFor([&] { return commandCount() >= n; }, timeout_ms, 5);
}

void FakeRedis::clearRecorded() {
  std::lock_guard<std::mutex> lock(mu_);
  recorded_.clear();
}

void FakeRedis::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    release_requested_ = true;
  }
  wake();
}

void FakeRedis::hangUpAll() {
  uint64_t done = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hang_up_requested_ = true;
    done = hang_ups_done_;
  }
  wake();
  waitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu_);
        return hang_ups_done_ > done;
      },
      10000, 1);
}

size_t FakeRedis::repliesWritten() const {
  std::lock_guard<std::mutex> lock(mu_);
  return replies_written_;
}

size_t FakeRedis::topologyQueries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return topology_queries_;
}

void FakeRedis::run() {
  while (!stop_.load()) {
    bool release = false;
    bool hang_up = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::swap(release, release_requested_);
      std::swap(hang_up, hang_up_requested_);
    }
    if (hang_up) {
      for (auto& [fd, c] : conns_) ::close(fd);
      conns_.clear();
      std::lock_guard<std::mutex> lock(mu_);
      ++hang_ups_done_;
    }
    int64_t next_due = INT64_MAX;
    std::vector<int> dead;
    for (auto& [fd, c] : conns_) {
      if (release) {
        for (Pending& p : c.out) {
          if (p.reply.held) {
            p.reply.held = false;
            p.due_ms = nowMs();
          }
        }
      }
      bool failed = false;
      next_due = std::min(next_due, pump(c, &failed));
      if (failed) {
        dead.push_back(fd);
      }
    }
    for (int fd : dead) {
      ::close(fd);
      conns_.erase(fd);
    }

    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& [fd, c] : conns_) {
      fds.push_back({fd, static_cast<short>(POLLIN | (c.writing.empty() ? 0 : POLLOUT)), 0});
    }
    int timeout = -1;
    if (next_due != INT64_MAX) {
      timeout = static_cast<int>(std::max<int64_t>(0, next_due - nowMs()));
    }
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
      return;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      uint64_t ignored = 0;
      [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &ignored, sizeof(ignored));
    }
    if ((fds[1].revents & POLLIN) != 0) {
      for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          break;
        }
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conns_.emplace(fd, Conn{fd, next_conn_++, {}, {}, {}, false});
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        auto it = conns_.find(fds[i].fd);
        if (it != conns_.end()) {
          onReadable(it->second);
        }
      }
    }
  }
}

void FakeRedis::onReadable(Conn& c) {
  char buf[64 * 1024];
  const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    // Closed by the proxy (or reset): run() drops it.
    c.closed = true;
    return;
  }
  c.in.append(buf, static_cast<size_t>(n));
  if (!parse(c)) {
    c.in.clear();
    c.out.push_back({FakeReply::of("-ERR Protocol error (fake node)\r\n"), 0, nowMs(), false});
  }
}

bool FakeRedis::parse(Conn& c) {
  size_t pos = 0;
  for (;;) {
    if (pos >= c.in.size()) {
      break;
    }
    const size_t start = pos;
    std::vector<std::string> args;
    if (c.in[pos] != '*') {
      const size_t eol = c.in.find("\r\n", pos);
      if (eol == std::string::npos) {
        break;
      }
      std::string line = c.in.substr(pos, eol - pos);
      pos = eol + 2;
      size_t p = 0;
      while (p < line.size()) {
        const size_t sp = line.find(' ', p);
        const size_t end = sp == std::string::npos ? line.size() : sp;
        if (end > p) {
          args.push_back(line.substr(p, end - p));
        }
        p = end + 1;
      }
    } else {
      const size_t eol = c.in.find("\r\n", pos);
      if (eol == std::string::npos) {
        break;
      }
      const long count = std::strtol(c.in.c_str() + pos + 1, nullptr, 10);
      if (count < 0 || count > 1024 * 1024) {
        return false;
      }
      size_t p = eol + 2;
      bool complete = true;
      for (long i = 0; i < count; ++i) {
        if (p >= c.in.size()) {
          complete = false;
          break;
        }
        if (c.in[p] != '$') {
          return false;
        }
        const size_t e = c.in.find("\r\n", p);
        if (e == std::string::npos) {
          complete = false;
          break;
        }
        const long len = std::strtol(c.in.c_str() + p + 1, nullptr, 10);
        if (len < 0) {
          return false;
        }
        const size_t data = e + 2;
        if (c.in.size() < data + static_cast<size_t>(len) + 2) {
          complete = false;
          break;
        }
        args.push_back(c.in.substr(data, static_cast<size_t>(len)));
        p = data + static_cast<size_t>(len) + 2;
      }
      if (!complete) {
        break;
      }
      pos = p;
    }
    answer(c, Command{c.number, std::move(args), c.in.substr(start, pos - start)});
  }
  c.in.erase(0, pos);
  return true;
}

void FakeRedis::answer(Conn& c, Command cmd) {
  if (cmd.args.empty()) {
    return;
  }
  if (isTopologyQuery(cmd.args)) {
    const std::string sub = upper(cmd.args[1]);
    std::string reply = sub == "INFO"     ? topology_->clusterInfo()
                        : sub == "SHARDS" ? topology_->clusterShards()
                        : sub == "SLOTS"  ? topology_->clusterSlots()
                                          : topology_->clusterNodes();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++topology_queries_;
    }
    c.out.push_back({FakeReply::of(std::move(reply)), 0, nowMs(), false});
    return;
  }
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    recorded_.push_back(cmd);
    handler = handler_;
  }
  FakeReply reply = handler ? handler(cmd) : defaultReply(cmd);
  c.out.push_back({std::move(reply), 0, nowMs(), true});
}

int64_t FakeRedis::pump(Conn& c, bool* failed) {
  if (c.closed) {
    *failed = true;
    return INT64_MAX;
  }
  for (;;) {
    if (!c.writing.empty()) {
      const ssize_t n = ::send(c.fd, c.writing.data(), c.writing.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return INT64_MAX;  // poll waits for POLLOUT
        }
        *failed = true;
        return INT64_MAX;
      }
      c.writing.erase(0, static_cast<size_t>(n));
      if (!c.writing.empty()) {
        return INT64_MAX;
      }
    }
    if (c.out.empty()) {
      return INT64_MAX;
    }
    Pending& front = c.out.front();
    if (front.reply.held) {
      return INT64_MAX;
    }
    if (front.next_piece >= front.reply.pieces.size()) {
      if (front.reply.close) {
        *failed = true;  // run() closes it; later replies on it are lost, as when a node dies
        return INT64_MAX;
      }
      if (front.data) {
        std::lock_guard<std::mutex> lock(mu_);
        ++replies_written_;
      }
      c.out.erase(c.out.begin());
      if (!c.out.empty()) {
        c.out.front().due_ms = std::max(c.out.front().due_ms, nowMs());
      }
      continue;
    }
    const int64_t now = nowMs();
    if (front.due_ms > now) {
      return front.due_ms;
    }
    c.writing = front.reply.pieces[front.next_piece++];
    front.due_ms = now + front.reply.gap_ms;
  }
}

}  // namespace slotproxy::testing
