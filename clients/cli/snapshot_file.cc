#include "clients/cli/snapshot_file.h"

#include <zlib.h>

#include <algorithm>
#include <string>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"

namespace meshkv::cli {
namespace {

uint32_t Crc(uint32_t crc, absl::string_view bytes) {
  // zlib's crc32 takes a uInt length: feed it in pieces.
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
    crc = static_cast<uint32_t>(
        crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n)));
    bytes.remove_prefix(n);
  }
  return crc;
}

std::string Fixed32(uint32_t v) {
  std::string s(4, '\0');
  absl::little_endian::Store32(s.data(), v);
  return s;
}

std::string Fixed64(uint64_t v) {
  std::string s(8, '\0');
  absl::little_endian::Store64(s.data(), v);
  return s;
}

}  // namespace

SnapshotWriter::SnapshotWriter(std::ostream* out) : out_(out), crc_(Crc(0, "")) {
  Write(kSnapshotMagic);
}

void SnapshotWriter::Write(absl::string_view bytes) {
  out_->write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  crc_ = Crc(crc_, bytes);
  bytes_ += bytes.size();
}

void SnapshotWriter::Frame(SnapshotFrame type, absl::string_view payload) {
  const char t = static_cast<char>(type);
  const uint32_t crc = Crc(Crc(Crc(0, ""), absl::string_view(&t, 1)), payload);
  Write(absl::string_view(&t, 1));
  Write(Fixed32(static_cast<uint32_t>(payload.size())));
  Write(Fixed32(crc));
  Write(payload);
}

void SnapshotWriter::Header(const meshkv::v1::SnapshotHeader& header) {
  Frame(SnapshotFrame::kHeader, header.SerializeAsString());
}

void SnapshotWriter::Record(absl::string_view serialized_record) {
  Frame(SnapshotFrame::kRecord, serialized_record);
  ++records_;
}

void SnapshotWriter::Finish() {
  Frame(SnapshotFrame::kEnd, Fixed64(records_) + Fixed32(crc_));
  out_->flush();
}

absl::StatusOr<SnapshotSummary> ReadSnapshot(
    std::istream* in, const std::function<absl::Status(absl::string_view)>& record) {
  SnapshotSummary summary;
  uint32_t file_crc = Crc(0, "");
  uint64_t offset = 0;
  std::string buf;
  // Reads up to n bytes into buf; returns how many there were.
  auto read = [&](size_t n) {
    buf.resize(n);
    in->read(buf.data(), static_cast<std::streamsize>(n));
    buf.resize(static_cast<size_t>(in->gcount()));
    return buf.size();
  };
  auto loss = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("snapshot file ", what, " at byte ", offset,
                                            "; the file is damaged: nothing was restored"));
  };
  if (read(kSnapshotMagic.size()) != kSnapshotMagic.size() || buf != kSnapshotMagic) {
    return absl::DataLossError("not a meshkv snapshot file (no meshkv-snapshot1 header)");
  }
  file_crc = Crc(file_crc, buf);
  offset = buf.size();
  bool have_header = false;
  while (true) {
    if (const size_t got = read(kSnapshotFrameHeaderBytes); got != kSnapshotFrameHeaderBytes) {
      return loss(got == 0 ? "ends without its end frame (torn)"
                           : "ends inside a frame header (torn)");
    }
    const std::string frame_header = buf;
    const auto type = static_cast<SnapshotFrame>(frame_header[0]);
    const uint32_t length = absl::little_endian::Load32(frame_header.data() + 1);
    const uint32_t crc = absl::little_endian::Load32(frame_header.data() + 5);
    if (length > kMaxPayloadBytes) return loss(absl::StrCat("has a frame of ", length, " bytes"));
    if (read(length) != length) return loss("ends inside a frame (torn)");
    const std::string& payload = buf;
    if (Crc(Crc(Crc(0, ""), absl::string_view(frame_header.data(), 1)), payload) != crc) {
      return loss("has a frame whose checksum does not match");
    }
    const uint32_t crc_before_frame = file_crc;
    file_crc = Crc(Crc(file_crc, frame_header), payload);
    switch (type) {
      case SnapshotFrame::kHeader:
        if (have_header || !summary.header.ParseFromString(payload)) {
          return loss("has a second or malformed header");
        }
        have_header = true;
        break;
      case SnapshotFrame::kRecord:
        if (!have_header) return loss("has a record before its header");
        ++summary.records;
        if (record) {
          if (absl::Status s = record(payload); !s.ok()) return s;
        }
        break;
      case SnapshotFrame::kEnd: {
        if (!have_header || payload.size() != 12) return loss("has a malformed end frame");
        if (absl::little_endian::Load64(payload.data()) != summary.records) {
          return loss(absl::StrCat("says ", absl::little_endian::Load64(payload.data()),
                                   " records but holds ", summary.records));
        }
        if (absl::little_endian::Load32(payload.data() + 8) != crc_before_frame) {
          return loss("has a whole-file checksum that does not match");
        }
        offset += kSnapshotFrameHeaderBytes + length;
        if (in->peek() != std::char_traits<char>::eof()) return loss("has bytes after its end");
        summary.bytes = offset;
        return summary;
      }
      default:
        return loss(absl::StrCat("has a frame of unknown type ", static_cast<int>(type)));
    }
    offset += kSnapshotFrameHeaderBytes + length;
  }
}

}  // namespace meshkv::cli
