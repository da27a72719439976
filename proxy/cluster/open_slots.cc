#include "proxy/cluster/open_slots.h"

#include <charconv>

#include "proxy/cluster/key_slot.h"

namespace slotproxy::cluster {
namespace {

// The next space-separated field of `line` from *pos ("" at the end).
std::string_view nextField(std::string_view line, size_t* pos) {
  while (*pos < line.size() && line[*pos] == ' ') ++*pos;
  const size_t start = *pos;
  while (*pos < line.size() && line[*pos] != ' ') ++*pos;
  return line.substr(start, *pos - start);
}

bool parseSlot(std::string_view text, uint16_t* slot) {
  uint32_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n >= kSlotCount) return false;
  *slot = static_cast<uint16_t>(n);
  return true;
}

}  // namespace

bool parseOpenSlots(std::string_view cluster_nodes, std::vector<OpenSlot>* out) {
  // <id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...
  while (!cluster_nodes.empty()) {
    const size_t eol = cluster_nodes.find('\n');
    std::string_view line = cluster_nodes.substr(0, eol);
    cluster_nodes = eol == std::string_view::npos ? "" : cluster_nodes.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t pos = 0;
    const std::string_view id = nextField(line, &pos);
    nextField(line, &pos);  // address
    const std::string_view flags = nextField(line, &pos);
    const bool myself = flags == "myself" || flags.starts_with("myself,") ||
                        flags.find(",myself") != std::string_view::npos;
    if (!myself) continue;
    if (id.empty()) return false;
    for (int i = 0; i < 5; ++i) nextField(line, &pos);  // primary ping pong epoch link
    std::vector<OpenSlot> found;
    for (std::string_view f = nextField(line, &pos); !f.empty(); f = nextField(line, &pos)) {
      if (f.size() < 2 || f.front() != '[' || f.back() != ']') continue;  // owned slots
      f = f.substr(1, f.size() - 2);
      const size_t to = f.find("->-");
      const size_t from = f.find("-<-");
      const size_t sep = to != std::string_view::npos ? to : from;
      OpenSlot open;
      if (sep == std::string_view::npos || !parseSlot(f.substr(0, sep), &open.slot) ||
          sep + 3 >= f.size()) {
        return false;
      }
      open.migrating = to != std::string_view::npos;
      open.peer = std::string(f.substr(sep + 3));
      open.reporter = std::string(id);
      found.push_back(std::move(open));
    }
    out->insert(out->end(), found.begin(), found.end());
    return true;
  }
  return false;
}

}  // namespace slotproxy::cluster
