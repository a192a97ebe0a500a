// Mesh: the protocol logic of one node's peer-to-peer mesh, free of I/O.
//
// The core is a state machine. Its driver (peer/asio/mesh_driver.h, or the
// simulator in tests/sim) feeds it events: connections accepted, dialled,
// closed; bytes received; timer ticks; local writes to broadcast. It answers
// with commands (dial an address, close a connection) and output bytes per
// connection, which the driver takes when the socket can take them. The
// core never blocks, reads no clock (every input carries the driver's
// monotonic time in microseconds; timers work in ms, round-trip times are
// timed in us and kept in fractional ms) and draws randomness from a seeded
// generator, so the same inputs give the same outputs.
//
// What it does (docs/design.md "The mesh", docs/mesh.md), each job a part with its own
// state, the Mesh only the event loop that ties them together:
//   - connection life and handshake (Connection, Handshake): Hello both
//     ways; a mismatch of protocol, cluster, leasing mode or bucket count is
//     refused with a reason both sides log; of two connections between one
//     pair, the one dialled by the smaller node ID is kept; heartbeats,
//     failure detection, round-trip times;
//   - membership (Membership): dial targets from seeds and peer lists, up to
//     max_outbound dialled neighbours and max_inbound accepted ones,
//     reconnection with exponential backoff and jitter, and a periodic
//     shuffle of one dialled neighbour so that islands left by a partition
//     find each other again;
//   - dissemination (Dissemination, RecentWrites, OwnOriginGuard): each write, named
//     (origin, origin_seq), is pushed once (SeqTracker) to every neighbour
//     but the one it came from, unless that neighbour pruned the origin: a
//     write arriving twice makes the receiver prune its origin on the link
//     it came over, so each origin's writes settle into a spanning tree, the
//     paths by which they arrive first (Plumtree, Leitao et al. 2007, with a
//     tree per origin so that pruning for one origin cannot cut another's),
//     and a write costs about one frame per node. A node that loses a link
//     grafts all its others; heartbeats carry per-origin watermarks, and a
//     neighbour that stays ahead is grafted for that origin and resends what
//     was missed from a bounded cache. Writes are batched per connection; a
//     peer whose queue exceeds its bound loses writes to anti-entropy
//     instead of holding memory or blocking writers;
//   - anti-entropy (AntiEntropy, SyncSession): on connect (by the dialler)
//     and periodically with a random neighbour, a SyncSession exchanges what
//     differs. The node is synced after its first completed session (or when
//     nobody answers).
// Every frame's body is parsed once, by type (FrameBody); a body that does
// not parse, or a message unexpected in the connection's state, is a
// protocol error: counted, logged, and the connection closed.
//
// The driver contract. A driver
//   1. calls Start() once, first, then Tick() every kTickPeriod while the
//      core lives (a late tick only delays timers);
//   1b. when its transport authenticates peers (options.authenticated:
//      mutual TLS), runs the transport's handshake after Accepted() and
//      Connected() and reports Secured() with the node ID the peer's
//      certificate proves, or TransportRefused() with why; it neither reads
//      nor writes the connection's frames before Secured();
//   2. after EVERY input (Start, Accepted, Connected, ConnectFailed,
//      Secured, TransportRefused, Received, Closed, Tick, Broadcast,
//      Shutdown) drains the outputs, in
//      this order, until both come back empty:
//        TakeCommands(): kDial -> dial `addr`, then report Connected() or
//                        ConnectFailed() for that ConnId;
//                        kClose -> flush what TakeOutput() still gives for
//                        the connection, close it, then report Closed();
//        TakeWritable(): for each, write TakeOutput() while it gives bytes;
//      (handling a command may add outputs: hence the loop);
//   3. calls TakeOutput() again each time a write to a connection completes
//      (anti-entropy output is made as the queue drains);
//   4. reports Closed() exactly once for every connection the core knows:
//      after a kClose command as much as after the peer or the network
//      closed it. ConnectFailed() counts as that report for a dial, and
//      TransportRefused() for any connection. Reports for a connection the
//      core no longer knows are ignored.
//
// Before a peer's Hello is accepted, the core holds little for it: frames
// over max_handshake_frame_bytes close the connection on their header, at
// most max_pending_handshakes accepted connections wait, and at most
// max_pending_handshakes_per_host of one remote IP (more are closed at
// once), and each has handshake_timeout_ms (the TLS handshake included).
// Every refusal is counted by Refusal (MeshStats::refused).
//
//   Mesh mesh(options, &replica, log);
//   mesh.Start(now_us);               then drain
//   ConnId c = mesh.Accepted("10.0.0.2:5000", now_us);
//   mesh.Received(c, bytes, now_us);  then drain
//
// Output ordering per connection: frames are appended in the order they are
// made; anti-entropy output is made only while a connection's output is
// short, so writes and heartbeats never wait behind a whole transfer.
//
// Not thread-safe: one thread (the driver's) calls everything.
#ifndef MESHKV_PEER_CORE_MESH_H_
#define MESHKV_PEER_CORE_MESH_H_

