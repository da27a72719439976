#include "proxy/net/uv_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slotproxy::net {

bool makeSockaddr(std::string_view ip, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  const std::string host(ip);
  if (host.find(':') == std::string::npos) {
    return uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0;
  }
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
}

std::string ipString(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(addr), buf, sizeof(buf));
  } else if (addr->sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(addr), buf, sizeof(buf));
  }
  return buf;
}

std::string uvError(int status) { return uv_strerror(status); }

int bindListener(uv_tcp_t* tcp, std::string_view ip, uint16_t port, bool reuse_port) {
  sockaddr_storage addr;
  if (!makeSockaddr(ip, port, &addr)) return UV_EINVAL;
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
  const socklen_t len = addr.ss_family == AF_INET ? sizeof(sockaddr_in)
                                                  : static_cast<socklen_t>(sizeof(sockaddr_in6));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = -errno;
    ::close(fd);
    return err;
  }
  const int rc = uv_tcp_open(tcp, fd);
  if (rc != 0) ::close(fd);
  return rc;
}

}  // namespace slotproxy::net
