#pragma once

#include <uv.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/cluster/slot_map.h"
#include "proxy/server/stats.h"

namespace slotproxy::server {

// One topology refresher for all worker threads. Worker 0 (the leader) refreshes; the others
// (followers) install the maps it publishes and send it what should make it refresh (a MOVED,
// a failed connection...). Without it, N worker threads would ask the cluster N times as often.
// Thread-safe: every call may come from any worker thread. Each side registers an async handle
// of its own loop, through which the other side wakes it; it unregisters before closing it.
class TopologyHub {
 public:
  // What a follower asks of the leader.
  struct Ask {
    std::optional<Trigger> trigger;                           // refresh (debounced)
    std::vector<std::pair<std::string, uint16_t>> ask_first;  // nodes named by MOVED
    bool migration = false;                                   // saw ASK/TRYAGAIN
  };

  void setLeader(uv_async_t* async);
  void addFollower(uv_async_t* async);
  void remove(uv_async_t* async);

  // Follower -> leader.
  void ask(Ask ask);
  std::vector<Ask> takeAsks();  // on the leader's loop
  // Leader -> followers.
  void publish(const cluster::SlotMapPtr& map, std::string_view trigger);
  // On a follower's loop: the newest map published since the last call, if any.
  std::optional<std::pair<cluster::SlotMapPtr, std::string>> takeMap(uv_async_t* async);

 private:
  struct Follower {
    uv_async_t* async = nullptr;
    cluster::SlotMapPtr map;  // published, not yet taken
    std::string trigger;
  };
  std::mutex mu_;
  uv_async_t* leader_ = nullptr;
  std::vector<Ask> asks_;
  std::vector<Follower> followers_;
};

}  // namespace slotproxy::server
