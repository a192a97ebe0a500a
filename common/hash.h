// A stable 64-bit hash: the same on every node, build and run.
//
// Anti-entropy compares digests computed on different nodes, so it cannot use
// absl::Hash (seeded per process). FNV-1a over the bytes, finished with the
// murmur3 fmix64 avalanche so that low and high bits are both usable.
#ifndef MESHKV_COMMON_HASH_H_
#define MESHKV_COMMON_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace meshkv {

inline uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

inline uint64_t StableHash(absl::string_view data, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h ^ data.size());
}

// Order-dependent combination of two hashes.
inline uint64_t HashCombine(uint64_t h, uint64_t v) {
  return Mix64(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

}  // namespace meshkv

#endif  // MESHKV_COMMON_HASH_H_
