#include "peer/core/seq_tracker.h"

#include <algorithm>

namespace meshkv::peer {

namespace {

// [from, upto] was counted as seen without being received.
void Assume(uint64_t from, uint64_t upto, uint64_t* assumed_from, uint64_t* assumed_upto) {
  if (upto < from) return;
  *assumed_from = *assumed_upto == 0 ? from : std::min(*assumed_from, from);
  *assumed_upto = std::max(*assumed_upto, upto);
}

// Folds the seqs contiguous with the watermark into it.
void Fold(uint64_t* watermark, absl::btree_set<uint64_t>* above) {
  while (!above->empty() && *above->begin() <= *watermark + 1) {
    *watermark = std::max(*watermark, *above->begin());
    above->erase(above->begin());
  }
}

}  // namespace

SeqTracker::Sighting SeqTracker::See(absl::string_view origin, uint64_t seq) {
  auto [it, fresh] = origins_.try_emplace(std::string(origin));
  Origin& o = it->second;
  // First sight of an origin, or of a newer incarnation (a jump no gap of
  // one life reaches): what came before is this node's past, known or left
  // to anti-entropy, but for a window of writes that may still be on their
  // way over slower paths. The window stays within the incarnation.
  if (fresh || seq > o.watermark + (uint64_t{1} << kIncarnationShift)) {
    const uint64_t base = seq >> kIncarnationShift << kIncarnationShift;
    o.watermark = seq > base + kReorderWindow ? seq - kReorderWindow - 1 : base;
    o.above.clear();
    o.assumed_from = o.assumed_upto = 0;
    if (o.adopted < o.watermark)
      Assume(std::max(base, o.adopted) + 1, o.watermark, &o.assumed_from, &o.assumed_upto);
  } else if (seq <= o.watermark) {
    return seq <= o.adopted ? Sighting::kCovered : Sighting::kDuplicate;
  }
  if (!o.above.insert(seq).second) return Sighting::kDuplicate;
  Fold(&o.watermark, &o.above);
  if (o.above.size() > max_pending_) {
    Assume(o.watermark + 1, *o.above.begin() - 1, &o.assumed_from, &o.assumed_upto);
    o.watermark = *o.above.begin() - 1;  // give up on the oldest gap
    Fold(&o.watermark, &o.above);
  }
  return Sighting::kNew;
}

uint64_t SeqTracker::Held(absl::string_view origin) const {
  auto it = origins_.find(origin);
  if (it == origins_.end()) return 0;
  const Origin& o = it->second;
  if (o.assumed_upto <= o.adopted) return o.watermark;
  return std::min(o.watermark, o.assumed_from - 1);
}

uint64_t SeqTracker::Watermark(absl::string_view origin) const {
  auto it = origins_.find(origin);
  return it == origins_.end() ? 0 : it->second.watermark;
}

void SeqTracker::Adopt(absl::string_view origin, uint64_t seq) {
  Origin& o = origins_[std::string(origin)];
  o.adopted = std::max(o.adopted, seq);
  if (seq <= o.watermark) return;
  o.watermark = seq;
  while (!o.above.empty() && *o.above.begin() <= o.watermark) o.above.erase(o.above.begin());
  Fold(&o.watermark, &o.above);
}

std::vector<std::pair<std::string, uint64_t>> SeqTracker::Watermarks() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(origins_.size());
  for (const auto& [origin, o] : origins_) out.emplace_back(origin, o.watermark);
  return out;
}

}  // namespace meshkv::peer
