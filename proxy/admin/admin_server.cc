#include "proxy/admin/admin_server.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "proxy/admin/routes.h"
#include "proxy/net/log.h"
#include "proxy/net/uv_util.h"

namespace slotproxy::admin {

// One client connection. Freed only in its close callback; `server` is cleared when the
// connection starts closing or the server stops, so late write callbacks touch nothing else.
struct AdminServer::Conn {
  explicit Conn(const HttpLimits& limits) : parser(limits) {}

  uv_tcp_t tcp{};
  AdminServer* server = nullptr;   // null once closing
  std::list<Conn*>::iterator pos;  // in server->conns_
  HttpRequestParser parser;
  std::array<char, 16384> read_buf{};  // alloc_cb hands this out: reads never allocate
  std::string pending_in;              // unparsed input kept while output is over the limit
  size_t queued_out = 0;               // bytes in writes not yet completed
  uint64_t last_active_ms = 0;         // accept, last complete request, or last write completion
  bool reading = false;
  bool close_after_write = false;  // answered a request that ends the connection
  bool peer_eof = false;           // the client shut down its sending side
  bool closing = false;
};

// A write request owns the bytes it sends.
struct AdminServer::WriteReq {
  uv_write_t req{};
  std::string data;
  Conn* conn = nullptr;
};

AdminServer::AdminServer(uv_loop_t* loop, server::Stats& stats, const config::Config& cfg,
                         AdminLimits limits)
    : loop_(loop), stats_(stats), address_(cfg.admin), limits_(limits) {}

AdminServer::~AdminServer() { stop(); }

bool AdminServer::start(std::string* error) {
  if (listener_ != nullptr || stopped_) {
    *error = "admin server already started";
    return false;
  }
  std::string ip = address_.host;
  sockaddr_storage probe;
  if (!net::makeSockaddr(ip, address_.port, &probe)) {
    // A name (e.g. "localhost"): resolved once, synchronously (no callback), before serving.
    uv_getaddrinfo_t req;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const int rc = uv_getaddrinfo(loop_, &req, nullptr, ip.c_str(), nullptr, &hints);
    if (rc != 0 || req.addrinfo == nullptr) {
      *error = "admin " + address_.str() + ": cannot resolve " + ip + ": " + net::uvError(rc);
      if (rc == 0) uv_freeaddrinfo(req.addrinfo);
      return false;
    }
    ip = net::ipString(req.addrinfo->ai_addr);
    uv_freeaddrinfo(req.addrinfo);
  }

  listener_ = new uv_tcp_t;
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
  int rc = net::bindListener(listener_, ip, address_.port, /*reuse_port=*/false);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 128, &onConnection);
  if (rc != 0) {
    *error = "admin " + address_.str() + ": " + net::uvError(rc);
    listener_->data = nullptr;
    net::closeAndDelete(listener_);
    listener_ = nullptr;
    return false;
  }
  sockaddr_storage bound;
  int len = sizeof(bound);
  if (uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }

  sweep_ = new uv_timer_t;
  uv_timer_init(loop_, sweep_);
  sweep_->data = this;
  const uint64_t period =
      std::max<uint64_t>(10, std::min<uint64_t>(1000, limits_.idle_timeout_ms / 4));
  uv_timer_start(sweep_, &onSweep, period, period);
  log::info("admin HTTP on " + config::HostPort{ip, port_}.str() +
            " (/metrics /healthz /readyz /topology /)");
  return true;
}

void AdminServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (listener_ != nullptr) {
    listener_->data = nullptr;
    net::closeAndDelete(listener_);
    listener_ = nullptr;
  }
  if (sweep_ != nullptr) {
    uv_timer_stop(sweep_);
    sweep_->data = nullptr;
    net::closeAndDelete(sweep_);
    sweep_ = nullptr;
  }
  for (Conn* conn : conns_) {
    conn->server = nullptr;
    conn->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), &onClose);
  }
  conns_.clear();
}

void AdminServer::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<AdminServer*>(listener->data);
  if (self == nullptr) return;
  if (status < 0) {
    log::warn("admin accept: " + net::uvError(status));
    return;
  }
  auto* conn = new Conn(self->limits_.http);
  uv_tcp_init(self->loop_, &conn->tcp);
  conn->tcp.data = conn;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    conn->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), &onClose);
    return;
  }
  conn->server = self;
  conn->pos = self->conns_.insert(self->conns_.end(), conn);
  conn->last_active_ms = uv_now(self->loop_);
  uv_tcp_nodelay(&conn->tcp, 1);
  if (self->conns_.size() > self->limits_.max_connections) {
    HttpResponse r;
    r.status = 503;
    r.body =
        "too many admin connections (max " + std::to_string(self->limits_.max_connections) + ")\n";
    conn->close_after_write = true;
    self->send(*conn, serializeResponse(r, /*keep_alive=*/false));
    return;
  }
  self->startReading(*conn);
}

