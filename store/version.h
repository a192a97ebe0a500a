// Versions of writes and the node IDs they name.
//
// A version is (hlc, origin). Versions are totally ordered (docs/design.md, "Versions"):
// the higher hlc wins; on equal hlc the smaller origin ID (byte-wise) wins, as
// in the seed ("the tie is settled by doing a string compare of their IDs").
// The zero version (hlc 0, no origin) is older than every write.
//
// Origins are interned into small integers so that each record carries 4
// bytes, not a string. Indices are local to one OriginTable; anything that
// leaves the node (wire records, digests) uses the names.
//
// OriginTable is not thread-safe: the store guards it with its mutex.
#ifndef MESHKV_STORE_VERSION_H_
#define MESHKV_STORE_VERSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "common/hash.h"

namespace meshkv {

struct Version {
  uint64_t hlc = 0;
  uint32_t origin = 0;  // index into an OriginTable; 0 only for the zero version

  bool zero() const { return hlc == 0 && origin == 0; }
  bool operator==(const Version& o) const { return hlc == o.hlc && origin == o.origin; }
  bool operator!=(const Version& o) const { return !(*this == o); }
};

class OriginTable {
 public:
  OriginTable() : names_{""}, hashes_{StableHash("")} {}

  // The index of `node_id`, added on first sight. Never returns 0 for a
  // non-empty ID.
  uint32_t Intern(absl::string_view node_id) {
    auto [it, inserted] = index_.try_emplace(std::string(node_id), names_.size());
    if (inserted) {
      names_.emplace_back(node_id);
      hashes_.push_back(StableHash(node_id));
    }
    return it->second;
  }

  const std::string& Name(uint32_t origin) const { return names_[origin]; }
  uint64_t NameHash(uint32_t origin) const { return hashes_[origin]; }

  // True when `a` wins over `b` in the total order of versions.
  bool Newer(const Version& a, const Version& b) const {
    if (a.hlc != b.hlc) return a.hlc > b.hlc;
    if (a.origin == b.origin) return false;
    return names_[a.origin] < names_[b.origin];
  }

  // The newer of two versions.
  const Version& Max(const Version& a, const Version& b) const { return Newer(b, a) ? b : a; }

 private:
  std::vector<std::string> names_;
  std::vector<uint64_t> hashes_;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

}  // namespace meshkv

#endif  // MESHKV_STORE_VERSION_H_
