#include "proxy/server/topology_hub.h"

#include <algorithm>

namespace slotproxy::server {

void TopologyHub::setLeader(uv_async_t* async) {
  std::lock_guard<std::mutex> lock(mu_);
  leader_ = async;
}

void TopologyHub::addFollower(uv_async_t* async) {
  std::lock_guard<std::mutex> lock(mu_);
  followers_.push_back({async, nullptr, {}});
}

void TopologyHub::remove(uv_async_t* async) {
  std::lock_guard<std::mutex> lock(mu_);
  if (leader_ == async) leader_ = nullptr;
  std::erase_if(followers_, [async](const Follower& f) { return f.async == async; });
}

void TopologyHub::ask(Ask ask) {
  std::lock_guard<std::mutex> lock(mu_);
  if (leader_ == nullptr) return;  // shutting down
  asks_.push_back(std::move(ask));
  uv_async_send(leader_);
}

std::vector<TopologyHub::Ask> TopologyHub::takeAsks() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(asks_, {});
}

void TopologyHub::publish(const cluster::SlotMapPtr& map, std::string_view trigger) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Follower& f : followers_) {
    f.map = map;
    f.trigger = std::string(trigger);
    uv_async_send(f.async);
  }
}

std::optional<std::pair<cluster::SlotMapPtr, std::string>> TopologyHub::takeMap(uv_async_t* async) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Follower& f : followers_) {
    if (f.async == async && f.map != nullptr) {
      return std::make_pair(std::exchange(f.map, nullptr), std::exchange(f.trigger, {}));
    }
  }
  return std::nullopt;
}

}  // namespace slotproxy::server
