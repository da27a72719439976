#pragma once

#include <cstdint>
#include <string_view>

namespace slotproxy::cluster {

constexpr uint16_t kSlotCount = 16384;

// CRC16-CCITT (XMODEM: poly 0x1021, init 0), the checksum Redis Cluster hashes keys with.
uint16_t crc16(std::string_view data);

// The hash slot of `key`, as keyHashSlot in Redis's cluster.c: if the key contains a '{' followed
// later by a '}' with at least one byte between them, only the bytes between the first '{' and the
// first '}' after it are hashed ("{user1000}.following" and "{user1000}.followers" share a slot).
uint16_t keySlot(std::string_view key);

}  // namespace slotproxy::cluster
