#pragma once

// What every failover scenario shares: the proxy flags, the `slotproxy nodes-conf` runner, the
// polls that time the cluster's own recovery, and the closing checks with the summary line
//   SCENARIO name: errors=N (outcome_unknown=U, other=O) longest_stall_ms=S
//   recover_after_cluster_ok_ms=R
// (one line) that goes into the closing note.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/failover/ledger_load.h"
#include "tests/integration/fixture/local_cluster.h"

namespace slotproxy::testing {

inline constexpr int kNodeTimeoutMs = 2000;  // cluster-node-timeout (the fixture's default)
inline constexpr int kLoadThreads = 8;
// "Outcome unknown" is the answer for a write in flight on a connection that died: at most one
// per client thread per fault, and a scenario has at most two faults that can cut connections.
inline constexpr int kMaxOutcomeUnknown = kLoadThreads * 2;
// The proxy must serve an affected slot within this long of the cluster itself being ok again.
inline constexpr int kRecoverBoundMs = kNodeTimeoutMs + 2000;
inline constexpr int kClusterTimeoutMs = 30000;

// 127.0.<net>.100, the proxy's address.
std::string proxyIp(int net);
// 127.0.<net>.<kMovedNodeHost + k>, the k-th "new pod IP".
std::string movedIp(int net, int k);

// Flags that make the proxy quick and the tests deterministic: short request and connect
// timeouts, a hold far longer than any failover here, a 1 s periodic refresh.
std::vector<std::string> fastProxyFlags();
// `flags` with the value after `name` replaced by `value` (the flag must be there).
std::vector<std::string> withFlag(std::vector<std::string> flags, const std::string& name,
                                  const std::string& value);

// The fault's target: the primary of slot 0, its replica, and the primary's slots.
struct Target {
  int primary = -1;
  int replica = -1;
  std::function<bool(int)> affected;
};
// The start every single-fault scenario shares: starts the cluster and the proxy (constructed,
// not started), picks the Target, and runs `load` (built on proxy.address()) on its slots until
// 1000 of its writes there succeeded. False, with a fatal gtest failure, if any step failed.
bool startUnderLoad(LocalCluster& cluster, ProxyProcess& proxy, LedgerLoad& load, Target* target);

// Runs `slotproxy <args>` (ProxyProcess::binaryPath()) to completion with its output appended to
// `log_path`. Returns the exit code, or -1 with `error` if it could not run.
int runSlotproxy(const std::vector<std::string>& args, const std::string& log_path,
                 std::string* error);

// `slotproxy nodes-conf --file <node i's nodes.conf> --myself-ip new_ip <extra...>`, the node
// being down. False with `error` (and the tool's output) unless it exits 0.
bool rewriteNodesConf(LocalCluster& cluster, int i, const std::string& new_ip,
                      const std::vector<std::string>& extra, std::string* error);

// The slots node `node` owns now per a healthy node's CLUSTER SLOTS, as a predicate over slots
// (a snapshot: later changes do not show). Empty predicate result for every slot on failure.
std::function<bool(int)> slotsOwnedBy(LocalCluster& cluster, int node);
// A predicate true for slots in [first, last].
std::function<bool(int)> slotRange(int first, int last);

// Polls until a healthy node (cluster_state:ok) names `node` as the primary of `slot`; returns
// the time it first saw that, nullopt on timeout.
std::optional<Clock::time_point> waitPrimary(LocalCluster& cluster, int slot, int node,
                                             int timeout_ms);

// GET http://<admin>/metrics from the proxy ("" on failure), and the sum of a metric's samples
// over all label sets (nullopt if absent).
std::string fetchMetrics(const std::string& admin_address);
std::optional<double> metricSum(const std::string& metrics_text, const std::string& name);

// Call once the proxy has served writes on a promoted replica: by then the failover is over for
// the proxy too (DESIGN: failover_seconds runs from "primary lost" until "its slots were served
// again"), so slotproxy_failovers_total must reach `at_least` within a few refresh intervals.
void expectFailoverCounted(ProxyProcess& proxy, int at_least = 1);

// Prints "EVENT <UTC time> <what>" (the clock of the proxy's log) for reading logs side by side.
void logEvent(const std::string& what);

// Lines of the proxy log containing any of `needles` (last `max` of them), for reports. Only the
// last run counts: lines before the last "==== ... fixture starts" header are skipped.
std::string grepLog(const std::string& path, const std::vector<std::string>& needles,
                    size_t max = 30);

// The closing checks of a scenario. Waits for more successes on the affected slots (the proxy
// serves normally again), stops the load, waits for the cluster to be ok and its replicas
// synced, then checks (gtest EXPECTs): the ledger against the cluster; the only client errors
// are "outcome unknown", at most kMaxOutcomeUnknown; the first success on an affected slot came
// at most kRecoverBoundMs after `cluster_ok_at`; slotproxy_outcome_unknown_total equals the
// "outcome unknown" errors the clients saw and slotproxy_failovers_total is at least
// `min_failovers`; the proxy is alive and shuts down cleanly with
// no sanitizer report. Prints the SCENARIO summary line.
struct ScenarioEnd {
  std::string name;
  Clock::time_point cluster_ok_at;    // the cluster itself recovered (new primary, state ok)
  std::function<bool(int)> affected;  // slots hit by the fault
  int max_outcome_unknown = kMaxOutcomeUnknown;
  int min_failovers = 0;  // slotproxy_failovers_total must reach this
};
void finishScenario(const ScenarioEnd& end, LocalCluster& cluster, ProxyProcess& proxy,
                    LedgerLoad& load);

}  // namespace slotproxy::testing
