#include "peer/core/sync_session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;

SyncSession SyncSession::Initiate(uint64_t id, const Replica* replica, size_t chunk_bytes,
                                  int64_t now_ms) {
  SyncSession s(Role::kInitiator, id, replica, chunk_bytes, now_ms);
  s.tasks_.push_back({Task::kOffer});
  return s;
}

absl::StatusOr<SyncSession> SyncSession::Respond(const wire::DigestOffer& offer,
                                                 const Replica* replica, size_t chunk_bytes,
                                                 int64_t now_ms) {
  const std::vector<uint64_t> mine = replica->BucketDigests();
  if (static_cast<size_t>(offer.buckets_size()) != mine.size()) {
    return absl::InvalidArgumentError(absl::StrCat("digest offer of ", offer.buckets_size(),
                                                   " buckets; this node has ", mine.size()));
  }
  SyncSession s(Role::kResponder, offer.session(), replica, chunk_bytes, now_ms);
  for (uint32_t b = 0; b < mine.size(); ++b) {
    const uint64_t theirs = offer.buckets(static_cast<int>(b));
    if (theirs == mine[b]) continue;
    ++s.buckets_differing_;
    if (theirs == 0) {
      s.tasks_.push_back({Task::kBucketRecords, b});  // they have nothing here
    } else if (mine[b] == 0) {
      s.tasks_.push_back({Task::kWantBucket, b});  // we have nothing here
    } else {
      s.tasks_.push_back({Task::kBucketKeys, b});
    }
  }
  s.tasks_.push_back({Task::kEnd});
  return s;
}

absl::Status SyncSession::OnBucketKeys(const wire::BucketKeys& msg) {
  if (role_ != Role::kInitiator) return absl::InvalidArgumentError("BucketKeys to a responder");
  if (msg.bucket() >= replica_->buckets()) {
    return absl::InvalidArgumentError(absl::StrCat("bucket ", msg.bucket(), " out of range"));
  }
  if (receiving_bucket_ != msg.bucket()) {
    receiving_bucket_ = msg.bucket();
    receiving_keys_.clear();
  }
  for (const auto& kh : msg.keys()) receiving_keys_.emplace_back(kh.key(), kh.hash());
  if (msg.last_of_bucket()) {
    ++buckets_differing_;
    CompareBucket(msg.bucket(), std::move(receiving_keys_));
    receiving_keys_.clear();
    receiving_bucket_ = UINT32_MAX;
  }
  return absl::OkStatus();
}

void SyncSession::CompareBucket(uint32_t bucket,
                                std::vector<std::pair<std::string, uint64_t>> theirs) {
  if (theirs.empty()) {
    tasks_.push_back({Task::kBucketRecords, bucket});
    return;
  }
  std::vector<std::pair<std::string, uint64_t>> mine = replica_->BucketKeys(bucket);
  std::sort(theirs.begin(), theirs.end());
  Task send{Task::kKeyRecords}, pull{Task::kPull};
  size_t i = 0, j = 0;
  while (i < mine.size() || j < theirs.size()) {
    if (j == theirs.size() || (i < mine.size() && mine[i].first < theirs[j].first)) {
      send.names.push_back(std::move(mine[i++].first));
    } else if (i == mine.size() || theirs[j].first < mine[i].first) {
      pull.names.push_back(std::move(theirs[j++].first));
    } else {
      if (mine[i].second != theirs[j].second) {
        // Both sides send: the merge keeps whatever is newer in each.
        send.names.push_back(mine[i].first);
        pull.names.push_back(mine[i].first);
      }
      ++i;
      ++j;
    }
  }
  if (!send.names.empty()) tasks_.push_back(std::move(send));
  if (!pull.names.empty()) tasks_.push_back(std::move(pull));
}

