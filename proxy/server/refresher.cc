#include "proxy/server/refresher.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "proxy/backend/control_conn.h"
#include "proxy/net/log.h"
#include "proxy/net/uv_util.h"
#include "proxy/resp/decoder.h"
#include "proxy/resp/value.h"
#include "proxy/server/worker.h"
#include "proxy/tools/nodes_conf.h"

namespace slotproxy::server {
namespace {

constexpr std::string_view kTopologyCommands =
    "*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n"
    "*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n"
    "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
constexpr size_t kAskAtOnce = 3;
constexpr uint32_t kAnswerTimeoutMs = 1000;  // per node asked, unless request-timeout is shorter
constexpr uint64_t kAnswerGraceMs = 100;     // for the others, once one node has answered
// How often the primaries are asked for open slots while none are (a few connections per
// primary and minute, for every proxy: cheap even with thousands of sidecars).
constexpr uint64_t kQuietOpenSlotsMs = 30000;

struct Candidate {
  std::string ip;
  uint16_t port;
};

}  // namespace

struct Refresher::Round {
  Trigger trigger;
  std::vector<Candidate> candidates;
  size_t next = 0;
  size_t outstanding = 0;
  uint64_t first_answer_ms = 0;  // loop time of the first good answer (0: none yet)
  bool finished = false;
  size_t resolving = 0;
  std::vector<cluster::TopologyAnswer> answers;
  std::string last_error;
};

Refresher::Refresher(Worker& worker) : worker_(worker), alive_(std::make_shared<bool>(true)) {}

Refresher::~Refresher() {
  *alive_ = false;
  if (hub_async_ != nullptr) {
    hub_->remove(hub_async_);  // before the handle goes: the hub wakes it from other threads
    net::closeAndDelete(hub_async_);
  }
}

void Refresher::attach(TopologyHub& hub, bool leader) {
  hub_ = &hub;
  follower_ = !leader;
  hub_async_ = new uv_async_t;
  hub_async_->data = this;
  uv_async_init(worker_.loop(), hub_async_,
                [](uv_async_t* a) { static_cast<Refresher*>(a->data)->onHub(); });
  if (leader) {
    hub.setLeader(hub_async_);
  } else {
    hub.addFollower(hub_async_);
  }
}

void Refresher::onHub() {
  if (follower_) {
    if (auto published = hub_->takeMap(hub_async_)) {
      worker_.installMap(published->first, published->second);
    }
    return;
  }
  for (TopologyHub::Ask& ask : hub_->takeAsks()) {
    for (const auto& [ip, port] : ask.ask_first) askFirst(ip, port);
    if (ask.migration) migration_seen_ = true;
    if (ask.trigger) trigger(*ask.trigger);
  }
}

void Refresher::noteMigration() {
  if (!follower_) {
    migration_seen_ = true;
    return;
  }
  const uint64_t now = uv_now(worker_.loop());
  if (last_migration_ask_ms_ != 0 && now - last_migration_ask_ms_ < 1000) return;
  last_migration_ask_ms_ = now;
  TopologyHub::Ask ask;
  ask.migration = true;
  hub_->ask(std::move(ask));
}

void Refresher::askFirst(const std::string& ip, uint16_t port) {
  constexpr size_t kMaxAskFirst = 2;  // leaves room for other nodes in the first batch asked
  const std::pair<std::string, uint16_t> node{ip, port};
  if (ask_first_.size() < kMaxAskFirst &&
      std::find(ask_first_.begin(), ask_first_.end(), node) == ask_first_.end()) {
    ask_first_.push_back(node);
  }
}

void Refresher::trigger(Trigger why) {
  if (follower_) {
    // The leader's own startup refresh serves every worker, and a manual refresh reaches the
    // leader's loop through Stats::refresh_requests.
    if (why == Trigger::kStartup || why == Trigger::kManual) return;
    TopologyHub::Ask ask;
    ask.trigger = why;
    ask.ask_first = std::exchange(ask_first_, {});
    hub_->ask(std::move(ask));
    return;
  }
  const uint64_t now = uv_now(worker_.loop());
  const uint64_t earliest =
      last_start_ms_ == 0 ? now : last_start_ms_ + worker_.config().refresh_min_interval_ms;
  const uint64_t at = std::max(now, earliest);
  if (due_ms_ == 0 || at < due_ms_) {
    due_ms_ = at;
    due_trigger_ = why;
  }
  if (!running_ && due_ms_ <= now) start();
}

void Refresher::tick(uint64_t now_ms) {
  if (follower_) {
    // The leader polls fast while its own view is degraded; a follower whose requests wait
    // for a primary asks it to, as often.
    const uint64_t every = std::max<uint64_t>(worker_.config().refresh_min_interval_ms, 250);
    if (worker_.degraded() && now_ms - last_ask_ms_ >= every) {
      last_ask_ms_ = now_ms;
      trigger(Trigger::kTimer);
    }
    return;
  }
  // While the cluster is degraded (a slot without a live primary, a node down, requests held),
  // poll fast so that held requests move to the new primary as soon as the cluster promotes one.
  const uint64_t interval =
      worker_.degraded()
          ? std::min<uint64_t>(worker_.config().refresh_interval_ms,
                               std::max<uint64_t>(worker_.config().refresh_min_interval_ms, 250))
          : worker_.config().refresh_interval_ms;
  if (!running_ && due_ms_ == 0 && now_ms - last_done_ms_ >= interval) {
    due_ms_ = now_ms;
    due_trigger_ = Trigger::kTimer;
  }
  if (!running_ && due_ms_ != 0 && now_ms >= due_ms_) start();
  // Others asked in the same round get a short grace after the first answer, not their whole
  // timeout: a hung node must not delay the map the live ones agree on.
  if (running_ && current_ && current_->first_answer_ms != 0 &&
      now_ms - current_->first_answer_ms >= kAnswerGraceMs) {
    finish(current_);
  }
}

void Refresher::start() {
  running_ = true;
  const Trigger why = due_trigger_;
  due_ms_ = 0;
  last_start_ms_ = uv_now(worker_.loop());
  worker_.stats().refreshes[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed);

  auto round = std::make_shared<Round>();
  round->trigger = why;
  current_ = round;
  // Nodes named by MOVED since the last refresh, then nodes of the current map (online ones in
  // random order), then the seeds.
  for (const auto& [ip, port] : ask_first_) addCandidate(*round, ip, port);
  ask_first_.clear();
  if (cluster::SlotMapPtr map = worker_.slotMap()) {
    std::vector<Candidate> known;
    for (const cluster::NodeInfo& n : map->nodes()) {
      if (n.health == cluster::Health::kOnline && !n.id.empty()) known.push_back({n.ip, n.port});
    }
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::shuffle(known.begin(), known.end(), rng);
    if (known.size() > kAskAtOnce) known.resize(kAskAtOnce);
    for (const Candidate& k : known) addCandidate(*round, k.ip, k.port);
  }
  const auto& seeds = worker_.config().seeds;
  // A hosts(5)-style file, re-read at every refresh, resolves seed names before DNS (tests and
  // environments without a resolver for the cluster's names).
  tools::HostsTable hosts;
  bool have_hosts = false;
  if (!worker_.config().hosts_file.empty()) {
    std::string error;
    have_hosts = hosts.load(worker_.config().hosts_file, &error);
    if (!have_hosts) round->last_error = error;
  }
  std::weak_ptr<bool> alive = alive_;
  for (const auto& seed : seeds) {
    sockaddr_storage literal;
    if (net::makeSockaddr(seed.host, seed.port, &literal)) {  // an IP: nothing to resolve
      addCandidate(*round, seed.host, seed.port);
      continue;
    }
    if (have_hosts) {
      const std::vector<std::string> ips = hosts.lookup(seed.host);
      if (!ips.empty()) {
        for (const std::string& ip : ips) addCandidate(*round, ip, seed.port);
        continue;
      }
    }
    struct Lookup {
      uv_getaddrinfo_t req;
      std::shared_ptr<Round> round;
      Refresher* self;
      std::weak_ptr<bool> alive;
      uint16_t port;
    };
    ++round->resolving;
    auto* lookup = new Lookup{{}, round, this, alive, seed.port};
    lookup->req.data = lookup;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const int rc = uv_getaddrinfo(
        worker_.loop(), &lookup->req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
          std::unique_ptr<Lookup> l(static_cast<Lookup*>(req->data));
          if (status == 0) {
            for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
              const std::string ip = net::ipString(ai->ai_addr);
              if (!ip.empty()) addCandidate(*l->round, ip, l->port);
            }
          } else {
            l->round->last_error = std::string("cannot resolve seed: ") + uv_strerror(status);
          }
          uv_freeaddrinfo(res);
          const auto alive_now = l->alive.lock();
          if (alive_now && *alive_now && --l->round->resolving == 0) {
            l->self->onResolved(l->round);
          }
        },
        seed.host.c_str(), nullptr, &hints);
    if (rc != 0) {
      delete lookup;
      round->last_error = "cannot resolve seed " + seed.host + ": " + uv_strerror(rc);
      --round->resolving;
    }
  }
  if (round->resolving == 0) onResolved(round);
}

