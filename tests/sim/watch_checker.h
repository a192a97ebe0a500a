// WatchChecker: watchers for one life of one simulated node, and the check
// that they saw every change exactly once, in order.
//
// It is a commit observer of the node's store, so it logs every change the
// store commits (local, flooded, anti-entropy), and it runs one watch stream
// per prefix on the node's WatchHub. Each stream reads the store's history
// through a WatchCursor when the hub reports a new revision, as the gRPC
// WatchStream does. Check() compares what each stream read with the log.
//
//   WatchChecker checker({"", "k1"});
//   Node node(options, &env, {&handoff, &checker});
//   checker.Watch(&node.store(), &node.watches());
//   ... run ...
//   EXPECT_EQ(checker.Check(), "");
//   checker.Stop();  // before the node goes
//
// Not thread-safe: the simulator is single-threaded.
#ifndef MESHKV_TESTS_SIM_WATCH_CHECKER_H_
#define MESHKV_TESTS_SIM_WATCH_CHECKER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/watch_cursor.h"
#include "server/watch_hub.h"
#include "store/commit_observer.h"
#include "store/store.h"

namespace meshkv::sim {

class WatchChecker final : public CommitObserver {
 public:
  explicit WatchChecker(std::vector<std::string> prefixes);
  ~WatchChecker() override;

  void OnCommit(const Commit& c) override;

  // Starts the streams, from the store's current revision. Both must
  // outlive Stop().
  void Watch(const Store* store, WatchHub* hub);
  void Stop();

  // Empty when every stream read exactly the visible committed changes under
  // its prefix after it started, each once, in revision order; otherwise
  // what went wrong.
  std::string Check() const;

  uint64_t events_read() const;
  uint64_t commits(CommitSource source) const { return commits_[static_cast<int>(source)]; }

 private:
  struct Change {
    uint64_t revision;
    std::string key;
    bool operator==(const Change& o) const { return revision == o.revision && key == o.key; }
  };
  class Cursor;

  const std::vector<std::string> prefixes_;
  std::vector<Change> visible_;  // every visible commit, in commit order
  std::array<uint64_t, 4> commits_{};  // by CommitSource
  std::vector<std::unique_ptr<Cursor>> cursors_;
  WatchHub* hub_ = nullptr;  // Not owned; null until Watch() and after Stop()
};

}  // namespace meshkv::sim

#endif  // MESHKV_TESTS_SIM_WATCH_CHECKER_H_
