// libFuzzer target for the nodes.conf parser and rewrite behind `slotproxy nodes-conf`, which runs
// in a Redis pod's entrypoint on a file that a crash or a full disk may have cut short. The input
// is a nodes.conf; anything broken aborts:
//  - a refused file gets an error text;
//  - an accepted file serializes back byte for byte (what the tool does not change, it keeps);
//  - after the rewrite (myself to a new IPv4 or IPv6 address, peers to what a made-up resolver
//    answers for their hostnames) the text parses again, with the new myself address, every
//    change reported, and nothing but addresses changed.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/tools/nodes_conf.h"
#include "tests/fuzz/fuzz_check.h"

namespace slotproxy::tools {
namespace {

using fuzz::check;

// A resolver that needs no network: hostnames starting with 'x' do not resolve, those starting
// with '6' resolve to IPv6, the others to IPv4, derived from the name's length.
std::vector<std::string> fakeResolve(const std::string& name) {
  if (name.empty() || name[0] == 'x') return {};
  const std::string n = std::to_string(name.size() % 250);
  if (name[0] == '6') return {"fd00::" + n, "10.0.0." + n};
  return {"10.0.0." + n};
}

void checkRewrite(const NodesConf& parsed, const std::string& myself_ip, bool resolve_peers) {
  NodesConf conf = parsed;
  const ResolveFn resolve = fakeResolve;
  std::vector<std::string> warnings;
  const std::vector<NodesConfChange> changes =
      rewriteNodesConf(&conf, myself_ip, resolve_peers ? &resolve : nullptr, &warnings);
  check(conf.myself() != nullptr && conf.myself()->ip == myself_ip, "myself has the new IP");
  size_t changed = 0;
  for (size_t i = 0; i < conf.nodes.size(); ++i) {
    const NodesConfLine& before = parsed.nodes[i];
    const NodesConfLine& after = conf.nodes[i];
    check(after.id == before.id && after.port == before.port && after.cport == before.cport &&
              after.hostname == before.hostname && after.flags == before.flags &&
              after.rest == before.rest && after.aux == before.aux,
          "only addresses change");
    if (after.ip != before.ip) ++changed;
    if (!resolve_peers && !after.myself) check(after.ip == before.ip, "peers kept unless asked");
  }
  check(changes.size() == changed, "every change reported");
  for (const NodesConfChange& c : changes) {
    check(c.node_index < conf.nodes.size() && conf.nodes[c.node_index].ip == c.new_ip &&
              parsed.nodes[c.node_index].ip == c.old_ip && c.old_ip != c.new_ip,
          "a change names its node and both addresses");
  }
  const std::string text = serialize(conf);
  NodesConf again;
  std::string error;
  check(parseNodesConf(text, &again, &error), "a rewritten file parses");
  check(serialize(again) == text, "a rewritten file serializes back");
  check(again.myself() != nullptr && again.myself()->ip == myself_ip, "myself IP survives");
}

}  // namespace
}  // namespace slotproxy::tools

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slotproxy::tools;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  NodesConf conf;
  std::string error;
  if (!parseNodesConf(text, &conf, &error)) {
    check(!error.empty(), "a refused file says why");
    return 0;
  }
  check(serialize(conf) == text, "an accepted file serializes back byte for byte");
  check(conf.myself() != nullptr, "an accepted file has a myself line");
  checkRewrite(conf, "10.1.2.3", false);
  checkRewrite(conf, "fd00::42", true);
  return 0;
}
