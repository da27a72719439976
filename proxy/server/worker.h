#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "proxy/backend/backend_conn.h"
#include "proxy/backend/backend_node.h"
#include "proxy/client/client_handler.h"
#include "proxy/cluster/slot_map.h"
#include "proxy/command/command_table.h"
#include "proxy/resp/limits.h"
#include "proxy/router/keyspace.h"
#include "proxy/router/router.h"
#include "proxy/router/subscription.h"
#include "proxy/router/transaction.h"
#include "proxy/server/refresher.h"
#include "proxy/server/stats.h"
#include "proxy/server/write_coalescer.h"

namespace slotproxy::server {

// One event loop's worth of proxy: a listener, its client connections, a pool of pipelined
// connections to every Redis node, the current slot map and the requests held while a slot has
// no reachable primary. Everything here runs on the loop's thread.
class Worker : public backend::BackendEvents, public client::ClientHandler {
 public:
  Worker(const config::Config& config, uv_loop_t* loop, Stats& stats);
  ~Worker() override;

  void setIndex(int index) { index_ = index; }
  // Shares worker 0's topology refreshes with the other workers (before start()).
  void setHub(TopologyHub* hub) { hub_ = hub; }
  // Binds the listener and starts the first topology refresh. False with *error on failure.
  bool start(std::string* error);
  // SIGTERM: stop accepting; close each client once its replies are out; `done` when no client is
  // left or after the drain timeout.
  void drain(std::function<void()> done);
  // Closes every handle so that uv_run returns.
  void shutdown();

  const config::Config& config() const override { return config_; }
  const resp::Limits& respLimits() const override { return limits_; }
  uv_loop_t* loop() const { return loop_; }
  // The AUTH command every connection to a node starts with ("" when no password is set).
  const std::string& auth() const { return auth_; }
  // Whether a client's AUTH / HELLO AUTH gives the accepted credentials: client-password when it
  // is set, else those slotproxy uses for the nodes.
  bool credentialsAccepted(std::string_view user, std::string_view password) const;
  // With client-password, whether an unauthenticated client gets NOAUTH for this command.
  static bool mustAuthFirst(const router::Route& route, size_t argc);
  cluster::SlotMapPtr slotMap() const { return map_; }
  Refresher& refresher() { return *refresher_; }
  Stats& stats() { return stats_; }
  // A slot without a live primary, a node of the map down, or requests held.
  bool degraded() const;

  // From ClientConn: one parsed command. `raw` is its RESP bytes (empty for inline commands,
  // which are re-encoded).
  void handleCommand(client::ClientConn& client, std::span<const std::string_view> args,
                     std::string_view raw) override;
  void scheduleFlush(client::ClientConn* client) override;
  void onClientClosed(client::ClientConn* client) override;
  void onClientBusy(bool busy) override {
    if (busy) {
      ++busy_clients_;
    } else {
      --busy_clients_;
    }
  }
  void countBytesOut(size_t n) override {
    stats_.bytes_out.fetch_add(n, std::memory_order_relaxed);
  }

  // From Refresher: a new validated map.
  void installMap(const cluster::SlotMapPtr& map, std::string_view trigger);

  // BackendEvents
  void onReply(backend::BackendConn& conn, backend::Request* r, std::string_view frame,
               resp::Type type) override;
  void onFailed(backend::BackendConn& conn, std::deque<backend::Request*> unsent,
                std::deque<backend::Request*> sent, std::string_view reason) override;
  void onPush(backend::BackendConn& conn, std::string_view frame) override;
  void wantFlush(backend::BackendConn& conn) override;
  void cancelFlush(backend::BackendConn& conn) override;
  void onConnecting(backend::BackendConn&) override {
    stats_.backend_connect_attempts.fetch_add(1, std::memory_order_relaxed);
  }
  void onConnectedChanged(backend::BackendConn& conn, bool connected) override;

 private:
  void onConnection(int status);
  void onTick();
  void onCheck();
  // Writes the output of the clients in flush_clients_, or withholds it (see the .cc).
  void flushClients();
  void flushClient(client::ClientConn* c);
  void flushWithheld();

