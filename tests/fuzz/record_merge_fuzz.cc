// Fuzz target: arbitrary wire records (field tombstones among them) merged
// into a store, in order, twice. Merge must refuse what is malformed, never
// crash, and be idempotent: the second pass over the same records changes
// nothing. And the state must survive its own transfer: exported whole (as
// anti-entropy sends it) and merged into an empty store, it gives the same
// digests.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "store/store.h"

// Hostile strings make protobuf log each failed parse; the fuzzer only
// cares that they fail.
static const bool kQuiet = [] {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return true;
}();

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  meshkv::mesh::v1::RecordChunk chunk;
  if (!chunk.ParseFromArray(data, static_cast<int>(size))) return 0;
  meshkv::ManualClock clock(1'700'000'000'000);
  meshkv::StoreOptions options;
  options.node_id = "fuzz";
  // Old tombstones are kept, so that the empty store below takes every
  // record the first one holds.
  options.tombstone_retention = absl::Hours(24 * 365 * 100);
  meshkv::Store store(options, &clock);
  for (const auto& r : chunk.records()) (void)store.Merge(r);
  const std::vector<uint64_t> digests = store.BucketDigests();
  const uint64_t revision = store.revision();
  for (const auto& r : chunk.records()) {
    absl::StatusOr<bool> again = store.Merge(r);
    if (again.ok() && *again) std::abort();  // not idempotent
  }
  if (store.BucketDigests() != digests || store.revision() != revision) std::abort();

  meshkv::Store copy(options, &clock);
  for (uint32_t b = 0; b < meshkv::Store::kBuckets; ++b) {
    std::vector<meshkv::mesh::v1::Record> records;
    std::string last;
    store.ExportBucket(b, "", SIZE_MAX, &records, &last);
    for (const auto& r : records) {
      if (!copy.Merge(r).ok()) std::abort();  // a state this store holds is well-formed
    }
  }
  if (copy.BucketDigests() != digests) std::abort();
  return 0;
}
