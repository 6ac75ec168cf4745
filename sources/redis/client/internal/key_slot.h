// The hash slot of a key in a Redis Cluster, as the cluster specification
// defines it: CRC16 (XMODEM: polynomial 0x1021, initial value 0, no
// reflection) of the key, or of its hash tag, modulo 16384. The hash tag is
// what lies between the first '{' and the first '}' after it, when that is
// not empty; keys with the same tag are in the same slot, which is how the
// state store keeps one policy's keys (and so each of its Lua scripts) on
// one node.
//
//   KeySlot("123456789") == 12739  // CRC16 0x31C3, the spec's check value
//   KeySlot("{user1000}.following") == KeySlot("{user1000}.followers")
//
// Internal to the Redis client (the cluster routing, redis_cluster.h).
// Pure functions, thread-safe.
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_KEY_SLOT_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_KEY_SLOT_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace signalscaler::redis_internal {

inline constexpr int kClusterSlots = 16384;

// CRC16/XMODEM of `bytes`.
uint16_t Crc16(absl::string_view bytes);

// The part of `key` that is hashed: its hash tag if it has a non-empty one,
// else the whole key.
absl::string_view HashedPart(absl::string_view key);

// The slot of `key`, in [0, kClusterSlots).
int KeySlot(absl::string_view key);

}  // namespace signalscaler::redis_internal

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_INTERNAL_KEY_SLOT_H_
