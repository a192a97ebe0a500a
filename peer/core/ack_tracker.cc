#include "peer/core/ack_tracker.h"

#include <algorithm>

namespace meshkv::peer {

bool AckTracker::Acked(const std::string& holder, uint64_t seq) {
  auto it = acked_.find(holder);
  if (it == acked_.end()) {
    if (acked_.size() >= kMaxHolders) return false;
    it = acked_.emplace(holder, 0).first;
  }
  if (seq <= it->second) return false;
  it->second = seq;
  raised_[holder] = seq;
  return true;
}

AckTracker::Marks AckTracker::TakeRaised() {
  Marks out(raised_.begin(), raised_.end());
  raised_.clear();
  return out;
}

AckTracker::Marks AckTracker::Learn(
    const std::string& origin,
    const google::protobuf::RepeatedPtrField<meshkv::mesh::v1::HolderMark>& marks) {
  Marks raised;
  auto o = known_.find(origin);
  if (o == known_.end()) {
    if (known_.size() >= kMaxOrigins) return raised;
    o = known_.try_emplace(origin).first;
  }
  for (const meshkv::mesh::v1::HolderMark& m : marks) {
    auto h = o->second.find(m.node_id());
    if (h == o->second.end()) {
      if (o->second.size() >= kMaxHolders) continue;
      h = o->second.emplace(m.node_id(), 0).first;
    }
    if (m.seq() <= h->second) continue;
    h->second = m.seq();
    raised.emplace_back(m.node_id(), m.seq());
  }
  return raised;
}

void AckTracker::Owe(const std::string& origin, uint64_t seq, ConnId from) {
  auto it = owed_.find(origin);
  if (it == owed_.end()) {
    if (owed_.size() >= kMaxOrigins) return;
    it = owed_.try_emplace(origin).first;
  }
  Owed& o = it->second;
  if (o.to != from) {
    // The origin's writes come this way now: what was sent the old way
    // must be said again on this link.
    o.to = from;
    o.sent = 0;
  }
  o.want = std::max(o.want, seq);
}

void AckTracker::Forget(ConnId id) {
  for (auto it = owed_.begin(); it != owed_.end();) {
    it = it->second.to == id ? owed_.erase(it) : std::next(it);
  }
}

}  // namespace meshkv::peer
