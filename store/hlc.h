// Hybrid logical clock (Kulkarni et al.): readings close to wall-clock time
// that never go backwards and are always ahead of every reading observed.
//
// A reading packs wall-clock milliseconds in the high 48 bits and a logical
// counter in the low 16: `hlc = wall_ms << 16 | logical`. Comparing readings
// as integers orders them; a counter overflow simply carries into the
// millisecond field.
//
// Not thread-safe: the owner (the store) serialises calls.
#ifndef MESHKV_STORE_HLC_H_
#define MESHKV_STORE_HLC_H_

#include <cstdint>

#include "common/clock.h"

namespace meshkv {

class HybridClock {
 public:
  explicit HybridClock(const Clock* clock) : clock_(clock) {}

  // A new reading, greater than every earlier reading and observation.
  uint64_t Now();
  // Remembers a reading made elsewhere, so later readings exceed it.
  void Observe(uint64_t hlc);

  static int64_t WallMs(uint64_t hlc) { return static_cast<int64_t>(hlc >> 16); }
  static uint64_t FromWallMs(int64_t ms) { return static_cast<uint64_t>(ms) << 16; }

 private:
  const Clock* clock_;  // Not owned.
  uint64_t last_ = 0;
};

}  // namespace meshkv

#endif  // MESHKV_STORE_HLC_H_
