// Every command of the table with random arguments through route() and, when it splits, through
// planSplit/encodePart: never a crash (this binary runs under ASan+UBSan in CI), key indices
// always inside the arguments, and every split part a well-formed command.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "proxy/command/command_table.h"
#include "proxy/resp/decoder.h"
#include "proxy/router/router.h"

namespace slotproxy::router {
namespace {

TEST(RouteRandom, AnyArgumentsGiveARouteOrAnErrorWithKeysInBounds) {
  // Tokens that steer key extraction: numkeys values (negative, huge, zero), the keywords key
  // specs search for, and plain strings with and without hash tags.
  const std::vector<std::string> pool = {
      "0",       "1",     "2",     "3",     "-1",    "-5",        "99999999999999999999",
      "STREAMS", "STORE", "KEYS",  "BLOCK", "COUNT", "STOREDIST", "GROUP",
      "LEFT",    "AUTH",  "AUTH2", "BY",    "GET",   "{a}x",      "{b}y",
      "k",       "",      "{",     "}",     "x{}y",  "NUMKEYS",   "WITHSCORES"};
  std::mt19937 rng(20261129);
  std::vector<uint32_t> keys;
  SplitPlan plan;
  size_t routed = 0;
  for (uint16_t id = 0; id < command::count(); ++id) {
    const command::CommandInfo& cmd = command::byId(id);
    std::string name(cmd.name);
    std::string sub;
    if (const size_t bar = name.find('|'); bar != std::string::npos) {
      sub = name.substr(bar + 1);
      name.resize(bar);
    }
    for (int round = 0; round < 200; ++round) {
      std::vector<std::string> owned = {name};
      if (!sub.empty()) owned.push_back(sub);
      const size_t extra = rng() % 9;
      for (size_t i = 0; i < extra; ++i) owned.push_back(pool[rng() % pool.size()]);
      const std::vector<std::string_view> args(owned.begin(), owned.end());
      const Route r = route(args, &keys);
      for (const uint32_t k : keys) ASSERT_LT(k, args.size()) << cmd.name;
      if (r.kind == RouteKind::kError) {
        EXPECT_FALSE(r.error.empty());
        continue;
      }
      ++routed;
      if (r.kind != RouteKind::kSplit) continue;
      ASSERT_TRUE(planSplit(*r.cmd, args, keys, &plan)) << cmd.name;
      for (const SplitPart& part : plan.parts) {
        std::string bytes;
        encodePart(args, keys, plan, part, &bytes);
        resp::RequestDecoder decoder;
        size_t consumed = 0;
        ASSERT_EQ(decoder.decode(bytes, &consumed), resp::Status::kOk) << cmd.name;
        EXPECT_EQ(consumed, bytes.size());
      }
    }
  }
  EXPECT_GT(routed, 1000u);  // the generator reaches the routing paths, not only errors
}

}  // namespace
}  // namespace slotproxy::router
