#pragma once

// Scripts loaded through the proxy, by SHA1, so that an EVALSHA reaching a primary that lacks
// its script can be served anyway.
//
// Redis 7 keeps `SCRIPT LOAD`ed scripts in each node's memory only: they are not replicated,
// so a replica promoted by a failover, or a primary added later, answers EVALSHA with
// -NOSCRIPT. slotproxy remembers what went through its SCRIPT LOAD (the SHA1 is the nodes'
// reply), and on -NOSCRIPT loads the script on that node and runs the EVALSHA again, once. One
// cache for all worker threads; bounded (the oldest scripts go first); SCRIPT FLUSH through
// the proxy empties it.

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace slotproxy::server {

class ScriptCache {
 public:
  static constexpr size_t kMaxScripts = 4096;
  static constexpr size_t kMaxBytes = size_t{16} << 20;  // script bodies in all

  // `sha` as a node answered SCRIPT LOAD (40 hex digits, any case; anything else is ignored).
  // A body larger than kMaxBytes is not kept.
  void remember(std::string_view sha, std::string_view body);
  // The body of `sha` (any case), if it is kept.
  std::optional<std::string> find(std::string_view sha) const;
  void clear();
  // SCRIPT LOAD of every script kept, as one write (empty if none), and how many.
  std::string loadCommands(size_t* count) const;
  size_t size() const;
  size_t bytes() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> bodies_;  // lower-case sha -> body
  std::deque<std::string> order_;                        // shas, oldest first
  size_t bytes_ = 0;
};

// Whether `s` is a SHA1 as Redis writes it: 40 hex digits.
bool isSha1(std::string_view s);

}  // namespace slotproxy::server
