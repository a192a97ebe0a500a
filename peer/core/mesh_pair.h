// MeshPair: two (or a few) mesh cores driven against each other in memory,
// for tests that check one protocol rule each (quinn-proto's `Pair` is the
// model). Test-only.
//
// Node i is a Mesh with node ID IdOf(i), advertising AddrOf(i), over its own
// MapReplica; every node shares one manual clock. The pair is the driver of
// peer/core/mesh.h's contract: after every input it drains TakeCommands()
// then TakeWritable()/TakeOutput() until both are empty; a kDial to another
// node's address becomes a link (that node's Accepted(), then the dialler's
// Connected()), a kDial anywhere else fails (ConnectFailed()); a kClose
// flushes the connection's output onto the link, reports Closed() to the
// closer at once, and to the other end once the frames in flight before it
// are delivered (a FIN behind the data). Frames travel one at a time, so a
// test can deliver, drop or inspect them one by one; Drive() delivers until
// nothing moves. Time moves only by AdvanceTime(), in Tick() steps.
//
// A test may also play a node itself: AcceptRaw(i) opens a connection to
// node i from a "raw" peer whose frames the test writes (Inject) and whose
// received frames it reads (TakeRawFrames).
//
//   MeshPair pair(2, [](int i, MeshOptions& o) {
//     if (i == 1) o.seeds = {MeshPair::AddrOf(0)};
//   });
//   pair.StartAll();                       // n1 dials n0; Drive()s
//   pair.Write(0, "k", "v");               // n0 writes and broadcasts
//   pair.Drive();
//   EXPECT_EQ(pair.replica(1).Get("k"), "v");
//
// Not thread-safe: one test thread calls everything.
#ifndef MESHKV_PEER_CORE_MESH_PAIR_H_
#define MESHKV_PEER_CORE_MESH_PAIR_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peer/core/frame.h"
#include "peer/core/map_replica.h"
#include "peer/core/mesh.h"

namespace meshkv::peer {

class MeshPair {
 public:
  // Adjusts node i's options before its core is built.
  using Tweak = std::function<void(int node, MeshOptions& options)>;
  // The end of a link that the test plays (AcceptRaw).
  static constexpr int kRaw = -1;

  struct Frame {
    FrameType type;
    std::string body;  // serialised message
    std::string bytes;  // the whole frame, header included
  };
  struct LogLine {
    LogLevel level;
    std::string msg;
    std::vector<std::pair<std::string, std::string>> fields;
    // The value of field `name`, "" when absent.
    std::string field(absl::string_view name) const;
  };
  // One side of a link: a node (or kRaw) and its ConnId for the link.
  struct End {
    int node = kRaw;
    ConnId conn = 0;
    bool open = true;  // no Closed() reported to it yet
  };
  // A simulated TCP connection; end 0 dialled, end 1 accepted.
  struct Link {
    End end[2];
    std::deque<std::string> wire[2];  // frames in flight from end k
    std::string partial[2];           // output of end k not yet a whole frame
    bool fin[2] = {false, false};     // end k closed: the peer learns after wire[k]
    std::vector<Frame> raw_inbox;     // frames a kRaw end received
    // Frames delivered from end k, by type.
    std::array<uint64_t, kMaxFrameType + 1> delivered[2] = {};
  };

  explicit MeshPair(int nodes = 2, Tweak tweak = nullptr, uint32_t buckets = 16);
  ~MeshPair();
  // Pinned: each core's log callback points back here.
  MeshPair(const MeshPair&) = delete;
  MeshPair& operator=(const MeshPair&) = delete;

  static std::string IdOf(int i);
  static std::string AddrOf(int i);

  int size() const { return static_cast<int>(nodes_.size()); }
  Mesh& mesh(int i) { return *nodes_[i].mesh; }
  MapReplica& replica(int i) { return *nodes_[i].replica; }
  const std::vector<LogLine>& logs(int i) const { return nodes_[i].logs; }
  // Log lines of node i with message `msg`.
  std::vector<LogLine> LogsWith(int i, absl::string_view msg) const;
  MeshStats stats(int i) const { return nodes_[i].mesh->Snapshot(now_us_).stats; }
  MeshSnapshot Snapshot(int i) const { return nodes_[i].mesh->Snapshot(now_us_); }
  // Node i's connections in state "established".
  std::vector<PeerStatus> Established(int i) const;
  int64_t now_us() const { return now_us_; }

