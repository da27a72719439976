#include "proxy/server/worker.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include "proxy/backend/control_conn.h"
#include "proxy/client/client_conn.h"
#include "proxy/command/command_table.h"
#include "proxy/net/event_clock.h"
#include "proxy/net/log.h"
#include "proxy/net/uv_util.h"
#include "proxy/resp/encoder.h"
#include "proxy/resp/value.h"
#include "proxy/router/fan_out.h"
#include "proxy/router/redirect.h"
#include "proxy/router/router.h"
#include "proxy/router/scan.h"

namespace slotproxy::server {

using backend::BackendConn;
using backend::BackendNode;
using backend::Request;
using client::ClientConn;

namespace {

constexpr uint64_t kTickMs = 100;
// WriteCoalescer: a wait ends when no request came for this long, or this many are waiting.
constexpr uint64_t kCoalesceGapNs = 30'000;
constexpr uint64_t kCoalesceBatch = 16;
constexpr uint64_t kWithholdMs = 1;                   // see flushClients()
constexpr size_t kWithholdBytes = size_t{64} * 1024;  // see flushClients()
constexpr uint32_t kMaxConnectsPerSecond = 100;
// A subscriber recovers from a failed node connection at most once in this long (see
// recoverLane()).
constexpr uint64_t kRecoverIntervalMs = 10'000;
// Orphans whose new lane failed before they were subscribed again wait this long to retry.
constexpr uint64_t kResubscribeRetryMs = 1'000;
// A home lane quiet for this long gets a keepalive PING (checkSubscribers()).
constexpr uint64_t kSubscriberPingMs = 5'000;

// The slot that every argument after the command name hashes to (the keys of WATCH, the shard
// channels of SSUBSCRIBE and SUNSUBSCRIBE), nullopt when there are none or several slots.
std::optional<uint16_t> commonSlot(std::span<const std::string_view> args) {
  if (args.size() < 2) return std::nullopt;
  const uint16_t slot = cluster::keySlot(args[1]);
  for (size_t i = 2; i < args.size(); ++i) {
    if (cluster::keySlot(args[i]) != slot) return std::nullopt;
  }
  return slot;
}

constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

std::string errorFrame(std::string_view message) {
  std::string out;
  resp::appendError(out, message);
  return out;
}

// A null reply in the client's protocol: a null bulk string, or RESP3's null.
void appendNull(const ClientConn& client, std::string& out) {
  if (client.resp3()) {
    resp::appendNull(out);
  } else {
    resp::appendNullBulk(out);
  }
}

// Redis's answer to (P|S)(UN)SUBSCRIBE `args` (as `name`) when the count does not change: a
// frame per name (one with a null name when none is given), each with `count`, what the client
// holds.
std::string subscriptionFrames(const ClientConn& client, std::string_view name,
                               std::span<const std::string_view> args, size_t count) {
  std::string out;
  const size_t n = args.size() > 1 ? args.size() - 1 : 1;
  for (size_t i = 0; i < n; ++i) {
    if (client.resp3()) {
      resp::appendPushHeader(out, 3);
    } else {
      resp::appendArrayHeader(out, 3);
    }
    resp::appendBulk(out, name);
    if (args.size() > 1) {
      resp::appendBulk(out, args[i + 1]);
    } else {
      appendNull(client, out);
    }
    resp::appendInteger(out, static_cast<int64_t>(count));
  }
  return out;
}

using resp::errorText;

// Errors that mean "not executed, try again soon": the request is held and sent again on the
// next tick or map. UNBLOCKED: a blocked command freed by a failover.
bool tryAgainError(std::string_view message) {
  for (std::string_view prefix :
       {"CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN", "READONLY", "UNBLOCKED"}) {
    if (message.starts_with(prefix)) return true;
  }
  return false;
}

// An error reply saying the command did not run on this node: a redirect, or "try again".
bool notExecutedHere(std::string_view frame) {
  const std::string_view message = errorText(frame);
  router::Redirect redirect;
  return router::parseRedirect(message, &redirect) || tryAgainError(message);
}

std::string nodeKey(const std::string& id, const std::string& ip, uint16_t port) {
  if (!id.empty()) return id;
  return "@" + ip + ":" + std::to_string(port);
}

std::string describe(const BackendNode& node) {
  if (node.id().empty()) return node.address();
  return node.id().substr(0, 8) + " (" + node.address() + ")";
}

}  // namespace

Worker::Worker(const config::Config& config, uv_loop_t* loop, Stats& stats)
    : config_(config),
      loop_(loop),
      stats_(stats),
      coalescer_({uint64_t{config.node_write_wait_us} * 1000, kCoalesceGapNs, kCoalesceBatch}),
      auth_(backend::authCommand(config.redis_username, config.redis_password)) {
  limits_.max_bulk_len = config.proto_max_bulk_len;
  limits_.max_array_len = config.max_multibulk_len;
  // Replies are Redis's, not a client's: LRANGE of a long list or a deeply nested script reply
  // is ordinary traffic. Bounded still, so that a broken node cannot make the proxy loop.
  reply_limits_.max_bulk_len = config.proto_max_bulk_len;
  reply_limits_.max_array_len = uint64_t{1} << 32;
  reply_limits_.max_depth = 1024;
  refresher_ = std::make_unique<Refresher>(*this);
  for (const auto& [name, id] :
       {std::pair{"evalsha", &evalsha_id_}, {"evalsha_ro", &evalsha_ro_id_}}) {
    const std::string_view args[] = {name};
    *id = command::lookup(args)->id;
  }
}

Worker::~Worker() {
  watch_of_conn_.clear();
  watches_.clear();  // their connections report to nodes_
  subscriber_of_conn_.clear();
  subscribers_.clear();  // their connections report to nodes_
  retired_conns_.clear();
  nodes_.clear();  // before flush_backends_, which their connections' destructors edit
  for (Request* r : held_) Request::release(r);
  held_.clear();
  held_slots_.clear();
}

bool Worker::start(std::string* error) {
  listener_ = new uv_tcp_t;
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
  int rc =
      net::bindListener(listener_, config_.listen.host, config_.listen.port, config_.threads > 1);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 1024, [](uv_stream_t* s, int status) {
      static_cast<Worker*>(s->data)->onConnection(status);
    });
  }
  if (rc != 0) {
    *error = "cannot listen on " + config_.listen.str() + ": " + net::uvError(rc);
    net::closeAndDelete(listener_);
    listener_ = nullptr;
    return false;
  }
  tick_ = new uv_timer_t;
  uv_timer_init(loop_, tick_);
  tick_->data = this;
  uv_timer_start(
      tick_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->onTick(); }, kTickMs, kTickMs);
  check_ = new uv_check_t;
  uv_check_init(loop_, check_);
  check_->data = this;
  uv_check_start(check_, [](uv_check_t* c) { static_cast<Worker*>(c->data)->onCheck(); });
  coalesce_ = new uv_idle_t;
  uv_idle_init(loop_, coalesce_);
  withhold_timer_ = new uv_timer_t;
  uv_timer_init(loop_, withhold_timer_);
  withhold_timer_->data = this;
  if (hub_ != nullptr) refresher_->attach(*hub_, index_ == 0);
  refresher_->trigger(Trigger::kStartup);
  return true;
}

void Worker::onConnection(int status) {
  if (status != 0 || draining_) return;
  auto* c = new ClientConn(*this, next_client_id_++);
  if (!c->accept(reinterpret_cast<uv_stream_t*>(listener_))) return;  // c frees itself
  if (clients_.size() >= config_.max_clients) {
    c->enqueueReply("-ERR max number of clients reached\r\n", true);
  }
  clients_.insert(c);
  stats_.client_connections.fetch_add(1, std::memory_order_relaxed);
  stats_.client_connections_total.fetch_add(1, std::memory_order_relaxed);
}

void Worker::onClientClosed(ClientConn* client) {
  clients_.erase(client);
  if (!transactions_.empty()) transactions_.erase(client->id());
  if (!subscribers_.empty()) unsubscribeAll(client->id());
  if (!held_subscribes_.empty()) held_subscribes_.erase(client->id());
  if (!watches_.empty()) releaseWatch(client->id());
  std::erase(withheld_clients_, client);  // (entries of clients flushed since are kept)
  stats_.client_connections.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::scheduleFlush(ClientConn* client) {
  client->in_flush_list = true;
  flush_clients_.push_back(client);
}

void Worker::wantFlush(BackendConn& conn) { flush_backends_.push_back(&conn); }

void Worker::cancelFlush(BackendConn& conn) { std::erase(flush_backends_, &conn); }

void Worker::onConnectedChanged(BackendConn& conn, bool connected) {
  const BackendNode& node = *conn.node();
  const std::string key = node.id().empty() ? node.address() : node.id();
  std::lock_guard<std::mutex> lock(stats_.mu);
  int64_t& n = stats_.backend_connections[key];
  n += connected ? 1 : -1;
  if (n == 0) stats_.backend_connections.erase(key);
}

void Worker::onCheck() {
  // Node writes queued by a turn wait for the next turn, whose poll does not block, and maybe a
  // few more (see WriteCoalescer): requests that other clients send meanwhile leave in the same
  // write. Fewer, larger writes save the proxy and Redis a system call and a wakeup each. The
  // one-turn wait raised GET throughput at -c 50 -P 1 by 4% and SET by 8%. Extending it while
  // requests keep coming, on a VM where the proxy had a vCPU to itself and the load generator
  // shared the other with Redis: 67-73k -> 93-96k GET/s; in the placement with the load
  // generator alone (the fastest) unchanged, 158-168k. No wait while no other client has requests
  // in flight: a lone client's next request needs this one's reply first, and the wait would
  // cost every request a poll (at -c 1 -P 1: 3 polls per request instead of 2). Clients blocked
  // in BLPOP and the like do not count: they send nothing meanwhile.
  if (!flush_backends_.empty()) {
    if (!coalescer_.waiting()) {
      if (busy_clients_ > 1) {
        coalescer_.begin(uv_hrtime());
        uv_idle_start(coalesce_, [](uv_idle_t*) {});
        flushClients();
        return;
      }
    } else if (coalescer_.extend(uv_hrtime())) {
      sched_yield();  // whatever shares this CPU (Redis, the application) runs meanwhile
      flushClients();
      return;
    }
  }
  if (coalescer_.waiting()) {
    coalescer_.flushed();
    uv_idle_stop(coalesce_);
  }
  // Flushing a client may resume its reading and queue more backend writes, and the other way
  // round; loop until both lists are empty.
  while (!flush_backends_.empty() || !flush_clients_.empty()) {
    flushing_backends_.swap(flush_backends_);
    for (BackendConn* conn : flushing_backends_) conn->flush();
    flushing_backends_.clear();
    flushClients();
  }
}

void Worker::flushClients() {
  // A client's replies are withheld while requests it sent with them are still at the nodes, as
  // Redis answers a pipeline read in one go with one write: a pipeline spread over three
  // primaries would otherwise leave in up to three writes, each waking the client. They wait at
  // most kWithholdMs and kWithholdBytes, and never for a blocking command. At -c 50 -P 16 GET
  // this cut the proxy's CPU per request by 10% and the TCP segments per request by a quarter.
  flushing_clients_.swap(flush_clients_);
  for (ClientConn* c : flushing_clients_) {
    c->in_flush_list = false;
    if (!draining_ && c->mayWithhold(kWithholdBytes)) {
      if (!c->withheld) {
        c->withheld = true;
        withheld_clients_.push_back(c);
        if (withheld_clients_.size() == 1) {
          uv_timer_start(
              withhold_timer_,
              [](uv_timer_t* t) { static_cast<Worker*>(t->data)->flushWithheld(); }, kWithholdMs,
              0);
        }
      }
      continue;
    }
    flushClient(c);
  }
  flushing_clients_.clear();
}

void Worker::flushClient(ClientConn* c) {
  c->withheld = false;  // its withheld_clients_ entry, if any, is skipped
  c->flush();
  if (draining_ && c->pending() == 0) c->close();
}

void Worker::flushWithheld() {
  std::vector<ClientConn*> due;
  due.swap(withheld_clients_);
  for (ClientConn* c : due) {
    if (c->withheld) flushClient(c);
  }
}

void Worker::onTick() {
  net::markEventTime();
  const uint64_t now = uv_now(loop_);
  if (now - connect_window_start_ >= 1000) {
    connect_window_start_ = now;
    connects_this_second_ = 0;
  }
  for (auto& [key, node] : nodes_) {
    node->forEachShared(
        [&](BackendConn& conn) { conn.checkTimeouts(now, config_.request_timeout_ms); });
    for (size_t i = 0, n = node->blockingConns().size(); i < n; ++i) {
      node->blockingConns()[i]->checkTimeouts(now, config_.request_timeout_ms);
    }
  }
  if (!watches_.empty()) {
    // (A failure ends the watch, which may resume its client, which may end other watches.)
    std::vector<BackendConn*> watching;
    for (auto& [id, w] : watches_) {
      if (w.conn != nullptr) watching.push_back(w.conn.get());
    }
    for (BackendConn* conn : watching) conn->checkTimeouts(now, config_.request_timeout_ms);
  }
  reapBlockingConns();
  if (!subscribers_.empty()) {
    checkSubscribers(now);
    resubscribeOrphans(now);
  }
  if (!held_subscribes_.empty()) retryHeldSubscribes(now);
  retired_conns_.clear();  // outside their callbacks
  for (const uint64_t id : std::exchange(resettle_, {})) {
    if (const auto it = subscribers_.find(id); it != subscribers_.end()) settle(it->second);
  }
  for (BackendNode* node : route_) {
    if (node != nullptr && node->probeDue(now)) probe(node);
  }
  releaseHeld();
  if (const uint64_t asked = stats_.refresh_requests.load(std::memory_order_relaxed);
      asked != refresh_requests_seen_) {
    refresh_requests_seen_ = asked;
    refresher_->trigger(Trigger::kManual);
  }
  refresher_->tick(now);
  dropUnusedNodes();
  if (draining_) {
    for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) {
      if (c->pending() == 0) c->close();
    }
    if ((clients_.empty() || now >= drain_deadline_) && drained_) {
      auto done = std::move(drained_);
      drained_ = nullptr;
      done();
    }
  }
}