void Refresher::addCandidate(Round& round, const std::string& ip, uint16_t port) {
  auto& c = round.candidates;
  if (std::none_of(c.begin(), c.end(),
                   [&](const Candidate& x) { return x.ip == ip && x.port == port; })) {
    c.push_back({ip, port});
  }
}

void Refresher::onResolved(std::shared_ptr<Round> round) { askNext(std::move(round)); }

void Refresher::askNext(std::shared_ptr<Round> round) {
  if (!round->answers.empty() || round->next >= round->candidates.size()) {
    finish(std::move(round));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  const size_t end = std::min(round->candidates.size(), round->next + kAskAtOnce);
  for (; round->next < end; ++round->next) {
    const Candidate c = round->candidates[round->next];
    ++round->outstanding;
    // CLUSTER SHARDS answers in well under a second; a node that does not is not waited for
    // longer than that even when request-timeout is long (a hung node must not hold the map).
    const uint32_t timeout =
        std::min(std::max(worker_.config().connect_timeout_ms, worker_.config().request_timeout_ms),
                 std::max(worker_.config().connect_timeout_ms, kAnswerTimeoutMs));
    backend::ControlConn::start(
        worker_.loop(), c.ip, c.port, worker_.auth(), std::string(kTopologyCommands), 3, timeout,
        [this, alive, round, c](bool ok, std::vector<std::string> frames,
                                const std::string& error) {
          const auto alive_now = alive.lock();
          if (!alive_now || !*alive_now || round->finished) return;
          const std::string source = c.ip + ":" + std::to_string(c.port);
          if (ok) {
            resp::Value info;
            resp::Value shards;
            resp::Value slots;
            cluster::TopologyAnswer answer;
            answer.source = source;
            std::string why;
            if (resp::parseValue(frames[0], &info) && info.type != resp::Type::kError) {
              answer.current_epoch = cluster::parseCurrentEpoch(info.str);
              answer.my_epoch = cluster::parseMyEpoch(info.str);
            }
            if (resp::parseValue(frames[1], &shards) && shards.type != resp::Type::kError) {
              answer.map = cluster::parseClusterShards(shards, 0, &why);
            } else if (resp::parseValue(frames[2], &slots) && slots.type != resp::Type::kError) {
              answer.map = cluster::parseClusterSlots(slots, 0, &why);
            } else if (shards.type == resp::Type::kError) {
              why = "CLUSTER SHARDS: " + std::string(shards.str);  // NOAUTH, cluster disabled...
            } else {
              why = "no CLUSTER SHARDS/SLOTS (is cluster mode enabled?)";
            }
            if (answer.map) {
              if (round->answers.empty()) round->first_answer_ms = uv_now(worker_.loop());
              round->answers.push_back(std::move(answer));
            } else {
              round->last_error = source + ": " + why;
            }
          } else {
            round->last_error = error;
          }
          if (--round->outstanding == 0) askNext(round);
        });
  }
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): `round` may be current_, reset below.
void Refresher::finish(std::shared_ptr<Round> round) {
  round->finished = true;
  current_.reset();
  running_ = false;
  last_done_ms_ = uv_now(worker_.loop());
  const std::optional<size_t> best = cluster::pickBest(round->answers);
  {
    std::lock_guard<std::mutex> lock(worker_.stats().mu);
    worker_.stats().last_trigger = kTriggerNames[static_cast<size_t>(round->trigger)];
    worker_.stats().last_refresh_unix_ms =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    worker_.stats().last_refresh_error = best ? "" : round->last_error;
  }
  if (!best) {
    worker_.stats().refresh_failures.fetch_add(1, std::memory_order_relaxed);
    if (consecutive_failures_ == 0 || !have_map_) {
      log::warn("topology refresh failed: " + round->last_error);
    }
    ++consecutive_failures_;
    // Try again soon, backing off up to the periodic interval.
    const uint64_t delay =
        std::min<uint64_t>(static_cast<uint64_t>(worker_.config().refresh_min_interval_ms)
                               << std::min<uint32_t>(consecutive_failures_, 6),
                           worker_.config().refresh_interval_ms);
    if (due_ms_ == 0) {
      due_ms_ = last_done_ms_ + delay;
      due_trigger_ = round->trigger;
    }
    return;
  }
  consecutive_failures_ = 0;
  have_map_ = true;
  const cluster::SlotMapPtr map = round->answers[*best].map;
  worker_.installMap(map, kTriggerNames[static_cast<size_t>(round->trigger)]);
  if (hub_ != nullptr) hub_->publish(map, kTriggerNames[static_cast<size_t>(round->trigger)]);
  // (Only the leader gets here: the open slots, like the map, are worked out once for all.)
  if (!checking_open_slots_ && (migration_seen_ || round->trigger == Trigger::kManual ||
                                last_done_ms_ >= open_slots_due_ms_)) {
    checkOpenSlots(*map);
  }
  if (due_ms_ != 0 && due_ms_ <= uv_now(worker_.loop())) start();
}

void Refresher::checkOpenSlots(const cluster::SlotMap& map) {
  struct Check {
    size_t remaining = 0;
    std::vector<cluster::OpenSlot> open;
  };
  auto check = std::make_shared<Check>();
  std::vector<Candidate> primaries;
  for (const cluster::NodeInfo& n : map.nodes()) {
    // (Primaries without slots too: a new node imports its first ones.)
    if (n.role == cluster::Role::kPrimary && n.health != cluster::Health::kFailed &&
        !n.id.empty()) {
      primaries.push_back({n.ip, n.port});
    }
  }
  if (primaries.empty()) return;
  checking_open_slots_ = true;
  migration_seen_ = false;
  check->remaining = primaries.size();
  std::weak_ptr<bool> alive = alive_;
  const uint32_t timeout = std::max(worker_.config().connect_timeout_ms, kAnswerTimeoutMs);
  for (const Candidate& c : primaries) {
    backend::ControlConn::start(
        worker_.loop(), c.ip, c.port, worker_.auth(), "*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n", 1,
        timeout,
        [this, alive, check](bool ok, std::vector<std::string> frames, const std::string&) {
          const auto alive_now = alive.lock();
          if (!alive_now || !*alive_now) return;
          resp::Value nodes;
          if (ok && resp::parseValue(frames[0], &nodes) && nodes.type != resp::Type::kError) {
            cluster::parseOpenSlots(nodes.str, &check->open);  // (a node that fails is left out)
          }
          if (--check->remaining > 0) return;
          checking_open_slots_ = false;
          open_slots_due_ms_ =
              uv_now(worker_.loop()) +
              (check->open.empty() ? kQuietOpenSlotsMs : worker_.config().refresh_interval_ms);
          std::lock_guard<std::mutex> lock(worker_.stats().mu);
          worker_.stats().open_slots = std::move(check->open);
        });
  }
}

}  // namespace slotproxy::server
