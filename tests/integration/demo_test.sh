#!/usr/bin/env bash
# The README's first command, minus setup and build: deploy/local/demo.sh in one-shot mode with
# the binary under test. It must serve the hit counter through slotproxy and leave nothing
# running behind it (cluster nodes, proxy, app).
#   demo_test.sh SLOTPROXY_BINARY
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$1"

listening() { ss -ltnH 2>/dev/null | grep -E ' (127\.0\.1\.[1-6]:6379|127\.0\.0\.1:(6379|8080|9379)) ' || true; }

if [[ -n "$(listening)" ]]; then
  echo "demo_test: the demo's addresses are in use (a demo left running?):" >&2
  listening >&2
  exit 1
fi
out="$(DEMO_ONESHOT=1 DEMO_SKIP_BUILD=1 SLOTPROXY_BIN="$bin" "$root/deploy/local/demo.sh" 2>&1)" || {
  echo "$out" >&2
  echo "demo_test: demo.sh failed" >&2
  exit 1
}
echo "$out"
hits="$(grep -cE 'I have been hit [0-9]+ times since deployment\.' <<<"$out" || true)"
if [[ $hits -ne 3 ]]; then
  echo "demo_test: expected 3 answers from the hit counter, got $hits" >&2
  exit 1
fi
if [[ -n "$(listening)" ]]; then
  echo "demo_test: still listening after the demo stopped:" >&2
  listening >&2
  exit 1
fi
echo "demo_test: ok"
