#pragma once

// Test helpers of the admin integration tests: an AdminServer running on its own libuv loop in a
// thread, and a plain blocking-socket HTTP client.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "config/config.h"
#include "proxy/admin/admin_server.h"
#include "proxy/server/stats.h"

namespace slotproxy::admin::testing {

// An AdminServer on `host`:0, served by a loop on its own thread. Everything libuv happens on
// that thread; the destructor stops the server there and joins.
class ServerThread {
 public:
  ServerThread(server::Stats& stats, std::string host, AdminLimits limits = {}) {
    std::future<uint16_t> port = started_.get_future();
    thread_ = std::thread([this, &stats, host, limits] {
      std::promise<uint16_t>& started = started_;
      uv_loop_init(&loop_);
      config::Config cfg;
      cfg.admin = {host, 0};
      auto server = std::make_unique<AdminServer>(&loop_, stats, cfg, limits);
      std::string error;
      if (!server->start(&error)) {
        error_ = error;
        server.reset();
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
        started.set_value(0);
        return;
      }
      server_ = server.get();
      uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
        auto* self = static_cast<ServerThread*>(a->data);
        self->server_->stop();
        uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
      });
      stop_.data = this;
      started.set_value(server->port());
      uv_run(&loop_, UV_RUN_DEFAULT);
      server.reset();
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    });
    port_ = port.get();
  }

  ~ServerThread() {
    if (port_ != 0) uv_async_send(&stop_);
    thread_.join();
  }

  uint16_t port() const { return port_; }  // 0 if start() failed
  const std::string& error() const { return error_; }

 private:
  std::promise<uint16_t> started_;  // the bound port, 0 if start() failed
  uv_loop_t loop_{};
  uv_async_t stop_{};
  AdminServer* server_ = nullptr;
  std::thread thread_;
  uint16_t port_ = 0;
  std::string error_;
};

// A blocking TCP connection with 5 s send/receive timeouts; -1 on failure.
inline int connectTo(const std::string& ip, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Reads one response framed by Content-Length. `buffer` carries bytes read past it (pipelining).
inline bool readResponse(int fd, std::string* buffer, Reply* out) {
  *out = Reply{};
  size_t head_end;
  char chunk[16384];
  while ((head_end = buffer->find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
  }
  const std::string head = buffer->substr(0, head_end);
  if (head.size() < 12 || !head.starts_with("HTTP/1.")) return false;
  out->status = std::stoi(head.substr(9, 3));
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    const size_t next = head.find("\r\n", pos + 2);
    const std::string line =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      out->headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    pos = next;
  }
  const size_t length = std::stoul(out->headers["content-length"]);
  while (buffer->size() < head_end + 4 + length) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
  }
  out->body = buffer->substr(head_end + 4, length);
  buffer->erase(0, head_end + 4 + length);
  return true;
}

// True if the peer closes the connection (recv returns 0 or ECONNRESET) within the timeout.
inline bool closedByPeer(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// An HTTP/1.0 GET read to the end of the connection; "" on failure. Returns the body only.
inline std::string httpGet10(const std::string& ip, uint16_t port, const std::string& target,
                             int* status = nullptr) {
  const int fd = connectTo(ip, port);
  if (fd < 0) return "";
  std::string all;
  if (sendAll(fd, "GET " + target + " HTTP/1.0\r\nHost: " + ip + "\r\n\r\n")) {
    char chunk[16384];
    for (;;) {
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      all.append(chunk, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  const size_t head_end = all.find("\r\n\r\n");
  if (head_end == std::string::npos || all.size() < 12) return "";
  if (status != nullptr) *status = std::atoi(all.c_str() + 9);
  return all.substr(head_end + 4);
}

}  // namespace slotproxy::admin::testing
