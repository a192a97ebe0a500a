// storage_crash_writer: appends records to a data directory until killed,
// for data_dir_fault_test. After each WaitDurable returns it prints
// "ack <key> <hlc>" on stdout (written with write(2), so a line is in the
// OS before the next append begins; kill -9 cannot lose it).
//
//   storage_crash_writer DIR ENGINE FSYNC WRITERS COUNT VALUE_BYTES
//
// Writer w writes keys "w<w>-<%08d i>" for i in [0, COUNT) (COUNT 0: no
// end), value VALUE_BYTES bytes of the key's hash, hlc i + 1. When all are
// written it prints "done" and exits 0.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/crash_writer_value.h"
#include "storage/data_dir.h"


int main(int argc, char** argv) {
  using namespace meshkv::storage;
  if (argc != 7) {
    fprintf(stderr, "usage: %s DIR ENGINE FSYNC WRITERS COUNT VALUE_BYTES\n", argv[0]);
    return 2;
  }
  DataDirOptions options;
  std::optional<EngineKind> engine = ParseEngineKind(argv[2]);
  std::optional<FsyncMode> fsync = ParseFsyncMode(argv[3]);
  int writers = 0;
  int64_t count = 0;
  size_t value_bytes = 0;
  if (!engine || !fsync || !absl::SimpleAtoi(argv[4], &writers) ||
      !absl::SimpleAtoi(argv[5], &count) || !absl::SimpleAtoi(argv[6], &value_bytes)) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  options.engine = *engine;
  options.fsync = *fsync;
  auto dir = DataDir::Open(argv[1], {"crash", "writer", true}, options);
  if (!dir.ok()) {
    fprintf(stderr, "open: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int64_t i = 0; count == 0 || i < count; ++i) {
        meshkv::mesh::v1::Record r;
        r.set_key(absl::StrFormat("w%d-%08d", w, i));
        r.set_kind(meshkv::mesh::v1::Record::BYTES);
        r.mutable_version()->set_hlc(static_cast<uint64_t>(i + 1));
        r.mutable_version()->set_origin("writer");
        r.set_bytes(CrashWriterValue(r.key(), value_bytes));
        absl::StatusOr<DataDir::Token> t = (*dir)->Append({r});
        absl::Status s = t.ok() ? (*dir)->WaitDurable(*t) : t.status();
        if (!s.ok()) {
          fprintf(stderr, "append: %s\n", s.ToString().c_str());
          _exit(1);
        }
        const std::string line = absl::StrCat("ack ", r.key(), " ", i + 1, "\n");
        if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const char done[] = "done\n";
  if (write(1, done, sizeof(done) - 1) < 0) return 1;
  return 0;
}
