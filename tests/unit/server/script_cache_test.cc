// ScriptCache: the scripts loaded through the proxy, by SHA1 (no sockets).

#include "proxy/server/script_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace slotproxy::server {
namespace {

std::string sha(int i) {  // 40 hex digits, distinct for each i
  std::string s = std::to_string(i);
  return std::string(40 - s.size(), 'a') + s;
}

TEST(ScriptCacheTest, FindsWhatWasLoadedByShaInAnyCase) {
  ScriptCache cache;
  const std::string upper = "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB";
  cache.remember(upper, "return 1");
  EXPECT_EQ(cache.find("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"), "return 1");
  EXPECT_EQ(cache.find(upper), "return 1");
  EXPECT_EQ(cache.find(sha(1)), std::nullopt);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 8u);
  cache.clear();
  EXPECT_EQ(cache.find(upper), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ScriptCacheTest, IgnoresWhatIsNotASha1) {
  ScriptCache cache;
  for (const std::string& bad :
       {std::string(), std::string(39, 'a'), std::string(41, 'a'), std::string(39, 'a') + "g",
        std::string("-ERR no") + std::string(33, 'a')}) {
    cache.remember(bad, "return 1");
    EXPECT_EQ(cache.find(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(isSha1(sha(7)));
  EXPECT_FALSE(isSha1("xyz"));
}

TEST(ScriptCacheTest, KeepsTheNewestWithinItsBounds) {
  ScriptCache cache;
  for (int i = 0; i < static_cast<int>(ScriptCache::kMaxScripts) + 10; ++i) {
    cache.remember(sha(i), "return " + std::to_string(i));
  }
  EXPECT_EQ(cache.size(), ScriptCache::kMaxScripts);
  EXPECT_EQ(cache.find(sha(9)), std::nullopt);  // the oldest went first
  EXPECT_EQ(cache.find(sha(10)), "return 10");
  EXPECT_EQ(cache.find(sha(ScriptCache::kMaxScripts + 9)),
            "return " + std::to_string(ScriptCache::kMaxScripts + 9));

  // Bytes: a body too large for the cache is not kept; a large one pushes out older ones.
  cache.clear();
  cache.remember(sha(1), std::string(ScriptCache::kMaxBytes + 1, 'x'));
  EXPECT_EQ(cache.size(), 0u);
  cache.remember(sha(1), std::string(ScriptCache::kMaxBytes / 2, 'x'));
  cache.remember(sha(2), std::string(ScriptCache::kMaxBytes / 2, 'y'));
  EXPECT_EQ(cache.size(), 2u);
  cache.remember(sha(3), "return 3");
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find(sha(1)), std::nullopt);
  EXPECT_LE(cache.bytes(), ScriptCache::kMaxBytes);
  // The same SHA1 again changes nothing (and does not count twice).
  const size_t bytes = cache.bytes();
  cache.remember(sha(3), "return 3");
  EXPECT_EQ(cache.bytes(), bytes);
}

}  // namespace
}  // namespace slotproxy::server
