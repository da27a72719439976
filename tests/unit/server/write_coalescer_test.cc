// WriteCoalescer's decisions with a hand-driven clock: when the wait of node writes is extended
// and when it ends, and how extensions that gather nothing turn themselves off and are retried.

#include "proxy/server/write_coalescer.h"

#include <gtest/gtest.h>

namespace slotproxy::server {
namespace {

constexpr uint64_t kUs = 1000;
constexpr WriteCoalescer::Params kParams{150 * kUs, 30 * kUs, 16};

// One wait that starts at `t` after `before` requests and sees one request every `every`
// microseconds (0: none; at most one per 5 us turn) while it lasts; returns how many turns
// were extended.
int runWait(WriteCoalescer& h, uint64_t& t, int before, uint64_t every) {
  for (int i = 0; i < before; ++i) h.onRequest();
  h.begin(t);
  int extended = 0;
  uint64_t next = t + every * kUs;
  for (;;) {
    t += 5 * kUs;  // one turn
    if (every != 0 && t >= next) {
      h.onRequest();
      next += every * kUs;
    }
    if (!h.extend(t)) break;
    ++extended;
  }
  h.flushed();
  return extended;
}

TEST(WriteCoalescerTest, ZeroMaxWaitsOneTurnOnly) {
  WriteCoalescer h({0, 30 * kUs, 16});
  uint64_t t = 0;
  EXPECT_EQ(runWait(h, t, 1, 1), 0);
}

TEST(WriteCoalescerTest, ExtendsWhileRequestsComeUntilTheMaximum) {
  WriteCoalescer h(kParams);
  uint64_t t = 0;
  // One request every 20 us never reaches 16 within 150 us: the wait ends at its maximum.
  const int turns = runWait(h, t, 1, 20);
  EXPECT_EQ(turns, 29);  // turns at 5..145 us extend it; the one at 150 us ends it
}

TEST(WriteCoalescerTest, EndsAfterAGapWithoutRequests) {
  WriteCoalescer h(kParams);
  uint64_t t = 0;
  // Nothing arrives after begin(): extended until 30 us have passed without a request.
  EXPECT_EQ(runWait(h, t, 1, 0), 5);
}

TEST(WriteCoalescerTest, EndsWhenABatchIsWaiting) {
  WriteCoalescer h(kParams);
  uint64_t t = 0;
  EXPECT_EQ(runWait(h, t, 16, 1), 0);  // 16 waiting at the first turn: no extension
  EXPECT_EQ(runWait(h, t, 10, 1), 5);  // one more per turn: extended at 11..15 waiting
}

TEST(WriteCoalescerTest, ExtensionsThatGatherNothingTurnOffAndAreRetried) {
  WriteCoalescer h(kParams);
  uint64_t t = 0;
  ASSERT_TRUE(h.extending());
  int waits = 0;
  while (h.extending()) {  // a lone client: each extension waits out the gap for nothing
    ASSERT_EQ(runWait(h, t, 1, 0), 5);
    ASSERT_LT(++waits, 10);
  }
  // Off: the next waits end after their first turn, until a probe.
  for (uint32_t i = 0; i < WriteCoalescer::kProbeEvery; ++i) {
    ASSERT_EQ(runWait(h, t, 1, 0), 0) << i;
  }
  EXPECT_EQ(runWait(h, t, 1, 0), 5);  // the probe, which again gathers nothing
  EXPECT_FALSE(h.extending());
  EXPECT_EQ(runWait(h, t, 1, 0), 0);

  // Busy clients again: the next probe gathers requests and extensions come back on.
  for (uint32_t i = 0; i + 1 < WriteCoalescer::kProbeEvery; ++i) runWait(h, t, 1, 0);
  EXPECT_GT(runWait(h, t, 1, 10), 0);
  EXPECT_TRUE(h.extending());
  EXPECT_GT(runWait(h, t, 1, 10), 0);
}

}  // namespace
}  // namespace slotproxy::server
