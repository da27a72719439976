#include "proxy/cluster/key_slot.h"

#include <array>

namespace slotproxy::cluster {
namespace {

constexpr std::array<uint16_t, 256> makeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000u) != 0 ? (crc << 1) ^ 0x1021u : crc << 1;
    }
    table[byte] = static_cast<uint16_t>(crc & 0xFFFFu);
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = makeCrc16Table();

// Two bytes per step ("slicing by 2"): CRC is linear, so after bytes b0 b1
//   crc' = kCrc16Pair[(crc >> 8) ^ b0] ^ kCrc16Table[(crc & 0xFF) ^ b1]
// with kCrc16Pair[x] = (T[x] << 8) ^ T[T[x] >> 8] (16 bits): two independent lookups instead of
// a chain of two. keySlot runs for every keyed request.
constexpr std::array<uint16_t, 256> makeCrc16PairTable() {
  std::array<uint16_t, 256> table{};
  for (uint32_t x = 0; x < 256; ++x) {
    const uint32_t t = kCrc16Table[x];
    table[x] = static_cast<uint16_t>(((t << 8) ^ kCrc16Table[t >> 8]) & 0xFFFFu);
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Pair = makeCrc16PairTable();

}  // namespace

uint16_t crc16(std::string_view data) {
  uint32_t crc = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  for (; n >= 2; n -= 2, p += 2) {
    crc = kCrc16Pair[(crc >> 8) ^ p[0]] ^ kCrc16Table[(crc & 0xFFu) ^ p[1]];
  }
  if (n == 1) crc = ((crc << 8) ^ kCrc16Table[(crc >> 8) ^ p[0]]) & 0xFFFFu;
  return static_cast<uint16_t>(crc);
}

uint16_t keySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return static_cast<uint16_t>(crc16(key) & (kSlotCount - 1));
}

}  // namespace slotproxy::cluster
