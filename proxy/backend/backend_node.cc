#include "proxy/backend/backend_node.h"

#include <algorithm>
#include <random>

namespace slotproxy::backend {

std::string BackendNode::address() const {
  if (ip_.find(':') != std::string::npos) return "[" + ip_ + "]:" + std::to_string(port_);
  return ip_ + ":" + std::to_string(port_);
}

void BackendNode::setAddress(std::string ip, uint16_t port) {
  if (ip == ip_ && port == port_) return;
  ip_ = std::move(ip);
  port_ = port;
  failAll("node " + id_ + " moved to " + address());
}

size_t BackendNode::inFlight() const {
  size_t n = 0;
  for (const auto& c : conns_) n += c->inFlight();
  for (const auto& c : conns3_) n += c->inFlight();
  for (const auto& c : blocking_conns_) n += c->inFlight();
  return n;
}

void BackendNode::failAll(std::string_view reason) {
  spare_conns_.clear();
  forEachShared([reason](BackendConn& c) {
    if (!c.idle()) c.fail(reason);
  });
  // By index: a failure's callbacks may add blocking connections (to other nodes, or here).
  for (size_t i = 0, n = blocking_conns_.size(); i < n; ++i) {
    if (!blocking_conns_[i]->idle()) blocking_conns_[i]->fail(reason);
  }
}

bool BackendNode::keepSpare(std::unique_ptr<BackendConn>& conn) {
  if (!up_ || spare_conns_.size() >= kMaxSpares || !conn->reusable() || !conn->connected() ||
      conn->inFlight() != 0) {
    return false;
  }
  conn->setOwn(false);
  spare_conns_.push_back(std::move(conn));
  return true;
}

std::unique_ptr<BackendConn> BackendNode::takeSpare(bool resp3) {
  // Spares that lost their connection are dropped on the way.
  std::erase_if(spare_conns_, [](const auto& conn) { return !conn->connected(); });
  for (auto it = spare_conns_.rbegin(); it != spare_conns_.rend(); ++it) {
    if ((*it)->resp3() == resp3) {
      std::unique_ptr<BackendConn> conn = std::move(*it);
      spare_conns_.erase(std::next(it).base());
      return conn;
    }
  }
  return nullptr;
}

std::unique_ptr<BackendConn> BackendNode::releaseSpare(const BackendConn* conn) {
  for (auto it = spare_conns_.begin(); it != spare_conns_.end(); ++it) {
    if (it->get() == conn) {
      std::unique_ptr<BackendConn> out = std::move(*it);
      spare_conns_.erase(it);
      return out;
    }
  }
  return nullptr;
}

void BackendNode::markDown(uint64_t now_ms, uint32_t backoff_min_ms, uint32_t backoff_max_ms) {
  if (up_ && down_since_ms == 0) down_since_ms = now_ms;
  up_ = false;
  // Exponential backoff with full jitter in [base/2, base], capped.
  const uint32_t shift = std::min<uint32_t>(failures_, 16);
  const uint64_t base =
      std::min<uint64_t>(static_cast<uint64_t>(backoff_min_ms) << shift, backoff_max_ms);
  thread_local std::minstd_rand rng{std::random_device{}()};
  const uint64_t jitter = base / 2 == 0 ? 0 : rng() % (base / 2 + 1);
  next_probe_ms_ = now_ms + base / 2 + jitter;
  ++failures_;
}

}  // namespace slotproxy::backend
