// The snapshot file format: what is written reads back, and every torn or
// corrupted variant of a file is refused.
#include "clients/cli/snapshot_file.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Sample(std::vector<std::string> records) {
  std::ostringstream out;
  SnapshotWriter w(&out);
  meshkv::v1::SnapshotHeader h;
  h.set_node_id("n1");
  h.set_revision(42);
  w.Header(h);
  for (const std::string& r : records) w.Record(r);
  w.Finish();
  EXPECT_EQ(w.bytes(), out.str().size());
  return out.str();
}

absl::StatusOr<SnapshotSummary> Read(const std::string& bytes, std::vector<std::string>* got) {
  std::istringstream in(bytes);
  return ReadSnapshot(&in, [&](absl::string_view r) {
    if (got != nullptr) got->emplace_back(r);
    return absl::OkStatus();
  });
}

TEST(SnapshotFileTest, WhatIsWrittenReadsBack) {
  const std::string file = Sample({"a", "", std::string(100000, 'x')});
  std::vector<std::string> got;
  absl::StatusOr<SnapshotSummary> s = Read(file, &got);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->header.node_id(), "n1");
  EXPECT_EQ(s->header.revision(), 42u);
  EXPECT_EQ(s->records, 3u);
  EXPECT_EQ(s->bytes, file.size());
  EXPECT_THAT(got, ElementsAre("a", "", std::string(100000, 'x')));
}

TEST(SnapshotFileTest, EveryTruncationIsRefused) {
  const std::string file = Sample({"record one", "record two"});
  for (size_t n = 0; n < file.size(); ++n) {
    absl::StatusOr<SnapshotSummary> s = Read(file.substr(0, n), nullptr);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << "cut at " << n;
  }
}

TEST(SnapshotFileTest, EveryFlippedByteIsRefused) {
  const std::string file = Sample({"record one", "record two"});
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit : {0x01, 0x80}) {
      std::string bad = file;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      absl::StatusOr<SnapshotSummary> s = Read(bad, nullptr);
      EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
    }
  }
}

TEST(SnapshotFileTest, TrailingBytesAndForeignFilesAreRefusedWithAClearMessage) {
  const std::string file = Sample({"r"});
  EXPECT_THAT(Read(file + "x", nullptr).status().message(), HasSubstr("bytes after its end"));
  EXPECT_THAT(Read("{\"json\": true}", nullptr).status().message(),
              HasSubstr("not a meshkv snapshot"));
  EXPECT_THAT(Read(file.substr(0, file.size() - 21), nullptr).status().message(),
              HasSubstr("without its end frame (torn)"));
}

}  // namespace
}  // namespace meshkv::cli
