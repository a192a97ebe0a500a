// Counts leases by when they lapse, so that expiry is observable without
// scanning keys.
//
// A lease is the right of a key's owner (the origin of its current version)
// to be the only node writing it until `timestamp + lease duration`. Leases
// are never stored: they follow from records. The tracker keeps, for leases
// held by this node and by others, how many lapse in each second; Advance()
// moves the seconds that have passed into the expired totals. Callers remove
// only leases that are still running (replaced or deleted before they
// lapsed); a lease whose second Advance() has passed is ignored by Remove().
//
// Not thread-safe: the store guards it.
#ifndef MESHKV_STORE_LEASE_TRACKER_H_
#define MESHKV_STORE_LEASE_TRACKER_H_

#include <cstdint>

#include "absl/container/btree_map.h"

namespace meshkv {

enum class LeaseOwner { kSelf = 0, kOther = 1 };

class LeaseTracker {
 public:
  // A lease of `owner` lapsing at `expires_ms`. Ignored if already lapsed.
  void Add(LeaseOwner owner, int64_t expires_ms);
  // The lease is gone before lapsing (renewed, deleted, taken over).
  void Remove(LeaseOwner owner, int64_t expires_ms);
  // Counts every lease lapsing at or before `now_ms` as expired.
  void Advance(int64_t now_ms);

  int64_t active(LeaseOwner owner) const { return side(owner).active; }
  uint64_t expired(LeaseOwner owner) const { return side(owner).expired; }
  // The end of the second in which the last running lease lapses; 0 if none.
  int64_t last_lapse_ms(LeaseOwner owner) const {
    const Side& s = side(owner);
    return s.by_second.empty() ? 0 : s.by_second.rbegin()->first * 1000;
  }

 private:
  struct Side {
    absl::btree_map<int64_t, int64_t> by_second;  // lapse second -> leases
    int64_t active = 0;
    uint64_t expired = 0;
  };
  const Side& side(LeaseOwner o) const { return sides_[static_cast<int>(o)]; }
  Side& side(LeaseOwner o) { return sides_[static_cast<int>(o)]; }
  static int64_t SecondOf(int64_t ms) { return ms / 1000 + (ms % 1000 != 0); }

  Side sides_[2];
  int64_t lapsed_through_ = 0;  // every second <= this one has been counted
};

}  // namespace meshkv

#endif  // MESHKV_STORE_LEASE_TRACKER_H_