#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/ack_tracker.h"
#include "peer/core/anti_entropy.h"
#include "peer/core/connection.h"
#include "peer/core/dissemination.h"
#include "peer/core/frame.h"
#include "peer/core/frame_body.h"
#include "peer/core/handshake.h"
#include "peer/core/membership.h"
#include "peer/core/mesh_types.h"
#include "peer/core/own_origin_guard.h"
#include "peer/core/replica.h"
#include "peer/core/sync_session.h"

namespace meshkv::peer {

class Mesh {
 public:
  // How often the driver calls Tick(): the resolution of every timer of
  // MeshOptions (heartbeats, timeouts, backoff, anti-entropy, shuffle).
  static constexpr absl::Duration kTickPeriod = absl::Milliseconds(100);

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
  // Authenticated transports only: the transport's handshake succeeded and
  // the peer's certificate names `certified_id`; the Hello exchange starts.
  // The address its Hello advertises is dialled and passed on in peer lists
  // only when `certifies_host` holds for its host (null: not checked).
  void Secured(ConnId id, absl::string_view certified_id, int64_t now_us,
               HostCheck certifies_host = nullptr);
  // The transport refused the peer's certificate, or the peer ours (`why`
  // says which, for the log; `kind` counts it: kCertificate or
  // kCertificateExpired); the connection is gone.
  void TransportRefused(ConnId id, absl::string_view why, int64_t now_us,
                        Refusal kind = Refusal::kCertificate);
  void Received(ConnId id, absl::string_view bytes, int64_t now_us);
  // The connection is gone (closed by either side, or broken).
  void Closed(ConnId id, int64_t now_us);
  // Timers; call every kTickPeriod.
  void Tick(int64_t now_us);
  // Local writes, already applied to the replica, to send to every node.
  // They take the next origin_seqs of this life, in order (the first write
  // of the life is SeqTracker::Base(incarnation_ms) + 1), so the caller
  // can count them. With `ack_wanted` a client waits until other nodes
  // hold them: they answer with Acks (TakeAcks).
  void Broadcast(std::vector<meshkv::mesh::v1::Record> records, int64_t now_us,
                 bool ack_wanted = false);
  // A kAwaitDurable command completed: what the replica had applied when
  // the core asked is on disk, so the acks waiting for it go out (`ok`
  // false: the disk failed; they are dropped, and their waiters time out).
  void Durable(int64_t now_us, bool ok = true);
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
  // Write concern: (node ID, seq) of every node whose mark for this node's
  // writes rose since the last call: it holds every write up to seq. At
  // most one per node; drivers that wait for acks call it after each input.
  AckTracker::Marks TakeAcks() { return acks_.TakeRaised(); }

  // --- Observation ---------------------------------------------------------
  bool synced() const { return anti_entropy_.synced(); }
  MeshSnapshot Snapshot(int64_t now_us) const;
  const MeshOptions& options() const { return options_; }
  // Neighbours with an established connection, and nodes known by ID or
  // address: what a write concern can hope to reach.
  int established_peers() const { return Established(); }
  int known_peers() const { return membership_.KnownNodes(); }

 private:
  // Records the time of the current input; returns it in ms for timers.
  int64_t Clock(int64_t now_us) {
    now_us_ = now_us;
    return now_us / 1000;
  }

