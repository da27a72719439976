// setThreadSlice on a thread of the test itself. Kernels before Linux 6.12 neither honour nor
// report a SCHED_OTHER slice: there the call must say so (kUnsupported), not claim success.

#include "proxy/server/sched_slice.h"

#include <gtest/gtest.h>

#include <thread>

namespace slotproxy::server {
namespace {

// Runs `f` on a fresh thread, so the test runner's own thread keeps its scheduling.
template <typename F>
void onNewThread(F f) {
  std::thread(f).join();
}

TEST(SchedSliceTest, SetsTheCallersSliceAndZeroRestoresTheDefault) {
  onNewThread([] {
    const int64_t initial = threadSliceNs(0);
    ASSERT_GE(initial, 0);
    std::string error;
    const SliceResult r = setThreadSlice(7, &error);
    if (initial == 0) {  // no slice reported: a kernel without custom slices
      EXPECT_EQ(r, SliceResult::kUnsupported) << error;
      return;
    }
    ASSERT_EQ(r, SliceResult::kSet) << error;
    EXPECT_EQ(threadSliceNs(0), 7'000'000);
    ASSERT_EQ(setThreadSlice(0, &error), SliceResult::kSet) << error;
    EXPECT_EQ(threadSliceNs(0), initial);
  });
}

TEST(SchedSliceTest, OnlyTheCallingThreadChanges) {
  const int64_t mine = threadSliceNs(0);
  onNewThread([] {
    std::string error;
    setThreadSlice(9, &error);
  });
  EXPECT_EQ(threadSliceNs(0), mine);
}

TEST(SchedSliceTest, AnUnknownThreadHasNoSlice) { EXPECT_EQ(threadSliceNs(1 << 30), -1); }

}  // namespace
}  // namespace slotproxy::server
