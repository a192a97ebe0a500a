#include "peer/core/dissemination.h"

#include <utility>

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;

Dissemination::Dissemination(std::string node_id, int64_t incarnation_ms, size_t recent_writes,
                             size_t recent_write_bytes)
    : node_id_(std::move(node_id)),
      recent_(recent_writes, recent_write_bytes),
      seq_base_(SeqTracker::Base(incarnation_ms)),
      next_seq_(seq_base_) {}

wire::Write Dissemination::Originate(wire::Record record) {
  wire::Write w;
  w.set_origin(node_id_);
  w.set_origin_seq(++next_seq_);
  *w.mutable_record() = std::move(record);
  seen_.FirstSighting(node_id_, w.origin_seq());
  return w;
}

bool Dissemination::Duplicate(LinkTrees& link, const wire::Write& w, SeqTracker::Sighting s) {
  // It came another way first: this link is not in the origin's tree. (A
  // covered write may have been on its way during a sync: no proof.)
  return s == SeqTracker::Sighting::kDuplicate && link.pruned_by_us.insert(w.origin()).second;
}

bool Dissemination::Accepted(LinkTrees& link, ConnId from, const wire::Write& w) {
  parent_[w.origin()] = from;
  // First over a link we had pruned for this origin (it was in flight, or
  // the other path slowed down): this link is the parent now, and the one
  // the duplicate will come over is pruned instead.
  return link.pruned_by_us.erase(w.origin()) > 0;
}

std::vector<wire::Graft> Dissemination::Heartbeat(
    LinkTrees& link, const google::protobuf::RepeatedPtrField<wire::OriginMark>& seen) {
  std::vector<wire::Graft> grafts;
  for (const wire::OriginMark& mark : seen) {
    // Nobody is ahead of us on our own writes; a mark saying so is forged.
    if (mark.origin() == node_id_) continue;
    const uint64_t mine = seen_.Watermark(mark.origin());
    if (mark.seq() <= mine) {
      link.suspect.erase(mark.origin());
      continue;
    }
    // Ahead of us twice in a row: not just a write in flight on another
    // path, a gap in the origin's tree. Graft this neighbour into it.
    auto it = link.suspect.find(mark.origin());
    if (it != link.suspect.end() && it->second > mine) {
      wire::Graft& graft = grafts.emplace_back();
      graft.set_origin(mark.origin());
      graft.set_after(mine);
      graft.set_upto(mark.seq());
      link.pruned_by_us.erase(mark.origin());
      link.suspect.erase(it);
    } else {
      link.suspect[mark.origin()] = mark.seq();
    }
  }
  return grafts;
}

Dissemination::GraftAnswer Dissemination::Grafted(LinkTrees& link, const wire::Graft& graft) const {
  GraftAnswer answer;
  link.pruned_by_peer.erase(graft.origin());
  if (graft.upto() <= graft.after()) return answer;  // a re-attachment: nothing to resend
  bool first_held = false;
  answer.resend = recent_.Range(graft.origin(), graft.after(), graft.upto(), &first_held);
  // The cache no longer reaches back that far: repair the rest by state.
  answer.needs_sync = !first_held;
  return answer;
}

std::vector<std::string> Dissemination::Orphaned(ConnId lost) {
  std::vector<std::string> origins;
  for (auto it = parent_.begin(); it != parent_.end();) {
    if (it->second != lost) {
      ++it;
      continue;
    }
    origins.push_back(it->first);
    parent_.erase(it++);
  }
  return origins;
}

void Dissemination::AddMarks(google::protobuf::RepeatedPtrField<wire::OriginMark>* marks) const {
  for (const auto& [origin, seq] : seen_.Watermarks()) {
    wire::OriginMark* m = marks->Add();
    m->set_origin(origin);
    m->set_seq(seq);
  }
}

}  // namespace meshkv::peer
