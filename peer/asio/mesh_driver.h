// MeshDriver: runs the mesh core (peer/core/mesh.h) on real TCP sockets.
//
// One thread owns an asio::io_context, the core and every socket: it
// accepts, dials, reads, writes and ticks the core's timers, feeding each
// event to the core and carrying out what the core asks. The core therefore
// needs no locks. Other threads talk to the driver only through
// Broadcast() (writes to replicate, handed over through a small inbox),
// Snapshot() (answered on the mesh thread), the few atomics the write
// concern reads (last_origin_seq(), established_peers(), known_peers()) and
// Shutdown(). Acknowledgements of this node's writes leave the mesh thread
// through WriteConcernHooks::on_acked.
//
// Every connection runs over a Transport (transport.h) made by the factory
// given to Bind(): plain TCP, or mutual TLS, in which case the core is told
// the node ID each peer's certificate proves (Mesh::Secured) and refuses a
// Hello that claims another; a certificate refused either way is reported to
// the core (Mesh::TransportRefused), which logs and counts it.
//
//   auto driver = MeshDriver::Bind("0.0.0.0:4444", TransportFactory::Tls(ctx));
//   (*driver)->Start(options, &replica, log, on_synced);
//   (*driver)->Broadcast(records);                     // from any thread
//   (*driver)->Shutdown(absl::Seconds(5));            // goodbyes, flush, stop
//
// Output flow control: a socket has at most one write in flight; when it
// completes the driver asks the core for more, so a slow peer slows only
// its own stream (and the core drops its writes past a bound).
#ifndef MESHKV_PEER_ASIO_MESH_DRIVER_H_
#define MESHKV_PEER_ASIO_MESH_DRIVER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "meshkv/mesh/v1/record.pb.h"
#include "peer/asio/transport.h"
#include "peer/core/mesh.h"

namespace meshkv::peer {

class MeshDriver {
 public:
  // The write concern's side of the driver (both optional).
  struct WriteConcernHooks {
    // On the mesh thread, after any input: nodes whose marks for this
    // node's writes rose (Mesh::TakeAcks). Must be quick.
    std::function<void(const AckTracker::Marks&)> on_acked;
    // With MeshOptions::acks_when_durable: runs `done` (on any thread) once
    // everything the replica has applied so far is durable (false: the
    // disk failed). Absent: at once.
    std::function<void(std::function<void(bool ok)> done)> when_durable;
  };

  // Binds the mesh's listening socket (port 0: the kernel picks); nothing
  // runs until Start(). Every connection, accepted or dialled, runs on a
  // transport from `transports`.
  static absl::StatusOr<std::unique_ptr<MeshDriver>> Bind(const std::string& listen_addr,
                                                          TransportFactory transports);
  ~MeshDriver();  // Shutdown() with no flush if still running.

  // The port actually bound.
  int port() const { return port_; }

  // Starts the mesh thread. `replica` must outlive the driver.
  // options.authenticated is set from the transport factory. `on_synced`
  // runs once, on the mesh thread, when the node has finished its first
  // sync (at once if it has no seeds).
  void Start(MeshOptions options, Replica* replica, MeshLogFn log, std::function<void()> on_synced,
             WriteConcernHooks concern = {});

  // Thread-safe: local writes, already applied, to replicate, in the order
  // of the calls (`ack_wanted`: a client waits for other nodes to hold
  // them). Returns the origin_seq the last of them takes (Mesh::Broadcast
  // numbers them in that order); valid once Start() has run.
  uint64_t Broadcast(std::vector<meshkv::mesh::v1::Record> records, bool ack_wanted = false);
  // Thread-safe: the origin_seq of the last record handed to Broadcast().
  uint64_t last_origin_seq() const;
  // Thread-safe, as of the mesh thread's last input: established
  // neighbours, and nodes known (Mesh::established_peers, known_peers).
  int established_peers() const { return established_peers_.load(std::memory_order_relaxed); }
  int known_peers() const { return known_peers_.load(std::memory_order_relaxed); }
  // Thread-safe: the mesh's state and counters, read on its thread.
  MeshSnapshot Snapshot();
  bool synced() const { return synced_.load(); }

  // Sends every peer its queued writes and a goodbye, waits up to
  // `flush_timeout` for the sockets to drain, then stops. Idempotent.
  void Shutdown(absl::Duration flush_timeout);

 private:
  struct Socket;
  MeshDriver(asio::ip::tcp::acceptor acceptor, std::unique_ptr<asio::io_context> io,
             TransportFactory transports);

  int64_t Now() const;  // monotonic microseconds, the core's time base
  void Accept();
  void Tick();
  void Drain();
  // Carries out the core's commands and starts writes; call after every
  // input to the core.
  void Pump();
  // Carries out a kAwaitDurable command: Mesh::Durable() once the hook
  // says so, on the mesh thread.
  void AwaitDurable();
  void Dial(ConnId id, const std::string& addr);
  // The transport is connected: runs its handshake (TLS) if it has one, then
  // reads.
  void Secure(ConnId id, Transport::Side side);
  // A read failed: a refused certificate is reported as such, else Drop().
  void Failed(ConnId id, const asio::error_code& ec);
  void Read(ConnId id);
  void Write(ConnId id);
  // Closes the socket and tells the core, once.
  void Drop(ConnId id);
  // Shutdown: waits for the sockets to finish their goodbyes, then stops.
  void AwaitDrained(std::chrono::steady_clock::time_point deadline, std::promise<void>* drained);

  std::unique_ptr<asio::io_context> io_;
  const TransportFactory transports_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer timer_;
  int port_ = 0;
  std::thread thread_;
  std::unique_ptr<Mesh> mesh_;                                // mesh thread only
  absl::btree_map<ConnId, std::shared_ptr<Socket>> sockets_;  // mesh thread only
  std::function<void()> on_synced_;
  WriteConcernHooks concern_;
  std::atomic<bool> synced_{false};
  std::atomic<int> established_peers_{0};
  std::atomic<int> known_peers_{0};
  uint64_t drained_ = 0;  // mesh thread only: records handed to the core
  std::atomic<bool> running_{false};
  bool stopping_ = false;  // mesh thread only

  mutable absl::Mutex inbox_mu_;
  std::vector<meshkv::mesh::v1::Record> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  bool drain_posted_ ABSL_GUARDED_BY(inbox_mu_) = false;
  // Records ever handed to Broadcast(), the count up to the last one that
  // wants acks, and the origin_seq base of this life (set by Start()).
  uint64_t broadcast_ ABSL_GUARDED_BY(inbox_mu_) = 0;
  uint64_t wanted_through_ ABSL_GUARDED_BY(inbox_mu_) = 0;
  uint64_t seq_base_ ABSL_GUARDED_BY(inbox_mu_) = 0;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_ASIO_MESH_DRIVER_H_