void AdminServer::onSweep(uv_timer_t* timer) {
  auto* self = static_cast<AdminServer*>(timer->data);
  if (self == nullptr) return;
  const uint64_t now = uv_now(self->loop_);
  std::vector<Conn*> idle;
  for (Conn* conn : self->conns_) {
    if (now - conn->last_active_ms >= self->limits_.idle_timeout_ms) idle.push_back(conn);
  }
  for (Conn* conn : idle) self->closeConn(*conn);
}

void AdminServer::startReading(Conn& conn) {
  if (conn.reading || conn.closing) return;
  conn.reading = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&conn.tcp),
      [](uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(c->read_buf.data(), static_cast<unsigned>(c->read_buf.size()));
      },
      &onRead);
}

void AdminServer::stopReading(Conn& conn) {
  if (!conn.reading || conn.closing) return;
  conn.reading = false;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&conn.tcp));
}

void AdminServer::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* conn = static_cast<Conn*>(stream->data);
  AdminServer* self = conn->server;
  if (self == nullptr) return;
  if (nread == UV_EOF) {
    // Half-closed: the client may still read the answers to what it sent (`nc -N`, HTTP/1.0
    // tools). Answer what is buffered, then close.
    conn->peer_eof = true;
    self->stopReading(*conn);
    if (conn->pending_in.empty()) self->finishAfterWrites(*conn);
    return;
  }
  if (nread < 0) {  // reset or error: nobody will read the answers
    self->closeConn(*conn);
    return;
  }
  if (nread == 0) return;
  self->process(*conn, std::string_view(buf->base, static_cast<size_t>(nread)));
}

void AdminServer::process(Conn& conn, std::string_view data) {
  std::string out;
  size_t off = 0;
  while (off < data.size() && !conn.close_after_write) {
    if (conn.queued_out + out.size() >= limits_.max_output_bytes) {
      // Backpressure: the client reads its answers slower than it pipelines requests. Keep the
      // rest (at most one read buffer) and parse it when the writes drain.
      conn.pending_in.append(data.substr(off));
      stopReading(conn);
      break;
    }
    size_t consumed = 0;
    const HttpRequestParser::Status st = conn.parser.parse(data.substr(off), &consumed);
    off += consumed;
    if (st == HttpRequestParser::Status::kNeedMore) break;
    if (st == HttpRequestParser::Status::kError) {
      HttpResponse r;
      r.status = conn.parser.errorStatus();
      r.body = conn.parser.error() + "\n";
      out += serializeResponse(r, /*keep_alive=*/false);
      conn.close_after_write = true;
      break;
    }
    const HttpRequest& req = conn.parser.request();
    conn.last_active_ms = uv_now(loop_);
    out += serializeResponse(route(req, stats_), req.keep_alive,
                             req.http_major == 1 && req.http_minor == 0);
    if (!req.keep_alive) conn.close_after_write = true;
  }
  if (!out.empty()) send(conn, std::move(out));
  if (conn.close_after_write && !conn.closing) {
    stopReading(conn);
    if (conn.queued_out == 0) closeConn(conn);
  }
}

void AdminServer::send(Conn& conn, std::string bytes) {
  if (conn.closing) return;
  auto w = std::make_unique<WriteReq>();
  w->data = std::move(bytes);
  w->conn = &conn;
  w->req.data = w.get();
  const uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&conn.tcp), &buf, 1, &onWrite);
  if (rc != 0) {
    closeConn(conn);
    return;
  }
  conn.queued_out += w->data.size();
  static_cast<void>(w.release());  // now owned by libuv until onWrite
}

void AdminServer::onWrite(uv_write_t* req, int status) {
  std::unique_ptr<WriteReq> w(static_cast<WriteReq*>(req->data));
  Conn* conn = w->conn;
  conn->queued_out -= w->data.size();
  AdminServer* self = conn->server;
  if (self == nullptr) return;  // closing: the close callback frees the connection
  if (status < 0) {
    self->closeConn(*conn);
    return;
  }
  conn->last_active_ms = uv_now(self->loop_);
  if (conn->close_after_write) {
    if (conn->queued_out == 0) self->closeConn(*conn);
    return;
  }
  if (!conn->pending_in.empty() && conn->queued_out < self->limits_.max_output_bytes) {
    std::string in;
    in.swap(conn->pending_in);
    self->process(*conn, in);
  }
  if (conn->pending_in.empty() && !conn->close_after_write) {
    if (conn->peer_eof) {
      self->finishAfterWrites(*conn);
    } else {
      self->startReading(*conn);
    }
  }
}

void AdminServer::finishAfterWrites(Conn& conn) {
  conn.close_after_write = true;
  if (conn.queued_out == 0) closeConn(conn);
}

void AdminServer::closeConn(Conn& conn) {
  if (conn.closing) return;
  conn.closing = true;
  if (conn.server != nullptr) {
    conns_.erase(conn.pos);
    conn.server = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.tcp), &onClose);
}

void AdminServer::onClose(uv_handle_t* handle) { delete static_cast<Conn*>(handle->data); }

}  // namespace slotproxy::admin
