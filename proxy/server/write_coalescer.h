#pragma once

#include <cstdint>

namespace slotproxy::server {

// How long a worker lets the node writes queued by a loop turn wait, so that requests other
// clients are about to send leave in the same writes. Every write to a node costs a system call
// on both sides and, when the node sleeps, a wakeup, which on a VM can cost tens of microseconds
// when it crosses CPUs. No clock or socket here: the worker feeds it times and counts.
//
// Writes wait for one more turn (its poll does not block) when other clients have requests in
// flight (the worker decides: Worker::onCheck). The wait is then extended, turn by turn (the
// worker yields its CPU between them), while all of these are true:
//   - it has lasted less than max_ns;
//   - a request arrived within the last gap_ns (a quiet client set sends nothing more);
//   - fewer than `batch` requests are waiting (a batch that size already pays for its write);
//   - extending has paid lately: it is turned off while extensions gather on average less than
//     one request, and tried again every kProbeEvery flushes, so that a lone client does not
//     wait gap_ns for nothing on every request.
class WriteCoalescer {
 public:
  struct Params {
    uint64_t max_ns = 0;  // 0: one turn only
    uint64_t gap_ns = 0;
    uint64_t batch = 0;
  };
  static constexpr uint32_t kProbeEvery = 32;

  explicit WriteCoalescer(Params p) : p_(p) {}

  // A request was dispatched towards a node (a re-sent one too).
  void onRequest() { ++requests_; }

  bool waiting() const { return waiting_; }

  // The first turn that queued node writes: they wait for the next turn.
  void begin(uint64_t now_ns) {
    waiting_ = true;
    extended_ = false;
    start_ns_ = now_ns;
    arrival_ns_ = now_ns;
    seen_ = requests_;
  }

  // A later turn of the wait: whether the writes wait one turn more.
  bool extend(uint64_t now_ns) {
    if (requests_ != seen_) {
      seen_ = requests_;
      arrival_ns_ = now_ns;
    }
    if (p_.max_ns == 0 || requests_ - flushed_at_ >= p_.batch) return false;
    if (gain_x8_ < 8 && since_probe_ < kProbeEvery) return false;
    if (now_ns - start_ns_ >= p_.max_ns || now_ns - arrival_ns_ >= p_.gap_ns) return false;
    if (!extended_) {
      extended_ = true;
      extended_at_ = requests_;
    }
    return true;
  }

  // The waiting writes left.
  void flushed() {
    if (extended_) {
      // Exponential moving average (weight 1/8) of the requests each extension gathered, x8.
      const uint64_t gain = requests_ - extended_at_;
      gain_x8_ = gain_x8_ - gain_x8_ / 8 + static_cast<uint32_t>(gain < 64 ? gain : 64);
      since_probe_ = 0;
    } else if (waiting_ && since_probe_ < kProbeEvery) {
      ++since_probe_;
    }
    waiting_ = false;
    extended_ = false;
    flushed_at_ = requests_;
  }

  // Whether extensions are currently on (they have paid lately); for tests.
  bool extending() const { return gain_x8_ >= 8; }

 private:
  Params p_;
  uint64_t requests_ = 0;    // requests read, ever
  uint64_t flushed_at_ = 0;  // requests_ at the last flush
  uint64_t seen_ = 0;        // requests_ when arrival_ns_ was taken
  uint64_t extended_at_ = 0;
  uint64_t start_ns_ = 0;
  uint64_t arrival_ns_ = 0;
  uint32_t gain_x8_ = 8;  // starts on
  uint32_t since_probe_ = 0;
  bool waiting_ = false;
  bool extended_ = false;
};

}  // namespace slotproxy::server
