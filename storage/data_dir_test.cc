#include "storage/data_dir.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"
#include "tests/util/wait.h"

namespace meshkv::storage {
namespace {

using ::meshkv::testing::IsOk;
using ::meshkv::testing::StatusIs;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;

std::string FreshDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/data_dir_test.XXXXXX");
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  return absl::StrCat(tmpl, "/data");  // not yet created: Open creates it
}

wire::Record Bytes(const std::string& key, const std::string& value, uint64_t hlc,
                   const std::string& origin = "n1") {
  wire::Record r;
  r.set_key(key);
  r.set_kind(wire::Record::BYTES);
  r.mutable_version()->set_hlc(hlc);
  r.mutable_version()->set_origin(origin);
  r.set_bytes(value);
  return r;
}

wire::Record Tombstone(const std::string& key, uint64_t hlc) {
  wire::Record r;
  r.set_key(key);
  r.set_kind(wire::Record::TOMBSTONE);
  r.mutable_version()->set_hlc(hlc);
  r.mutable_version()->set_origin("n2");
  return r;
}

std::map<std::string, std::string> LoadAll(DataDir& dir) {
  std::map<std::string, std::string> out;
  absl::Status s = dir.Load([&](const wire::Record& r) {
    out[r.key()] = r.SerializeAsString();
    return absl::OkStatus();
  });
  EXPECT_OK(s);
  return out;
}

const Identity kIdentity{"test", "n1", true};

class DataDirTest : public ::testing::TestWithParam<EngineKind> {
 protected:
  DataDirOptions Options(FsyncMode mode = FsyncMode::kAlways) {
    DataDirOptions o;
    o.engine = GetParam();
    o.fsync = mode;
    o.fsync_interval = absl::Milliseconds(20);
    return o;
  }
  std::unique_ptr<DataDir> MustOpen(const std::string& path, DataDirOptions o) {
    absl::StatusOr<std::unique_ptr<DataDir>> d = DataDir::Open(path, kIdentity, o);
    EXPECT_OK(d);
    return d.ok() ? std::move(*d) : nullptr;
  }
};

TEST_P(DataDirTest, RecordsSurviveReopenWithEveryField) {
  const std::string path = FreshDir();
  wire::Record mapping;
  mapping.set_key("m");
  mapping.set_kind(wire::Record::MAPPING);
  mapping.mutable_version()->set_hlc(7 << 16);
  mapping.mutable_version()->set_origin("n3");
  wire::Field* f = mapping.add_fields();
  f->set_name("color");
  f->set_value("red");
  f->mutable_version()->set_hlc(8 << 16);
  f->mutable_version()->set_origin("n2");
  *mapping.mutable_delta_version() = f->version();
  const std::vector<wire::Record> written = {Bytes("a", "1", 1 << 16), mapping,
                                             Tombstone("gone", 9 << 16),
                                             Bytes(std::string("\0\xff", 2), "x", 2 << 16)};
  {
    std::unique_ptr<DataDir> dir = MustOpen(path, Options());
    ASSERT_NE(dir, nullptr);
    EXPECT_TRUE(dir->created());
    EXPECT_TRUE(LoadAll(*dir).empty());
    absl::StatusOr<DataDir::Token> t = dir->Append(written);
    ASSERT_OK(t);
    ASSERT_OK(dir->WaitDurable(*t));
  }
  std::unique_ptr<DataDir> dir = MustOpen(path, Options());
  ASSERT_NE(dir, nullptr);
  EXPECT_FALSE(dir->created());
  std::map<std::string, std::string> want;
  for (const wire::Record& r : written) want[r.key()] = r.SerializeAsString();
  EXPECT_EQ(LoadAll(*dir), want);
  EXPECT_EQ(dir->Stats().records_loaded, written.size());
}

TEST_P(DataDirTest, AppendReplacesAndForgetRemoves) {
  const std::string path = FreshDir();
  {
    std::unique_ptr<DataDir> dir = MustOpen(path, Options());
    ASSERT_OK(dir->Append({Bytes("k", "old", 1 << 16), Bytes("j", "j", 1 << 16)}));
    ASSERT_OK(dir->Append({Tombstone("k", 2 << 16)}));
    absl::StatusOr<DataDir::Token> t = dir->Forget({"j"});
    ASSERT_OK(t);
    ASSERT_OK(dir->WaitDurable(*t));
    EXPECT_EQ(dir->Stats().records_forgotten, 1u);
  }
  std::unique_ptr<DataDir> dir = MustOpen(path, Options());
  EXPECT_EQ(LoadAll(*dir),
            (std::map<std::string, std::string>{{"k", Tombstone("k", 2 << 16).SerializeAsString()}}));
}

TEST_P(DataDirTest, RefusesAnotherNodesClusterOrLeasingMode) {
  const std::string path = FreshDir();
  { ASSERT_NE(MustOpen(path, Options()), nullptr); }
  EXPECT_THAT(DataDir::Open(path, {"test", "n2", true}, Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("belongs to node \"n1\", not \"n2\"")));
  EXPECT_THAT(DataDir::Open(path, {"other", "n1", true}, Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cluster \"test\"")));
  EXPECT_THAT(DataDir::Open(path, {"test", "n1", false}, Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--leasing=on")));
  DataDirOptions other_engine = Options();
  other_engine.engine =
      GetParam() == EngineKind::kRocksDb ? EngineKind::kLevelDb : EngineKind::kRocksDb;
  EXPECT_THAT(DataDir::Open(path, kIdentity, other_engine),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("engine")));
  // The refusals changed nothing: the right node still opens it.
  EXPECT_NE(MustOpen(path, Options()), nullptr);
}

TEST_P(DataDirTest, RefusesAForeignDirectoryAndABadIdentityFile) {
  const std::string path = FreshDir();
  std::filesystem::create_directories(path);
  std::ofstream(path + "/notes.txt") << "mine";
  EXPECT_THAT(DataDir::Open(path, kIdentity, Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not a meshkv data directory")));
  const std::string path2 = FreshDir();
  { ASSERT_NE(MustOpen(path2, Options()), nullptr); }
  std::ofstream(path2 + "/IDENTITY", std::ios::trunc) << "meshkv-data-dir 1\n";
  EXPECT_THAT(DataDir::Open(path2, kIdentity, Options()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("IDENTITY")));
}

TEST_P(DataDirTest, SecondOpenWhileOpenIsRefused) {
  const std::string path = FreshDir();
  std::unique_ptr<DataDir> first = MustOpen(path, Options());
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(DataDir::Open(path, kIdentity, Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(DataDirTest, CeilingsAndIncarnationNeverGoBackwards) {
  const std::string path = FreshDir();
  DataDirOptions o = Options(FsyncMode::kNever);  // ceilings sync whatever the mode
  o.ceiling_step = 100;
  uint64_t fsyncs_before = 0;
  {
    std::unique_ptr<DataDir> dir = MustOpen(path, o);
    EXPECT_EQ(dir->revision_base(), 0u);
    EXPECT_EQ(dir->origin_seq_base(), 0u);
    EXPECT_EQ(dir->incarnation(), 1u);
    fsyncs_before = dir->Stats().fsyncs;
    ASSERT_OK(dir->ReserveRevisions(5));
    EXPECT_EQ(dir->Stats().fsyncs, fsyncs_before + 1);
    ASSERT_OK(dir->ReserveRevisions(104));  // under the ceiling (105): no write
    EXPECT_EQ(dir->Stats().fsyncs, fsyncs_before + 1);
    ASSERT_OK(dir->ReserveRevisions(250));
    ASSERT_OK(dir->ReserveOriginSeqs(42));
    EXPECT_EQ(dir->Stats().fsyncs, fsyncs_before + 3);
  }
  std::unique_ptr<DataDir> dir = MustOpen(path, o);
  EXPECT_GT(dir->revision_base(), 250u);
  EXPECT_LE(dir->revision_base(), 350u);
  EXPECT_GT(dir->origin_seq_base(), 42u);
  EXPECT_EQ(dir->incarnation(), 2u);
}

TEST_P(DataDirTest, LastInSyncPersists) {
  const std::string path = FreshDir();
  {
    std::unique_ptr<DataDir> dir = MustOpen(path, Options());
    EXPECT_EQ(dir->last_in_sync_ms(), std::nullopt);
    ASSERT_OK(dir->MarkInSync(1234567));
    EXPECT_EQ(dir->last_in_sync_ms(), 1234567);
  }
  EXPECT_EQ(MustOpen(path, Options())->last_in_sync_ms(), 1234567);
}

TEST_P(DataDirTest, WaitDurableOnATokenNeverAppendedIsInvalid) {
  std::unique_ptr<DataDir> dir = MustOpen(FreshDir(), Options());
  EXPECT_THAT(dir->WaitDurable(5), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(dir->WaitDurable(0));
}

TEST_P(DataDirTest, AlwaysSyncsBeforeReturningAndSharesFsyncs) {
  std::unique_ptr<DataDir> dir = MustOpen(FreshDir(), Options(FsyncMode::kAlways));
  const uint64_t base = dir->Stats().fsyncs;
  const uint64_t base_appends = dir->Stats().appends;  // Open's incarnation write
  // One writer: every WaitDurable needs its own fsync.
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<DataDir::Token> t = dir->Append({Bytes(absl::StrCat("s", i), "v", 1)});
    ASSERT_OK(t);
    ASSERT_OK(dir->WaitDurable(*t));
    ASSERT_OK(dir->WaitDurable(*t));  // already durable: no second fsync
  }
  EXPECT_EQ(dir->Stats().fsyncs, base + 20);
  // Eight writers: waiters share fsyncs (group commit).
  constexpr int kThreads = 8, kEach = 100;
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        absl::StatusOr<DataDir::Token> t =
            dir->Append({Bytes(absl::StrCat("g", w, "-", i), "v", 1)});
        ASSERT_OK(t);
        ASSERT_OK(dir->WaitDurable(*t));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const DataDirStats stats = dir->Stats();
  EXPECT_EQ(stats.appends - base_appends, 20u + kThreads * kEach);
  EXPECT_LT(stats.fsyncs - base - 20, uint64_t{kThreads * kEach});
  uint64_t in_buckets = 0;
  for (uint64_t c : stats.fsync_bucket_counts) in_buckets += c;
  EXPECT_EQ(in_buckets, stats.fsyncs);
  EXPECT_GT(stats.fsync_seconds_sum, 0);
  EXPECT_GT(stats.disk_bytes, 0);
}

TEST_P(DataDirTest, IntervalSyncsInTheBackground) {
  DataDirOptions o = Options(FsyncMode::kInterval);
  std::unique_ptr<DataDir> dir = MustOpen(FreshDir(), o);
  const uint64_t base = dir->Stats().fsyncs;
  absl::StatusOr<DataDir::Token> t = dir->Append({Bytes("k", "v", 1)});
  ASSERT_OK(t);
  ASSERT_OK(dir->WaitDurable(*t));
  EXPECT_TRUE(WaitFor([&] { return dir->Stats().fsyncs > base; }, absl::Seconds(10)));
  // Nothing new appended: the background thread does not sync again.
  const uint64_t after = dir->Stats().fsyncs;
  absl::SleepFor(5 * o.fsync_interval);
  EXPECT_EQ(dir->Stats().fsyncs, after);
}

TEST_P(DataDirTest, NeverDoesNotSync) {
  std::unique_ptr<DataDir> dir = MustOpen(FreshDir(), Options(FsyncMode::kNever));
  const uint64_t base = dir->Stats().fsyncs;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<DataDir::Token> t = dir->Append({Bytes("k", "v", i)});
    ASSERT_OK(t);
    ASSERT_OK(dir->WaitDurable(*t));
  }
  EXPECT_EQ(dir->Stats().fsyncs, base);
  EXPECT_EQ(dir->Stats().records_appended, 10u);
}

TEST_P(DataDirTest, LoadStopsAtTheCallbacksError) {
  const std::string path = FreshDir();
  std::unique_ptr<DataDir> dir = MustOpen(path, Options());
  ASSERT_OK(dir->Append({Bytes("a", "1", 1), Bytes("b", "2", 1)}));
  int calls = 0;
  EXPECT_THAT(dir->Load([&](const wire::Record&) {
    ++calls;
    return absl::AbortedError("enough");
  }),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(calls, 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, DataDirTest,
                         ::testing::Values(EngineKind::kRocksDb, EngineKind::kLevelDb),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

TEST(FsyncModeTest, NamesRoundTrip) {
  for (FsyncMode m : {FsyncMode::kAlways, FsyncMode::kInterval, FsyncMode::kNever}) {
    EXPECT_EQ(ParseFsyncMode(FsyncModeName(m)), m);
  }
  EXPECT_EQ(ParseFsyncMode("sometimes"), std::nullopt);
}

}  // namespace
}  // namespace meshkv::storage
