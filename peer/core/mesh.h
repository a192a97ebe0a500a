// Mesh: the protocol logic of one node's peer-to-peer mesh, free of I/O.
//
// The core is a state machine. Its driver (peer/asio/mesh_driver.h, or the
// simulator in tests/sim) feeds it events: connections accepted, dialled,
// closed; bytes received; timer ticks; local writes to broadcast. It answers
// with commands (dial an address, close a connection) and output bytes per
// connection, which the driver takes when the socket can take them. The
// core never blocks, reads no clock (every input carries the driver's
// monotonic time in microseconds; timers work in ms, round-trip times are
// timed in us and kept in fractional ms) and draws randomness from a seeded generator, so the same
// inputs give the same outputs.
//
// What it does (DESIGN.md §3, docs/mesh.md):
//   - handshake: Hello both ways; a mismatch of protocol, cluster, leasing
//     mode or bucket count is refused with a reason both sides log; of two
//     connections between one pair, the one dialled by the smaller node ID
//     is kept;
//   - membership: seeds, peer lists, up to max_outbound dialled neighbours
//     and max_inbound accepted ones, reconnection with exponential backoff
//     and jitter, heartbeats, failure detection, round-trip times, and a
//     periodic shuffle of one dialled neighbour so that islands left by a
//     partition find each other again;
//   - dissemination: each write, named (origin, origin_seq), is pushed once
//     (SeqTracker) to every neighbour but the one it came from, unless that
//     neighbour pruned the origin: a write arriving twice makes the receiver
//     prune its origin on the link it came over, so each origin's writes
//     settle into a spanning tree, the paths by which they arrive first
//     (Plumtree, Leitao et al. 2007, with a tree per origin so that pruning
//     for one origin cannot cut another's), and a write costs about one
//     frame per node. A node that loses a link grafts all its others;
//     heartbeats carry per-origin watermarks, and a neighbour that stays
//     ahead is grafted for that origin and resends what was missed from a
//     bounded cache. Writes are batched per connection; a peer whose queue
//     exceeds its bound loses writes to anti-entropy instead of holding
//     memory or blocking writers;
//   - anti-entropy: on connect (by the dialler) and periodically with a
//     random neighbour, a SyncSession exchanges what differs. The node is
//     synced after its first completed session (or when nobody answers).
//
// Output ordering per connection: frames are appended in the order they are
// made; anti-entropy output is made only while a connection's output is
// short, so writes and heartbeats never wait behind a whole transfer.
//
// Not thread-safe: one thread (the driver's) calls everything.
#ifndef MESHKV_PEER_CORE_MESH_H_
#define MESHKV_PEER_CORE_MESH_H_

#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/frame.h"
#include "peer/core/mesh_types.h"
#include "peer/core/replica.h"
#include "peer/core/seq_tracker.h"
#include "peer/core/sync_session.h"

namespace meshkv::peer {

class Mesh {
 public:
  // `replica` must outlive the mesh. `log` may be empty.
  Mesh(MeshOptions options, Replica* replica, MeshLogFn log = nullptr);
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // --- Inputs ------------------------------------------------------------
  // Begins: dials seeds. Call once, first.
  void Start(int64_t now_us);
  // The driver accepted a connection from `remote` (host:port, for logs).
  ConnId Accepted(absl::string_view remote, int64_t now_us);
  // An outbound connection asked for by a kDial command is up, or failed.
  void Connected(ConnId id, int64_t now_us);
  void ConnectFailed(ConnId id, absl::string_view error, int64_t now_us);
  void Received(ConnId id, absl::string_view bytes, int64_t now_us);
  // The connection is gone (closed by either side, or broken).
  void Closed(ConnId id, int64_t now_us);
  // Timers; call every 100 ms or so.
  void Tick(int64_t now_us);
  // Local writes, already applied to the replica, to send to every node.
  void Broadcast(std::vector<meshkv::mesh::v1::Record> records, int64_t now_us);
  // Says goodbye to every peer (after their queued writes) and stops
  // dialling and accepting. The driver flushes output, then closes.
  void Shutdown(int64_t now_us);

  // --- Outputs -----------------------------------------------------------
  std::vector<Command> TakeCommands();
  // Connections that have output waiting since the last call.
  std::vector<ConnId> TakeWritable();
  // Up to `max_bytes` of the connection's output ("" when none). Makes more
  // anti-entropy output when the queue runs short, so call it again each
  // time a write completes.
  std::string TakeOutput(ConnId id, size_t max_bytes);

  // --- Observation ---------------------------------------------------------
  bool synced() const { return synced_; }
  MeshSnapshot Snapshot(int64_t now_us) const;
  const MeshOptions& options() const { return options_; }

