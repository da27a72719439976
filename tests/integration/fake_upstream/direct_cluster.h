#pragma once

// Direct access to a LocalCluster that bypasses slotproxy, for checking what the proxy did:
// one connection per current primary and the slot owners from CLUSTER SLOTS, taken once at
// construction. A command goes to the primary that owns its key's slot and is NOT redirected, so
// a MOVED reply means the key is not where the test expects it. Not thread-safe.

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"

namespace slotproxy::testing {

class DirectCluster {
 public:
  explicit DirectCluster(LocalCluster& cluster) {
    owner_.fill(-1);
    const std::vector<int> primaries = cluster.primaries();
    if (primaries.empty()) {
      return;
    }
    ContextPtr c(cluster.connectNode(primaries[0]));
    ReplyPtr slots = command(c.get(), {"CLUSTER", "SLOTS"});
    if (slots == nullptr || slots->type != REDIS_REPLY_ARRAY) {
      return;
    }
    for (size_t k = 0; k < slots->elements; ++k) {
      const redisReply* e = slots->element[k];
      const redisReply* primary = e->element[2];
      const std::string addr = std::string(primary->element[0]->str, primary->element[0]->len) +
                               ":" + std::to_string(primary->element[1]->integer);
      int index = -1;
      for (int i = 0; i < cluster.size(); ++i) {
        if (cluster.address(i) == addr) {
          index = i;
        }
      }
      for (long long s = e->element[0]->integer; s <= e->element[1]->integer; ++s) {
        owner_[static_cast<size_t>(s)] = index;
      }
    }
    for (int p : primaries) {
      conns_[p] = ContextPtr(cluster.connectNode(p));
    }
  }

  // Every slot has a known primary and every primary a connection.
  bool ok() const {
    return std::none_of(owner_.begin(), owner_.end(),
                        [&](int o) { return o < 0 || conns_.count(o) == 0 || !conns_.at(o); });
  }
  int ownerOf(const std::string& key) const { return owner_[static_cast<size_t>(slotOf(key))]; }
  std::vector<int> primaries() const {
    std::vector<int> out;
    for (const auto& [i, c] : conns_) {
      out.push_back(i);
    }
    return out;
  }
  // `argv` on the primary that owns `key`'s slot.
  ReplyPtr onOwner(const std::string& key, const std::vector<std::string>& argv) {
    return command(conns_.at(ownerOf(key)).get(), argv);
  }
  // `argv` on node i (a primary).
  ReplyPtr onNode(int i, const std::vector<std::string>& argv) {
    return command(conns_.at(i).get(), argv);
  }

 private:
  std::array<int, 16384> owner_;
  std::map<int, ContextPtr> conns_;
};

}  // namespace slotproxy::testing
