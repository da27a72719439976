#include "tests/integration/fake_upstream/resp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace slotproxy::testing {
namespace {

constexpr size_t kBadFrame = static_cast<size_t>(-1);

// The length of the RESP2/RESP3 frame at data[pos...]: 0 while incomplete, kBadFrame if it is
// not RESP. (A test's own splitter, independent of the proxy's decoder.)
size_t frameLength(std::string_view data, size_t pos, int depth = 0) {
  if (pos >= data.size()) return 0;
  if (depth > 64) return kBadFrame;
  const size_t eol = data.find("\r\n", pos);
  if (eol == std::string_view::npos) return 0;
  const char type = data[pos];
  const std::string_view line = data.substr(pos + 1, eol - pos - 1);
  const size_t after = eol + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return after - pos;
    default:
      break;
  }
  long long n = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
  if (ec != std::errc() || end != line.data() + line.size() || n < -1) return kBadFrame;
  switch (type) {
    case '$':
    case '!':
    case '=':
      if (n < 0) return after - pos;
      if (data.size() < after + static_cast<size_t>(n) + 2) return 0;
      return after + static_cast<size_t>(n) + 2 - pos;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      size_t at = after;
      const long long elements = type == '%' || type == '|' ? 2 * n : n;
      for (long long i = 0; i < elements; ++i) {
        const size_t len = frameLength(data, at, depth + 1);
        if (len == 0 || len == kBadFrame) return len;
        at += len;
      }
      if (type != '|') return at - pos;
      // An attribute goes with the value after it.
      const size_t len = frameLength(data, at, depth + 1);
      if (len == 0 || len == kBadFrame) return len;
      return at + len - pos;
    }
    default:
      return kBadFrame;
  }
}

using Clock = std::chrono::steady_clock;

int msLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

std::string encodeCommand(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

std::optional<std::string> httpGet(const std::string& host_port, const std::string& path,
                                   int timeout_ms) {
  return httpRequest(host_port, "GET", path, timeout_ms);
}

std::optional<std::string> httpRequest(const std::string& host_port, const std::string& method,
                                       const std::string& path, int timeout_ms) {
  std::string error;
  auto c = RespClient::connect(host_port, &error, timeout_ms);
  if (c == nullptr || !c->sendAll(method + " " + path + " HTTP/1.0\r\nHost: " + host_port +
                                      "\r\nConnection: close\r\n\r\n",
                                  timeout_ms, &error)) {
    return std::nullopt;
  }
  std::string response;
  if (!c->readUntilEof(&response, timeout_ms)) {
    return std::nullopt;
  }
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12 ||
      response.compare(9, 3, "200") != 0 || body == std::string::npos) {
    return std::nullopt;
  }
  return response.substr(body + 4);
}

std::optional<double> scrapeMetric(const std::string& admin, const std::string& series) {
  const std::optional<std::string> text = httpGet(admin, "/metrics");
  if (!text) {
    return std::nullopt;
  }
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) {
      end = text->size();
    }
    const std::string_view line(text->data() + pos, end - pos);
    if (line.size() > series.size() + 1 && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      return std::strtod(std::string(line.substr(series.size() + 1)).c_str(), nullptr);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

RespClient::RespClient(int fd) : fd_(fd), reader_(redisReaderCreate()) {
  reader_->maxbuf = 0;  // never shrink: big replies are the point of some tests
}

RespClient::~RespClient() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  redisReaderFree(reader_);
}

std::unique_ptr<RespClient> RespClient::connect(const std::string& host_port, std::string* error,
                                                int timeout_ms) {
  std::string host;
  int port = 0;
  if (!splitHostPort(host_port, &host, &port)) {
    *error = "bad address " + host_port;
    return nullptr;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    *error = "not an IPv4 address: " + host;
    return nullptr;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<RespClient> c(new RespClient(fd));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      *error = "connect " + host_port + ": " + std::strerror(errno);
      return nullptr;
    }
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) != 1) {
      *error = "connect " + host_port + ": timeout";
      return nullptr;
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      *error = "connect " + host_port + ": " + std::strerror(so_error);
      return nullptr;
    }
  }
  return c;
}

ssize_t RespClient::sendSome(std::string_view data) {
  const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return 0;
  }
  return n;
}

bool RespClient::sendAll(std::string_view data, int timeout_ms, std::string* error) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!data.empty()) {
    const ssize_t n = sendSome(data);
    if (n < 0) {
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
    if (data.empty()) {
      break;
    }
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, msLeft(deadline)) != 1) {
      *error = "send: timeout with " + std::to_string(data.size()) + " bytes left";
      return false;
    }
  }
  return true;
}