  // Sends `r` to the primary of r->slot (or r->ask_target), or holds it while there is none.
  void dispatch(backend::Request* r);
  void hold(backend::Request* r);
  void releaseHeld();
  // Answers `r` (a top-level request or a part) with `frame`.
  void complete(backend::Request* r, std::string_view frame);
  // Answers `r` with an error the proxy produced (message without '-').
  void fail(backend::Request* r, std::string_view message, ErrorKind kind);
  // Between MULTI and EXEC: queues the command in the client's transaction and answers it;
  // false for the commands that run at once (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET, and
  // refused ones, which abort the transaction).
  bool queueInTransaction(client::ClientConn& client, const router::Route& route,
                          std::span<const std::string_view> args, std::string_view raw);
  // EXEC: sends MULTI, the queued commands and EXEC to the transaction's slot as one request.
  void execTransaction(client::ClientConn& client, const command::CommandInfo& exec);
  // A subscribed client's command: relayed to one of its node connections (false for QUIT,
  // which runs as usual, and if the client is not subscribed).
  bool subscribedCommand(client::ClientConn& client, const router::Route& route,
                         std::span<const std::string_view> args, std::string_view raw);
  // (P|S)SUBSCRIBE from a client that is not subscribed yet: opens its home lane.
  void subscribe(client::ClientConn& client, std::span<const std::string_view> args,
                 std::string_view raw);
  struct Subscriber;
  // A connection of the subscriber's own to `node`, known to onPush/onFailed by its client id;
  // retire() forgets one (freed on the next tick: this may run inside its callbacks).
  // On the tick: subscriptions waiting for a node (subscribe()) go now if one is up, or get
  // CLUSTERDOWN once failover-hold ran out.
  void retryHeldSubscribes(uint64_t now_ms);
  std::unique_ptr<backend::BackendConn> subscriberConn(const Subscriber& sub,
                                                       backend::BackendNode* node);
  void retire(std::unique_ptr<backend::BackendConn> conn);
  // Opens a lane to `node` / closes one.
  void addLane(Subscriber& sub, backend::BackendNode* node);
  void retireLane(Subscriber& sub, size_t lane);
  // Keyspace notifications (router/keyspace.h): before a command goes to the home lane, sends
  // its keyspace part to every mirror, opening or closing them. False (nothing sent) with
  // `error` if a mirror it needs cannot be opened.
  bool mirrorKeyspace(Subscriber& sub, std::span<const std::string_view> args, std::string* error);
  // Gives the subscriber a mirror on every reachable primary but its home node, and none
  // elsewhere (on a topology change, a node back up).
  void syncMirrors(Subscriber& sub);
  void syncAllMirrors();
  void addMirror(Subscriber& sub, backend::BackendNode* node);
  void retireMirror(Subscriber& sub, size_t mirror);
  // On the tick: fails subscriber connections that do not connect, or owe a frame for longer than
  // request-timeout; PINGs home lanes that were quiet for kSubscriberPingMs, so that a node
  // that hangs or vanishes without a reset is noticed (and its lane recovered) while the
  // client waits for messages.
  void checkSubscribers(uint64_t now_ms);
  // A lane's connection failed: what it held is kept for the client, behind its back. Its
  // channels and patterns (the home lane's) are subscribed again on another primary; its shard
  // channels become orphans, subscribed again once their slot has a reachable primary
  // (resubscribeOrphans()). False (the client is to be disconnected) if it owed replies (their
  // order could not be kept), if no primary can take its channels, or if the subscriber lost a
  // lane less than 10 s ago (connections that keep failing: no flapping; a lane that had not
  // got its orphans back yet does not count).
  bool recoverLane(Subscriber& sub, const backend::BackendConn& failed, std::string_view reason);
  // A primary for a subscriber's channels: one that is up, not `avoid`, chosen by client id.
  backend::BackendNode* upPrimary(uint64_t client_id, const backend::BackendNode* avoid) const;
  // The client named these shard channels in an (S|SUN)SUBSCRIBE: no longer orphans, nor the
  // proxy's to subscribe again.
  void forgetOrphans(Subscriber& sub, std::span<const std::string_view> channels);
  // On the tick: subscribes orphans again on their slot's primary once it is reachable, each
  // lane's when it owes no reply of the client's; a subscriber whose orphans found no primary
  // within failover-hold is disconnected.
  void resubscribeOrphans(uint64_t now_ms);
  // Whether the map names `node` a live primary.
  bool isPrimary(const backend::BackendNode* node) const;
  // Sends a subscribed client's command to the lane of `node` (the home lane when null), now if
  // no other lane owes replies, else after them (settle()).
  void toSubscriberLane(Subscriber& sub, backend::BackendNode* node,
                        std::span<const std::string_view> args, std::string_view raw);
  // Sends it now, opening the lane if need be, and notes it in the lane's state.
  void sendOnLane(Subscriber& sub, backend::BackendNode* node,
                  std::span<const std::string_view> args, std::string_view raw);
  // Answers a subscribed client's command with `reply` (an error frame) in its turn, after the
  // nodes' replies to its earlier commands: in place of a marker PING's reply (pingLane()).
  void answerSubscriber(Subscriber& sub, std::string reply);
  void answerNow(Subscriber& sub, std::string reply);
  // Sends what was held once the lanes allow, and blocks or resumes the client's commands.
  void settle(Subscriber& sub);
  // Ends a client's subscribed mode (left, closed client, failed connection). The connections
  // are freed on the next tick: this may run inside their callbacks.
  void unsubscribeAll(uint64_t client_id);
  // WATCH: the client's keys are watched on a node connection of its own (watches_), which
  // carries its WATCHes and then its EXEC; its other commands are routed as usual. The client
  // reads nothing more until WATCH is answered, so what it sends next runs after the watch.
  void watchCommand(client::ClientConn& client, std::span<const std::string_view> args,
                    std::string_view raw, const command::CommandInfo& cmd);
  // Sends a `watched` request on its client's WATCH connection. When the watch cannot hold any
  // more (its connection failed, the slot moved or is being migrated, `asked`), the request is
  // answered as a changed key would answer it: WATCH +OK, EXEC a null reply.
  void dispatchWatched(backend::Request* r, bool asked);
  // Ends a client's watch (EXEC sent, UNWATCH, DISCARD, RESET, client closed, connection
  // failed). Its connection joins the node's blocking connections; once nothing on it awaits a
  // reply it is kept as a spare if `clean` (EXEC was sent: Redis unwatched everything), else
  // closed (closing it is what drops the watch in Redis).
  void releaseWatch(uint64_t client_id, bool clean = false);
  void retireWatchConn(std::unique_ptr<backend::BackendConn> conn, bool clean = false);
  // A connection of a client's own to `node` (a blocking command's, a WATCH's): a spare one
  // when the node has one (BackendNode::takeSpare), else a new one; `blocking`: no request
  // timeout (BackendConn::setBlocking); `resp3`: the protocol of the client it serves.
  std::unique_ptr<backend::BackendConn> ownConn(backend::BackendNode* node, bool blocking,
                                                bool resp3);
  // Opens `node`'s shared connections of one protocol (backend-connections of them).
  void addSharedConns(backend::BackendNode* node, bool resp3);
  // Whether `node` may take one more connection held by a single client (max-own-conns); if
  // not, `error` says why.
  bool roomForOwnConn(const backend::BackendNode& node, std::string* error) const;
  // BackendEvents::onReply's work; onReply also recycles connections of a client's own.
  void handleReply(backend::BackendConn& conn, backend::Request* r, std::string_view frame,
                   resp::Type type);
  // SCAN over every primary in turn, the shard in the cursor (router/scan.h).
  void scanCommand(client::ClientConn& client, std::span<const std::string_view> args,
                   const command::CommandInfo& cmd);
  // One slot of each primary of the map, in slot order (the order SCAN walks them in).
  std::vector<uint16_t> firstSlotOfEachPrimary() const;
  void localCommand(client::ClientConn& client, std::span<const std::string_view> args,
                    std::string_view raw, const command::CommandInfo& cmd);
  void splitCommand(client::ClientConn& client, std::span<const std::string_view> args,
                    const command::CommandInfo& cmd);
  // Queues a parent request on `client` with `count` parts, each given its payload and slot by
  // `fill`, dispatches them, and answers with `merge` of their replies once all are in.
  void sendParts(client::ClientConn& client, std::span<const std::string_view> args,
                 const command::CommandInfo& cmd, size_t count,
                 std::function<void(std::span<const std::string>, std::string*)> merge,
                 const std::function<void(size_t, backend::Request*)>& fill);
  void fanOut(client::ClientConn& client, std::string_view raw,
              std::span<const std::string_view> args, const command::CommandInfo& cmd);
  // A request for `args`, sent as `raw` (or re-encoded from args when raw is empty).
  backend::Request* newRequest(std::string_view raw, std::span<const std::string_view> args,
                               const command::CommandInfo* cmd, bool with_payload = true);
  uint16_t anySlot();
  void handleErrorReply(backend::BackendConn& conn, backend::Request* r, std::string_view frame);

