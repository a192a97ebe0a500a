// The snapshot file of `meshkv snapshot save|restore`: a node's records with
// checksums, so that a torn or corrupted file is refused before anything of
// it is restored. Specified here once (docs/design.md, "Backup and restore"):
//
//   file   := magic frame*                      magic: the 16 bytes "meshkv-snapshot1"
//   frame  := type:u8 length:u32le crc:u32le payload[length]
//             crc is CRC-32 (zlib's) of type and payload
//   type 1 (header): a meshkv.v1.SnapshotHeader; exactly one, first
//   type 2 (record): a serialized meshkv.mesh.v1.Record (a key's whole state)
//   type 3 (end):    records:u64le file_crc:u32le, the number of record frames
//                    and the CRC-32 of every byte of the file before this frame;
//                    exactly one, last: nothing may follow it
//
// A file without its end frame is torn; any checksum, length or count that
// does not match is corruption. Payloads are at most kMaxPayloadBytes.
//
//   SnapshotWriter w(&file);                 // any std::ostream
//   w.Header(header); w.Record(bytes)...; w.Finish();
//   absl::StatusOr<SnapshotContents> c = ReadSnapshot(&in);  // whole file checked
//
// Not thread-safe.
#ifndef MESHKV_CLIENTS_CLI_SNAPSHOT_FILE_H_
#define MESHKV_CLIENTS_CLI_SNAPSHOT_FILE_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "meshkv/v1/maintenance.pb.h"

namespace meshkv::cli {

inline constexpr absl::string_view kSnapshotMagic = "meshkv-snapshot1";
inline constexpr size_t kSnapshotFrameHeaderBytes = 9;
inline constexpr size_t kMaxPayloadBytes = 128 << 20;
enum class SnapshotFrame : uint8_t { kHeader = 1, kRecord = 2, kEnd = 3 };

class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::ostream* out);  // Not owned.
  void Header(const meshkv::v1::SnapshotHeader& header);
  void Record(absl::string_view serialized_record);
  void Finish();
  uint64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }

 private:
  void Frame(SnapshotFrame type, absl::string_view payload);
  void Write(absl::string_view bytes);

  std::ostream* const out_;
  uint32_t crc_;  // of everything written so far
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
};

struct SnapshotSummary {
  meshkv::v1::SnapshotHeader header;
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// Reads a whole snapshot from `in`, checking every frame, calling `record`
// (may be null) with each record's bytes in file order. DATA_LOSS for a
// torn or corrupted file, naming what and where; `record`'s own errors are
// returned as they are. Callers that must change nothing on a bad file
// read it once without `record` first.
absl::StatusOr<SnapshotSummary> ReadSnapshot(
    std::istream* in, const std::function<absl::Status(absl::string_view)>& record = nullptr);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_SNAPSHOT_FILE_H_
