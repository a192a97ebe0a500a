#include "store/lease_tracker.h"

namespace meshkv {

void LeaseTracker::Add(LeaseOwner owner, int64_t expires_ms) {
  const int64_t second = SecondOf(expires_ms);
  if (second <= lapsed_through_) return;
  Side& s = side(owner);
  ++s.by_second[second];
  ++s.active;
}

void LeaseTracker::Remove(LeaseOwner owner, int64_t expires_ms) {
  const int64_t second = SecondOf(expires_ms);
  if (second <= lapsed_through_) return;
  Side& s = side(owner);
  auto it = s.by_second.find(second);
  if (it == s.by_second.end()) return;  // added while already lapsed
  if (--it->second == 0) s.by_second.erase(it);
  --s.active;
}

void LeaseTracker::Advance(int64_t now_ms) {
  // A lease lapsing at second S is over once now >= S*1000.
  const int64_t through = now_ms / 1000;
  if (through <= lapsed_through_) return;
  lapsed_through_ = through;
  for (Side& s : sides_) {
    while (!s.by_second.empty() && s.by_second.begin()->first <= through) {
      s.active -= s.by_second.begin()->second;
      s.expired += s.by_second.begin()->second;
      s.by_second.erase(s.by_second.begin());
    }
  }
}

}  // namespace meshkv