// ---- topology ------------------------------------------------------------------------------

void Worker::addSharedConns(BackendNode* node, bool resp3) {
  const auto n = static_cast<size_t>(std::max(1, config_.backend_connections));
  for (size_t i = 0; i < n; ++i) {
    node->conns(resp3).push_back(std::make_unique<BackendConn>(
        loop_, *this, node, reply_limits_, config_.connect_timeout_ms, auth_, resp3));
  }
}

BackendNode* Worker::makeNode(const std::string& id, const std::string& ip, uint16_t port) {
  const std::string key = nodeKey(id, ip, port);
  auto it = nodes_.find(key);
  if (it == nodes_.end() && !id.empty()) {
    // Known so far only by address (from a MOVED): now it has a name.
    auto by_addr = nodes_.find(nodeKey("", ip, port));
    if (by_addr != nodes_.end()) {
      auto node = std::move(by_addr->second);
      nodes_.erase(by_addr);
      node->setId(id);
      it = nodes_.emplace(key, std::move(node)).first;
    }
  }
  if (it == nodes_.end()) {
    auto node = std::make_unique<BackendNode>(id, ip, port);
    addSharedConns(node.get(), false);
    it = nodes_.emplace(key, std::move(node)).first;
  }
  BackendNode* node = it->second.get();
  node->setAddress(ip, port);  // the same node id at a new address: a rescheduled pod
  return node;
}

BackendNode* Worker::nodeByAddress(const std::string& ip, uint16_t port) {
  for (auto& [key, node] : nodes_) {
    if (node->ip() == ip && node->port() == port) return node.get();
  }
  return makeNode("", ip, port);
}

void Worker::installMap(const cluster::SlotMapPtr& map, std::string_view trigger) {
  cluster::SlotMapPtr old = map_;
  if (!old || old->ranges().size() != map->ranges().size() ||
      old->nodes().size() != map->nodes().size() || old->servableSlots() != map->servableSlots()) {
    log::info("topology v" + std::to_string(map_version_ + 1) + " (" + std::string(trigger) +
              "): " + std::to_string(map->nodes().size()) + " nodes, " +
              std::to_string(map->servableSlots()) + "/16384 slots with a live primary");
  }
  map_ = map->withVersion(++map_version_);  // maps are numbered by this worker in install order
  route_.assign(map_->nodes().size(), nullptr);
  live_.assign(map_->nodes().size(), nullptr);
  owns_.assign(map_->nodes().size(), false);
  for (uint32_t s = 0; s < cluster::kSlotCount; ++s) {
    const uint16_t o = map_->ownerOf(static_cast<uint16_t>(s));
    if (o != cluster::SlotMap::kNoNode) owns_[o] = true;
  }
  std::unordered_set<BackendNode*> primaries;
  std::unordered_set<std::string> primary_addresses;
  const uint64_t now = uv_now(loop_);
  for (size_t i = 0; i < map_->nodes().size(); ++i) {
    const cluster::NodeInfo& info = map_->node(static_cast<uint16_t>(i));
    route_[i] = makeNode(info.id, info.ip, info.port);
    const bool failed = info.health == cluster::Health::kFailed;
    live_[i] = failed ? nullptr : route_[i];
    if (failed && route_[i]->down_since_ms == 0) route_[i]->down_since_ms = now;
    if (owns_[i] && !failed) {
      primaries.insert(route_[i]);
      primary_addresses.insert(route_[i]->address());
    }
  }
  // A node newly primary (a promoted replica, a primary added) lacks the scripts loaded through
  // the proxy: Redis does not replicate SCRIPT LOAD. They go first on its connections, ahead
  // of any EVALSHA.
  size_t script_count = 0;
  std::string load_scripts;
  for (BackendNode* node : primaries) {
    if (primaries_.contains(node)) continue;
    if (load_scripts.empty()) load_scripts = stats_.scripts.loadCommands(&script_count);
    if (script_count == 0) break;
    node->forEachShared(
        [&](BackendConn& conn) { conn.sendUnanswered(load_scripts, script_count); });
  }
  primaries_ = primaries;
  // A node the map no longer names as a live primary is not trusted with what it still has in
  // flight: a demoted master may acknowledge writes it will discard when it rejoins as a replica.
  // What it has not been sent goes elsewhere now; what it has is suspect (onReply): its MOVED
  // answers are followed, its other answers are not believed. (A node known only by address
  // from a MOVED, at the address of a live primary, is that primary under another key.)
  // A node the map says failed (or left out) will not answer soon, if ever: its requests are
  // failed at once (reads retried elsewhere, writes "outcome unknown") instead of waiting for
  // the request timeout.
  std::unordered_set<BackendNode*> alive_in_map(live_.begin(), live_.end());
  std::deque<Request*> taken_back;
  for (auto& [key, node] : nodes_) {
    if (primaries.count(node.get()) == 0 && node->inFlight() > 0 &&
        (!node->id().empty() || primary_addresses.count(node->address()) == 0)) {
      if (alive_in_map.count(node.get()) == 0 || !node->up()) {
        node->failAll("node " + describe(*node) + " is no longer a primary");
        continue;
      }
      node->forEachShared([&](BackendConn& conn) { conn.distrust(&taken_back); });
      for (auto& conn : node->blockingConns()) conn->distrust(&taken_back);
    }
  }
  if (old && index_ == 0) countFailovers(*old, now);
  for (Request* r : taken_back) dispatch(r);
  {
    std::lock_guard<std::mutex> lock(stats_.mu);
    stats_.map = map_;
  }
  syncAllMirrors();
  releaseHeld();
}

void Worker::countFailovers(const cluster::SlotMap& old, uint64_t now) {
  // A failover: a node that owned slots in the old map owns none in the new one, and another
  // live node serves them. Its duration runs from when the proxy first saw the node down (a
  // connection failure or timeout) or the map first said it failed.
  const std::vector<uint32_t> old_counts = old.slotCounts();
  for (size_t i = 0; i < old.nodes().size(); ++i) {
    const cluster::NodeInfo& n = old.node(static_cast<uint16_t>(i));
    if (old_counts[i] == 0 || n.id.empty()) continue;
    const auto idx = map_->findById(n.id);
    if (idx && owns_[*idx]) continue;
    uint16_t taken_slot = 0;
    while (old.ownerOf(taken_slot) != i) ++taken_slot;
    if (nodeForSlot(taken_slot) == nullptr) continue;  // not served again yet
    BackendNode* node = idx ? route_[*idx] : nullptr;
    const uint64_t since = node != nullptr && node->down_since_ms != 0 ? node->down_since_ms : now;
    const double seconds = static_cast<double>(now - since) / 1000.0;
    stats_.failovers.fetch_add(1, std::memory_order_relaxed);
    stats_.failover_seconds_count.fetch_add(1, std::memory_order_relaxed);
    stats_.failover_seconds_sum_ms.fetch_add(now - since, std::memory_order_relaxed);
    size_t b = 0;
    while (b < kFailoverBuckets.size() && seconds > kFailoverBuckets[b]) ++b;
    stats_.failover_seconds[b].fetch_add(1, std::memory_order_relaxed);
    log::info("failover: slots of " + n.id.substr(0, 8) + " (" + n.address() +
              ") served again after " + std::to_string(now - since) + " ms");
    std::lock_guard<std::mutex> lock(stats_.mu);
    stats_.recent_failovers.push_back(
        {static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count()),
         n.id.substr(0, 8) + " (" + n.address() + ")", now - since});
    if (stats_.recent_failovers.size() > Stats::kRecentFailovers) {
      stats_.recent_failovers.pop_front();
    }
  }
}

bool Worker::degraded() const {
  if (!map_ || !held_.empty() || map_->servableSlots() != cluster::kSlotCount) return true;
  for (size_t i = 0; i < route_.size(); ++i) {
    if (owns_[i] && !route_[i]->up()) return true;
  }
  return false;
}

BackendNode* Worker::nodeForSlot(uint16_t slot) {
  if (!map_) return nullptr;
  const uint16_t owner = map_->ownerOf(slot);
  return owner == cluster::SlotMap::kNoNode ? nullptr : live_[owner];
}

void Worker::markNodeDown(BackendNode* node, std::string_view reason) {
  const bool was_up = node->up();
  if (was_up) log::warn("node " + describe(*node) + " down: " + std::string(reason));
  node->markDown(uv_now(loop_), config_.reconnect_backoff_min_ms, config_.reconnect_backoff_max_ms);
  if (was_up) refresher_->trigger(Trigger::kConnError);
}

void Worker::probe(BackendNode* node) {
  if (connects_this_second_ >= kMaxConnectsPerSecond) return;  // no connection storms
  ++connects_this_second_;
  stats_.backend_connect_attempts.fetch_add(1, std::memory_order_relaxed);
  node->probing_ = true;
  const std::string key = nodeKey(node->id(), node->ip(), node->port());
  const uint32_t timeout = std::max(config_.connect_timeout_ms, config_.request_timeout_ms);
  std::weak_ptr<bool> alive = alive_;
  backend::ControlConn::start(
      loop_, node->ip(), node->port(), auth_, "*1\r\n$4\r\nPING\r\n", 1, timeout,
      [this, alive, key](bool ok, std::vector<std::string> frames, const std::string&) {
        const auto a = alive.lock();
        if (!a || !*a) return;
        auto it = nodes_.find(key);
        if (it == nodes_.end()) return;
        BackendNode* n = it->second.get();
        n->probing_ = false;
        if (ok && frames.size() == 1 && frames[0].starts_with("+PONG")) {
          log::info("node " + describe(*n) + " up again");
          n->markUp();
          syncAllMirrors();
          releaseHeld();
        } else {
          n->markDown(uv_now(loop_), config_.reconnect_backoff_min_ms,
                      config_.reconnect_backoff_max_ms);
        }
      });
}

void Worker::reapBlockingConns() {
  // From the tick, outside every connection callback. A blocking connection goes once its
  // command is answered (or went elsewhere), or once its client has gone: closing it is what
  // makes Redis stop blocking for nobody.
  for (auto& [key, node] : nodes_) {
    auto& conns = node->blockingConns();
    for (auto it = conns.begin(); it != conns.end();) {
      if (!(*it)->abandoned()) {
        ++it;
        continue;
      }
      if (node->keepSpare(*it)) {  // answered and clean: kept for the next one
        it = conns.erase(it);
        continue;
      }
      std::deque<Request*> orphans;
      (*it)->takeAll(&orphans);
      for (Request* r : orphans) Request::release(r);
      it = conns.erase(it);
    }
  }
}

