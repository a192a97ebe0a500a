#include "peer/core/recent_writes.h"

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;

void RecentWrites::Remember(wire::Write w) {
  const size_t bytes = w.ByteSizeLong();
  bytes_ += bytes;
  order_.emplace_back(w.origin(), bytes);
  by_origin_[w.origin()].push_back(std::move(w));
  while (!order_.empty() && (order_.size() > max_writes_ || bytes_ > max_bytes_)) {
    const auto& [origin, oldest_bytes] = order_.front();
    auto it = by_origin_.find(origin);
    bytes_ -= oldest_bytes;
    it->second.pop_front();
    if (it->second.empty()) by_origin_.erase(it);
    order_.pop_front();
  }
}

std::vector<const wire::Write*> RecentWrites::Range(const std::string& origin, uint64_t after,
                                                    uint64_t upto, bool* first_held) const {
  std::vector<const wire::Write*> out;
  *first_held = false;
  auto it = by_origin_.find(origin);
  if (it == by_origin_.end()) return out;
  for (const wire::Write& w : it->second) {
    if (w.origin_seq() <= after || w.origin_seq() > upto) continue;
    *first_held = *first_held || w.origin_seq() == after + 1;
    out.push_back(&w);
  }
  return out;
}

}  // namespace meshkv::peer