  backend::BackendNode* nodeForSlot(uint16_t slot);
  backend::BackendNode* nodeByAddress(const std::string& ip, uint16_t port);
  backend::BackendNode* makeNode(const std::string& id, const std::string& ip, uint16_t port);
  void probe(backend::BackendNode* node);
  void markNodeDown(backend::BackendNode* node, std::string_view reason);
  void dropUnusedNodes();
  void reapBlockingConns();
  void countFailovers(const cluster::SlotMap& old, uint64_t now);

  const config::Config& config_;
  TopologyHub* hub_ = nullptr;
  int index_ = 0;        // worker number: worker 0 alone counts process-wide events (failovers)
  resp::Limits limits_;  // client requests
  resp::Limits reply_limits_;  // replies from Redis
  uv_loop_t* loop_;
  Stats& stats_;
  uv_tcp_t* listener_ = nullptr;
  uv_timer_t* tick_ = nullptr;
  uv_check_t* check_ = nullptr;
  uv_idle_t* coalesce_ = nullptr;  // active: the next poll does not block (see onCheck)
  WriteCoalescer coalescer_;       // whether node writes wait for more requests
  size_t busy_clients_ = 0;        // clients with requests in flight, not blocked (onClientBusy)
  const std::string auth_;         // backend::authCommand of the configured credentials
  std::unique_ptr<Refresher> refresher_;

