#pragma once

// A write load with a ledger, for the failover scenarios (tests/integration/failover/*_test.cc).
//
// LedgerLoad runs `threads` client threads, each with its own hiredis connection to the proxy,
// each sending INCRBY <counter> <1..max_increment> on `keys` counters spread over all slots, one
// request at a time. Every reply is recorded:
//   - an integer reply is an acknowledged increment: the ledger adds it to the key's `acked`;
//   - an error reply is recorded with its text and time; its increment is added to the key's
//     `unknown` sum (an "outcome unknown" error may or may not have been applied; any other error
//     is already a test failure, and counting it as unknown keeps the ledger check meaningful);
//   - no reply at all (the connection to the proxy broke or timed out) is recorded as an error
//     of kind "other", its increment counted as unknown, and the thread reconnects.
// With watch_every, some increments go through WATCH ... EXEC instead (Options::watch_every).
// After stop(), verify() reads every counter DIRECTLY from the cluster and checks, per key,
// acked <= value <= acked + unknown: no acknowledged increment lost, none applied twice.
//
// Times are steady_clock; successes are kept as (time, key) so that recovery can be measured
// afterwards (firstSuccessAfter) without synchronising with the load.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fixture/local_cluster.h"

namespace slotproxy::testing {

using Clock = std::chrono::steady_clock;

// Milliseconds from `from` to `to` (negative if `to` is earlier).
int64_t msBetween(Clock::time_point from, Clock::time_point to);

// "HH:MM:SS.mmm" UTC, the clock of the proxy's and Redis's logs.
std::string utcStamp(std::chrono::system_clock::time_point t);

class LedgerLoad {
 public:
  struct Options {
    std::string proxy_address;  // "ip:port"
    int threads = 8;
    int keys = 1000;
    std::string key_prefix = "ledger:";
    int max_increment = 9;
    int command_timeout_ms = 30000;  // per request; longer than the proxy's failover-hold
    // Every Nth request of a thread (0: none) is an optimistic increment instead of INCRBY:
    // WATCH, GET, MULTI, SET value+inc, EXEC, again while EXEC answers null (the key changed, or
    // the proxy lost the watch to a failover). EXEC's array is the acknowledgement.
    int watch_every = 0;
  };

  struct ErrorRecord {
    Clock::time_point at;
    std::chrono::system_clock::time_point wall;  // to match the proxy's log (UTC)
    int thread = 0;
    int key = 0;
    std::string text;  // the error reply, or "no reply: <hiredis errstr>"
    bool outcome_unknown = false;
  };

  struct Verdict {
    bool ok = false;           // every key within [acked, acked + unknown], all keys read
    int64_t acked_total = 0;   // sum of acknowledged increments
    int64_t lost_total = 0;    // sum over keys of (acked - value) where value < acked
    int64_t excess_total = 0;  // sum over keys of (value - acked - unknown) where positive
    int keys_lost = 0;         // keys with value < acked
    int keys_excess = 0;       // keys with value > acked + unknown
    int keys_unreadable = 0;   // getDirect failed
    std::string report;        // the first few offending keys, for the failure message
  };

  explicit LedgerLoad(Options options);
  ~LedgerLoad();  // stop()
  LedgerLoad(const LedgerLoad&) = delete;
  LedgerLoad& operator=(const LedgerLoad&) = delete;

  void start();
  void stop();  // asks the threads to finish their current request, joins them; idempotent

  std::string key(int i) const { return options_.key_prefix + std::to_string(i); }
  int slotOfKey(int i) const { return key_slots_[static_cast<size_t>(i)]; }
  const Options& options() const { return options_; }
  Clock::time_point startedAt() const { return started_at_; }

  // Live counters (any thread).
  uint64_t successes() const { return successes_.load(); }
  uint64_t errorCount() const { return errors_.load(); }
  // Successes on keys whose slot satisfies `affected`, counted live.
  void setAffected(std::function<bool(int slot)> affected);  // call before start()
  uint64_t affectedSuccesses() const { return affected_successes_.load(); }

  // Polls until `n` more successes (total / on affected slots) than when called, or timeout.
  bool waitSuccesses(uint64_t n, int timeout_ms) const;
  bool waitAffectedSuccesses(uint64_t n, int timeout_ms) const;

  // After stop():
  std::vector<ErrorRecord> errors() const;  // every error, in time order
  int outcomeUnknownErrors() const;
  int otherErrors() const;
  // The longest gap between two successful replies of one thread (from start() to its first
  // success counts too), in ms.
  int64_t longestStallMs() const;
  // The earliest success at or after `t` on a key whose slot satisfies `affected`.
  std::optional<Clock::time_point> firstSuccessAfter(
      Clock::time_point t, const std::function<bool(int slot)>& affected) const;
  // Reads every counter from the cluster (LocalCluster::getDirect) and compares with the ledger.
  Verdict verify(LocalCluster& cluster) const;
  // Up to `max` errors as text lines ("12:00:01.234 (+1234 ms) thread 3 ledger:17 (slot 9):
  // <text>"), for messages.
  std::string describeErrors(size_t max = 20) const;

 private:
  struct Success {
    Clock::time_point at;
    int key;
  };
  struct ThreadState {
    std::vector<int64_t> acked;    // per key
    std::vector<int64_t> unknown;  // per key
    std::vector<Success> successes;
    std::vector<ErrorRecord> errors;
    std::thread thread;
    uint64_t requests = 0;
  };

  void run(int index);

  Options options_;
  std::vector<int> key_slots_;
  std::vector<ThreadState> threads_;
  std::function<bool(int)> affected_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> successes_{0};
  std::atomic<uint64_t> affected_successes_{0};
  std::atomic<uint64_t> errors_{0};
  Clock::time_point started_at_{};
  bool running_ = false;
};

}  // namespace slotproxy::testing
