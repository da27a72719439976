#include "proxy/server/thread_sched.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slotproxy::server {
namespace {

// include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER0 (glibc 2.36 has no wrapper).
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(SchedAttr) == 48);

bool getAttr(int tid, SchedAttr* attr) {
  std::memset(attr, 0, sizeof(*attr));
  return syscall(SYS_sched_getattr, tid, attr, sizeof(*attr), 0) == 0;
}

}  // namespace

SliceResult setThreadScheduling(uint32_t ms, bool batch, std::string* error) {
  SchedAttr attr;
  if (!getAttr(0, &attr)) {
    *error = std::string("sched_getattr: ") + std::strerror(errno);
    return SliceResult::kFailed;
  }
  if (attr.sched_policy != SCHED_OTHER && attr.sched_policy != SCHED_BATCH) {
    return SliceResult::kSkipped;
  }
  const uint64_t want = uint64_t{ms} * 1000 * 1000;
  attr.size = sizeof(attr);
  attr.sched_policy = batch ? SCHED_BATCH : SCHED_OTHER;
  attr.sched_flags = 0;
  attr.sched_runtime = want;  // 0 restores the default
  attr.sched_deadline = attr.sched_period = 0;
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0) {
    *error = std::string("sched_setattr: ") + std::strerror(errno);
    return SliceResult::kFailed;
  }
  if (want != 0 && threadSliceNs(0) != static_cast<int64_t>(want)) return SliceResult::kUnsupported;
  return SliceResult::kSet;
}

int64_t threadSliceNs(int tid) {
  SchedAttr attr;
  if (!getAttr(tid, &attr)) return -1;
  return static_cast<int64_t>(attr.sched_runtime);
}

int threadPolicy(int tid) {
  SchedAttr attr;
  if (!getAttr(tid, &attr)) return -1;
  return static_cast<int>(attr.sched_policy);
}

}  // namespace slotproxy::server
