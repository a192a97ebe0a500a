// `leases release` and `snapshot save|restore`: meshkv.v1.Maintenance, what
// an operator runs on a node's state as a whole.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/snapshot_file.h"

namespace meshkv::cli {

int RunLeases(const Invocation& inv, Session& session) {
  if (inv.args[0] != "release") {
    session.err() << "meshkv: leases: unknown subcommand \"" << inv.args[0]
                  << "\" (expected release)\n";
    return kExitUsage;
  }
  if (inv.Flag("node").empty()) {
    session.err() << "meshkv: leases release: --node ID is required\n";
    return kExitUsage;
  }
  meshkv::v1::ReleaseLeasesRequest req;
  req.set_node_id(inv.Flag("node"));
  req.set_force(inv.Has("force"));
  meshkv::v1::ReleaseLeasesResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.maintenance().ReleaseLeases(&ctx, req, &resp); !s.ok()) {
    return session.Fail(s);
  }
  session.out() << absl::StrFormat(
      "released the leases of %s on writes before hlc %d; %d running leases ended on this "
      "node\n",
      req.node_id(), resp.released_before_hlc(), resp.keys());
  return kExitOk;
}

namespace {

// Records per RestoreRequest, in bytes: well under gRPC's 4 MiB message cap.
constexpr size_t kRestoreChunkBytes = 1 << 20;

// Makes `path`'s directory entry durable (after a rename into it).
void SyncDirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

bool SyncFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  const bool ok = fsync(fd) == 0;
  close(fd);
  return ok;
}

int SnapshotSave(const std::string& path, Session& session) {
  const std::string part = path + ".part";
  std::ofstream file(part, std::ios::binary | std::ios::trunc);
  if (!file) {
    session.err() << "meshkv: snapshot save: cannot create " << part << ": " << strerror(errno)
                  << "\n";
    return kExitRpcError;
  }
  const absl::Time start = absl::Now();
  // No deadline: a large store takes as long as it takes (interrupt to stop).
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<meshkv::v1::SnapshotResponse>> reader =
      session.maintenance().Snapshot(&ctx, meshkv::v1::SnapshotRequest());
  SnapshotWriter writer(&file);
  meshkv::v1::SnapshotResponse resp;
  meshkv::v1::SnapshotHeader header;
  bool have_header = false;
  while (reader->Read(&resp)) {
    if (!have_header) {
      header = resp.header();
      writer.Header(header);
      have_header = true;
    }
    for (const std::string& r : resp.records()) writer.Record(r);
  }
  grpc::Status status = reader->Finish();
  if (status.ok() && !have_header) {
    status = grpc::Status(grpc::StatusCode::INTERNAL, "the node sent no snapshot header");
  }
  if (status.ok()) writer.Finish();
  file.close();
  if (!status.ok() || !file || !SyncFile(part) || rename(part.c_str(), path.c_str()) != 0) {
    const std::string why = status.ok() ? strerror(errno) : "";
    unlink(part.c_str());
    if (!status.ok()) return session.Fail(status);
    session.err() << "meshkv: snapshot save: cannot write " << path << ": " << why << "\n";
    return kExitRpcError;
  }
  SyncDirectoryOf(path);
  session.out() << absl::StrFormat(
      "saved %d records (%d keys) of node %s at revision %d to %s: %d bytes in %.2fs\n",
      writer.records(), header.keys(), header.node_id(), header.revision(), path, writer.bytes(),
      absl::ToDoubleSeconds(absl::Now() - start));
  return kExitOk;
}

int SnapshotRestore(const std::string& path, Session& session) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    session.err() << "meshkv: snapshot restore: cannot open " << path << ": " << strerror(errno)
                  << "\n";
    return kExitRpcError;
  }
  const absl::Time start = absl::Now();
  // The whole file is checked before anything is sent.
  absl::StatusOr<SnapshotSummary> checked = ReadSnapshot(&file);
  if (!checked.ok()) {
    return session.Fail(static_cast<grpc::StatusCode>(checked.status().code()),
                        absl::StrCat(path, ": ", checked.status().message()));
  }
  file.clear();
  file.seekg(0);
  grpc::ClientContext ctx;
  meshkv::v1::RestoreResponse resp;
  std::unique_ptr<grpc::ClientWriter<meshkv::v1::RestoreRequest>> writer =
      session.maintenance().Restore(&ctx, &resp);
  meshkv::v1::RestoreRequest req;
  size_t chunk_bytes = 0;
  bool broken = false;
  absl::StatusOr<SnapshotSummary> sent = ReadSnapshot(&file, [&](absl::string_view record) {
    if (chunk_bytes + record.size() > kRestoreChunkBytes && req.records_size() > 0) {
      if (!writer->Write(req)) {
        broken = true;
        return absl::CancelledError("the node ended the stream");
      }
      req.Clear();
      chunk_bytes = 0;
    }
    req.add_records(std::string(record));
    chunk_bytes += record.size();
    return absl::OkStatus();
  });
  if (sent.ok()) {
    req.set_done(true);
    req.set_count(sent->records);
    writer->Write(req);
  } else if (!broken) {
    // The file changed under us since it was checked: end without `done`,
    // which the node answers by restoring nothing.
    ctx.TryCancel();
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!sent.ok() && !broken) {
    return session.Fail(static_cast<grpc::StatusCode>(sent.status().code()),
                        absl::StrCat(path, ": ", sent.status().message()));
  }
  if (!status.ok()) return session.Fail(status);
  session.out() << absl::StrFormat(
      "restored %s: %d records, %d changed the node, %d refused in %.2fs\n", path, resp.records(),
      resp.changed(), resp.refused(), absl::ToDoubleSeconds(absl::Now() - start));
  if (resp.refused() > 0)
    session.err() << "meshkv: first refusal: " << resp.first_refusal() << "\n";
  return kExitOk;
}

}  // namespace

int RunSnapshot(const Invocation& inv, Session& session) {
  if (inv.args[0] == "save") return SnapshotSave(inv.args[1], session);
  if (inv.args[0] == "restore") return SnapshotRestore(inv.args[1], session);
  session.err() << "meshkv: snapshot: unknown subcommand \"" << inv.args[0]
                << "\" (expected save or restore)\n";
  return kExitUsage;
}

}  // namespace meshkv::cli
