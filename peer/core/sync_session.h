// SyncSession: one anti-entropy exchange over one connection, in one role.
//
// The initiator offers its bucket digests; the responder answers for each
// bucket that differs: all its records when the initiator's bucket is empty,
// "send me everything" when its own is, its (key, hash) list otherwise, then
// SyncEnd. The initiator sends the records the responder lacks or holds
// older, pulls the ones it lacks itself, then SyncEnd; the responder answers
// the pulls and closes with a final SyncEnd. TCP delivers in order, so each
// SyncEnd vouches for everything sent before it: both sides have merged
// every differing bucket when they see the other's last SyncEnd.
//
//   initiator                        responder
//   DigestOffer             ->
//                           <-       RecordChunk* BucketKeys* SyncEnd
//   RecordChunk* Pull* SyncEnd ->
//                           <-       RecordChunk* SyncEnd
//
// Output is made lazily: Produce() appends frames only while the
// connection's output is below a budget, so a transfer of a million keys
// never sits in memory at once. Received RecordChunks are merged by the
// mesh, not here.
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_SYNC_SESSION_H_
#define MESHKV_PEER_CORE_SYNC_SESSION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/frame.h"
#include "peer/core/replica.h"

namespace meshkv::peer {

class SyncSession {
 public:
  enum class Role { kInitiator, kResponder };
  // Appends one frame to the connection's output.
  using Emit = std::function<void(FrameType, const google::protobuf::MessageLite&)>;

  // An initiator starts by offering its digests.
  static SyncSession Initiate(uint64_t id, const Replica* replica, size_t chunk_bytes,
                              int64_t now_ms);
  // A responder starts from the initiator's offer.
  static absl::StatusOr<SyncSession> Respond(const meshkv::mesh::v1::DigestOffer& offer,
                                             const Replica* replica, size_t chunk_bytes,
                                             int64_t now_ms);

  // Handlers for the other side's messages; an error is a protocol error.
  absl::Status OnBucketKeys(const meshkv::mesh::v1::BucketKeys& msg);  // initiator
  absl::Status OnPull(const meshkv::mesh::v1::Pull& msg);              // responder
  absl::Status OnSyncEnd();                                            // both

  // Appends frames while `*budget` > 0, decrementing it by the bytes
  // appended. Returns the number of records sent.
  size_t Produce(const Emit& emit, int64_t* budget);
  bool has_output() const { return !tasks_.empty(); }
  bool done() const { return done_; }

  // Watermarks (origin, seq) this side had seen when the session began:
  // everything up to them was in its store then, so the other side may
  // adopt them once the session completes. Sent with each SyncEnd.
  using Marks = std::vector<std::pair<std::string, uint64_t>>;
  void set_marks(Marks marks) { marks_ = std::move(marks); }
  const Marks& marks() const { return marks_; }
  // The other side's, from its last SyncEnd.
  void set_peer_marks(Marks marks) { peer_marks_ = std::move(marks); }
  const Marks& peer_marks() const { return peer_marks_; }

  Role role() const { return role_; }
  uint64_t id() const { return id_; }
  int64_t started_ms() const { return started_ms_; }
  uint32_t buckets_differing() const { return buckets_differing_; }

 private:
  // One piece of output still to make.
  struct Task {
    enum Kind { kOffer, kBucketRecords, kBucketKeys, kWantBucket, kKeyRecords, kPull, kEnd };
    Kind kind;
    uint32_t bucket = 0;
    std::string after;                                   // kBucketRecords: resume after this key
    std::vector<std::pair<std::string, uint64_t>> keys;  // kBucketKeys
    std::vector<std::string> names;                      // kKeyRecords, kPull
    size_t next = 0;                                     // progress through keys or names
  };

  SyncSession(Role role, uint64_t id, const Replica* replica, size_t chunk_bytes, int64_t now_ms)
      : role_(role), id_(id), replica_(replica), chunk_bytes_(chunk_bytes), started_ms_(now_ms) {}
  // Compares the responder's key list of a bucket with ours.
  void CompareBucket(uint32_t bucket, std::vector<std::pair<std::string, uint64_t>> theirs);
  size_t ProduceOne(Task& task, const Emit& emit, bool* finished);

  Role role_;
  uint64_t id_;
  const Replica* replica_;  // Not owned.
  size_t chunk_bytes_;
  int64_t started_ms_;
  std::deque<Task> tasks_;
  uint32_t buckets_differing_ = 0;
  Marks marks_;
  Marks peer_marks_;
  int ends_received_ = 0;
  bool done_ = false;
  // Initiator: the responder's keys of the bucket being received.
  uint32_t receiving_bucket_ = UINT32_MAX;
  std::vector<std::pair<std::string, uint64_t>> receiving_keys_;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_SYNC_SESSION_H_
