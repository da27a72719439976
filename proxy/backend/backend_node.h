#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/backend/backend_conn.h"

namespace slotproxy::backend {

// A Redis node as the proxy connects to it, identified by node id (an address alone only until a
// refresh names it). Owns the node's pipelined connections and its up/down state.
class BackendNode {
 public:
  BackendNode(std::string id, std::string ip, uint16_t port)
      : id_(std::move(id)), ip_(std::move(ip)), port_(port) {}

  const std::string& id() const { return id_; }
  void setId(std::string id) { id_ = std::move(id); }
  const std::string& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  std::string address() const;
  // The node moved (same id, new IP: a rescheduled pod). Existing connections fail (callers
  // decide what happens to their requests); new ones go to the new address.
  void setAddress(std::string ip, uint16_t port);

  // The shared pipelined connections: RESP2 ones, and RESP3 ones (opened the first time a
  // client that chose RESP3 needs this node; empty until then).
  std::vector<std::unique_ptr<BackendConn>>& conns(bool resp3 = false) {
    return resp3 ? conns3_ : conns_;
  }
  // Connections each carrying one blocking command; the owner removes them once answered.
  std::vector<std::unique_ptr<BackendConn>>& blockingConns() { return blocking_conns_; }
  const std::vector<std::unique_ptr<BackendConn>>& blockingConns() const { return blocking_conns_; }
  // Every connection of both kinds, for checks that treat them alike. (By index: a failure's
  // callbacks may open this node's RESP3 connections.)
  template <typename F>
  void forEachShared(F&& f) {
    for (size_t i = 0; i < conns_.size(); ++i) f(*conns_[i]);
    for (size_t i = 0; i < conns3_.size(); ++i) f(*conns3_[i]);
  }
  BackendConn& connFor(uint32_t hint, bool resp3 = false) {
    auto& pool = conns(resp3);
    return *pool[hint % pool.size()];
  }
  size_t inFlight() const;
  // Fails every connection in use; spare ones are dropped.
  void failAll(std::string_view reason);

  // Connections of a client's own (a blocking command's, a WATCH's) that ended clean: connected,
  // nothing in flight, no state left in Redis. Reused before opening new ones, so that a client
  // looping on BLPOP or WATCH does not open and close a connection each time (each close leaves
  // a TIME_WAIT socket; enough of them exhaust the ephemeral ports towards one node).
  static constexpr size_t kMaxSpares = 16;
  // Keeps `conn` if it is reusable and there is room; false (conn untouched) otherwise.
  bool keepSpare(std::unique_ptr<BackendConn>& conn);
  // A spare connection of that protocol, or null.
  std::unique_ptr<BackendConn> takeSpare(bool resp3);
  // Removes `conn` from the spares (it failed); null if it is not one.
  std::unique_ptr<BackendConn> releaseSpare(const BackendConn* conn);

  // Connections held by one client each (a blocking command's, a WATCH's, a subscriber's),
  // spares not included: what max-own-conns bounds. Kept by BackendConn::setOwn().
  size_t ownConns() const { return own_conns_; }

  // Health as seen by the proxy: down after a connection failure or timeout, up again after a probe
  // (PING) answers. Requests for a down node wait (held) instead of piling onto a dead socket.
  bool up() const { return up_; }
  void markUp() {
    up_ = true;
    failures_ = 0;
    down_since_ms = 0;
  }
  void markDown(uint64_t now_ms, uint32_t backoff_min_ms, uint32_t backoff_max_ms);
  bool probeDue(uint64_t now_ms) const { return !up_ && !probing_ && now_ms >= next_probe_ms_; }
  bool probing_ = false;
  uint64_t down_since_ms = 0;  // loop time it went down or the map said failed; 0 when fine

 private:
  friend class BackendConn;  // counts own_conns_
  size_t own_conns_ = 0;
  std::string id_;
  std::string ip_;
  uint16_t port_;
  std::vector<std::unique_ptr<BackendConn>> conns_;
  std::vector<std::unique_ptr<BackendConn>> conns3_;
  std::vector<std::unique_ptr<BackendConn>> blocking_conns_;
  std::vector<std::unique_ptr<BackendConn>> spare_conns_;
  bool up_ = true;
  uint32_t failures_ = 0;
  uint64_t next_probe_ms_ = 0;
};

}  // namespace slotproxy::backend
