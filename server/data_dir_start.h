// A node's start from its data directory: opening it (the identity check and
// the tombstone-retention rule) and loading its records into the store,
// before the node syncs with its peers and serves.
//
// The retention rule (docs/design.md, "Durability"): a node whose data was
// last in sync with the cluster longer ago than --tombstone-retention may
// hold keys that the cluster has deleted and, since, forgotten the
// tombstones of; loading them would bring those keys back everywhere. Such
// a node, when it has peers to sync from (--join), sets its data aside
// (renamed to <data-dir>.stale-<unix ms>, never deleted) and starts empty.
// Without --join it keeps its data and says why that may be unsafe.
#ifndef MESHKV_SERVER_DATA_DIR_START_H_
#define MESHKV_SERVER_DATA_DIR_START_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/config.h"
#include "server/node.h"
#include "storage/data_dir.h"

namespace meshkv {

// config.data_dir must be set. FAILED_PRECONDITION (from DataDir::Open) for
// a directory of another cluster, node or leasing mode, naming which.
absl::StatusOr<std::unique_ptr<storage::DataDir>> OpenDataDir(const ServerConfig& config,
                                                              const std::string& node_id,
                                                              int64_t now_ms);

// This life's incarnation (its origin sequence numbers start at
// peer::SeqTracker::Base of it): the start time, unless that would number
// writes below what an earlier life reserved (`origin_seq_base`, from the
// data directory), as after the wall clock stepped back across a restart;
// peers would then drop this life's writes as duplicates of the last one's.
int64_t IncarnationMs(int64_t now_ms, uint64_t origin_seq_base);

// Restores every stored record into `node` (Node::Restore), forgets those
// the store no longer needs (tombstones past the retention), and reserves
// the revisions the restore used.
absl::Status LoadDataDir(storage::DataDir* dir, Node* node);

}  // namespace meshkv

#endif  // MESHKV_SERVER_DATA_DIR_START_H_
