// Configuration, commands and observations of the mesh core (peer/core/mesh.h).
#ifndef MESHKV_PEER_CORE_MESH_TYPES_H_
#define MESHKV_PEER_CORE_MESH_TYPES_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "peer/core/frame.h"

namespace meshkv::peer {

// Identifies one TCP connection, inbound or outbound, for its whole life.
using ConnId = uint64_t;

// Durations below are in milliseconds of the driver's monotonic clock.
struct MeshOptions {
  std::string node_id;         // required; stable across restarts
  std::string advertise_addr;  // required: host:port peers dial
  std::string cluster = "meshkv";
  bool leasing = true;
  std::vector<std::string> seeds;  // host:port to join
  // Start time in wall-clock ms: the base of this life's origin_seq, so a
  // restarted node's writes are new to peers that saw its previous life.
  int64_t incarnation_ms = 0;
  uint64_t rng_seed = 1;  // membership and anti-entropy choices

  int max_outbound = 4;  // neighbours this node dials (the seed's max_outgoing)
  int max_inbound = 32;  // neighbours that may dial this node
  size_t max_frame_bytes = 16 << 20;  // once the handshake is done

  // --- Before the handshake (issue 10): what a stranger can make us hold.
  // The driver's transport proves each peer's node ID (mutual TLS): the core
  // then waits for Secured() before its Hello, and refuses a Hello whose
  // node ID is not the one the transport proved. Set by the driver.
  bool authenticated = false;
  // Frames from a peer not yet handshaken: a Hello fits in a few KiB, so a
  // longer length header closes the connection before its body is held.
  size_t max_handshake_frame_bytes = 64 << 10;
  // Accepted connections not yet handshaken (TLS included); one more is
  // closed at once.
  int max_pending_handshakes = 64;
  // Of those, from one source (an IPv4 address, an IPv6 /64: see
  // AddressBlockOf), so one party cannot take every place.
  int max_pending_handshakes_per_host = 16;

  int64_t heartbeat_ms = 1000;
  int64_t failure_timeout_ms = 5000;        // silence after which a peer is dead
  int64_t handshake_timeout_ms = 5000;      // Hello must arrive within this
  int64_t reconnect_min_ms = 100;           // backoff, doubled per failure...
  int64_t reconnect_max_ms = 10000;         // ...up to this, with jitter
  int64_t anti_entropy_ms = 5000;           // sync with a random neighbour this often
  int64_t shuffle_ms = 30000;               // replace one dialled neighbour this often
  int64_t initial_sync_timeout_ms = 10000;  // serve alone if no peer answers
  int64_t sync_timeout_ms = 120000;         // abandon a sync session after this

  // Writes kept to answer grafts: neighbours that missed them while the
  // dissemination tree was broken ask for them by (origin, seq) range.
  size_t recent_writes = 16384;
  size_t recent_write_bytes = 16 << 20;
  size_t max_batch_bytes = 1 << 20;       // per WriteBatch frame
  size_t send_queue_bytes = 8 << 20;      // writes queued per peer beyond this are dropped
  size_t sync_chunk_bytes = 256 << 10;    // records or keys per anti-entropy frame
  size_t sync_low_water_bytes = 1 << 20;  // anti-entropy output is made while below this