int RespClient::readOnce(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  const int rc = poll(&p, 1, timeout_ms);
  if (rc == 0) {
    return -2;
  }
  if (rc < 0) {
    return -1;
  }
  char buf[256 * 1024];
  const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n == 0) {
    return 0;
  }
  if (n < 0) {
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? -2 : -1;
  }
  if (raw_frames_) {
    frames_.append(buf, static_cast<size_t>(n));
  } else {
    redisReaderFeed(reader_, buf, static_cast<size_t>(n));
  }
  return 1;
}

bool RespClient::readReplies(size_t n, std::vector<ReplyPtr>* out, int timeout_ms,
                             std::string* error) {
  return exchange({}, n, out, timeout_ms, error);
}

bool RespClient::exchange(std::string_view data, size_t n, std::vector<ReplyPtr>* out,
                          int timeout_ms, std::string* error) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t got = 0;
  for (;;) {
    // Drain what the parser already has.
    while (raw_frames_ && got < n) {
      const size_t len = frameLength(frames_, 0);
      if (len == 0) break;
      if (len == kBadFrame) {
        *error = "reply parser: not RESP3: " + frames_.substr(0, 64);
        return false;
      }
      auto* reply = static_cast<redisReply*>(calloc(1, sizeof(redisReply)));
      reply->type = REDIS_REPLY_STRING;
      reply->len = len;
      reply->str = static_cast<char*>(malloc(len + 1));
      memcpy(reply->str, frames_.data(), len);
      reply->str[len] = '\0';
      frames_.erase(0, len);
      out->emplace_back(reply);
      ++got;
    }
    while (!raw_frames_ && got < n) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
        *error = std::string("reply parser: ") + reader_->errstr;
        return false;
      }
      if (reply == nullptr) {
        break;
      }
      out->emplace_back(static_cast<redisReply*>(reply));
      ++got;
    }
    if (got == n && data.empty()) {
      return true;
    }
    pollfd p{fd_, static_cast<short>(POLLIN | (data.empty() ? 0 : POLLOUT)), 0};
    const int rc = poll(&p, 1, msLeft(deadline));
    if (rc == 0) {
      *error = "timeout after " + std::to_string(got) + " of " + std::to_string(n) + " replies, " +
               std::to_string(data.size()) + " bytes unsent";
      return false;
    }
    if (rc < 0) {
      *error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
    if ((p.revents & POLLOUT) != 0 && !data.empty()) {
      const ssize_t w = sendSome(data);
      if (w < 0) {
        *error = std::string("send: ") + std::strerror(errno);
        return false;
      }
      data.remove_prefix(static_cast<size_t>(w));
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const int r = readOnce(0);
      if (r == 0) {
        *error = "EOF after " + std::to_string(got) + " of " + std::to_string(n) + " replies";
        return false;
      }
      if (r == -1) {
        *error = std::string("recv: ") + std::strerror(errno);
        return false;
      }
    }
  }
}

ReplyPtr RespClient::call(const std::vector<std::string>& argv, std::string* error,
                          int timeout_ms) {
  std::vector<ReplyPtr> replies;
  if (!exchange(encodeCommand(argv), 1, &replies, timeout_ms, error)) {
    return nullptr;
  }
  return std::move(replies[0]);
}

bool RespClient::readUntilEof(std::string* out, int timeout_ms) {
  out->append(frames_);
  frames_.clear();
  if (reader_->len > reader_->pos) {
    out->append(reader_->buf + reader_->pos, reader_->len - reader_->pos);
  }
  redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, msLeft(deadline)) != 1) {
      return false;
    }
    char buf[64 * 1024];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) {
      return true;
    }
    if (n < 0) {
      // A reset after the reply still means "closed".
      return errno == ECONNRESET;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

bool RespClient::readBytes(size_t n, std::string* out, int timeout_ms) {
  if (reader_->len > reader_->pos) {
    out->append(reader_->buf + reader_->pos, reader_->len - reader_->pos);
    redisReaderFree(reader_);
    reader_ = redisReaderCreate();
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out->size() < n) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, msLeft(deadline)) != 1) {
      return false;
    }
    char buf[64 * 1024];
    const ssize_t got = ::recv(fd_, buf, std::min(sizeof(buf), n - out->size()), 0);
    if (got <= 0) {
      return false;
    }
    out->append(buf, static_cast<size_t>(got));
  }
  return true;
}

bool RespClient::closedWithin(int timeout_ms) {
  std::string ignored;
  return readUntilEof(&ignored, timeout_ms);
}

bool RespClient::readableWithin(int timeout_ms) {
  if (reader_->len > reader_->pos) {
    return true;
  }
  return readOnce(timeout_ms) != -2;
}

void RespClient::abort() {
  if (fd_ < 0) {
    return;
  }
  linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd_);
  fd_ = -1;
}

}  // namespace slotproxy::testing
