#include "server/snapshot_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace meshkv {

namespace wire = ::meshkv::mesh::v1;

SnapshotStream::SnapshotStream(const Node* node, meshkv::v1::SnapshotHeader header) : node_(node) {
  *response_.mutable_header() = std::move(header);
  StartWrite(&response_);
}

void SnapshotStream::OnWriteDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "snapshot stream broken"));
    return;
  }
  NextChunk();
}

void SnapshotStream::NextChunk() {
  response_.Clear();
  std::vector<wire::Record> records;
  while (bucket_ < Store::kBuckets && records.empty()) {
    std::string last;
    const bool done = node_->store().ExportBucket(bucket_, after_, kChunkBytes, &records, &last);
    if (done) {
      ++bucket_;
      after_.clear();
    } else {
      after_ = std::move(last);
    }
  }
  if (records.empty()) {
    Finish(grpc::Status::OK);
    return;
  }
  for (const wire::Record& r : records) r.SerializeToString(response_.add_records());
  StartWrite(&response_);
}

RestoreStream::RestoreStream(Node* node, meshkv::v1::RestoreResponse* response)
    : node_(node), response_(response) {
  StartRead(&request_);
}

void RestoreStream::OnReadDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the restore stream ended before its done message: nothing was restored"));
    return;
  }
  for (const std::string& bytes : request_.records()) {
    bytes_ += bytes.size();
    if (bytes_ > kMaxRestoreBytes) {
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("a restore holds at most ", kMaxRestoreBytes >> 30,
                                       " GiB of records: nothing was restored")));
      return;
    }
    // Checked now, merged at the end: kept as bytes, a third of a parsed
    // message's memory.
    if (!scratch_.ParseFromString(bytes)) {
      Finish(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("record ", records_.size() + 1, " does not parse: nothing was restored")));
      return;
    }
    records_.push_back(bytes);
  }
  if (!request_.done()) {
    StartRead(&request_);
    return;
  }
  if (request_.count() != records_.size()) {
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("the stream carried ", records_.size(), " records, not ",
                                     request_.count(), ": nothing was restored")));
    return;
  }
  Finish(MergeAll());
}

grpc::Status RestoreStream::MergeAll() {
  response_->set_records(records_.size());
  for (const std::string& bytes : records_) {
    scratch_.ParseFromString(bytes);  // parsed once already
    absl::StatusOr<bool> changed = node_->Apply(scratch_, peer::ApplySource::kSync);
    if (!changed.ok()) {
      if (response_->refused() == 0) response_->set_first_refusal(changed.status().ToString());
      response_->set_refused(response_->refused() + 1);
    } else if (*changed) {
      response_->set_changed(response_->changed() + 1);
    }
  }
  LogInfo("snapshot restored", {{"records", absl::StrCat(response_->records())},
                                {"changed", absl::StrCat(response_->changed())},
                                {"refused", absl::StrCat(response_->refused())}});
  records_.clear();
  return grpc::Status::OK;
}

}  // namespace meshkv
