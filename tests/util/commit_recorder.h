// CommitRecorder: a CommitObserver for tests. It keeps what the last local
// operation gave the mesh to carry (the records another node must merge) and
// counts every commit by source.
//
//   CommitRecorder out;
//   Store a(options_a, &clock, {&out}), b(options_b, &clock);
//   ASSERT_TRUE(a.Set("k", value).ok());
//   for (const auto& w : out.last()) b.Merge(w);  // as the mesh would
//
// Not thread-safe beyond what the store's lock gives it.
#ifndef MESHKV_TESTS_UTIL_COMMIT_RECORDER_H_
#define MESHKV_TESTS_UTIL_COMMIT_RECORDER_H_

#include <array>
#include <cstdint>
#include <vector>

#include "meshkv/mesh/v1/record.pb.h"
#include "store/commit_observer.h"

namespace meshkv::testing {

class CommitRecorder final : public CommitObserver {
 public:
  void OnCommit(const Commit& c) override {
    ++commits_[static_cast<int>(c.source)];
    revisions_.push_back(c.revision);
    if (c.source != CommitSource::kLocal) return;
    if (operation_done_) last_.clear();
    last_.push_back(c.change);
    operation_done_ = c.last_of_operation;
  }

  // The records of the last local operation, in commit order.
  const std::vector<meshkv::mesh::v1::Record>& last() const { return last_; }
  uint64_t commits(CommitSource source) const { return commits_[static_cast<int>(source)]; }
  // The revision of every commit seen, in the order seen.
  const std::vector<uint64_t>& revisions() const { return revisions_; }

 private:
  std::vector<meshkv::mesh::v1::Record> last_;
  bool operation_done_ = true;
  std::array<uint64_t, 4> commits_{};  // by CommitSource
  std::vector<uint64_t> revisions_;
};

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_COMMIT_RECORDER_H_