  // Frames in and out.
  void Send(Connection& c, FrameType type, const google::protobuf::MessageLite& msg);
  void HandleFrame(Connection& c, FrameBody& body, int64_t now);
  void OnHello(Connection& c, const meshkv::mesh::v1::Hello& hello, int64_t now);
  void OnGoodbye(Connection& c, const meshkv::mesh::v1::Goodbye& bye, int64_t now);
  void OnPing(Connection& c, const meshkv::mesh::v1::Ping& ping);
  void OnPong(Connection& c, const meshkv::mesh::v1::Pong& pong);
  void OnWriteBatch(Connection& c, meshkv::mesh::v1::WriteBatch& batch);
  // A write forged in this node's name arrived (OwnOriginGuard): counted,
  // logged at most once per OwnOriginGuard::kLogPeriodMs, dropped.
  void RefuseForgery(const Connection& c, const meshkv::mesh::v1::Write& w);
  void OnGraft(Connection& c, const meshkv::mesh::v1::Graft& graft, int64_t now);
  void OnRecordChunk(const meshkv::mesh::v1::RecordChunk& chunk);
  void OnDigestOffer(Connection& c, const meshkv::mesh::v1::DigestOffer& offer, int64_t now);
  void OnBucketKeys(Connection& c, const meshkv::mesh::v1::BucketKeys& keys);
  void OnPull(Connection& c, const meshkv::mesh::v1::Pull& pull);
  void OnSyncEnd(Connection& c, const meshkv::mesh::v1::SyncEnd& end);
  // Write concern: a holder's marks for our writes, or for another origin's
  // to relay toward it.
  void OnAck(Connection& c, const meshkv::mesh::v1::Ack& ack);
  // Sends the acks this node owes for writes it now holds (after asking
  // the driver to make them durable first, when so configured).
  void SendOwedAcks();
  void SendAcks(const std::vector<AckTracker::Due>& due);

  // Connection life.
  Connection& NewConnection(bool outbound, std::string addr, int64_t now);
  void SendHello(Connection& c);
  // An inbound connection whose peer may now speak: refused when stopping
  // or over max_inbound, else greeted.
  void Admit(Connection& c);
  void Refuse(Refusal why) { ++stats_.refused[static_cast<size_t>(why)]; }
  void Establish(Connection& c, int64_t now);
  // Closes, after a Goodbye when `reason` is not UNSPECIFIED.
  void Close(Connection& c, meshkv::mesh::v1::Goodbye::Reason reason, const std::string& detail);
  void ProtocolError(Connection& c, const std::string& what);
  void Forget(ConnId id, bool failed, int64_t now);
  bool Duplicate(const Connection& c) const;
  // Whether the address `c`'s Hello advertises may be dialled and relayed:
  // its certificate names the host (logged when not).
  bool TrustedAddr(const Connection& c) const;
  void TickConnection(Connection& c, int64_t now);

  // Writes.
  void Enqueue(Connection& c, const meshkv::mesh::v1::Write& w);
  void Forward(const Connection* from, const meshkv::mesh::v1::Write& w);
  void SendGraft(Connection& c, const meshkv::mesh::v1::Graft& graft);
  // A link is gone: for each origin whose writes came first over it, ask
  // every other neighbour to push that origin's writes again, until its
  // tree re-forms.
  void LostLink(const Connection& lost);
  void FlushBatch(Connection& c);
  // Ends every input: flushes batches and notes connections with output.
  void Finish();

  // Membership and anti-entropy.
  absl::flat_hash_map<std::string, bool> ConnectedNodes() const;
  void MaintainDegree(int64_t now);
  void Dial(DialTarget& t, int64_t now);
  void SendPeerList(Connection& c);
  void StartSync(Connection& c, int64_t now);
  void EndSync(Connection& c, SyncSession::Role role, bool completed);
  void Shuffle(int64_t now);
  int Established() const;
  bool SyncedPeerConnected() const;

  void Log(LogLevel level, const std::string& msg,
           std::vector<std::pair<std::string, std::string>> fields = {}) const;
  PeerCounters* CountersFor(const Connection& c);

  // Constant after construction.
  const MeshOptions options_;
  Replica* const replica_;  // Not owned.
  const MeshLogFn log_;
  const Handshake::Local local_;

  std::mt19937_64 rng_;  // every random choice of every part
  Membership membership_;
  Dissemination dissemination_;
  OwnOriginGuard own_origin_;
  AntiEntropy anti_entropy_;
  AckTracker acks_;
  // acks_when_durable: the acks a kAwaitDurable command waits for; whether
  // one is outstanding, and whether more became due meanwhile.
  std::vector<AckTracker::Due> durable_due_;
  bool durable_pending_ = false;
  bool durable_again_ = false;
  // Ordered, so that iteration (and with it every choice) is reproducible.
  absl::btree_map<ConnId, std::unique_ptr<Connection>> conns_;
  absl::btree_map<std::string, PeerCounters> counters_;  // by node ID
  MeshStats stats_;
  std::vector<Command> commands_;
  std::vector<ConnId> writable_;
  int64_t now_us_ = 0;  // time of the current input
  ConnId next_conn_ = 1;
  bool shutting_down_ = false;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_MESH_H_
