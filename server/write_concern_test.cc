// WriteConcern's waits: what ends them (marks, deadline, cancel, shutdown)
// and what bounds them. The mesh is read through MeshView's three numbers;
// the process tests (tests/cluster/write_concern_test.cc) run the real one.
#include "server/write_concern.h"

#include <atomic>
#include <memory>
#include <optional>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/util/status_matchers.h"

namespace meshkv {
namespace {

using ::meshkv::testing::StatusIs;
using ::testing::HasSubstr;

struct Mesh {
  std::atomic<uint64_t> seq{100};
  std::atomic<int> established{2};
  std::atomic<int> known{2};
  WriteConcern::MeshView View() {
    return {[this] { return seq.load(); }, [this] { return established.load(); },
            [this] { return known.load(); }};
  }
};

// A wait's outcome, once it has one.
struct Outcome {
  absl::Notification done;
  absl::Status status;
  WriteConcern::Done Callback() {
    return [this](absl::Status s) {
      status = std::move(s);
      done.Notify();
    };
  }
};

ConcernRequest Concern(uint32_t n, absl::Duration deadline = absl::Seconds(30)) {
  ConcernRequest r;
  r.min_replicas = n;
  r.deadline = absl::Now() + deadline;
  return r;
}

TEST(WriteConcernTest, AdmitsUpToTheNodesItKnowsAndRefusesAtOnceBeyond) {
  Mesh mesh;
  WriteConcern c({}, mesh.View(), nullptr);
  EXPECT_OK(c.Admit(0));
  EXPECT_OK(c.Admit(2));
  EXPECT_THAT(c.Admit(3), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("knows 2 other")));
  EXPECT_THAT(c.Admit(WriteConcern::kMaxMinReplicas + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  mesh.established = 0;
  EXPECT_THAT(c.Admit(1), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("isolated")));
  EXPECT_OK(c.Admit(0));  // this node alone: always
}

TEST(WriteConcernTest, AWaitEndsWhenEnoughDistinctHoldersReachItsSeq) {
  Mesh mesh;
  WriteConcern c({}, mesh.View(), nullptr);
  Outcome o;
  c.Wait(100, Concern(2), o.Callback());
  c.Acked({{"a", 99}});   // below: not yet
  c.Acked({{"a", 100}});  // one
  c.Acked({{"a", 150}});  // the same holder again: still one
  EXPECT_FALSE(o.done.HasBeenNotified());
  EXPECT_EQ(c.waiting(), 1u);
  c.Acked({{"b", 120}});  // a mark past it covers it
  ASSERT_TRUE(o.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_OK(o.status);
  EXPECT_EQ(c.waiting(), 0u);
  // Already held: answered at once.
  Outcome now;
  c.Wait(110, Concern(2), now.Callback());
  EXPECT_TRUE(now.done.HasBeenNotified());
  EXPECT_OK(now.status);
}

TEST(WriteConcernTest, TheDeadlineEndsAWaitNamingHowManyHeldIt) {
  Mesh mesh;
  WriteConcern c({}, mesh.View(), nullptr);
  c.Acked({{"a", 100}});
  Outcome o;
  const absl::Time start = absl::Now();
  c.Wait(100, Concern(2, absl::Milliseconds(500)), o.Callback());
  ASSERT_TRUE(o.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_THAT(o.status, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("1 of 2")));
  EXPECT_GE(took, absl::Milliseconds(440));  // a tenth early, at most 50 ms
  EXPECT_EQ(c.waiting(), 0u);                // freed
}

TEST(WriteConcernTest, ACancelledClientFreesItsWait) {
  Mesh mesh;
  WriteConcern c({}, mesh.View(), nullptr);
  std::atomic<bool> cancelled{false};
  ConcernRequest r = Concern(1);
  r.cancelled = [&] { return cancelled.load(); };
  Outcome o;
  c.Wait(100, r, o.Callback());
  cancelled = true;
  ASSERT_TRUE(o.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_THAT(o.status, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(c.waiting(), 0u);
}

TEST(WriteConcernTest, WaitsAreCappedAndFailedAtShutdown) {
  Mesh mesh;
  WriteConcernOptions options;
  options.max_waits = 2;
  auto c = std::make_unique<WriteConcern>(options, mesh.View(), nullptr);
  Outcome a, b, over;
  c->Wait(100, Concern(1), a.Callback());
  c->Wait(101, Concern(1), b.Callback());
  c->Wait(102, Concern(1), over.Callback());
  ASSERT_TRUE(over.done.HasBeenNotified());
  EXPECT_THAT(over.status, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(c->waiting(), 2u);
  c.reset();
  EXPECT_THAT(a.status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(b.status, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WriteConcernTest, MarkingFlagsWritesOnlyWhileAConcernedWriteCommits) {
  Mesh mesh;
  WriteConcern c({}, mesh.View(), nullptr);
  EXPECT_FALSE(c.ack_wanted());
  {
    WriteConcern::Marking m(&c);
    EXPECT_TRUE(c.ack_wanted());
    {
      WriteConcern::Marking m2(&c);
      EXPECT_TRUE(c.ack_wanted());
    }
    EXPECT_TRUE(c.ack_wanted());
  }
  EXPECT_FALSE(c.ack_wanted());
}

TEST(WriteConcernTest, MetricsCountLevelsFailuresAndWaits) {
  Mesh mesh;
  prometheus::Registry registry;
  WriteConcern c({}, mesh.View(), &registry);
  EXPECT_OK(c.Admit(0));
  EXPECT_OK(c.Admit(2));
  mesh.established = 0;
  EXPECT_FALSE(c.Admit(1).ok());
  std::map<std::string, double> seen;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    for (const prometheus::ClientMetric& m : f.metric) {
      std::string name = f.name;
      for (const auto& l : m.label) name += "{" + l.name + "=" + l.value + "}";
      seen[name] = f.type == prometheus::MetricType::Histogram
                       ? static_cast<double>(m.histogram.sample_count)
                       : m.counter.value;
    }
  }
  EXPECT_EQ(seen["meshkv_write_concern_writes_total{min_replicas=0}"], 1);
  EXPECT_EQ(seen["meshkv_write_concern_writes_total{min_replicas=2}"], 1);
  EXPECT_EQ(seen["meshkv_write_concern_writes_total{min_replicas=1}"], 1);
  EXPECT_EQ(seen["meshkv_write_concern_writes_total{min_replicas=3+}"], 0);
  EXPECT_EQ(seen["meshkv_write_concern_failed_total{reason=unreachable}"], 1);
  EXPECT_EQ(seen.count("meshkv_write_concern_failed_total{reason=deadline}"),
            1u);  // from the start
  EXPECT_EQ(seen["meshkv_write_concern_wait_seconds"], 0);
}

}  // namespace
}  // namespace meshkv
