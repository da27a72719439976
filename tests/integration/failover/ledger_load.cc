#include "tests/integration/failover/ledger_load.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <sstream>

namespace slotproxy::testing {

int64_t msBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

std::string utcStamp(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  return stamp;
}

LedgerLoad::LedgerLoad(Options options) : options_(std::move(options)) {
  key_slots_.reserve(static_cast<size_t>(options_.keys));
  for (int i = 0; i < options_.keys; ++i) {
    key_slots_.push_back(slotOf(key(i)));
  }
}

LedgerLoad::~LedgerLoad() { stop(); }

void LedgerLoad::setAffected(std::function<bool(int slot)> affected) {
  affected_ = std::move(affected);
}

void LedgerLoad::start() {
  if (running_) {
    return;
  }
  running_ = true;
  stop_ = false;
  started_at_ = Clock::now();
  threads_ = std::vector<ThreadState>(static_cast<size_t>(options_.threads));
  for (size_t t = 0; t < threads_.size(); ++t) {
    threads_[t].acked.assign(static_cast<size_t>(options_.keys), 0);
    threads_[t].unknown.assign(static_cast<size_t>(options_.keys), 0);
    threads_[t].successes.reserve(1 << 16);
  }
  for (size_t t = 0; t < threads_.size(); ++t) {
    threads_[t].thread = std::thread([this, t] { run(static_cast<int>(t)); });
  }
}

void LedgerLoad::stop() {
  stop_ = true;
  for (ThreadState& t : threads_) {
    if (t.thread.joinable()) {
      t.thread.join();
    }
  }
  running_ = false;
}

namespace {

bool failed(const ReplyPtr& r) { return r == nullptr || r->type == REDIS_REPLY_ERROR; }

// Options::watch_every's increment. EXEC's array when it ran; else the first failure (null for
// a broken connection, an error reply), or EXEC's null after 1000 attempts (a livelock).
ReplyPtr watchedIncrement(redisContext* c, const std::string& key, int inc) {
  ReplyPtr exec;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    ReplyPtr w = command(c, {"WATCH", key});
    if (failed(w)) return w;
    ReplyPtr v = command(c, {"GET", key});
    if (failed(v)) return v;
    const long long value =
        v->type == REDIS_REPLY_STRING ? std::stoll(std::string(v->str, v->len)) : 0;
    ReplyPtr m = command(c, {"MULTI"});
    if (failed(m)) return m;
    ReplyPtr s = command(c, {"SET", key, std::to_string(value + inc)});
    if (failed(s)) {
      if (s != nullptr) command(c, {"DISCARD"});  // out of MULTI for the next request
      return s;
    }
    exec = command(c, {"EXEC"});
    if (exec == nullptr || exec->type != REDIS_REPLY_NIL) return exec;
  }
  return exec;
}

}  // namespace

