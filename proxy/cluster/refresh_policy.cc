#include "proxy/cluster/refresh_policy.h"

#include <charconv>
#include <tuple>

namespace slotproxy::cluster {

std::optional<size_t> pickBest(std::span<const TopologyAnswer> answers) {
  const auto rank = [](const TopologyAnswer& t) {
    return std::tuple(t.current_epoch, t.map->servableSlots(), t.my_epoch);
  };
  std::optional<size_t> best;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].map && (!best || rank(answers[i]) > rank(answers[*best]))) best = i;
  }
  return best;
}

namespace {

// The unsigned value of `field` (e.g. "cluster_my_epoch:") in a CLUSTER INFO text, 0 if absent.
uint64_t infoField(std::string_view info, std::string_view field) {
  const size_t at = info.find(field);
  if (at == std::string_view::npos) return 0;
  const char* begin = info.data() + at + field.size();
  uint64_t value = 0;
  std::from_chars(begin, info.data() + info.size(), value);
  return value;
}

}  // namespace

uint64_t parseCurrentEpoch(std::string_view info) {
  return infoField(info, "cluster_current_epoch:");
}

uint64_t parseMyEpoch(std::string_view info) { return infoField(info, "cluster_my_epoch:"); }

}  // namespace slotproxy::cluster