void Worker::dropUnusedNodes() {
  std::unordered_set<BackendNode*> in_map(route_.begin(), route_.end());
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    BackendNode* n = it->second.get();
    const bool used_there = std::any_of(subscribers_.begin(), subscribers_.end(),
                                        [n](const auto& entry) { return entry.second.uses(n); }) ||
                            std::any_of(retired_conns_.begin(), retired_conns_.end(),
                                        [n](const auto& conn) { return conn->node() == n; }) ||
                            std::any_of(watches_.begin(), watches_.end(), [n](const auto& entry) {
                              return entry.second.conn != nullptr && entry.second.conn->node() == n;
                            });
    if (in_map.count(n) == 0 && n->inFlight() == 0 && !n->probing_ && !used_there) {
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---- requests ------------------------------------------------------------------------------

Request* Worker::newRequest(std::string_view raw, std::span<const std::string_view> args,
                            const command::CommandInfo* cmd, bool with_payload) {
  auto* r = Request::make();
  if (!with_payload) {
    // A parent of parts: sends nothing itself.
  } else if (raw.empty()) {
    resp::appendCommand(r->payload, args);
  } else {
    r->payload.assign(raw);
  }
  r->start_ns = net::eventTimeNs();
  if (cmd != nullptr) {
    r->cmd_id = cmd->id;
    r->readonly = (cmd->flags & command::kReadonly) != 0 && (cmd->flags & command::kWrite) == 0;
  }
  return r;
}

void Worker::handleCommand(ClientConn& client, std::span<const std::string_view> args,
                           std::string_view raw) {
  stats_.bytes_in.fetch_add(raw.size(), std::memory_order_relaxed);
  const router::Route route = router::route(args, &keys_);
  if (!client.authenticated() && mustAuthFirst(route, args.size())) {
    // Redis aborts a refused EXEC with the reason (execCommandAbort), whatever came before.
    client.enqueueReply(
        errorFrame(route.cmd->name == "exec"
                       ? "EXECABORT Transaction discarded because of: " + std::string(kNoAuth)
                       : std::string(kNoAuth)));
    return;
  }
  if (!subscribers_.empty() && subscribedCommand(client, route, args, raw)) return;
  if (!transactions_.empty() && queueInTransaction(client, route, args, raw)) return;
  switch (route.kind) {
    case router::RouteKind::kError:
      if (route.cmd != nullptr && route.cmd->id < stats_.command_count) {
        CommandStats& cs = stats_.commands[route.cmd->id];
        cs.calls.fetch_add(1, std::memory_order_relaxed);
        cs.errors[static_cast<size_t>(ErrorKind::kRouting)].fetch_add(1, std::memory_order_relaxed);
      } else {
        stats_.unknown_commands.fetch_add(1, std::memory_order_relaxed);
      }
      client.enqueueReply(errorFrame(route.error));
      return;
    case router::RouteKind::kLocal:
      if (route.cmd->name == "exec") {
        execTransaction(client, *route.cmd);  // counts the call itself
        return;
      }
      stats_.commands[route.cmd->id].calls.fetch_add(1, std::memory_order_relaxed);
      localCommand(client, args, raw, *route.cmd);
      return;
    case router::RouteKind::kSplit:
      splitCommand(client, args, *route.cmd);
      return;
    case router::RouteKind::kAllPrimaries:
      if (route.cmd->merge == command::Merge::kScan) {
        scanCommand(client, args, *route.cmd);
        return;
      }
      fanOut(client, raw, args, *route.cmd);
      return;
    case router::RouteKind::kSlot:
    case router::RouteKind::kBlocking:
    case router::RouteKind::kAnyNode: {
      Request* r = newRequest(raw, args, route.cmd);
      r->resp3 = client.resp3();
      r->slot = route.kind == router::RouteKind::kAnyNode ? anySlot() : route.slot;
      r->conn_hint = static_cast<uint32_t>(client.id());
      client.enqueue(r);
      if (route.kind == router::RouteKind::kBlocking) {
        r->blocking = true;
        client.block();
      }
      dispatch(r);
      return;
    }
  }
}

// ---- pub/sub ----------------------------------------------------------------------------------
//
// A client that subscribes gets node connections of its own, its lanes. The first, its home lane,
// goes to any primary (a PUBLISH reaches every node of a cluster) or, when the client starts with
// SSUBSCRIBE, to the primary of the shard channel's slot. It carries SUBSCRIBE, PSUBSCRIBE, their
// UNSUBSCRIBEs, RESET, and PING and the proxy's own answers (those go to another lane while the
// home lane holds nothing: its node would not answer a PING as in subscribed mode). A shard
// channel lives on the primary of its slot, so each other node holding some of the client's
// shard channels gets a lane of its own, closed when it holds none. While the client is
// subscribed, all its commands (QUIT aside) go to its lanes as they come, so Redis answers them,
// errors included; every frame read there, replies and published messages alike, is relayed
// back. A command for another lane than one that still owes replies waits until they are in, so
// replies keep the order of the commands (a round trip each time the lane changes, which
// subscription commands can afford), and the counts in shard channel replies are made the
// client's total, as Redis counts them. When its last channel, pattern and shard channel are gone
// ((P|S)UNSUBSCRIBE, RESET, or a node dropping shard channels whose slot moved away), its later
// commands wait until the nodes have answered, then run as usual. If a lane's connection fails
// while it owes the client no reply (recoverLane()), what it held is kept: the home lane's
// channels and patterns (they belong to no node) are subscribed again on another lane or
// primary, and its shard channels become orphans, subscribed again by the tick once the map
// names a reachable primary for their slot (the promoted replica after a failover, the same
// node after a dropped connection), for up to failover-hold (resubscribeOrphans()). Replies to
// those subscriptions are the proxy's (Lane::swallow). Otherwise (replies due, a second failure
// within 10 s, no primary to go to), the client is disconnected, as the node's death would
// disconnect it; its library reconnects and subscribes again.
//
// Keyspace channels and patterns (router/keyspace.h) are also held on a mirror connection to
// every other reachable primary, sent before the home lane's command, which waits for the
// mirrors' replies (those are the proxy's): the client has its subscription reply once every
// node publishes to it. A mirror passes on notifications alone, and only for what the client
// holds. Mirrors follow the map (a new primary gets one, a demoted node's closes) and a failed
// one is opened again by the next sync instead of disconnecting the client: no notification
// is lost that a reconnection would have brought back. A home node that is no longer a primary
// publishes notifications of the writes it replicates: those are dropped, the primary's mirror
// passes them on.

void Worker::Subscriber::Lane::send(std::span<const std::string_view> args, std::string_view raw) {
  std::string encoded;
  if (!waiting()) heard_ns = net::eventTimeNs();
  state.sent(args);
  conn->sendRaw(resp::commandBytes(args, raw, &encoded));
}

void Worker::Subscriber::orphansSettled() {
  if (orphans.empty() && std::all_of(lanes.begin(), lanes.end(),
                                     [](const Lane& lane) { return lane.resubscribed.empty(); })) {
    orphaned_ms = 0;
  }
}

size_t Worker::Subscriber::due() const {
  size_t n = 0;
  for (const Lane& lane : lanes) n += lane.state.repliesDue();
  return n;
}

size_t Worker::Subscriber::shardCount() const {
  size_t n = orphans.size();
  for (const Lane& lane : lanes) n += lane.state.shardCount();
  return n;
}

bool Worker::Subscriber::leaving() const {
  return orphans.empty() && std::all_of(lanes.begin(), lanes.end(),
                                        [](const Lane& lane) { return lane.state.leaving(); });
}

bool Worker::Subscriber::done() const {
  return held.empty() && orphans.empty() &&
         std::all_of(lanes.begin(), lanes.end(),
                     [](const Lane& lane) { return lane.state.done(); });
}

size_t Worker::Subscriber::laneOf(const BackendNode* node) const {
  if (node == nullptr) return 0;
  for (size_t i = 0; i < lanes.size(); ++i) {
    if (lanes[i].conn->node() == node) return i;
  }
  return lanes.size();  // none yet
}

size_t Worker::Subscriber::pingLane() const {
  // A connection holding nothing is out of subscribed mode on the node, which would answer a
  // RESP2 PING with +PONG rather than [pong, ...].
  for (size_t i = 0; i < lanes.size(); ++i) {
    if (!lanes[i].state.leaving()) return i;
  }
  return 0;  // the client is leaving subscribed mode: so is its home lane, as it should
}

size_t Worker::Subscriber::target(const BackendNode* node, std::string_view command) const {
  return command.empty() || command::equalsIgnoreCase(command, "ping") ? pingLane() : laneOf(node);
}

bool Worker::Subscriber::uses(const BackendNode* node) const {
  return laneOf(node) < lanes.size() || mirrorsTo(node) ||
         std::any_of(held.begin(), held.end(), [node](const Held& h) { return h.node == node; });
}

bool Worker::Subscriber::mirrorsTo(const BackendNode* node) const {
  return std::any_of(mirrors.begin(), mirrors.end(),
                     [node](const Lane& m) { return m.conn->node() == node; });
}

bool Worker::Subscriber::owedElsewhere(size_t lane) const {
  for (size_t i = 0; i < lanes.size(); ++i) {
    if (i != lane && lanes[i].state.repliesDue() > 0) return true;
  }
  return std::any_of(mirrors.begin(), mirrors.end(),
                     [](const Lane& m) { return m.state.repliesDue() > 0; });
}

bool Worker::subscribedCommand(ClientConn& client, const router::Route& route,
                               std::span<const std::string_view> args, std::string_view raw) {
  const auto it = subscribers_.find(client.id());
  if (it == subscribers_.end()) return false;
  static constexpr std::array<std::string_view, 9> kAllowed = {
      "subscribe",    "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
      "sunsubscribe", "ping",       "quit",       "reset"};
  const bool pubsub = route.cmd != nullptr && std::find(kAllowed.begin(), kAllowed.end(),
                                                        route.cmd->name) != kAllowed.end();
  if (client.resp3() && (!pubsub || transactions_.contains(client.id()))) {
    // RESP3 has no subscribed context: any other command runs as usual (and inside MULTI, every
    // command is queued as usual). Every earlier reply of the nodes is in (see settle()), so its
    // reply takes its turn after theirs.
    return false;
  }
  if (route.cmd != nullptr) {
    if (route.cmd->name == "quit") return false;
    if (route.cmd->name == "reset") {  // the node answers +RESET
      client.setName("");
      client.setAuthenticated(false);
      client.setResp3(false);
    }
    stats_.commands[route.cmd->id].calls.fetch_add(1, std::memory_order_relaxed);
  }
  Subscriber& sub = it->second;
  if (route.kind == router::RouteKind::kError) {
    // Refused by the proxy (unknown, wrong arity, unsupported): its own error, in order.
    answerSubscriber(sub, errorFrame(route.error));
  } else if (!pubsub) {
    // Redis's subscribed-context error. The node cannot be left to give it: for a key of
    // another node's slot it would answer MOVED first.
    answerSubscriber(sub, errorFrame("ERR Can't execute '" + std::string(route.cmd->name) +
                                     "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                                     "RESET are allowed in this context"));
  } else if ((route.cmd->name == "ssubscribe" || route.cmd->name == "sunsubscribe") &&
             args.size() > 1) {
    forgetOrphans(sub, args.subspan(1));  // the client's word on them goes to their node now
    const std::optional<uint16_t> slot = commonSlot(args);
    BackendNode* node = slot ? nodeForSlot(*slot) : nullptr;
    if (!slot) {
      answerSubscriber(sub, errorFrame(router::kCrossSlot));
    } else if (node == nullptr) {
      answerSubscriber(sub, errorFrame("CLUSTERDOWN Hash slot not served"));
    } else {
      toSubscriberLane(sub, node, args, raw);
    }
  } else if (route.cmd->name == "sunsubscribe" && sub.shardCount() > 0) {
    // From every shard channel: the orphans here, first, then each lane holding some from its
    // own.
    if (!sub.orphans.empty()) {
      std::vector<std::string> orphans(sub.orphans.begin(), sub.orphans.end());
      forgetOrphans(sub, std::vector<std::string_view>(orphans.begin(), orphans.end()));
      std::string frames;
      size_t left = sub.shardCount() + orphans.size();
      for (const std::string& channel : orphans) {
        const std::string_view unsubscribed[] = {args[0], channel};
        frames += subscriptionFrames(*sub.client, "sunsubscribe", unsubscribed, --left);
      }
      answerSubscriber(sub, std::move(frames));
    }
    std::vector<BackendNode*> holding;
    for (Subscriber::Lane& lane : sub.lanes) {
      lane.resubscribed.clear();
      if (lane.state.shardCount() > 0) holding.push_back(lane.conn->node());
    }
    sub.orphansSettled();
    for (BackendNode* node : holding) toSubscriberLane(sub, node, args, raw);
  } else if (std::string error; !mirrorKeyspace(sub, args, &error)) {
    answerSubscriber(sub, errorFrame(error));
  } else {
    toSubscriberLane(sub, nullptr, args, raw);
  }
  settle(sub);
  return true;
}

void Worker::subscribe(ClientConn& client, std::span<const std::string_view> args,
                       std::string_view raw) {
  BackendNode* node = nullptr;
  if (command::equalsIgnoreCase(args[0], "ssubscribe")) {
    const std::optional<uint16_t> slot = commonSlot(args);
    if (!slot) {
      client.enqueueReply(errorFrame(router::kCrossSlot));
      return;
    }
    node = nodeForSlot(*slot);
  } else {
    node = upPrimary(client.id(), nullptr);  // (channels and patterns belong to no node)
  }
  if (node == nullptr || !node->up()) {
    // No map yet, or the slot's primary is down: the subscription waits for one, as a request
    // waits for a failover, and the client's next commands wait behind it.
    if (config_.failover_hold_ms > 0 && !draining_) {
      held_subscribes_[client.id()] = {&client, std::vector<std::string>(args.begin(), args.end()),
                                       uv_now(loop_) + config_.failover_hold_ms};
      client.block();
      return;
    }
    client.enqueueReply(errorFrame("CLUSTERDOWN slotproxy: no reachable node to subscribe on"));
    return;
  }
  if (std::string error; !roomForOwnConn(*node, &error)) {
    client.enqueueReply(errorFrame(error));
    return;
  }
  Subscriber& sub = subscribers_[client.id()];
  sub.client = &client;
  addLane(sub, node);
  if (std::string error; !mirrorKeyspace(sub, args, &error)) {
    unsubscribeAll(client.id());
    client.enqueueReply(errorFrame(error));
    return;
  }
  toSubscriberLane(sub, node, args, raw);
  settle(sub);
}

void Worker::retryHeldSubscribes(uint64_t now_ms) {
  std::vector<uint64_t> ids;
  for (const auto& [id, held] : held_subscribes_) ids.push_back(id);
  for (const uint64_t id : ids) {
    const auto it = held_subscribes_.find(id);  // (a client's next commands may close another)
    if (it == held_subscribes_.end()) continue;
    HeldSubscribe held = std::move(it->second);
    held_subscribes_.erase(it);
    const std::vector<std::string_view> args(held.args.begin(), held.args.end());
    if (now_ms >= held.until_ms || draining_) {
      held.client->enqueueReply(errorFrame(
          "CLUSTERDOWN slotproxy: no reachable node to subscribe on within failover-hold"));
    } else {
      subscribe(*held.client, args, {});  // (held again if there is still none)
      if (held_subscribes_.contains(id)) {
        held_subscribes_[id].until_ms = held.until_ms;
        continue;
      }
    }
    // Its next commands run now, unless its subscription waits for the nodes' replies (settle()
    // resumes it then).
    const auto sub = subscribers_.find(id);
    if (sub == subscribers_.end() || !sub->second.awaiting_replies) held.client->unblock();
  }
}

std::unique_ptr<BackendConn> Worker::subscriberConn(const Subscriber& sub, BackendNode* node) {
  auto conn = std::make_unique<BackendConn>(loop_, *this, node, reply_limits_,
                                            config_.connect_timeout_ms, auth_, sub.client->resp3());
  conn->setSubscriber();
  conn->setOwn(true);
  subscriber_of_conn_[conn.get()] = sub.client->id();
  return conn;
}

void Worker::retire(std::unique_ptr<BackendConn> conn) {
  subscriber_of_conn_.erase(conn.get());
  retired_conns_.push_back(std::move(conn));
}

void Worker::addLane(Subscriber& sub, BackendNode* node) {
  sub.lanes.emplace_back().conn = subscriberConn(sub, node);
}

void Worker::retireLane(Subscriber& sub, size_t lane) {
  retire(std::move(sub.lanes[lane].conn));
  sub.lanes.erase(sub.lanes.begin() + static_cast<std::ptrdiff_t>(lane));
}

bool Worker::mirrorKeyspace(Subscriber& sub, std::span<const std::string_view> args,
                            std::string* error) {
  if (router::KeyspaceInterest::adds(args)) {
    // Every mirror it will need must be possible before anything is sent.
    for (size_t i = 0; i < route_.size(); ++i) {
      BackendNode* node = route_[i];
      if (owns_[i] && live_[i] != nullptr && node->up() && node != sub.lanes[0].conn->node() &&
          !sub.mirrorsTo(node) && !roomForOwnConn(*node, error)) {
        return false;
      }
    }
  }
  const std::vector<std::string> mirrored = sub.keyspace.sent(args);
  if (!mirrored.empty()) {
    const std::vector<std::string_view> command(mirrored.begin(), mirrored.end());
    // (Backwards: a connection that fails at once retires its mirror.)
    for (size_t m = sub.mirrors.size(); m-- > 0;) sub.mirrors[m].send(command, {});
  }
  syncMirrors(sub);
  return true;
}

bool Worker::isPrimary(const BackendNode* node) const {
  for (size_t i = 0; i < route_.size(); ++i) {
    if (route_[i] == node) return owns_[i] && live_[i] != nullptr;
  }
  return false;
}

void Worker::syncMirrors(Subscriber& sub) {
  const BackendNode* home = sub.lanes[0].conn->node();
  for (size_t m = sub.mirrors.size(); m-- > 0;) {
    const BackendNode* node = sub.mirrors[m].conn->node();
    if (sub.keyspace.empty() || node == home || !isPrimary(node)) retireMirror(sub, m);
  }
  if (sub.keyspace.empty()) return;
  for (size_t i = 0; i < route_.size(); ++i) {
    BackendNode* node = route_[i];
    if (!owns_[i] || live_[i] == nullptr || !node->up() || node == home || sub.mirrorsTo(node)) {
      continue;
    }
    if (std::string error; !roomForOwnConn(*node, &error)) {
      log::warn("subscriber client " + std::to_string(sub.client->id()) +
                " misses the keyspace notifications of node " + describe(*node) + ": " + error);
      continue;
    }
    addMirror(sub, node);
  }
}

void Worker::syncAllMirrors() {
  for (auto& [id, sub] : subscribers_) {
    if (!sub.mirrors.empty() || !sub.keyspace.empty()) syncMirrors(sub);
  }
}

void Worker::addMirror(Subscriber& sub, BackendNode* node) {
  Subscriber::Lane mirror;
  mirror.conn = subscriberConn(sub, node);
  mirror.heard_ns = net::eventTimeNs();
  std::string bytes;
  for (const std::vector<std::string>& command : sub.keyspace.subscribeAll()) {
    const std::vector<std::string_view> args(command.begin(), command.end());
    mirror.state.sent(args);
    resp::appendCommand(bytes, args);
  }
  BackendConn* conn = mirror.conn.get();
  sub.mirrors.push_back(std::move(mirror));
  conn->sendRaw(bytes);  // last: a connection that fails at once retires the mirror
}

void Worker::retireMirror(Subscriber& sub, size_t mirror) {
  retire(std::move(sub.mirrors[mirror].conn));
  sub.mirrors.erase(sub.mirrors.begin() + static_cast<std::ptrdiff_t>(mirror));
}

void Worker::checkSubscribers(uint64_t now_ms) {
  if (config_.request_timeout_ms == 0) return;
  const uint64_t now = net::eventTimeNs();
  const uint64_t timeout_ns = uint64_t{config_.request_timeout_ms} * 1'000'000;
  // Failing a connection may end its client and others' lanes: gathered first, each looked up
  // again (a retired one is freed only after this).
  std::vector<BackendConn*> conns;
  for (auto& [id, sub] : subscribers_) {
    for (const Subscriber::Lane& lane : sub.lanes) conns.push_back(lane.conn.get());
    for (const Subscriber::Lane& mirror : sub.mirrors) conns.push_back(mirror.conn.get());
  }
  const auto laneOf = [this](const BackendConn* conn) -> Subscriber::Lane* {
    const auto owner = subscriber_of_conn_.find(conn);
    if (owner == subscriber_of_conn_.end()) return nullptr;
    Subscriber& sub = subscribers_.at(owner->second);
    for (auto* lanes : {&sub.lanes, &sub.mirrors}) {
      for (Subscriber::Lane& lane : *lanes) {
        if (lane.conn.get() == conn) return &lane;
      }
    }
    return nullptr;
  };
  for (BackendConn* conn : conns) {
    if (laneOf(conn) == nullptr) continue;
    conn->checkTimeouts(now_ms, 0);  // connecting for too long (its replies are timed here)
    const Subscriber::Lane* lane = laneOf(conn);
    if (lane != nullptr && lane->waiting() && now - lane->heard_ns >= timeout_ns) {
      conn->fail("no reply from " + conn->node()->address() + " within " +
                 std::to_string(config_.request_timeout_ms) + " ms");
    }
  }
  for (auto& [id, sub] : subscribers_) {
    Subscriber::Lane& home = sub.lanes[0];
    if (home.waiting() || !home.conn->connected() ||
        now - home.heard_ns < kSubscriberPingMs * 1'000'000) {
      continue;
    }
    // Answered as [pong, marker] in subscribed mode on RESP2, the marker alone otherwise.
    constexpr std::string_view kMarker = "slotproxy:keepalive";
    home.keepalive_pong = home.conn->resp3() || home.state.leaving() ? "" : "*2\r\n$4\r\npong\r\n";
    resp::appendBulk(home.keepalive_pong, kMarker);
    home.heard_ns = now;
    const std::string_view ping[] = {"PING", kMarker};
    std::string bytes;
    resp::appendCommand(bytes, ping);
    home.conn->sendRaw(bytes);  // (connected: this only queues, it cannot end the subscriber)
  }
}

BackendNode* Worker::upPrimary(uint64_t client_id, const BackendNode* avoid) const {
  // Subscribers spread over the primaries, and those of a node that died over the others (the
  // search starts at a place of the client's own).
  for (size_t k = 0; k < route_.size(); ++k) {
    const size_t i = (client_id + k) % route_.size();
    if (owns_[i] && live_[i] != nullptr && route_[i]->up() && route_[i] != avoid) return route_[i];
  }
  return nullptr;
}

void Worker::forgetOrphans(Subscriber& sub, std::span<const std::string_view> channels) {
  for (const std::string_view channel : channels) {
    const std::string name(channel);
    sub.orphans.erase(name);
    for (Subscriber::Lane& lane : sub.lanes) lane.resubscribed.erase(name);
  }
  sub.orphansSettled();
}

bool Worker::recoverLane(Subscriber& sub, const BackendConn& failed, std::string_view reason) {
  size_t l = 0;
  while (l < sub.lanes.size() && sub.lanes[l].conn.get() != &failed) ++l;
  if (l == sub.lanes.size()) return false;
  const Subscriber::Lane& lane = sub.lanes[l];
  const uint64_t now = uv_now(loop_);
  // A lane that held orphans alone and had not got them back: their node is still unreachable.
  const bool retrying =
      !lane.resubscribed.empty() && lane.state.channels().empty() && lane.state.patterns().empty();
  if (draining_ || sub.leaving() || lane.state.repliesDue() > lane.swallow ||
      (!retrying && sub.recovered_ms != 0 && now - sub.recovered_ms < kRecoverIntervalMs) ||
      std::any_of(sub.stand_ins.begin(), sub.stand_ins.end(),
                  [&](const Subscriber::StandIn& s) { return s.conn == &failed; })) {
    return false;
  }
  // The home lane's channels and patterns (they belong to no node) go to another lane that owes
  // nothing, or to a new one on another primary.
  std::vector<std::vector<std::string_view>> commands;
  for (const auto& [command, names] : {std::pair{"SUBSCRIBE", &lane.state.channels()},
                                       std::pair{"PSUBSCRIBE", &lane.state.patterns()}}) {
    if (names->empty()) continue;
    commands.emplace_back(1, command).insert(commands.back().end(), names->begin(), names->end());
  }
  size_t heir = sub.lanes.size();
  BackendNode* target = nullptr;
  if (l == 0) {
    for (size_t k = 1; k < sub.lanes.size() && heir == sub.lanes.size(); ++k) {
      if (commands.empty() || !sub.lanes[k].waiting()) heir = k;
    }
    if (heir == sub.lanes.size()) {
      // (With other lanes, all busy, a new one could duplicate one of theirs.)
      target = sub.lanes.size() > 1 ? nullptr : upPrimary(sub.client->id(), failed.node());
      if (std::string error; target == nullptr || !roomForOwnConn(*target, &error)) return false;
    }
  }
  for (const std::string& channel : lane.state.shardChannels()) sub.orphan(channel, now);
  if (retrying) {
    sub.resubscribe_ms = now + kResubscribeRetryMs;
  } else {
    sub.recovered_ms = now;
  }
  // (The names in `commands` live in the lane's state until it is retired.)
  Subscriber::Lane successor;
  if (heir < sub.lanes.size()) {
    successor = std::move(sub.lanes[heir]);
  } else if (target != nullptr) {
    successor.conn = subscriberConn(sub, target);
    successor.heard_ns = net::eventTimeNs();
  }
  std::string bytes;
  const size_t due = successor.state.repliesDue();
  for (const std::vector<std::string_view>& args : commands) {
    successor.state.sent(args);
    resp::appendCommand(bytes, args);
  }
  successor.swallow += successor.state.repliesDue() - due;
  retire(std::move(sub.lanes[l].conn));
  if (successor.conn != nullptr) {
    sub.lanes[l] = std::move(successor);
    if (heir < sub.lanes.size()) sub.lanes.erase(sub.lanes.begin() + static_cast<ptrdiff_t>(heir));
  } else {
    sub.lanes.erase(sub.lanes.begin() + static_cast<ptrdiff_t>(l));
  }
  sub.orphansSettled();
  std::string moved;
  if (!commands.empty()) {
    moved = "its channels and patterns moved to " + describe(*sub.lanes[0].conn->node());
  }
  if (!sub.orphans.empty()) {
    moved += std::string(moved.empty() ? "" : "; ") + "its shard channels (" +
             std::to_string(sub.orphans.size()) + ") wait for a primary of their slots";
  }
  log::info("subscriber client " + std::to_string(sub.client->id()) + ": " + std::string(reason) +
            (moved.empty() ? "" : "; " + moved));
  BackendConn* conn = sub.lanes[0].conn.get();
  if (l == 0) syncMirrors(sub);  // (the new home node holds the keyspace names itself now)
  // Last: a connection that fails at once disconnects the client (onFailed), which ends `sub`.
  if (!bytes.empty()) conn->sendRaw(bytes);
  return true;
}

void Worker::resubscribeOrphans(uint64_t now_ms) {
  std::vector<uint64_t> ids;
  for (const auto& [id, sub] : subscribers_) {
    if (sub.orphaned_ms != 0) ids.push_back(id);
  }
  for (const uint64_t id : ids) {
    const auto found = subscribers_.find(id);  // (closing a client may end others' lanes)
    if (found == subscribers_.end()) continue;
    const Subscriber& waiting = found->second;
    if (now_ms - waiting.orphaned_ms >= config_.failover_hold_ms) {
      size_t n = waiting.orphans.size();
      for (const Subscriber::Lane& lane : waiting.lanes) n += lane.resubscribed.size();
      log::warn("closing subscriber client " + std::to_string(id) + ": no reachable primary took " +
                std::to_string(n) + " of its shard channels within " +
                std::to_string(config_.failover_hold_ms) + " ms");
      waiting.client->close();
      continue;
    }
    if (waiting.orphans.empty() || now_ms < waiting.resubscribe_ms) continue;
    // One SSUBSCRIBE per slot (Redis refuses channels of two), on the lane of the slot's node.
    std::map<uint16_t, std::vector<std::string>> by_slot;
    for (const std::string& channel : waiting.orphans) {
      by_slot[cluster::keySlot(channel)].push_back(channel);
    }
    for (const auto& [slot, channels] : by_slot) {
      const auto it = subscribers_.find(id);  // (a failed send may have ended it)
      if (it == subscribers_.end()) break;
      Subscriber& sub = it->second;
      BackendNode* node = nodeForSlot(slot);
      if (node == nullptr || !node->up()) continue;
      const size_t l = sub.laneOf(node);
      // Its replies are swallowed: only after every reply the lane owes the client.
      if (l < sub.lanes.size() && sub.lanes[l].state.repliesDue() > sub.lanes[l].swallow) continue;
      if (std::string error; l == sub.lanes.size() && !roomForOwnConn(*node, &error)) continue;
      if (l == sub.lanes.size()) addLane(sub, node);
      Subscriber::Lane& lane = sub.lanes[l];
      std::vector<std::string_view> args = {"SSUBSCRIBE"};
      for (const std::string& channel : channels) {
        args.push_back(channel);
        lane.resubscribed.insert(channel);
        sub.orphans.erase(channel);
      }
      lane.swallow += channels.size();
      log::info("subscriber client " + std::to_string(id) + ": shard channels of slot " +
                std::to_string(slot) + " subscribed again on " + describe(*node));
      lane.send(args, {});  // last: a connection that fails at once makes them orphans again
    }
  }
}

void Worker::toSubscriberLane(Subscriber& sub, BackendNode* node,
                              std::span<const std::string_view> args, std::string_view raw) {
  if (sub.held.empty() && !sub.owedElsewhere(sub.target(node, args[0]))) {
    sendOnLane(sub, node, args, raw);
    return;
  }
  Subscriber::Held& held = sub.held.emplace_back();
  held.node = node;
  held.args.assign(args.begin(), args.end());
}

void Worker::sendOnLane(Subscriber& sub, BackendNode* node, std::span<const std::string_view> args,
                        std::string_view raw) {
  size_t lane = sub.target(node, args[0]);
  if (lane == sub.lanes.size()) {
    if (command::equalsIgnoreCase(args[0], "sunsubscribe")) {
      // No lane to that node, so none of its shard channels is held: Redis's answer.
      answerNow(sub, subscriptionFrames(*sub.client, "sunsubscribe", args, sub.shardCount()));
      return;
    }
    if (!node->up()) {
      // An SSUBSCRIBE while the slot's primary is down (a failover under way): its channels wait
      // as orphans, as those of a connection that failed (resubscribeOrphans()), and the proxy
      // answers for the node.
      std::string frames;
      for (size_t i = 1; i < args.size(); ++i) {
        sub.orphan(std::string(args[i]), uv_now(loop_));
        const std::string_view one[] = {args[0], args[i]};
        frames += subscriptionFrames(*sub.client, "ssubscribe", one, sub.shardCount());
      }
      answerNow(sub, std::move(frames));
      return;
    }
    if (std::string error; !roomForOwnConn(*node, &error)) {
      answerNow(sub, errorFrame(error));
      return;
    }
    addLane(sub, node);
  }
  if (command::equalsIgnoreCase(args[0], "reset")) {
    // Leaves everything: the other lanes' subscriptions go with their connections.
    while (sub.lanes.size() > 1) retireLane(sub, sub.lanes.size() - 1);
    lane = 0;
    sub.lanes[0].resubscribed.clear();
    sub.orphans.clear();
    sub.orphansSettled();
  }
  sub.lanes[lane].send(args, raw);
}

void Worker::answerSubscriber(Subscriber& sub, std::string reply) {
  if (sub.held.empty() && !sub.owedElsewhere(sub.pingLane())) {
    answerNow(sub, std::move(reply));
    return;
  }
  sub.held.emplace_back().answer = std::move(reply);
}

void Worker::answerNow(Subscriber& sub, std::string reply) {
  const std::string marker = "slotproxy:stand-in:" + std::to_string(++sub.stand_in_count);
  const std::string_view ping[] = {"PING", marker};
  // Redis answers a PING with an argument [pong, arg] on a RESP2 connection in subscribed mode,
  // and the argument alone otherwise (RESP3, or nothing held any more).
  Subscriber::Lane& lane = sub.lanes[sub.pingLane()];
  std::string pong = lane.conn->resp3() || lane.state.leaving() ? "" : "*2\r\n$4\r\npong\r\n";
  resp::appendBulk(pong, marker);
  sub.stand_ins.push_back({lane.conn.get(), std::move(pong), std::move(reply)});
  lane.send(ping, {});
}

void Worker::settle(Subscriber& sub) {
  // Held commands leave in order, each once no other lane owes replies.
  while (!sub.held.empty()) {
    const Subscriber::Held& front = sub.held.front();
    if (sub.owedElsewhere(sub.target(front.node, front.args.empty() ? "" : front.args[0]))) break;
    Subscriber::Held held = std::move(sub.held.front());
    sub.held.pop_front();
    if (held.args.empty()) {
      answerNow(sub, std::move(held.answer));
    } else {
      const std::vector<std::string_view> args(held.args.begin(), held.args.end());
      sendOnLane(sub, held.node, args, {});
    }
  }
  // The client's next command waits for what is held, and, when it is leaving subscribed mode
  // or speaks RESP3 (its next command may go elsewhere), for every reply due.
  const bool wait = !sub.held.empty() || ((sub.leaving() || sub.client->resp3()) && sub.due() > 0);
  if (wait && !sub.awaiting_replies) {
    sub.awaiting_replies = true;
    sub.client->block();
  } else if (!wait && sub.awaiting_replies) {
    sub.awaiting_replies = false;
    sub.client->unblock();  // (may run commands that end `sub`: nothing of it is used after)
  }
}

void Worker::unsubscribeAll(uint64_t client_id) {
  const auto it = subscribers_.find(client_id);
  if (it == subscribers_.end()) return;
  while (!it->second.mirrors.empty()) retireMirror(it->second, it->second.mirrors.size() - 1);
  while (!it->second.lanes.empty()) retireLane(it->second, it->second.lanes.size() - 1);
  subscribers_.erase(it);
}

void Worker::onPush(BackendConn& conn, std::string_view frame) {
  const auto owner = subscriber_of_conn_.find(&conn);
  if (owner == subscriber_of_conn_.end()) return;  // a retired connection: its client is gone
  const uint64_t id = owner->second;
  Subscriber& sub = subscribers_.at(id);
  // A subscriber that does not read: disconnected once its backlog passes the hard limit, as
  // Redis does with client-output-buffer-limit pubsub.
  if (sub.client->outputBytes() > config_.client_output_high_watermark * 8) {
    log::warn("closing subscriber client " + std::to_string(id) +
              ": it does not read its messages");
    sub.client->close();
    return;
  }
  size_t lane = 0;
  while (lane < sub.lanes.size() && sub.lanes[lane].conn.get() != &conn) ++lane;
  if (lane == sub.lanes.size()) {  // a keyspace mirror: its replies are the proxy's
    size_t m = 0;
    while (sub.mirrors[m].conn.get() != &conn) ++m;
    sub.mirrors[m].heard_ns = net::eventTimeNs();
    if (sub.keyspace.forward(frame)) sub.client->enqueueReply(frame);
    sub.mirrors[m].state.received(frame);
    settle(sub);  // what waited for its replies
    return;
  }
  sub.lanes[lane].heard_ns = net::eventTimeNs();
  if (frame == sub.lanes[lane].keepalive_pong) {
    sub.lanes[lane].keepalive_pong.clear();
    return;
  }
  if (Subscriber::Lane& l = sub.lanes[lane]; l.swallow > 0 && l.state.isReply(frame)) {
    // A reply to the proxy's own resubscription (recoverLane(), resubscribeOrphans()): the
    // client had its subscription replies long ago. Messages pass as usual.
    const size_t due = l.state.repliesDue();
    l.state.received(frame);
    l.swallow -= std::min(l.swallow, due - l.state.repliesDue());
    if (frame.starts_with("-MOVED ") || frame.starts_with("-ASK ") ||
        frame.starts_with("-TRYAGAIN") || frame.starts_with("-CLUSTERDOWN")) {
      // An SSUBSCRIBE of orphans refused (a stale map): they wait for the next one.
      refresher_->trigger(frame.starts_with("-MOVED ") ? Trigger::kMoved : Trigger::kClusterDown);
      for (const std::string& channel : l.resubscribed) {
        if (!l.state.shardChannels().contains(channel)) sub.orphan(channel, uv_now(loop_));
      }
      sub.resubscribe_ms = uv_now(loop_) + kResubscribeRetryMs;
    } else if (frame.starts_with('-')) {
      log::warn("closing subscriber client " + std::to_string(id) +
                ": subscribing again on another node failed: " + std::string(errorText(frame)));
      sub.client->close();
      return;
    }
    if (l.swallow == 0) {
      l.resubscribed.clear();
      sub.orphansSettled();
    }
    settle(sub);
    return;
  }
  if (lane == 0 && !sub.keyspace.idle()) {
    sub.keyspace.heard(frame);
    // A home node that is no longer a primary still publishes notifications for the writes it
    // replicates; the primary's mirror passes those on.
    if (router::isKeyspaceMessage(frame) && !isPrimary(conn.node())) return;
  }
  std::string total;
  if (!sub.stand_ins.empty() && sub.stand_ins.front().conn == &conn &&
      frame == sub.stand_ins.front().pong) {
    sub.client->enqueueReply(sub.stand_ins.front().reply);
    sub.stand_ins.pop_front();
  } else if (frame.starts_with("-MOVED ") || frame.starts_with("-ASK ")) {
    // An SSUBSCRIBE sent on a stale map: the client never sees a redirect.
    refresher_->trigger(frame.starts_with("-MOVED ") ? Trigger::kMoved : Trigger::kAsk);
    sub.client->enqueueReply(
        errorFrame("TRYAGAIN slotproxy: the shard channel's slot is moving; subscribe again"));
  } else if ((sub.lanes.size() > 1 || !sub.orphans.empty()) &&
             router::addToShardCount(frame, sub.shardCount() - sub.lanes[lane].state.shardCount(),
                                     &total)) {
    sub.client->enqueueReply(total);
  } else {
    sub.client->enqueueReply(frame);
  }
  sub.lanes[lane].state.received(frame);
  if (sub.done()) {
    // Out of subscribed mode: back to routing by slot, starting with what waited.
    ClientConn* client = sub.client;
    const bool waiting = sub.awaiting_replies;
    unsubscribeAll(id);
    if (waiting) client->unblock();
    return;
  }
  if (lane != 0 && sub.lanes[lane].state.done()) retireLane(sub, lane);
  settle(sub);
}

bool Worker::queueInTransaction(ClientConn& client, const router::Route& route,
                                std::span<const std::string_view> args, std::string_view raw) {
  const auto tx = transactions_.find(client.id());
  if (tx == transactions_.end()) return false;
  if (route.cmd != nullptr) {
    const std::string_view name = route.cmd->name;
    // Run at once, as in Redis. (WATCH is refused with its error and, as in Redis, does not
    // abort the transaction.)
    if (name == "exec" || name == "discard" || name == "multi" || name == "watch" ||
        name == "quit" || name == "reset") {
      return false;
    }
  }
  if (route.kind == router::RouteKind::kError) {
    tx->second.abort();  // answered with its error below; EXEC will abort, as in Redis
    return false;
  }
  client.enqueueReply(tx->second.queue(route, args, raw));
  return true;
}

void Worker::execTransaction(ClientConn& client, const command::CommandInfo& exec) {
  const auto it = transactions_.find(client.id());
  if (it == transactions_.end()) {
    stats_.commands[exec.id].calls.fetch_add(1, std::memory_order_relaxed);
    client.enqueueReply(errorFrame("ERR EXEC without MULTI"));  // (a watch stays, as in Redis)
    return;
  }
  const auto watch = watches_.find(client.id());
  const bool watched = watch != watches_.end();
  // Answered here: an aborted transaction (first, as in Redis), a lost watch, and an empty
  // transaction without a watch (with one, the node tells whether a watched key changed).
  std::string_view answer;
  if (it->second.aborted()) {
    answer = router::kExecAbort;
  } else if (watched && watch->second.broken) {
    answer = router::execNull(client.resp3());
  } else if (!watched && it->second.size() == 0) {
    answer = "*0\r\n";
  }
  if (!answer.empty()) {
    stats_.commands[exec.id].calls.fetch_add(1, std::memory_order_relaxed);
    client.enqueueReply(answer);
    transactions_.erase(it);
    releaseWatch(client.id());  // EXEC ends a watch, as in Redis
    return;
  }
  Request* r = Request::make();
  r->tx = true;
  r->tx_commands = static_cast<uint32_t>(it->second.size());
  r->payload = it->second.takePayload();
  r->readonly = it->second.readonly();
  r->slot = it->second.slot().value_or(anySlot());
  r->watched = watched;
  r->resp3 = client.resp3();
  transactions_.erase(it);
  r->start_ns = net::eventTimeNs();
  r->cmd_id = exec.id;
  r->conn_hint = static_cast<uint32_t>(client.id());
  client.enqueue(r);
  if (watched) {
    dispatchWatched(r, false);
  } else {
    dispatch(r);
  }
}

void Worker::watchCommand(ClientConn& client, std::span<const std::string_view> args,
                          std::string_view raw, const command::CommandInfo& cmd) {
  if (transactions_.count(client.id()) != 0) {
    client.enqueueReply(errorFrame("ERR WATCH inside MULTI is not allowed"));
    return;
  }
  // A transaction runs on one node, so its watched keys and its own keys share one slot.
  const std::optional<uint16_t> common = commonSlot(args);
  auto existing = watches_.find(client.id());
  if (!common || (existing != watches_.end() && existing->second.slot != *common)) {
    client.enqueueReply(errorFrame(std::string(router::kCrossSlot) +
                                   " (slotproxy: the keys of WATCH and of its transaction must "
                                   "share one slot)"));
    return;
  }
  const uint16_t slot = *common;
  Watch& w = watches_[client.id()];
  w.slot = slot;
  if (w.broken) {
    client.enqueueReply("+OK\r\n");  // the watch is lost already: EXEC will answer null
    return;
  }
  Request* r = newRequest(raw, args, &cmd, true);
  r->resp3 = client.resp3();
  r->watched = true;
  r->slot = slot;
  client.enqueue(r);
  client.block();  // until WATCH is in force on the node (complete() unblocks)
  dispatch(r);
}

void Worker::dispatchWatched(Request* r, bool asked) {
  // (EXEC comes here once, from execTransaction; WATCH whenever it is dispatched.)
  const auto it = r->client == nullptr ? watches_.end() : watches_.find(r->client->id());
  BackendNode* const owner = nodeForSlot(r->slot);
  if (it != watches_.end() && !it->second.broken && !asked) {
    Watch& w = it->second;
    if (w.conn != nullptr && w.conn->node() != owner && !w.armed) {
      // Its WATCH was refused (MOVED), nothing is watched there: start over on the new owner.
      retireWatchConn(std::move(w.conn), true);
    }
    if (w.conn == nullptr && !r->tx) {
      if (owner == nullptr || !owner->up()) {
        hold(r);  // no primary for the slot yet: as any request (the client waits for WATCH)
        return;
      }
      if (std::string error; !roomForOwnConn(*owner, &error)) {
        // Nothing is watched: as after a refused WATCH in Redis, a later EXEC runs unwatched.
        releaseWatch(it->first);
        fail(r, error, ErrorKind::kConnLimit);
        return;
      }
      w.conn = ownConn(owner, /*blocking=*/false, r->resp3);
      watch_of_conn_[w.conn.get()] = it->first;
    }
    if (w.conn != nullptr && w.conn->node() == owner) {
      // (A connection that cannot even start fails inside send(), which may answer `r` and let
      // its client run on, ending this watch: nothing of either is used after it.)
      const bool exec = r->tx;
      const uint64_t client_id = it->first;
      w.conn->send(r, false);
      // EXEC ends the watch, in Redis too: once it is answered, the connection is clean.
      if (exec) releaseWatch(client_id, true);
      return;
    }
  }
  // The watch cannot hold: its connection failed, or the slot has another owner now or is
  // being migrated (ASK). Redis would have dropped it too; a changed key's answers tell the
  // client to start its WATCH ... EXEC over, which reaches the slot's current owner.
  if (it != watches_.end()) {
    it->second.broken = true;
    retireWatchConn(std::move(it->second.conn));
  }
  if (r->tx && r->client != nullptr) releaseWatch(r->client->id());
  complete(r, r->tx ? router::execNull(r->resp3) : "+OK\r\n");
}

void Worker::releaseWatch(uint64_t client_id, bool clean) {
  const auto it = watches_.find(client_id);
  if (it == watches_.end()) return;
  retireWatchConn(std::move(it->second.conn), clean);
  watches_.erase(it);
}

void Worker::retireWatchConn(std::unique_ptr<BackendConn> conn, bool clean) {
  if (conn == nullptr) return;
  conn->setReusable(clean);
  watch_of_conn_.erase(conn.get());
  // Reaped by reapBlockingConns once nothing on it awaits a reply.
  BackendNode* node = conn->node();
  node->blockingConns().push_back(std::move(conn));
}

std::unique_ptr<BackendConn> Worker::ownConn(BackendNode* node, bool blocking, bool resp3) {
  std::unique_ptr<BackendConn> conn = node->takeSpare(resp3);
  if (conn == nullptr) {
    conn = std::make_unique<BackendConn>(loop_, *this, node, reply_limits_,
                                         config_.connect_timeout_ms, auth_, resp3);
  }
  conn->setBlocking(blocking);  // (a spare may have served the other kind)
  conn->setOwn(true);
  return conn;
}

bool Worker::roomForOwnConn(const BackendNode& node, std::string* error) const {
  size_t held = node.ownConns();
  if (held < config_.max_own_conns) return true;
  // Connections whose command is answered stay until the tick reaps them (reapBlockingConns):
  // they hold nothing, so a client looping on BLPOP at the limit is not refused.
  for (const auto& conn : node.blockingConns()) {
    if (conn->abandoned()) --held;
  }
  if (held < config_.max_own_conns) return true;
  *error = "ERR slotproxy: " + std::to_string(held) + " connections to " + node.address() +
           " are held by blocking, watching or subscribed clients, the most allowed "
           "(max-own-conns)";
  return false;
}

uint16_t Worker::anySlot() {
  any_counter_ += 5471;  // a stride co-prime with 16384 visits every slot
  return static_cast<uint16_t>(any_counter_ % cluster::kSlotCount);
}

void Worker::dispatch(Request* r) {
  coalescer_.onRequest();
  if (r->client == nullptr && r->parent == nullptr) {  // its client is gone: nobody waits
    Request::release(r);
    return;
  }
  if (shutting_down_) {
    fail(r, "ERR slotproxy is shutting down", ErrorKind::kShutdown);
    return;
  }
  BackendNode* node = r->ask_target;
  const bool asking = node != nullptr;
  r->ask_target = nullptr;
  if (r->watched) {
    if (r->tx) {
      // A watched EXEC sent again (redirected by MOVED/ASK/TRYAGAIN, its connection failed, or
      // its node was demoted): its watch ended when it was first sent (Redis discards a refused
      // transaction's watches too), and it did not run, or only read. Answered as for a changed
      // key; the client's retry loop starts over on the slot's owner.
      complete(r, router::execNull(r->resp3));
    } else {
      dispatchWatched(r, asking);
    }
    return;
  }
  if (!held_slots_.empty() && held_slots_.count(r->slot) != 0) {
    // Earlier requests for this slot are waiting: this one must not overtake them (a client's
    // SET k 1; SET k 2 must not be applied as 2 then 1).
    hold(r);
    return;
  }
  if (node == nullptr) {
    node = nodeForSlot(r->slot);
    if (node == nullptr) {
      hold(r);  // no primary for the slot
      return;
    }
  }
  if (!node->up()) {
    hold(r);  // its primary is down
    return;
  }
  if (r->blocking) {
    // A connection of its own for as long as it blocks; reaped once it is answered.
    if (std::string error; !roomForOwnConn(*node, &error)) {
      fail(r, error, ErrorKind::kConnLimit);
      return;
    }
    std::unique_ptr<BackendConn> conn = ownConn(node, /*blocking=*/true, r->resp3);
    BackendConn* c = conn.get();
    node->blockingConns().push_back(std::move(conn));
    c->send(r, asking);
    return;
  }
  if (r->resp3 && node->conns(true).empty()) {
    // The first RESP3 request for this node: its RESP3 connections open now.
    addSharedConns(node, true);
  }
  node->connFor(r->conn_hint, r->resp3).send(r, asking);
}

void Worker::hold(Request* r) {
  const uint64_t now = uv_now(loop_);
  if (r->hold_until == 0) r->hold_until = now + config_.failover_hold_ms;
  if (held_.size() >= config_.hold_max_requests ||
      held_bytes_ + r->payload.size() > config_.hold_max_bytes) {
    fail(r,
         "CLUSTERDOWN slotproxy: no primary for slot " + std::to_string(r->slot) +
             " and the hold queue is full (hold-max-requests/hold-max-bytes)",
         ErrorKind::kHoldFull);
    return;
  }
  held_bytes_ += r->payload.size();
  held_.push_back(r);
  ++held_slots_[r->slot];
  stats_.requests_held.store(held_.size(), std::memory_order_relaxed);
}

void Worker::releaseHeld() {
  if (held_.empty()) return;
  std::deque<Request*> batch;
  batch.swap(held_);
  held_slots_.clear();
  held_bytes_ = 0;
  const uint64_t now = uv_now(loop_);
  std::string no_map;  // why there is no topology at all, for the errors of requests timed out
  if (!map_) {
    std::lock_guard<std::mutex> lock(stats_.mu);
    if (!stats_.last_refresh_error.empty()) no_map = "; no topology: " + stats_.last_refresh_error;
  }
  for (Request* r : batch) {
    if (r->hold_until != 0 && now >= r->hold_until) {
      stats_.hold_timeouts.fetch_add(1, std::memory_order_relaxed);
      fail(r,
           "CLUSTERDOWN slotproxy: slot " + std::to_string(r->slot) +
               " had no reachable primary within failover-hold (" +
               std::to_string(config_.failover_hold_ms) + " ms)" + no_map,
           ErrorKind::kHoldTimeout);
      continue;
    }
    dispatch(r);
  }
  stats_.requests_held.store(held_.size(), std::memory_order_relaxed);
}

void Worker::fail(Request* r, std::string_view message, ErrorKind kind) {
  r->error_kind = static_cast<uint8_t>(kind);
  complete(r, errorFrame(message));
}

void Worker::complete(Request* r, std::string_view frame) {
  if (Request* parent = r->parent; parent != nullptr) {
    backend::SplitState& split = *parent->split;
    split.replies[r->part_index].assign(frame);
    Request::release(r);
    if (--split.remaining > 0) return;
    std::string merged;
    split.merge(split.replies, &merged);
    complete(parent, merged);
    return;
  }
  if (r->cmd_id < stats_.command_count) {
    CommandStats& cs = stats_.commands[r->cmd_id];
    cs.record(net::eventTimeNs() - r->start_ns);
    if (resp::isErrorFrame(frame)) {
      const size_t kind =
          r->error_kind == 0xFF ? static_cast<size_t>(ErrorKind::kRedis) : r->error_kind;
      cs.errors[kind].fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (r->client == nullptr) {
    Request::release(r);
    return;
  }
  ClientConn* client = r->client;
  const bool blocking = r->blocking || (r->watched && !r->tx);  // see watchCommand
  client->complete(r, frame);                                   // may free r
  if (blocking) client->unblock();
}

void Worker::onReply(BackendConn& conn, Request* r, std::string_view frame, resp::Type type) {
  // A connection of a client's own (a blocking command's, a watched EXEC's) that has nothing
  // more to answer goes back to its node's spares at once, ready for that client's next one.
  const bool own = conn.blocking() || (r->watched && r->tx);
  handleReply(conn, r, frame, type);
  if (own && conn.inFlight() == 0) {
    auto& conns = conn.node()->blockingConns();
    const auto it = std::find_if(conns.begin(), conns.end(),
                                 [&conn](const auto& c) { return c.get() == &conn; });
    if (it != conns.end() && conn.node()->keepSpare(*it)) conns.erase(it);
  }
}

void Worker::handleReply(BackendConn& conn, Request* r, std::string_view frame, resp::Type type) {
  if (r->tx && !r->ahead_error.empty()) {
    // EXEC answered EXECABORT because a queued command was refused. Nothing ran, so a MOVED,
    // ASK or "try again" among those refusals is followed as for a single command: the whole
    // block goes again to the slot's owner. (Redis 7.0 mostly redirects EXEC itself, checking
    // the keys of the whole transaction; that reply takes the ordinary path below.)
    const std::string cause = std::move(r->ahead_error);
    r->ahead_error.clear();
    if (type == resp::Type::kError && errorText(frame).starts_with("EXECABORT") &&
        notExecutedHere(cause)) {
      handleErrorReply(conn, r, cause);
      return;
    }
  }
  if (type == resp::Type::kError) {
    handleErrorReply(conn, r, frame);
    return;
  }
  if (r->suspect) {
    // An answer from a node that is no longer primary: a read may be stale, so it is asked again
    // of the new primary; a write's acknowledgement may be lost when that node rejoins as a
    // replica, so it is not passed on as a success.
    r->suspect = false;
    if (r->readonly || (r->watched && !r->tx)) {
      dispatch(r);  // (a WATCH: to the new primary, or answered as a lost watch)
      return;
    }
    stats_.outcome_unknown.fetch_add(1, std::memory_order_relaxed);
    fail(r,
         "ERR slotproxy: outcome unknown: node " + describe(*conn.node()) +
             " acknowledged this write after it stopped being a primary; the write may be lost",
         ErrorKind::kOutcomeUnknown);
    return;
  }
  if (r->watched && !r->tx && r->client != nullptr) {
    if (const auto it = watches_.find(r->client->id()); it != watches_.end())
      it->second.armed = true;
  }
  complete(r, frame);
}

void Worker::handleErrorReply(BackendConn& conn, Request* r, std::string_view frame) {
  r->suspect = false;  // an error (MOVED, READONLY...) says the command was not applied there
  const std::string_view message = errorText(frame);
  router::Redirect redirect;
  if (router::parseRedirect(message, &redirect)) {
    if (++r->redirects > config_.max_redirects) {
      fail(r,
           "ERR slotproxy: too many redirects for slot " + std::to_string(redirect.slot) +
               " (last: " + std::string(message) + ")",
           ErrorKind::kRedirectLimit);
      return;
    }
    if (redirect.host.empty()) redirect.host = conn.node()->ip();
    if (redirect.kind == router::Redirect::Kind::kAsk) {
      stats_.redirects_ask.fetch_add(1, std::memory_order_relaxed);
      refresher_->noteMigration();
      r->ask_target = nodeByAddress(redirect.host, redirect.port);
      dispatch(r);
      return;
    }
    stats_.redirects_moved.fetch_add(1, std::memory_order_relaxed);
    BackendNode* current = nodeForSlot(redirect.slot);
    if (current == nullptr || current->ip() != redirect.host || current->port() != redirect.port) {
      // Fix this slot now; a full refresh (debounced) fixes the rest.
      map_ = map_ ? map_->withSlotMoved(redirect.slot, redirect.host, redirect.port, ++map_version_)
                  : nullptr;
      if (map_) {
        while (route_.size() < map_->nodes().size()) {
          const auto& info = map_->node(static_cast<uint16_t>(route_.size()));
          route_.push_back(makeNode(info.id, info.ip, info.port));
          live_.push_back(route_.back());
          owns_.push_back(false);
        }
        owns_[map_->ownerOf(redirect.slot)] = true;
      }
      refresher_->askFirst(redirect.host, redirect.port);
      refresher_->trigger(Trigger::kMoved);
    }
    r->slot = redirect.slot;
    dispatch(r);
    return;
  }
  if (message.starts_with("NOSCRIPT") && r->prelude.empty() && !r->tx && !r->watched &&
      r->client != nullptr && r->next == nullptr &&
      (r->cmd_id == evalsha_id_ || r->cmd_id == evalsha_ro_id_)) {
    // A node without a script loaded through the proxy (one restarted, or made primary before
    // installMap loaded the scripts there): loaded there, and the EVALSHA runs again, once. Only
    // for its client's last command so far: the commands pipelined after it have run already,
    // and must not see it run later (they get Redis's NOSCRIPT, which client libraries handle).
    resp::RequestDecoder decoder(limits_);
    size_t consumed = 0;
    if (decoder.decode(r->payload, &consumed) == resp::Status::kOk && decoder.args().size() > 1) {
      if (std::optional<std::string> script = stats_.scripts.find(decoder.args()[1])) {
        const std::string_view load[] = {"SCRIPT", "LOAD", *script};
        resp::appendCommand(r->prelude, load);
        stats_.script_reloads.fetch_add(1, std::memory_order_relaxed);
        dispatch(r);
        return;
      }
    }
  }
  if (tryAgainError(message)) {  // until failover-hold runs out (then the hold sweep answers)
    if (message.starts_with("CLUSTERDOWN") || message.starts_with("READONLY")) {
      refresher_->trigger(Trigger::kClusterDown);
    } else if (message.starts_with("TRYAGAIN")) {
      refresher_->noteMigration();  // a multi-key command in a slot split between two nodes
    }
    hold(r);
    return;
  }
  complete(r, frame);
}

void Worker::onFailed(BackendConn& conn, std::deque<Request*> unsent, std::deque<Request*> sent,
                      std::string_view reason) {
  if (conn.subscriber()) {
    // A node that cannot be connected to is down (a connection it closed says nothing of the
    // kind: CLIENT KILL, a client limit): the next subscriptions wait for it, or its replica.
    if (!conn.reached() && !shutting_down_) markNodeDown(conn.node(), reason);
    const auto owner = subscriber_of_conn_.find(&conn);
    if (owner != subscriber_of_conn_.end()) {
      const uint64_t id = owner->second;
      Subscriber& sub = subscribers_.at(id);
      for (size_t m = 0; m < sub.mirrors.size(); ++m) {
        if (sub.mirrors[m].conn.get() != &conn) continue;
        // A node's notifications are not worth the client's connection: while the node is
        // unreachable it publishes nothing, and the next topology refresh (or a failover's)
        // opens a mirror to whichever primary serves its slots.
        log::info("subscriber client " + std::to_string(id) +
                  " lost its keyspace notification connection to " + describe(*conn.node()) + ": " +
                  std::string(reason));
        retireMirror(sub, m);
        resettle_.push_back(id);  // what waited for its replies goes on the tick (this may run
        return;                   // inside the command that opened it)
      }
      if (recoverLane(sub, conn, reason)) {  // (`sub` may be gone: it logged)
        resettle_.push_back(id);  // what waited for the lost lane's replies goes on the tick
        return;
      }
      log::info("closing subscriber client " + std::to_string(id) + ": " + std::string(reason));
      sub.client->close();  // onClientClosed retires the connection
    }
    return;
  }
  if (const auto owner = watch_of_conn_.find(&conn); owner != watch_of_conn_.end()) {
    // The watch is lost with its connection: what the client sends next is answered as for a
    // changed key (dispatchWatched), so its retry loop starts over.
    Watch& w = watches_.at(owner->second);
    w.broken = true;
    retireWatchConn(std::move(w.conn));
  }
  BackendNode* node = conn.node();
  if (std::unique_ptr<BackendConn> spare = node->releaseSpare(&conn)) {
    // An idle spare closed (Redis's `timeout`, a restart): nothing was waiting on it, and the
    // node's health is for the connections in use to tell.
    retired_conns_.push_back(std::move(spare));
    return;
  }
  if (!shutting_down_) markNodeDown(node, reason);
  for (Request* r : sent) {
    if (r->client == nullptr && r->parent == nullptr) {
      Request::release(r);
    } else if (r->watched && (!r->tx || r->readonly)) {
      dispatch(r);  // answered as for a lost watch (EXEC: only if it could not write)
    } else if (r->readonly && !r->retried) {
      r->retried = true;
      stats_.read_retries.fetch_add(1, std::memory_order_relaxed);
      dispatch(r);
    } else {
      stats_.outcome_unknown.fetch_add(1, std::memory_order_relaxed);
      fail(r,
           "ERR slotproxy: outcome unknown: the connection to node " + describe(*node) +
               " failed with this command in flight (" + std::string(reason) +
               "); it may or may not have been applied",
           ErrorKind::kOutcomeUnknown);
    }
  }
  for (Request* r : unsent) dispatch(r);
}

// ---- split and fan-out -----------------------------------------------------------------------

void Worker::sendParts(ClientConn& client, std::span<const std::string_view> args,
                       const command::CommandInfo& cmd, size_t count,
                       std::function<void(std::span<const std::string>, std::string*)> merge,
                       const std::function<void(size_t, Request*)>& fill) {
  Request* parent = newRequest({}, args, &cmd, /*with_payload=*/false);
  parent->resp3 = client.resp3();
  parent->split = std::make_unique<backend::SplitState>();
  parent->split->replies.resize(count);
  parent->split->remaining = count;
  parent->split->merge = std::move(merge);
  client.enqueue(parent);
  std::vector<Request*> parts;
  parts.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto* part = Request::make();
    fill(i, part);
    part->parent = parent;
    part->part_index = static_cast<uint32_t>(i);
    part->start_ns = parent->start_ns;
    part->cmd_id = parent->cmd_id;
    part->readonly = parent->readonly;
    part->resp3 = parent->resp3;
    part->conn_hint = static_cast<uint32_t>(client.id());
    parts.push_back(part);
  }
  // The last dispatch may complete the parent (and free it): touch nothing after the loop.
  for (Request* part : parts) dispatch(part);
}

void Worker::splitCommand(ClientConn& client, std::span<const std::string_view> args,
                          const command::CommandInfo& cmd) {
  auto plan = std::make_shared<router::SplitPlan>();
  router::planSplit(cmd, args, keys_, plan.get());
  sendParts(
      client, args, cmd, plan->parts.size(),
      [plan](std::span<const std::string> replies, std::string* out) {
        router::mergeReplies(*plan, replies, out);
      },
      [&](size_t i, Request* part) {
        router::encodePart(args, keys_, *plan, plan->parts[i], &part->payload);
        part->slot = plan->parts[i].slot;
      });
}

namespace {

// A node's SCAN reply [cursor, keys] with the cursor turned into the client's (router/scan.h).
void rewriteScanReply(std::string_view reply, size_t shard, size_t shards, std::string* out) {
  if (resp::isErrorFrame(reply)) {
    out->append(reply);
    return;
  }
  resp::Value v;
  uint64_t node_next = 0;
  uint64_t next = 0;
  if (!resp::parseValue(reply, &v) || v.elements.size() != 2 ||
      !router::parseCursor(v.elements[0].str, &node_next) ||
      !router::nextScanCursor(shard, shards, node_next, &next)) {
    resp::appendError(*out, "ERR slotproxy: unexpected SCAN reply from a node");
    return;
  }
  resp::appendArrayHeader(*out, 2);
  resp::appendBulk(*out, std::to_string(next));
  out->append(v.elements[1].raw);
}

}  // namespace

std::vector<uint16_t> Worker::firstSlotOfEachPrimary() const {
  std::vector<uint16_t> slots;
  if (map_) {
    std::vector<bool> seen(map_->nodes().size(), false);
    for (uint32_t s = 0; s < cluster::kSlotCount; ++s) {
      const uint16_t o = map_->ownerOf(static_cast<uint16_t>(s));
      if (o != cluster::SlotMap::kNoNode && !seen[o]) {
        seen[o] = true;
        slots.push_back(static_cast<uint16_t>(s));
      }
    }
  }
  return slots;
}

void Worker::fanOut(ClientConn& client, std::string_view raw,
                    std::span<const std::string_view> args, const command::CommandInfo& cmd) {
  // One slot per primary: each part follows that slot's owner.
  const std::vector<uint16_t> slots = firstSlotOfEachPrimary();
  if (slots.empty()) {
    client.enqueueReply(errorFrame("CLUSTERDOWN slotproxy: no cluster topology yet"));
    return;
  }
  std::string payload(raw);
  if (payload.empty()) resp::appendCommand(payload, args);
  const command::Merge merge = cmd.merge;
  // SCRIPT LOAD: the script is remembered under the SHA1 the nodes answer, for the primaries
  // that will lack it (script_cache.h). SCRIPT FLUSH forgets them all.
  std::optional<std::string> script;
  if (cmd.name == "script|load") script.emplace(args[2]);
  if (cmd.name == "script|flush") stats_.scripts.clear();
  sendParts(
      client, args, cmd, slots.size(),
      [merge, script = std::move(script), &scripts = stats_.scripts](
          std::span<const std::string> replies, std::string* out) {
        router::mergeFanOut(merge, replies, out);
        // $40 <sha1>: every primary loaded it.
        if (script && out->size() == 47 && out->starts_with("$40\r\n")) {
          scripts.remember(std::string_view(*out).substr(5, 40), *script);
        }
      },
      [&](size_t i, Request* part) {
        part->payload = payload;
        part->slot = slots[i];
      });
}

void Worker::scanCommand(ClientConn& client, std::span<const std::string_view> args,
                         const command::CommandInfo& cmd) {
  router::ScanCursor cursor;
  if (!router::parseScanCursor(args[1], &cursor)) {
    client.enqueueReply(errorFrame("ERR invalid cursor"));
    return;
  }
  const std::vector<uint16_t> slots = firstSlotOfEachPrimary();
  if (slots.empty()) {
    client.enqueueReply(errorFrame("CLUSTERDOWN slotproxy: no cluster topology yet"));
    return;
  }
  if (slots.size() > router::kScanMaxShards) {
    client.enqueueReply(errorFrame("ERR slotproxy: SCAN supports clusters of up to " +
                                   std::to_string(router::kScanMaxShards) + " primaries"));
    return;
  }
  if (cursor.shard >= slots.size()) {  // fewer primaries than when the scan began: it is over
    client.enqueueReply("*2\r\n$1\r\n0\r\n*0\r\n");
    return;
  }
  // The same command for that primary, with its own cursor (options are passed as they are).
  std::vector<std::string_view> node_args(args.begin(), args.end());
  const std::string node_cursor = std::to_string(cursor.node_cursor);
  node_args[1] = node_cursor;
  std::string payload;
  resp::appendCommand(payload, node_args);
  const size_t shard = cursor.shard;
  const size_t shards = slots.size();
  sendParts(
      client, args, cmd, 1,
      [shard, shards](std::span<const std::string> replies, std::string* out) {
        rewriteScanReply(replies[0], shard, shards, out);
      },
      [&](size_t, Request* part) {
        part->payload = std::move(payload);
        part->slot = slots[shard];
      });
}

// ---- commands answered by the proxy ------------------------------------------------------------

bool Worker::mustAuthFirst(const router::Route& route, size_t argc) {
  // As Redis's processCommand: unknown commands and wrong arities are refused as such first;
  // then only the commands flagged no-auth (AUTH, HELLO, QUIT, RESET) run unauthenticated.
  if (route.cmd == nullptr || !command::arityOk(*route.cmd, argc)) return false;
  return (route.cmd->flags & command::kNoAuth) == 0;
}

bool Worker::credentialsAccepted(std::string_view user, std::string_view password) const {
  // With client-password: Redis with requirepass (user `default`). Otherwise as a Redis whose
  // only user is the one slotproxy logs in as (redis-username, or `default`) with
  // redis-password; without a password, `default` takes any (Redis's nopass).
  if (!config_.client_password.empty()) {
    return user == "default" && password == config_.client_password;
  }
  const std::string_view own = config_.redis_username.empty()
                                   ? std::string_view("default")
                                   : std::string_view(config_.redis_username);
  if (user != own) return false;
  return config_.redis_password.empty() || password == config_.redis_password;
}

void Worker::localCommand(ClientConn& client, std::span<const std::string_view> args,
                          std::string_view raw, const command::CommandInfo& cmd) {
  std::string out;
  const std::string_view name = cmd.name;
  if (name == "ping") {
    if (args.size() > 2) {
      out = errorFrame("ERR wrong number of arguments for 'ping' command");
    } else if (args.size() == 1) {
      out = "+PONG\r\n";
    } else {
      resp::appendBulk(out, args[1]);
    }
  } else if (name == "echo") {
    resp::appendBulk(out, args[1]);
  } else if (name == "select") {
    int64_t db = 0;
    const auto [end, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), db);
    if (ec != std::errc() || end != args[1].data() + args[1].size()) {
      out = errorFrame("ERR value is not an integer or out of range");
    } else {
      out = db == 0 ? "+OK\r\n" : errorFrame("ERR SELECT is not allowed in cluster mode");
    }
  } else if (name == "quit") {
    client.enqueueReply("+OK\r\n", true);
    return;
  } else if (name == "reset") {
    client.setName("");
    client.setAuthenticated(false);  // back to the default user, who needs the password again
    client.setResp3(false);
    transactions_.erase(client.id());
    releaseWatch(client.id());
    out = "+RESET\r\n";
  } else if (name == "multi") {
    const router::Transaction::Limits limits{config_.max_multibulk_len,
                                             config_.client_query_buffer_limit};
    const auto [tx, fresh] = transactions_.try_emplace(client.id(), limits);
    if (fresh) {
      // After WATCH, the transaction goes on the watch's connection: its keys stay in that slot.
      if (const auto w = watches_.find(client.id()); w != watches_.end()) {
        tx->second.pinSlot(w->second.slot);
      }
      out = "+OK\r\n";
    } else {
      out = errorFrame("ERR MULTI calls can not be nested");
    }
  } else if (name == "discard") {
    if (transactions_.erase(client.id()) != 0) {
      releaseWatch(client.id());  // DISCARD unwatches, as in Redis
      out = "+OK\r\n";
    } else {
      out = errorFrame("ERR DISCARD without MULTI");
    }
  } else if (name == "subscribe" || name == "psubscribe" || name == "ssubscribe") {
    subscribe(client, args, raw);
    return;
  } else if (name == "unsubscribe" || name == "punsubscribe" || name == "sunsubscribe") {
    // Not subscribed (a subscribed client's go to its lanes): Redis's answer, count 0.
    out = subscriptionFrames(client, name, args, 0);
  } else if (name == "watch") {
    watchCommand(client, args, raw, cmd);
    return;
  } else if (name == "unwatch") {
    releaseWatch(client.id());
    out = "+OK\r\n";
  } else if (name == "auth") {
    if (args.size() > 3) {
      out = errorFrame("ERR syntax error");
    } else if (args.size() == 2 && config_.redis_password.empty() &&
               config_.client_password.empty()) {
      out = errorFrame(
          "ERR AUTH <password> called without any password configured for the default user. "
          "Are you sure your configuration is correct?");
    } else {
      const std::string_view user = args.size() == 3 ? args[1] : std::string_view("default");
      if (credentialsAccepted(user, args.back())) {
        client.setAuthenticated(true);
        out = "+OK\r\n";
      } else {
        out = errorFrame(kWrongPass);
      }
    }
  } else if (name == "hello") {
    size_t i = 1;
    bool resp3 = client.resp3();
    if (args.size() > 1) {
      int64_t version = 0;
      const auto [end, ec] =
          std::from_chars(args[1].data(), args[1].data() + args[1].size(), version);
      if (ec != std::errc() || end != args[1].data() + args[1].size()) {
        client.enqueueReply(errorFrame("ERR Protocol version is not an integer or out of range"));
        return;
      }
      if (version < 2 || version > 3) {
        client.enqueueReply(errorFrame("NOPROTO unsupported protocol version"));
        return;
      }
      resp3 = version == 3;
      if (resp3 != client.resp3() && subscribers_.contains(client.id())) {
        // Its node connection speaks the protocol it subscribed in.
        client.enqueueReply(
            errorFrame("ERR slotproxy: HELLO cannot switch the protocol of a subscribed client; "
                       "unsubscribe first"));
        return;
      }
      i = 2;
    }
    // As Redis's helloCommand: options first, then AUTH, then the name (once authenticated).
    std::optional<std::string_view> set_name, user, password;
    for (; i < args.size(); ++i) {
      if (command::equalsIgnoreCase(args[i], "SETNAME") && i + 1 < args.size()) {
        set_name = args[++i];
      } else if (command::equalsIgnoreCase(args[i], "AUTH") && i + 2 < args.size()) {
        user = args[i + 1];
        password = args[i + 2];
        i += 2;
      } else {
        client.enqueueReply(
            errorFrame("ERR Syntax error in HELLO option '" + std::string(args[i]) + "'"));
        return;
      }
    }
    if (user) {
      if (!credentialsAccepted(*user, *password)) {
        client.enqueueReply(errorFrame(kWrongPass));
        return;
      }
      client.setAuthenticated(true);
    }
    if (!client.authenticated()) {
      client.enqueueReply(errorFrame(
          "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
          "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
          "the RESP protocol version at the same time"));
      return;
    }
    if (set_name) client.setName(*set_name);
    if (resp3 != client.resp3()) {
      // A watch's connection speaks the protocol the client had: EXEC's reply cannot come back
      // in the new one. The watch is lost, as if a key changed (EXEC answers null).
      if (const auto w = watches_.find(client.id()); w != watches_.end()) {
        w->second.broken = true;
        retireWatchConn(std::move(w->second.conn));
      }
      client.setResp3(resp3);
    }
    if (resp3) {
      resp::appendMapHeader(out, 7);
    } else {
      resp::appendArrayHeader(out, 14);
    }
    resp::appendBulk(out, "server");
    resp::appendBulk(out, "redis");
    resp::appendBulk(out, "version");
    resp::appendBulk(out, "7.0.15");
    resp::appendBulk(out, "proto");
    resp::appendInteger(out, resp3 ? 3 : 2);
    resp::appendBulk(out, "id");
    resp::appendInteger(out, static_cast<int64_t>(client.id()));
    resp::appendBulk(out, "mode");
    resp::appendBulk(out, "standalone");
    resp::appendBulk(out, "role");
    resp::appendBulk(out, "master");
    resp::appendBulk(out, "modules");
    resp::appendArrayHeader(out, 0);
  } else if (name == "client|setname") {
    // As Redis's clientSetName: only printable ASCII without spaces.
    if (std::any_of(args[2].begin(), args[2].end(), [](char c) { return c < '!' || c > '~'; })) {
      out = errorFrame("ERR Client names cannot contain spaces, newlines or special characters.");
    } else {
      client.setName(args[2]);
      out = "+OK\r\n";
    }
  } else if (name == "client|getname") {
    if (client.name().empty()) {
      appendNull(client, out);
    } else {
      resp::appendBulk(out, client.name());
    }
  } else if (name == "client|id") {
    resp::appendInteger(out, static_cast<int64_t>(client.id()));
  } else if (name == "client|setinfo") {
    out = "+OK\r\n";
  } else if (name == "cluster|keyslot") {
    resp::appendInteger(out, cluster::keySlot(args[2]));
  } else {
    out = errorFrame("ERR slotproxy: '" + std::string(name) + "' has no local implementation");
  }
  client.enqueueReply(out);
}

// ---- lifecycle -----------------------------------------------------------------------------

void Worker::drain(std::function<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  drain_deadline_ = uv_now(loop_) + config_.drain_timeout_ms;
  if (listener_ != nullptr) {
    net::closeAndDelete(listener_);
    listener_ = nullptr;
  }
}

void Worker::shutdown() {
  shutting_down_ = true;
  *alive_ = false;
  if (listener_ != nullptr) net::closeAndDelete(listener_);
  if (tick_ != nullptr) net::closeAndDelete(tick_);
  if (check_ != nullptr) net::closeAndDelete(check_);
  if (coalesce_ != nullptr) net::closeAndDelete(coalesce_);
  if (withhold_timer_ != nullptr) net::closeAndDelete(withhold_timer_);
  listener_ = nullptr;
  tick_ = nullptr;
  check_ = nullptr;
  coalesce_ = nullptr;
  withhold_timer_ = nullptr;
  withheld_clients_.clear();
  for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) c->close();
  subscriber_of_conn_.clear();
  subscribers_.clear();  // (emptied by the closes above) before the nodes their connections use
  watch_of_conn_.clear();
  watches_.clear();  // (likewise)
  retired_conns_.clear();
  for (auto& [key, node] : nodes_) node->failAll("proxy shutting down");
  nodes_.clear();
  route_.clear();
  refresher_.reset();
  for (Request* r : held_) Request::release(r);
  held_.clear();
  held_slots_.clear();
}

}  // namespace slotproxy::server