  // Start() node i (or every node not yet started), then Drive().
  void Start(int i);
  void StartAll();

  // Node i applies a new record of `key` to its replica and broadcasts it,
  // with an hlc ahead of every earlier Write (`ack_wanted`: a client waits
  // for other nodes to hold it). Returns the record.
  meshkv::mesh::v1::Record Write(int i, absl::string_view key, absl::string_view value,
                                 bool ack_wanted = false);
  // Node i asked for a kAwaitDurable (MeshOptions::acks_when_durable): the
  // test says the disk is done (Mesh::Durable), then the pair drains. False
  // when nothing was asked.
  bool CompleteDurable(int i);

  // Dials between a and b (either way) fail while unreachable.
  void SetReachable(int a, int b, bool reachable);

  // A raw peer connects to node i (Accepted()) from `host` (as an endpoint
  // spells it: "10.0.0.1", "[2001:db8::1]"); the test speaks for it.
  // Returns the link's index.
  size_t AcceptRaw(int i, absl::string_view host = "raw");
  // Frames the raw end of `link` received since the last call.
  std::vector<Frame> TakeRawFrames(size_t link);
  // The raw end of `link` closes its socket.
  void CloseRaw(size_t link);

  // The network breaks `link`: frames in flight are lost and both node
  // ends get Closed() (no Goodbye).
  void Break(size_t link);

  // Node i receives `bytes` on `conn`, as if from the network (for hostile
  // input: any bytes, framed or not), then the pair drains its outputs.
  void Inject(int i, ConnId conn, absl::string_view bytes);
  // Injects on the node end of `link`, from its other end.
  void InjectOn(size_t link, absl::string_view bytes);

  // Drains every node's outputs (no delivery).
  void Pump();
  // Frames in flight from end `from_end` (0 dialler, 1 acceptor) of `link`.
  size_t Pending(size_t link, int from_end) const { return links_[link].wire[from_end].size(); }
  std::optional<Frame> PeekNext(size_t link, int from_end) const;
  // Delivers (or loses) the next frame in flight, then drains outputs.
  // False when none was in flight.
  bool DeliverNext(size_t link, int from_end);
  bool DropNext(size_t link, int from_end);
  // Delivers frames, one per direction in turn, and drains outputs, until
  // nothing is in flight. False if still busy after `max_frames`.
  bool Drive(int max_frames = 1'000'000);
  // Moves the clock in Mesh::kTickPeriod steps, ticking every started node
  // and Drive()ing after each tick.
  void AdvanceTime(absl::Duration d);

  const std::vector<Link>& links() const { return links_; }
  // The index of the open link whose node end is (i, conn), if any.
  std::optional<size_t> LinkOf(int i, ConnId conn) const;

 private:
  struct Node {
    std::unique_ptr<MapReplica> replica;
    std::unique_ptr<Mesh> mesh;
    std::vector<LogLine> logs;
    bool started = false;
    bool durable_asked = false;  // a kAwaitDurable not yet completed
  };

  // Drains node i until TakeCommands() and TakeWritable() are both empty;
  // true when it did anything.
  bool PumpNode(int i);
  void OnDial(int i, const Command& dial);
  void OnClose(int i, ConnId conn);
  // Moves what node i's end of `link` has to send onto the wire.
  bool TakeAllOutput(size_t link, int end);
  // Hands a frame that reached end `to` of `link` to its owner.
  void Arrive(size_t link, int to, const std::string& frame);
  // The peer of a closed end learns of it once the frames before are in;
  // true when it just did.
  bool MaybeFin(size_t link, int from_end);

  std::vector<Node> nodes_;
  std::vector<Link> links_;
  absl::flat_hash_set<std::pair<int, int>> unreachable_;
  int64_t now_us_ = 1'000'000'000;  // an arbitrary origin, far from 0
  uint64_t hlc_ = 0;                // of the last Write()
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_MESH_PAIR_H_
