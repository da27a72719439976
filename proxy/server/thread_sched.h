#pragma once

// How worker threads ask the Linux scheduler to treat them (config keys sched-slice and
// sched-batch).
//
// Slice: EEVDF (Linux 6.12+) lets a SCHED_OTHER/SCHED_BATCH thread choose its slice with
// sched_setattr(sched_runtime). A longer slice gives the thread a later virtual deadline: when
// woken it lets the running task finish its turn instead of preempting it, so it wakes less
// often and finds more requests per wakeup. Older kernels accept the call and ignore the value.
//
// Batch: a SCHED_BATCH thread never preempts the running task when it wakes (it runs when that
// task sleeps, on another CPU, or at the next tick), with the same CPU share as SCHED_OTHER.
// A sidecar is woken by its application's requests: preempting the application to take them
// only delays the application's next ones. Any unprivileged thread may switch between
// SCHED_OTHER and SCHED_BATCH.

#include <cstdint>
#include <string>

namespace slotproxy::server {

enum class SliceResult {
  kSet,          // the kernel reports the requested slice (and policy)
  kUnsupported,  // the policy is set, but the kernel keeps its own slice (before Linux 6.12)
  kSkipped,      // a real-time or deadline policy: left alone
  kFailed,       // sched_getattr/sched_setattr failed (seccomp, permissions): *error says why
};

// Sets the calling thread's slice to `ms` milliseconds (0: the kernel's default) and its policy
// to SCHED_BATCH (`batch`) or SCHED_OTHER, keeping its nice value.
SliceResult setThreadScheduling(uint32_t ms, bool batch, std::string* error);

// The slice of thread `tid` (0: the caller) in nanoseconds, or -1 if it cannot be read.
int64_t threadSliceNs(int tid);

// The scheduling policy of thread `tid` (0: the caller): SCHED_OTHER, SCHED_BATCH..., or -1.
int threadPolicy(int tid);

}  // namespace slotproxy::server
