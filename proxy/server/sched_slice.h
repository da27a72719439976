#pragma once

// The time slice a worker thread asks of the Linux scheduler (config key sched-slice).
//
// EEVDF (Linux 6.12+) lets a SCHED_OTHER/SCHED_BATCH thread choose its slice with
// sched_setattr(sched_runtime). A longer slice gives the thread a later virtual deadline: when
// woken it lets the running task finish its turn instead of preempting it, so it wakes less
// often and finds more requests per wakeup. Older kernels accept the call and ignore the value.

#include <cstdint>
#include <string>

namespace slotproxy::server {

enum class SliceResult {
  kSet,          // the kernel reports the requested slice
  kUnsupported,  // the call succeeded but the kernel keeps its own slice (before Linux 6.12)
  kSkipped,      // a real-time or deadline policy: left alone
  kFailed,       // sched_getattr/sched_setattr failed (seccomp, permissions): *error says why
};

// Sets the calling thread's slice to `ms` milliseconds (0: the kernel's default), keeping its
// policy and nice value.
SliceResult setThreadSlice(uint32_t ms, std::string* error);

// The slice of thread `tid` (0: the caller) in nanoseconds, or -1 if it cannot be read.
int64_t threadSliceNs(int tid);

}  // namespace slotproxy::server
