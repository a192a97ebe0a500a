// ServerConfig: everything a meshkv node is told at start-up. main.cc fills
// it from flags and MESHKV_* environment variables; tests fill it directly.
//
// Each default is written once. A setting that a part also has takes the
// part's default (StoreOptions, peer::MeshOptions, WatchOptions); the flags
// take theirs from ServerConfig. The *OptionsFor functions below are the one
// place a setting reaches a part.
#ifndef MESHKV_SERVER_CONFIG_H_
#define MESHKV_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peer/core/mesh_types.h"
#include "server/kv_service.h"
#include "storage/data_dir.h"
#include "store/store.h"

namespace meshkv {

namespace config_internal {
inline const StoreOptions& StoreDefaults() {
  static const StoreOptions* o = new StoreOptions();
  return *o;
}
inline const storage::DataDirOptions& DataDirDefaults() {
  static const storage::DataDirOptions* o = new storage::DataDirOptions();
  return *o;
}
inline const peer::MeshOptions& MeshDefaults() {
  static const peer::MeshOptions* o = new peer::MeshOptions();
  return *o;
}
}  // namespace config_internal

struct ServerConfig {
  // Stable identity; empty: the advertised mesh address.
  std::string node_id;
  std::string grpc_addr = "0.0.0.0:50051";
  std::string mesh_addr = "0.0.0.0:4444";
  // host:port other nodes dial; empty: mesh_addr, with this host's name
  // when mesh_addr listens on every interface.
  std::string advertise_addr;
  std::vector<std::string> join;              // seed mesh addresses
  std::string metrics_addr = "0.0.0.0:9464";  // empty: no metrics endpoint
  std::string cluster = config_internal::MeshDefaults().cluster;
  bool leasing = config_internal::StoreDefaults().leasing;
  absl::Duration lease_duration = config_internal::StoreDefaults().lease_duration;
  absl::Duration tombstone_retention = config_internal::StoreDefaults().tombstone_retention;
  size_t max_key_bytes = config_internal::StoreDefaults().max_key_bytes;
  size_t max_value_bytes = config_internal::StoreDefaults().max_value_bytes;
  // The data quota in bytes (ParseDataQuota); 0: none.
  uint64_t max_data_bytes = config_internal::StoreDefaults().max_data_bytes;
  // Events kept for Watch replay.
  size_t watch_history = config_internal::StoreDefaults().history_max_events;
  // Revisions a stalled watcher may fall behind.
  uint64_t watch_max_lag = WatchOptions().max_lag;
  // Watch streams open at once on this node.
  size_t max_watch_streams = KeyValueServiceOptions().max_watch_streams;
  // grpc.health.v1.Health Watch streams open at once: Health needs no client
  // certificate, so this bounds what a stranger can hold open.
  size_t max_health_watches = 100;
  // Keys one DeletePrefix may delete.
  size_t max_delete_prefix_keys = KeyValueServiceOptions().max_delete_prefix_keys;
  // Concurrent streams (RPCs) on one client connection: HTTP/2's
  // SETTINGS_MAX_CONCURRENT_STREAMS, which the server announces and clients
  // queue behind; gRPC's own default is unlimited.
  uint32_t max_concurrent_streams = 256;
  // A client connection must finish its TLS (and HTTP/2) handshake within
  // this long, or it is closed: gRPC's default, 120 s, lets a stranger hold a
  // socket for two minutes with a few bytes.
  absl::Duration grpc_handshake_timeout = absl::Seconds(10);
  // With seeds: serve alone after this long if no peer has answered.
  absl::Duration initial_sync_timeout =
      absl::Milliseconds(config_internal::MeshDefaults().initial_sync_timeout_ms);
  absl::Duration shutdown_grace = absl::Seconds(10);
  // How often the store does a step of maintenance: count lapsed leases,
  // collect expired tombstones of one of its 256 buckets. Not a flag: tests
  // shorten it.
  absl::Duration maintain_every = absl::Milliseconds(100);
  // When set, the bound addresses are written here as JSON once listening.
  std::string info_file;

  // --- Durability
  // Where the node keeps its data; empty: in memory only, nothing survives
  // a restart.
  std::string data_dir;
  // When an acknowledged write is on disk: always (fsync before the
  // acknowledgement, shared by concurrent writers), interval (every
  // fsync_interval: a power loss of the machine loses at most that much),
  // never (the OS decides). A process crash alone loses nothing in any mode.
  storage::FsyncMode fsync = config_internal::DataDirDefaults().fsync;
  absl::Duration fsync_interval = config_internal::DataDirDefaults().fsync_interval;
  // Open a data directory whose files fail their checksums anyway, keeping
  // the records that verify and setting damaged files aside (the repair
  // mode of docs/design.md, "Durability"); once is enough.
  bool salvage = config_internal::DataDirDefaults().salvage;
  // How often a node in sync with its peers records so in its data
  // directory (for the tombstone-retention rule). Not a flag.
  absl::Duration mark_in_sync_every = absl::Seconds(10);

  // --- Security (server/mesh_security.h). Certificates: CockroachDB's
  // layout in certs_dir (ca.crt, node.crt, node.key), or the three files;
  // an explicit file overrides the dir's. The mesh runs mutual TLS whenever
  // certificates are given, plain TCP with `insecure`.
  std::string certs_dir;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool insecure = false;
  // gRPC (server/grpc_security.h) runs TLS with the node's certificate
  // whenever the mesh does. client_ca: the CA whose certificates clients
  // present; empty: clients are not asked for one (the certs dir's ca.crt
  // is never implied: pass it explicitly). client_roles: "name=role,..."
  // (certificate CN -> read-only, read-write or admin). With
  // require_client_cert a client without one fails the TLS handshake, Health
  // included; without it such a client reaches Health only.
  std::string client_ca;
  std::string client_roles;
  bool require_client_cert = false;
};

// --max-data-bytes: a number of bytes ("0": no quota), or a percentage of
// `memory_limit_bytes` ("35%", what Kubernetes sets from the container's
// memory limit). INVALID_ARGUMENT naming the flag otherwise, or for a
// percentage without a memory limit.
absl::StatusOr<uint64_t> ParseDataQuota(absl::string_view spec, uint64_t memory_limit_bytes);

// Flag values that cannot work (a zero history, a lease that never lapses,
// limits past what a record or a gRPC message can hold): INVALID_ARGUMENT
// naming the flag.
absl::Status ValidateConfig(const ServerConfig& config);

// --- The options of each part ---------------------------------------------
// `node_id` is the resolved identity (config.node_id, or the advertised
// address when that is empty).
StoreOptions StoreOptionsFor(const ServerConfig& config, const std::string& node_id);
KeyValueServiceOptions KeyValueServiceOptionsFor(const ServerConfig& config);
// What only the running server knows comes as arguments: the resolved
// identity, the advertised address, the incarnation (start time) and the
// random seed.
peer::MeshOptions MeshOptionsFor(const ServerConfig& config, const std::string& node_id,
                                 const std::string& advertise_addr, int64_t incarnation_ms,
                                 uint64_t rng_seed);

}  // namespace meshkv

#endif  // MESHKV_SERVER_CONFIG_H_