  cluster::SlotMapPtr map_;
  std::vector<backend::BackendNode*> route_;  // map_ node index -> node
  std::vector<backend::BackendNode*> live_;   // like route_, null where the map says failed
  std::vector<bool> owns_;                    // map_ node index -> owns at least one slot
  std::unordered_set<backend::BackendNode*> primaries_;  // the live primaries of map_
  std::unordered_map<std::string, std::unique_ptr<backend::BackendNode>>
      nodes_;                                          // by id or "@ip:port"
  std::deque<backend::Request*> held_;                 // in arrival order
  std::unordered_map<uint16_t, uint32_t> held_slots_;  // slot -> requests of it in held_
  size_t held_bytes_ = 0;
  uint64_t map_version_ = 0;

  std::unordered_set<client::ClientConn*> clients_;
  uint16_t evalsha_id_ = 0;  // command ids of EVALSHA, EVALSHA_RO (NOSCRIPT: handleErrorReply)
  uint16_t evalsha_ro_id_ = 0;
  uint64_t next_client_id_ = 1;
  std::vector<client::ClientConn*> flush_clients_;
  std::vector<backend::BackendConn*> flush_backends_;
  std::vector<client::ClientConn*> withheld_clients_;  // see flushClients()
  uv_timer_t* withhold_timer_ = nullptr;               // flushes them kWithholdMs later
  std::vector<client::ClientConn*> flushing_clients_;  // scratch of onCheck(), keeps capacity
  std::vector<backend::BackendConn*> flushing_backends_;
  std::vector<uint32_t> keys_;  // scratch for the router
  // Subscribed clients by client id, each with its node connections (frames go to `client`).
  struct Subscriber {
    client::ClientConn* client = nullptr;
    struct Lane {
      std::unique_ptr<backend::BackendConn> conn;
      router::Subscription state;  // what its node holds, the replies it owes
      size_t swallow = 0;          // replies to the proxy's own subscriptions (recoverLane(),
                                   // resubscribeOrphans()) still to come
      // Liveness (checkSubscribers()): when a frame last came, or the lane started to wait for
      // one (event clock, ns); the reply of the proxy's own keepalive PING when one is due.
      uint64_t heard_ns = 0;
      std::string keepalive_pong;
      // Orphans sent again here (resubscribeOrphans()) whose replies are still to come.
      std::unordered_set<std::string> resubscribed;

      bool waiting() const { return state.repliesDue() > 0 || !keepalive_pong.empty(); }

