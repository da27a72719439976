#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxy/cluster/refresh_policy.h"
#include "proxy/server/stats.h"
#include "proxy/server/topology_hub.h"

namespace slotproxy::server {

class Worker;

// Keeps the worker's slot map in step with the cluster. A refresh resolves the seeds again (DNS
// names of a headless Service may point elsewhere now), asks up to three nodes of the current map
// and the seeds for CLUSTER INFO + CLUSTER SHARDS (CLUSTER SLOTS on Redis < 7), keeps the answer
// pickBest() prefers and hands it to Worker::installMap. A failed refresh changes nothing.
// Triggers are debounced: at most one refresh runs, and a new one starts no sooner than
// refresh-min-interval after the previous one.
//
// With several worker threads, only worker 0's refresher refreshes (attach): the others are
// followers, which send their triggers to it and install the maps it publishes.
class Refresher {
 public:
  explicit Refresher(Worker& worker);
  ~Refresher();

  // Joins `hub` as the leader or a follower. Before the worker's loop runs.
  void attach(TopologyHub& hub, bool leader);

  void trigger(Trigger why);
  // The next refresh asks this node first: a MOVED names the slot's new owner, whose view has
  // its own promotion while other nodes may not have heard of it yet (pickBest).
  void askFirst(const std::string& ip, uint16_t port);
  // From the worker's tick: starts a due refresh (the periodic one included).
  void tick(uint64_t now_ms);
  // The worker saw ASK or TRYAGAIN (a slot is being migrated): the next refresh also asks the
  // primaries which slots are open (checkOpenSlots).
  void noteMigration();

 private:
  struct Round;
  void start();
  static void addCandidate(Round& round, const std::string& ip, uint16_t port);
  void onResolved(std::shared_ptr<Round> round);
  void askNext(std::shared_ptr<Round> round);
  // By value: the caller may pass current_, which this resets.
  void finish(std::shared_ptr<Round> round);  // NOLINT(performance-unnecessary-value-param)
  // Asks every live primary of `map` for CLUSTER NODES and publishes the open (migrating and
  // importing) slots they report in Stats::open_slots. Every kQuietOpenSlotsMs while none are
  // open; at each refresh while some are, or after a manual refresh or a migration was seen.
  void checkOpenSlots(const cluster::SlotMap& map);
  // The hub woke this loop: a leader takes the followers' asks, a follower the newest map.
  void onHub();

  Worker& worker_;
  std::shared_ptr<Round> current_;  // the refresh running, if any
  std::shared_ptr<bool> alive_;     // callbacks of a refresh outliving the refresher see false
  bool running_ = false;
  bool have_map_ = false;
  uint64_t due_ms_ = 0;  // 0: nothing requested
  Trigger due_trigger_ = Trigger::kTimer;
  uint64_t last_start_ms_ = 0;
  uint64_t last_done_ms_ = 0;
  uint32_t consecutive_failures_ = 0;
  std::vector<std::pair<std::string, uint16_t>> ask_first_;  // for the next refresh
  bool migration_seen_ = false;
  TopologyHub* hub_ = nullptr;
  uv_async_t* hub_async_ = nullptr;
  bool follower_ = false;
  uint64_t last_ask_ms_ = 0;  // a follower's last degraded-cluster ask
  uint64_t last_migration_ask_ms_ = 0;
  bool checking_open_slots_ = false;
  uint64_t open_slots_due_ms_ = 0;  // loop time of the next check (0: at the next refresh)
};

}  // namespace slotproxy::server
