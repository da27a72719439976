#include "proxy/server/script_cache.h"

#include <array>

#include "proxy/resp/encoder.h"

namespace slotproxy::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool isSha1(std::string_view s) {
  if (s.size() != 40) return false;
  for (const char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

void ScriptCache::remember(std::string_view sha, std::string_view body) {
  if (!isSha1(sha) || body.size() > kMaxBytes) return;
  std::string key = lower(sha);
  std::lock_guard<std::mutex> lock(mu_);
  if (bodies_.contains(key)) return;  // the same SHA1, the same script
  while (!order_.empty() && (bodies_.size() >= kMaxScripts || bytes_ + body.size() > kMaxBytes)) {
    const auto oldest = bodies_.find(order_.front());
    bytes_ -= oldest->second.size();
    bodies_.erase(oldest);
    order_.pop_front();
  }
  bytes_ += body.size();
  order_.push_back(key);
  bodies_.emplace(std::move(key), std::string(body));
}

std::optional<std::string> ScriptCache::find(std::string_view sha) const {
  if (!isSha1(sha)) return std::nullopt;
  const std::string key = lower(sha);
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = bodies_.find(key);
  if (it == bodies_.end()) return std::nullopt;
  return it->second;
}

void ScriptCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  bodies_.clear();
  order_.clear();
  bytes_ = 0;
}

std::string ScriptCache::loadCommands(size_t* count) const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& sha : order_) {
    const std::array<std::string_view, 3> load = {"SCRIPT", "LOAD", bodies_.at(sha)};
    resp::appendCommand(out, load);
  }
  *count = order_.size();
  return out;
}

size_t ScriptCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bodies_.size();
}

size_t ScriptCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace slotproxy::server
