#include "proxy/cluster/refresh_policy.h"

#include <charconv>

namespace slotproxy::cluster {

std::optional<size_t> pickBest(std::span<const TopologyAnswer> answers) {
  std::optional<size_t> best;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i].map) continue;
    if (!best) {
      best = i;
      continue;
    }
    const TopologyAnswer& a = answers[i];
    const TopologyAnswer& b = answers[*best];
    if (a.current_epoch > b.current_epoch ||
        (a.current_epoch == b.current_epoch && a.map->servableSlots() > b.map->servableSlots())) {
      best = i;
    }
  }
  return best;
}

uint64_t parseCurrentEpoch(std::string_view info) {
  constexpr std::string_view kField = "cluster_current_epoch:";
  const size_t at = info.find(kField);
  if (at == std::string_view::npos) return 0;
  const char* begin = info.data() + at + kField.size();
  uint64_t value = 0;
  std::from_chars(begin, info.data() + info.size(), value);
  return value;
}

}  // namespace slotproxy::cluster