 private:
  struct Connection;
  // A dial target.
  struct Peer {
    std::string addr;
    std::string node_id;  // once known
    bool seed = false;
    bool self = false;  // this node's own address: never dial
    ConnId conn = 0;    // our outbound connection to it, if any
    int64_t backoff_ms = 0;
    int64_t next_attempt_ms = 0;
  };

  // Records the time of the current input; returns it in ms for timers.
  int64_t Clock(int64_t now_us) {
    now_us_ = now_us;
    return now_us / 1000;
  }

  // Frames.
  void Send(Connection& c, FrameType type, const google::protobuf::MessageLite& msg);
  void HandleFrame(Connection& c, FrameType type, absl::string_view body, int64_t now);
  void OnHello(Connection& c, const meshkv::mesh::v1::Hello& hello, int64_t now);
  void OnGoodbye(Connection& c, const meshkv::mesh::v1::Goodbye& bye, int64_t now);
  void OnPeerList(const meshkv::mesh::v1::PeerList& list);
  void OnWriteBatch(Connection& c, meshkv::mesh::v1::WriteBatch& batch);
  void OnPing(Connection& c, const meshkv::mesh::v1::Ping& ping);
  void OnGraft(Connection& c, const meshkv::mesh::v1::Graft& graft, int64_t now);
  void OnRecordChunk(const meshkv::mesh::v1::RecordChunk& chunk);
  void OnSyncMessage(Connection& c, FrameType type, absl::string_view body, int64_t now);

  // Connections.
  Connection& NewConnection(bool outbound, std::string addr, int64_t now);
  void SendHello(Connection& c);
  void Establish(Connection& c, int64_t now);
  // Closes, after a Goodbye when `reason` is not UNSPECIFIED.
  void Close(Connection& c, meshkv::mesh::v1::Goodbye::Reason reason, const std::string& detail,
             int64_t now);
  void ProtocolError(Connection& c, const std::string& what, int64_t now);
  void Forget(ConnId id, bool failed, int64_t now);
  bool Duplicate(const Connection& c) const;

  // Writes.
  void Enqueue(Connection& c, const meshkv::mesh::v1::Write& w);
  // Keeps `w` to answer grafts, within the cache's bounds.
  void Remember(meshkv::mesh::v1::Write w);
  // A link is gone: for each origin whose writes came first over it, ask
  // every other neighbour to push that origin's writes again, until its
  // tree re-forms.
  void LostLink(const Connection& lost);
  void AddMarks(google::protobuf::RepeatedPtrField<meshkv::mesh::v1::OriginMark>* marks) const;
  void FlushBatch(Connection& c);
  // Ends every input: flushes batches and notes connections with output.
  void Finish();

  // Membership and anti-entropy.
  void MaintainDegree(int64_t now);
  void Dial(Peer& p, int64_t now);
  void Backoff(Peer& p, int64_t now, bool refused);
  Peer& PeerAt(const std::string& addr);
  void SendPeerList(Connection& c);
  void StartSync(Connection& c, int64_t now);
  void EndSync(Connection& c, SyncSession::Role role, bool completed);
  void Shuffle(int64_t now);
  int Established() const;
  bool SyncedPeerConnected() const;

  void Log(MeshLogLevel level, const std::string& msg,
           std::vector<std::pair<std::string, std::string>> fields = {}) const;
  PeerCounters* CountersFor(const Connection& c);

  // Constant after construction.
  const MeshOptions options_;
  Replica* const replica_;  // Not owned.
  const MeshLogFn log_;

  std::mt19937_64 rng_;
  // Ordered, so that iteration (and with it every choice) is reproducible.
  absl::btree_map<ConnId, std::unique_ptr<Connection>> conns_;
  absl::btree_map<std::string, Peer> peers_;             // by dial address
  absl::btree_map<std::string, PeerCounters> counters_;  // by node ID
  SeqTracker seen_;
  // Per origin, the connection its writes came over first: its tree parent.
  absl::flat_hash_map<std::string, ConnId> parent_;
  // Recent writes, to answer grafts: per origin in arrival order, and the
  // origin and size of all of them in arrival order, oldest first, for
  // eviction (an origin's writes leave its deque in the same order).
  absl::flat_hash_map<std::string, std::deque<meshkv::mesh::v1::Write>> recent_;
  std::deque<std::pair<std::string, size_t>> recent_order_;
  size_t recent_bytes_ = 0;
  MeshStats stats_;
  std::vector<Command> commands_;
  std::vector<ConnId> writable_;
  int64_t now_us_ = 0;  // time of the current input
  ConnId next_conn_ = 1;
  uint64_t next_seq_;  // this life's origin_seq
  int64_t started_ms_ = 0;
  int64_t next_sync_ms_ = 0;
  int64_t next_shuffle_ms_ = 0;
  bool synced_ = false;
  bool shutting_down_ = false;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_MESH_H_