      // Writes a command (`raw`: its bytes, or empty to encode `args`), noting it in `state`.
      void send(std::span<const std::string_view> args, std::string_view raw);
    };
    // lanes[0], the home lane, carries all but the shard channel commands of other nodes (and
    // PING, once it holds nothing: pingLane()); every other lane holds shard channels of one
    // node (see the pub/sub section of worker.cc).
    std::vector<Lane> lanes;
    // Its keyspace channels and patterns, also held on a connection to each other primary
    // (router/keyspace.h): those mirrors' replies are the proxy's, their messages filtered.
    router::KeyspaceInterest keyspace;
    std::vector<Lane> mirrors;
    // Commands waiting for another lane's replies, in order; no args: the proxy's answer.
    struct Held {
      backend::BackendNode* node = nullptr;  // the lane's node; null: the home lane
      std::vector<std::string> args;
      std::string answer;
    };
    std::deque<Held> held;
    // Answers the proxy gives in the nodes' stead, each in place of the PONG of a marker PING
    // sent for it (pingLane()), so that it reaches the client in order with their replies.
    struct StandIn {
      const backend::BackendConn* conn;  // the lane the marker PING went to
      std::string pong;                  // the marker PING's reply frame
      std::string reply;                 // what the client gets instead
    };
    std::deque<StandIn> stand_ins;
    uint64_t stand_in_count = 0;
    bool awaiting_replies = false;  // the client is blocked by settle()
    uint64_t recovered_ms = 0;      // loop time of its last recoverLane(), 0 if none
    // Shard channels of a lane whose connection failed, until subscribed again; since when
    // (loop ms; 0 once all are back, each resubscription answered), and when to try next.
    std::set<std::string> orphans;
    uint64_t orphaned_ms = 0;
    uint64_t resubscribe_ms = 0;

    void orphan(const std::string& channel, uint64_t now_ms) {
      if (orphaned_ms == 0) orphaned_ms = now_ms;
      orphans.insert(channel);
    }
    // Once no orphan is left, nor any resubscription unanswered, the clock stops.
    void orphansSettled();
    size_t due() const;         // replies owed by all lanes
    size_t shardCount() const;  // shard channels held by all lanes, and orphans
    bool leaving() const;       // nothing subscribed once the commands sent are applied
    bool done() const;          // left, every reply in, nothing held
    // The lane of `node` (0 for null), lanes.size() if it has none.
    size_t laneOf(const backend::BackendNode* node) const;
    // The lane for PING and the proxy's answers: the first still subscribed on its node.
    size_t pingLane() const;
    // The lane for `command` (its name; empty for the proxy's answer) of a shard channel of
    // `node` (null for the others).
    size_t target(const backend::BackendNode* node, std::string_view command) const;
    // Whether it has a lane or mirror to `node` or a command held for one (the node must stay).
    bool uses(const backend::BackendNode* node) const;
    bool mirrorsTo(const backend::BackendNode* node) const;
    // Whether a lane other than `lane`, or a mirror, owes replies.
    bool owedElsewhere(size_t lane) const;
  };
  std::unordered_map<uint64_t, Subscriber> subscribers_;
  // A client's first (P|S)SUBSCRIBE while no node can take it, by client id; the client is
  // blocked meanwhile.
  struct HeldSubscribe {
    client::ClientConn* client = nullptr;
    std::vector<std::string> args;
    uint64_t until_ms = 0;  // loop time when failover-hold runs out
  };
  std::unordered_map<uint64_t, HeldSubscribe> held_subscribes_;
  std::unordered_map<const backend::BackendConn*, uint64_t> subscriber_of_conn_;  // client ids
  std::vector<std::unique_ptr<backend::BackendConn>> retired_conns_;  // freed on the tick
  std::vector<uint64_t> resettle_;  // subscribers that lost a mirror: settle() on the tick
  // Watching clients by client id (WATCH until EXEC, UNWATCH, DISCARD or RESET).
  struct Watch {
    std::unique_ptr<backend::BackendConn> conn;  // to the slot's primary; null once broken
    uint16_t slot = 0;                           // every key watched is in this slot
    bool armed = false;   // a WATCH was acknowledged: the connection may not change nodes now
    bool broken = false;  // the watch was lost: EXEC answers null, as for a changed key
  };
  std::unordered_map<uint64_t, Watch> watches_;
  std::unordered_map<const backend::BackendConn*, uint64_t> watch_of_conn_;  // client ids
  // Open transactions (between MULTI and EXEC/DISCARD) by client id.
  std::unordered_map<uint64_t, router::Transaction> transactions_;
  uint32_t any_counter_ = 0;
  uint64_t refresh_requests_seen_ = 0;  // Stats::refresh_requests already acted on
  uint32_t connects_this_second_ = 0;
  uint64_t connect_window_start_ = 0;
  bool draining_ = false;
  bool shutting_down_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // seen by async callbacks
  std::function<void()> drained_;
  uint64_t drain_deadline_ = 0;
};

}  // namespace slotproxy::server
