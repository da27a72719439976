// setThreadScheduling on a thread of the test itself. Kernels before Linux 6.12 neither honour
// nor report a SCHED_OTHER slice: there the call must say so (kUnsupported), not claim success;
// the policy is set everywhere.

#include "proxy/server/thread_sched.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace slotproxy::server {
namespace {

// Runs `f` on a fresh thread, so the test runner's own thread keeps its scheduling.
template <typename F>
void onNewThread(F f) {
  std::thread(f).join();
}

TEST(ThreadSchedTest, SetsTheCallersSliceAndZeroRestoresTheDefault) {
  onNewThread([] {
    const int64_t initial = threadSliceNs(0);
    ASSERT_GE(initial, 0);
    std::string error;
    const SliceResult r = setThreadScheduling(7, false, &error);
    if (initial == 0) {  // no slice reported: a kernel without custom slices
      EXPECT_EQ(r, SliceResult::kUnsupported) << error;
      return;
    }
    ASSERT_EQ(r, SliceResult::kSet) << error;
    EXPECT_EQ(threadSliceNs(0), 7'000'000);
    ASSERT_EQ(setThreadScheduling(0, false, &error), SliceResult::kSet) << error;
    EXPECT_EQ(threadSliceNs(0), initial);
  });
}

TEST(ThreadSchedTest, SwitchesBetweenBatchAndOtherKeepingTheSlice) {
  onNewThread([] {
    ASSERT_EQ(threadPolicy(0), SCHED_OTHER);
    const bool slices = threadSliceNs(0) > 0;
    std::string error;
    const SliceResult r = setThreadScheduling(5, true, &error);
    ASSERT_NE(r, SliceResult::kFailed) << error;
    EXPECT_EQ(threadPolicy(0), SCHED_BATCH);
    if (slices) {
      EXPECT_EQ(threadSliceNs(0), 5'000'000);
    }
    // Back to SCHED_OTHER: allowed without privileges too.
    ASSERT_NE(setThreadScheduling(5, false, &error), SliceResult::kFailed) << error;
    EXPECT_EQ(threadPolicy(0), SCHED_OTHER);
    if (slices) {
      EXPECT_EQ(threadSliceNs(0), 5'000'000);
    }
  });
}

TEST(ThreadSchedTest, OnlyTheCallingThreadChanges) {
  const int64_t mine = threadSliceNs(0);
  const int policy = threadPolicy(0);
  onNewThread([] {
    std::string error;
    setThreadScheduling(9, true, &error);
  });
  EXPECT_EQ(threadSliceNs(0), mine);
  EXPECT_EQ(threadPolicy(0), policy);
}

TEST(ThreadSchedTest, AnUnknownThreadHasNoSliceOrPolicy) {
  EXPECT_EQ(threadSliceNs(1 << 30), -1);
  EXPECT_EQ(threadPolicy(1 << 30), -1);
}

}  // namespace
}  // namespace slotproxy::server