void LedgerLoad::run(int index) {
  ThreadState& me = threads_[static_cast<size_t>(index)];
  std::mt19937 rng(static_cast<uint32_t>(std::random_device{}()) ^
                   static_cast<uint32_t>(index * 7919));
  std::uniform_int_distribution<int> pick_key(0, options_.keys - 1);
  std::uniform_int_distribution<int> pick_inc(1, options_.max_increment);
  ContextPtr conn;
  std::string last_connect_error;
  while (!stop_) {
    if (conn == nullptr) {
      std::string error;
      conn = connectTo(options_.proxy_address, 1000, options_.command_timeout_ms, &error);
      if (conn == nullptr) {
        // Not a request: nothing enters the ledger. Reported once per outage as an error, since
        // a proxy that refuses connections is not serving.
        if (error != last_connect_error) {
          me.errors.push_back({Clock::now(), std::chrono::system_clock::now(), index, -1,
                               "connect: " + error, false});
          errors_.fetch_add(1);
          last_connect_error = error;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // reconnect backoff
        continue;
      }
      last_connect_error.clear();
    }
    const int k = pick_key(rng);
    const int inc = pick_inc(rng);
    const bool watched = options_.watch_every > 0 &&
                         ++me.requests % static_cast<uint64_t>(options_.watch_every) == 0;
    ReplyPtr reply = watched ? watchedIncrement(conn.get(), key(k), inc)
                             : command(conn.get(), {"INCRBY", key(k), std::to_string(inc)});
    const Clock::time_point now = Clock::now();
    const auto ki = static_cast<size_t>(k);
    if (reply != nullptr && reply->type == (watched ? REDIS_REPLY_ARRAY : REDIS_REPLY_INTEGER)) {
      me.acked[ki] += inc;
      me.successes.push_back({now, k});
      successes_.fetch_add(1);
      if (affected_ && affected_(key_slots_[ki])) {
        affected_successes_.fetch_add(1);
      }
      continue;
    }
    me.unknown[ki] += inc;
    ErrorRecord e{now, std::chrono::system_clock::now(), index, k, "", false};
    if (reply == nullptr) {
      e.text = std::string("no reply: ") + conn->errstr;
      conn.reset();
    } else if (reply->type == REDIS_REPLY_ERROR) {
      e.text.assign(reply->str, reply->len);
      e.outcome_unknown = e.text.find("outcome unknown") != std::string::npos;
    } else {
      e.text = "unexpected reply: " + describe(reply.get());
    }
    me.errors.push_back(std::move(e));
    errors_.fetch_add(1);
  }
}

bool LedgerLoad::waitSuccesses(uint64_t n, int timeout_ms) const {
  const uint64_t target = successes() + n;
  return waitFor([&] { return successes() >= target; }, timeout_ms, 10);
}

bool LedgerLoad::waitAffectedSuccesses(uint64_t n, int timeout_ms) const {
  const uint64_t target = affectedSuccesses() + n;
  return waitFor([&] { return affectedSuccesses() >= target; }, timeout_ms, 10);
}

std::vector<LedgerLoad::ErrorRecord> LedgerLoad::errors() const {
  std::vector<ErrorRecord> out;
  for (const ThreadState& t : threads_) {
    out.insert(out.end(), t.errors.begin(), t.errors.end());
  }
  std::sort(out.begin(), out.end(),
            [](const ErrorRecord& a, const ErrorRecord& b) { return a.at < b.at; });
  return out;
}

int LedgerLoad::outcomeUnknownErrors() const {
  int n = 0;
  for (const ErrorRecord& e : errors()) {
    n += e.outcome_unknown ? 1 : 0;
  }
  return n;
}

int LedgerLoad::otherErrors() const {
  int n = 0;
  for (const ErrorRecord& e : errors()) {
    n += e.outcome_unknown ? 0 : 1;
  }
  return n;
}

int64_t LedgerLoad::longestStallMs() const {
  int64_t longest = 0;
  for (const ThreadState& t : threads_) {
    Clock::time_point prev = started_at_;
    for (const Success& s : t.successes) {
      longest = std::max(longest, msBetween(prev, s.at));
      prev = s.at;
    }
  }
  return longest;
}

std::optional<Clock::time_point> LedgerLoad::firstSuccessAfter(
    Clock::time_point t, const std::function<bool(int slot)>& affected) const {
  std::optional<Clock::time_point> best;
  for (const ThreadState& th : threads_) {
    // Each thread's successes are in time order.
    auto it = std::lower_bound(th.successes.begin(), th.successes.end(), t,
                               [](const Success& s, Clock::time_point x) { return s.at < x; });
    for (; it != th.successes.end(); ++it) {
      if (best && it->at >= *best) {
        break;
      }
      if (affected(key_slots_[static_cast<size_t>(it->key)])) {
        best = it->at;
        break;
      }
    }
  }
  return best;
}

LedgerLoad::Verdict LedgerLoad::verify(LocalCluster& cluster) const {
  Verdict v;
  std::ostringstream report;
  int reported = 0;
  for (int k = 0; k < options_.keys; ++k) {
    int64_t acked = 0;
    int64_t unknown = 0;
    for (const ThreadState& t : threads_) {
      acked += t.acked[static_cast<size_t>(k)];
      unknown += t.unknown[static_cast<size_t>(k)];
    }
    v.acked_total += acked;
    std::string text;
    bool exists = false;
    bool read = false;
    for (int attempt = 0; attempt < 3 && !read; ++attempt) {
      read = cluster.getDirect(key(k), &text, &exists);
    }
    if (!read) {
      ++v.keys_unreadable;
      if (reported++ < 10) {
        report << "  " << key(k) << " (slot " << slotOfKey(k) << "): cannot read it\n";
      }
      continue;
    }
    int64_t value = 0;
    if (exists) {
      try {
        value = std::stoll(text);
      } catch (...) {
        ++v.keys_unreadable;
        if (reported++ < 10) {
          report << "  " << key(k) << ": not an integer: " << text << "\n";
        }
        continue;
      }
    }
    if (value < acked) {
      ++v.keys_lost;
      v.lost_total += acked - value;
    } else if (value > acked + unknown) {
      ++v.keys_excess;
      v.excess_total += value - acked - unknown;
    } else {
      continue;
    }
    if (reported++ < 10) {
      report << "  " << key(k) << " (slot " << slotOfKey(k) << "): value " << value << ", acked "
             << acked << ", unknown " << unknown << "\n";
    }
  }
  v.ok = v.keys_lost == 0 && v.keys_excess == 0 && v.keys_unreadable == 0;
  std::ostringstream summary;
  summary << "ledger: " << v.acked_total << " acknowledged increments; " << v.keys_lost
          << " keys lost " << v.lost_total << " acknowledged increments, " << v.keys_excess
          << " keys have " << v.excess_total << " more than acked + unknown (applied twice), "
          << v.keys_unreadable << " keys unreadable\n"
          << report.str();
  v.report = summary.str();
  return v;
}

std::string LedgerLoad::describeErrors(size_t max) const {
  std::ostringstream out;
  const std::vector<ErrorRecord> all = errors();
  for (size_t i = 0; i < all.size() && i < max; ++i) {
    const ErrorRecord& e = all[i];
    out << "  " << utcStamp(e.wall) << " (+" << msBetween(started_at_, e.at) << " ms) thread "
        << e.thread << " "
        << (e.key >= 0 ? key(e.key) + " (slot " + std::to_string(slotOfKey(e.key)) + ")" : "-")
        << ": " << e.text << "\n";
  }
  if (all.size() > max) {
    out << "  ... " << all.size() - max << " more\n";
  }
  return out.str();
}

}  // namespace slotproxy::testing