absl::Status SyncSession::OnPull(const wire::Pull& msg) {
  if (role_ != Role::kResponder) return absl::InvalidArgumentError("Pull to an initiator");
  Task t{Task::kKeyRecords};
  t.names.assign(msg.keys().begin(), msg.keys().end());
  // Answers go before the final SyncEnd, which OnSyncEnd() queues.
  tasks_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status SyncSession::OnSyncEnd() {
  ++ends_received_;
  if (role_ == Role::kResponder) {
    if (ends_received_ > 1)
      return absl::InvalidArgumentError("a second SyncEnd from the initiator");
    tasks_.push_back({Task::kEnd});
    return absl::OkStatus();
  }
  if (ends_received_ == 1) {
    tasks_.push_back({Task::kEnd});  // after every record and pull queued so far
  } else if (ends_received_ == 2) {
    done_ = true;
  } else {
    return absl::InvalidArgumentError("a third SyncEnd from the responder");
  }
  return absl::OkStatus();
}

size_t SyncSession::Produce(const Emit& emit, int64_t* budget) {
  size_t records = 0;
  while (*budget > 0 && !tasks_.empty()) {
    bool finished = false;
    // Emit through a counter of bytes, to charge the budget.
    const Emit counting = [&](FrameType type, const google::protobuf::MessageLite& m) {
      *budget -= static_cast<int64_t>(kFrameHeaderBytes + m.ByteSizeLong());
      emit(type, m);
    };
    records += ProduceOne(tasks_.front(), counting, &finished);
    if (finished) tasks_.pop_front();
  }
  return records;
}

size_t SyncSession::ProduceOne(Task& t, const Emit& emit, bool* finished) {
  *finished = true;
  switch (t.kind) {
    case Task::kOffer: {
      wire::DigestOffer offer;
      offer.set_session(id_);
      for (uint64_t d : replica_->BucketDigests()) offer.add_buckets(d);
      emit(FrameType::kDigestOffer, offer);
      return 0;
    }
    case Task::kBucketRecords: {
      std::vector<wire::Record> records;
      std::string last;
      const bool exhausted =
          replica_->ExportBucket(t.bucket, t.after, chunk_bytes_, &records, &last);
      if (!records.empty()) {
        wire::RecordChunk chunk;
        chunk.set_session(id_);
        for (auto& r : records) *chunk.add_records() = std::move(r);
        emit(FrameType::kRecordChunk, chunk);
        t.after = last;
      }
      *finished = exhausted;
      return records.size();
    }
    case Task::kWantBucket:
    case Task::kBucketKeys: {
      if (t.kind == Task::kBucketKeys && t.next == 0 && t.keys.empty()) {
        t.keys = replica_->BucketKeys(t.bucket);
      }
      wire::BucketKeys msg;
      msg.set_session(id_);
      msg.set_bucket(t.bucket);
      size_t bytes = 0;
      while (t.next < t.keys.size() && bytes < chunk_bytes_) {
        auto* kh = msg.add_keys();
        kh->set_key(t.keys[t.next].first);
        kh->set_hash(t.keys[t.next].second);
        bytes += t.keys[t.next].first.size() + 12;
        ++t.next;
      }
      *finished = t.next == t.keys.size();
      msg.set_last_of_bucket(*finished);
      emit(FrameType::kBucketKeys, msg);
      return 0;
    }
    case Task::kKeyRecords: {
      wire::RecordChunk chunk;
      chunk.set_session(id_);
      size_t bytes = 0;
      while (t.next < t.names.size() && bytes < chunk_bytes_) {
        wire::Record r;
        if (replica_->ExportKey(t.names[t.next], &r)) {
          bytes += r.ByteSizeLong();
          *chunk.add_records() = std::move(r);
        }
        ++t.next;
      }
      *finished = t.next == t.names.size();
      if (chunk.records_size() > 0) emit(FrameType::kRecordChunk, chunk);
      return static_cast<size_t>(chunk.records_size());
    }
    case Task::kPull: {
      wire::Pull pull;
      pull.set_session(id_);
      size_t bytes = 0;
      while (t.next < t.names.size() && bytes < chunk_bytes_) {
        bytes += t.names[t.next].size() + 4;
        pull.add_keys(t.names[t.next++]);
      }
      *finished = t.next == t.names.size();
      emit(FrameType::kPull, pull);
      return 0;
    }
    case Task::kEnd: {
      wire::SyncEnd end;
      end.set_session(id_);
      end.set_buckets_differing(buckets_differing_);
      emit(FrameType::kSyncEnd, end);
      // The responder's second SyncEnd closes the session on its side.
      if (role_ == Role::kResponder && ends_received_ == 1) done_ = true;
      return 0;
    }
  }
  return 0;
}

}  // namespace meshkv::peer
