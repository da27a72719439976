#pragma once

// The one assertion of the fuzz targets: a broken invariant aborts, which libFuzzer reports as a
// finding (with the input saved) and the corpus replay test as a failure.

#include <cstdio>
#include <cstdlib>

namespace slotproxy::fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace slotproxy::fuzz