  // Write concern: this node holds a write only once it is on disk (its
  // data directory syncs every write, --fsync=always). Its acks then wait
  // for the driver's kAwaitDurable command to complete (Mesh::Durable).
  bool acks_when_durable = false;
};

// Whether a peer's verified certificate names `host` (a DNS name or an IP
// address, no port): an authenticating driver gives one per connection
// (CheckCertificateHost), and the core trusts the address a peer advertises
// only when it holds.
using HostCheck = std::function<bool(const std::string& host)>;

// What the core asks its driver to do, besides writing output.
struct Command {
  // kAwaitDurable: call Mesh::Durable() once everything the replica has
  // applied so far is on disk (only with MeshOptions::acks_when_durable;
  // at most one is outstanding).
  enum Kind { kDial, kClose, kAwaitDurable };
  Kind kind;
  ConnId conn;       // kDial, kClose
  std::string addr;  // kDial: host:port
};

// Heartbeat round-trip times are counted in these buckets, etcd's
// (etcd_network_peer_round_trip_time_seconds): 16 bounds from 0.1 ms,
// doubling, to 3.28 s, then +Inf.
constexpr size_t kRttBuckets = 17;
constexpr double kRttFirstBucketSeconds = 0.0001;

// Counters for one peer (by node ID), kept across its reconnections.
struct PeerCounters {
  std::array<uint64_t, kMaxFrameType + 1> frames_sent{};
  std::array<uint64_t, kMaxFrameType + 1> bytes_sent{};
  std::array<uint64_t, kMaxFrameType + 1> frames_received{};
  std::array<uint64_t, kMaxFrameType + 1> bytes_received{};
  uint64_t send_queue_drops = 0;  // write batches dropped: the peer did not drain
  // Heartbeat round trips: rtt_buckets[i] counts samples of at most
  // kRttFirstBucketSeconds * 2^i (the last bucket: the rest).
  std::array<uint64_t, kRttBuckets> rtt_buckets{};
  uint64_t rtt_samples = 0;
  double rtt_seconds_sum = 0;
};

// Why this node refused a connection: a small fixed set, the label values
// of meshkv_mesh_connections_refused_total (never a peer-supplied string).
enum class Refusal : uint8_t {
  kCertificate,         // the transport refused the peer's certificate, or it ours
  kNodeIdMismatch,      // the Hello claims another node ID than the certificate
  kIncompatible,        // another cluster, leasing mode, protocol or bucket count
  kFrameTooLarge,       // a frame over the pre-handshake limit
  kTooManyPending,      // over max_pending_handshakes
  kCertificateExpired,  // the peer's certificate expired, or ours (its alert said)
};
constexpr size_t kRefusalKinds = 6;
// "certificate", "node_id_mismatch", "incompatible", "frame_too_large",
// "too_many_pending", "certificate_expired".
const char* Name(Refusal r);

// Powers of two: batch_sizes[i] counts batches of 2^(i-1) < writes <= 2^i.
constexpr size_t kBatchSizeBuckets = 12;

struct MeshStats {
  uint64_t writes_originated = 0;  // local writes broadcast
  uint64_t writes_received = 0;    // writes arriving from peers, duplicates included
  uint64_t writes_applied = 0;     // of those: new, and changed the store
  uint64_t duplicates_dropped = 0;
  uint64_t prunes_sent = 0;     // links turned lazy: a write arrived twice
  uint64_t grafts_sent = 0;     // links turned eager: a neighbour had writes we lacked
  uint64_t writes_resent = 0;   // writes resent to answer a graft
  uint64_t writes_refused = 0;  // the replica refused them
  // Writes claiming this node's own origin (or carrying a version of it)
  // that it did not make: forged, refused before they touch anything.
  uint64_t own_origin_refused = 0;
  // Write concern: Ack frames sent (this node's own marks and relays), and
  // marks for this node's writes refused (a seq it never issued).
  uint64_t acks_sent = 0;
  uint64_t acks_refused = 0;
  std::array<uint64_t, kBatchSizeBuckets> batch_sizes{};  // per WriteBatch frame sent
  uint64_t batches_sent = 0;
  uint64_t writes_batched = 0;  // writes in those batches
  uint64_t sync_rounds_completed = 0;
  uint64_t sync_rounds_failed = 0;  // the connection ended or the session timed out
  uint64_t sync_keys_repaired = 0;  // records received in sync that changed the store
  uint64_t sync_records_sent = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_dialed = 0;
  uint64_t handshakes_refused = 0;  // Hellos refused: mismatched cluster, mode, version, node ID
  std::array<uint64_t, kRefusalKinds> refused{};  // connections refused, by Refusal
  uint64_t protocol_errors = 0;     // malformed frames and bodies, unexpected messages
  uint64_t peers_timed_out = 0;
};

struct PeerStatus {
  std::string node_id;
  std::string addr;
  std::string state;  // dialing | handshaking | established | closing
  bool outbound = false;
  double rtt_ms = 0;
  int64_t connected_since_ms = 0;  // driver's monotonic time in ms; 0 before established
};

struct MeshSnapshot {
  int64_t taken_ms = 0;  // the driver's monotonic time when taken, in ms
  bool synced = false;
  int peers_known = 0;   // nodes this node knows (by ID; unreached seeds by address)
  int peers_wanted = 0;  // neighbours it aims for: min(max_outbound, known)
  std::vector<PeerStatus> peers;
  std::vector<std::pair<std::string, PeerCounters>> counters;  // by node ID
  MeshStats stats;
};

// The core logs through this (in the driver's thread), at the levels of
// common/log.h.
using MeshLogFn = std::function<void(LogLevel, const std::string& msg,
                                     std::vector<std::pair<std::string, std::string>> fields)>;

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_MESH_TYPES_H_
