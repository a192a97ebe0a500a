// ServerConfig: everything a meshkv node is told at start-up. main.cc fills
// it from flags and MESHKV_* environment variables; tests fill it directly.
#ifndef MESHKV_SERVER_CONFIG_H_
#define MESHKV_SERVER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace meshkv {

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
  std::string cluster = "meshkv";
  bool leasing = true;
  absl::Duration lease_duration = absl::Hours(1);
  absl::Duration tombstone_retention = absl::Hours(24);
  size_t max_key_bytes = 4096;
  size_t max_value_bytes = 1 << 20;
  size_t watch_history = 100000;   // events kept for Watch replay
  uint64_t watch_max_lag = 10000;  // revisions a stalled watcher may fall behind
  // With seeds: serve alone after this long if no peer has answered.
  absl::Duration initial_sync_timeout = absl::Seconds(10);
  absl::Duration shutdown_grace = absl::Seconds(10);
  // How often the store does a step of maintenance: count lapsed leases,
  // collect expired tombstones of one of its 256 buckets. Not a flag: tests
  // shorten it.
  absl::Duration maintain_every = absl::Milliseconds(100);
  // When set, the bound addresses are written here as JSON once listening.
  std::string info_file;
};

// Flag values that cannot work (a zero history, a lease that never lapses,
// limits past what a record or a gRPC message can hold): INVALID_ARGUMENT
// naming the flag.
absl::Status ValidateConfig(const ServerConfig& config);

}  // namespace meshkv

#endif  // MESHKV_SERVER_CONFIG_H_
