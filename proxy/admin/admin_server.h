#pragma once

// The admin HTTP server (DESIGN.md "Admin HTTP"): llhttp on a libuv loop, HTTP/1.1 with
// keep-alive and pipelining, GET only. Requests are parsed by HttpRequestParser and answered by
// route() (routes.h); this file is the socket part only.
//
// It runs on one loop (main.cc: the main loop, beside the signal handlers) and reads
// server::Stats, which the worker threads write with relaxed atomics. Limits: a request head of
// at most 8 KB (431/414 and close), at most 64 connections (the next one gets 503 and is closed),
// 30 s without a complete request or a write completing closes a connection (slow or idle
// clients), a malformed request gets 400 and the connection closes after the answer.

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>

#include "config/config.h"
#include "proxy/admin/http_parser.h"
#include "proxy/server/stats.h"

namespace slotproxy::admin {

struct AdminLimits {
  size_t max_connections = 64;
  uint64_t idle_timeout_ms = 30000;
  size_t max_output_bytes = 1 << 20;  // answers queued per connection before reading pauses
  HttpLimits http;
};

class AdminServer {
 public:
  // Listens on cfg.admin (an IP literal or a name resolved once, at start). `loop` and `stats`
  // must outlive the server.
  AdminServer(uv_loop_t* loop, server::Stats& stats, const config::Config& cfg,
              AdminLimits limits = {});
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens. False with *error set ("admin 1.2.3.4:9379: address already in use").
  bool start(std::string* error);
  // Closes the listener and every connection (answers in flight are dropped). Their memory is
  // freed by close callbacks on the loop's next turn; the server object may be destroyed at once.
  // Idempotent.
  void stop();

  // The bound port (useful with port 0); 0 before start().
  uint16_t port() const { return port_; }
  size_t connectionCount() const { return conns_.size(); }

 private:
  struct Conn;
  struct WriteReq;

  static void onConnection(uv_stream_t* listener, int status);
  static void onSweep(uv_timer_t* timer);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onClose(uv_handle_t* handle);  // frees the Conn

  // Parses and answers what `data` holds; keeps the rest in conn.pending_in when the output is
  // over the limit. May close the connection.
  void process(Conn& conn, std::string_view data);
  void send(Conn& conn, std::string bytes);
  void startReading(Conn& conn);
  void stopReading(Conn& conn);
  void closeConn(Conn& conn);
  // No more requests will come: close once the queued answers are written.
  void finishAfterWrites(Conn& conn);

  uv_loop_t* loop_;
  server::Stats& stats_;
  config::HostPort address_;
  AdminLimits limits_;
  uv_tcp_t* listener_ = nullptr;  // owned; freed in its close callback
  uv_timer_t* sweep_ = nullptr;   // idle-connection sweep; owned, freed in its close callback
  std::list<Conn*> conns_;        // open connections; each freed in its close callback
  uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace slotproxy::admin
