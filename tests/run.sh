#!/usr/bin/env bash
# Every test, from a clean clone on Debian 12:
#   1. deploy/setup.sh installs what is missing (idempotent)
#   2. the `dev` preset: ASan + UBSan build of everything (warnings are errors)
#   3. ctest: unit, integration (real Redis Clusters on 127.0.x.y, started by the tests) and the
#      failover scenarios, in parallel
#   4. the `tsan` preset: the same tests under ThreadSanitizer (workers, the admin thread and
#      the topology hub share state; the chaos test, with two workers, for 30 s)
#   5. the `fuzz` preset (clang, libFuzzer): each fuzz target (tests/fuzz) for 10 s
# Extra arguments go to the dev ctest run (e.g. `tests/run.sh -L unit`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="$(nproc)"

deploy/setup.sh

cmake --preset dev >/dev/null
cmake --build --preset dev -j"$jobs"
ctest --preset dev -j"$jobs" --timeout 600 "$@"

if [[ $# -eq 0 ]]; then
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j"$jobs"
  ctest --preset tsan -j"$jobs" --timeout 600 -E chaos
  SLOTPROXY_CHAOS_SECONDS=30 ctest --preset tsan -R chaos

  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j"$jobs" --target fuzz_targets
  ctest --test-dir build/fuzz -L fuzz --output-on-failure
fi
