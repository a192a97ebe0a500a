// The IDENTITY file of a data directory: which cluster, node and leasing mode
// its records belong to, which engine wrote them, and the format version.
//
// Grammar (text, one `name value` per line, in this order, value to the end
// of the line; written once, atomically, when the directory is created):
//
//   meshkv-data-dir <format version>
//   engine <rocksdb|leveldb>
//   cluster <cluster name>
//   node_id <node ID>
//   leasing <on|off>
#ifndef MESHKV_STORAGE_IDENTITY_H_
#define MESHKV_STORAGE_IDENTITY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/engine.h"

namespace meshkv::storage {

// What a node must match to use a data directory.
struct Identity {
  std::string cluster;
  std::string node_id;
  bool leasing = true;
};

// The on-disk format this code writes and reads. Bump it when the layout of
// keys or values changes; older code refuses a newer directory.
inline constexpr int kFormatVersion = 1;
inline constexpr char kIdentityFileName[] = "IDENTITY";

struct IdentityFile {
  int format_version = kFormatVersion;
  EngineKind engine = EngineKind::kRocksDb;
  Identity identity;
};

std::string FormatIdentityFile(const IdentityFile& file);
// DATA_LOSS when the text is not an IDENTITY file.
absl::StatusOr<IdentityFile> ParseIdentityFile(const std::string& text);

// OK when a node with `want` (and engine `engine`) may open a directory
// whose IDENTITY is `have`; otherwise FAILED_PRECONDITION with a message
// that names the mismatch and what to do. `dir` is only for the message.
absl::Status CheckIdentity(const std::string& dir, const IdentityFile& have, const Identity& want,
                           EngineKind engine);

}  // namespace meshkv::storage

#endif  // MESHKV_STORAGE_IDENTITY_H_
